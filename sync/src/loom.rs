//! Swaps the primitives' lock and atomics for loom's under `cfg(loom)`, so
//! the hand-off protocols (channel send/recv/close, semaphore acquire/cancel)
//! are model-checked as written.

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard, atomic};

#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard, atomic};

/// Locks `mutex`, ignoring poisoning: every critical section in this crate
/// leaves the state consistent before anything that can panic (wakers are
/// woken after the lock is released).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
