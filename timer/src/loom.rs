//! Swaps the shard lock and the driver's atomics for loom's under `cfg(loom)`,
//! so the arm/sleep/fire protocol of `driver.rs` is model-checked as written.

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard, atomic};

#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, atomic};
