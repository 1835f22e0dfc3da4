//! What a graceful shutdown waits on: "a task or a `block_on` call
//! finished", instead of looking every millisecond.
//!
//! Once the root scope is cancelled (a shutdown began, or a signal or a
//! root failure cancelled it), every task that finishes and every `block_on`
//! call that returns notifies the event; `Runtime::shutdown` waits on it and
//! re-counts (from the per-worker counters, taking no other lock) at each
//! notification. Before the root is cancelled nothing is notified: a task's
//! completion pays one relaxed load.
//!
//! One race is left to a timeout rather than to a fence on every task's
//! completion: a task that finishes just as the shutdown begins may read the
//! root as not cancelled yet and skip the notification, while the waiter
//! read its counter before the task's bump. So the waiter also wakes every
//! `BACKSTOP` and counts again.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The longest a shutdown waits between two counts (see the module docs).
const BACKSTOP: Duration = Duration::from_millis(10);

#[derive(Debug, Default)]
pub(crate) struct FinishEvent {
    lock: Mutex<()>,
    finished: Condvar,
}

impl FinishEvent {
    /// Something finished.
    pub(crate) fn notify(&self) {
        // Taken so a waiter between its count and its wait cannot miss it.
        let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.finished.notify_all();
    }

    /// Waits until `done()` or `deadline`; returns the last `done()`.
    pub(crate) fn wait_until(&self, done: impl Fn() -> bool, deadline: Instant) -> bool {
        let mut held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let wait = (deadline - now).min(BACKSTOP);
            held = self
                .finished
                .wait_timeout(held, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
