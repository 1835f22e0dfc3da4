//! Swaps the synchronization primitives of the lock-free protocols for loom's
//! under `cfg(loom)`, so the park/unpark and idle-accounting protocols can be
//! model-checked with the very code the runtime runs.

#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard, atomic};

#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard, atomic};

/// Spin hint inside retry loops. Under loom it yields to the model's scheduler,
/// which otherwise would see a spin loop as a livelock.
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
