//! Swaps the scope tree's atomics and its deadline lock for loom's under
//! `cfg(loom)`, so the link/cancel/retire protocol of `node.rs` and the
//! waker hand-off of `host_waker.rs` are model-checked as written.

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, atomic};

#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, atomic};
