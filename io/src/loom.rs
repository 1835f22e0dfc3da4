//! Swaps the synchronization primitives of the readiness protocol for loom's
//! under `cfg(loom)`, so the model checks the very code the reactor runs.

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, atomic};

#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, atomic};
