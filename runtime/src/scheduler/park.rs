//! A parker: lets one thread sleep until another thread unparks it.
//!
//! # Protocol
//!
//! `state` is one of `EMPTY`, `PARKED` or `NOTIFIED`.
//!
//! - `unpark` swaps in `NOTIFIED`. Only if it replaced `PARKED` is there a
//!   sleeper, and then it takes the lock (so the sleeper cannot be between its
//!   check and `Condvar::wait`) and signals the condvar.
//! - `park` first consumes a pending `NOTIFIED` without locking. Otherwise it
//!   takes the lock and moves `EMPTY -> PARKED`; if that fails the state was
//!   `NOTIFIED`, set between the two steps, and it consumes it. A parked thread
//!   returns only once it moves `NOTIFIED -> EMPTY`, so spurious condvar
//!   wake-ups are absorbed.
//!
//! A notification is never lost: it is either consumed by the next `park` or
//! delivered to the one in progress. Several `unpark`s before one `park`
//! collapse into one token, which is all the scheduler needs (a woken worker
//! re-checks every queue).
//!
//! The worker's idle loop is built on this; the loom model in
//! `loom_models.rs` checks the two together.

use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::{Condvar, Mutex, MutexGuard};

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// One thread's sleep/wake-up point. See the module docs for the protocol.
#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// The common start of `park` and `park_until`: consumes a pending token
    /// (returning `None`), or moves to `PARKED` and returns the held lock.
    fn begin_park(&self) -> Option<MutexGuard<'_, ()>> {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return None;
        }
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        match self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            Ok(_) => Some(guard),
            Err(NOTIFIED) => {
                // Notified between the fast path and taking the lock. Consume
                // the token with a swap, not a store: a failed CAS may read an
                // older NOTIFIED than the latest `unpark`'s, and only a
                // read-modify-write is sure to read (and synchronize with) the
                // latest one. A store here let loom lose an unpark's writes.
                let old = self.state.swap(EMPTY, SeqCst);
                debug_assert_eq!(old, NOTIFIED);
                None
            }
            Err(actual) => unreachable!("parker in state {actual} while its owner parks"),
        }
    }

    /// Consumes a token if one arrived (`NOTIFIED -> EMPTY`): ends a wait,
    /// and lets the driver, which sleeps in the reactor rather than here,
    /// see an `unpark` (see `shared/driver.rs`).
    pub(crate) fn take_token(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
    }

    /// Blocks the calling thread until `unpark` is called (or returns at once
    /// if it was called since the last `park`).
    pub(crate) fn park(&self) {
        let Some(mut guard) = self.begin_park() else {
            return;
        };
        loop {
            guard = self.condvar.wait(guard).unwrap_or_else(|e| e.into_inner());
            if self.take_token() {
                return;
            }
            // Spurious wake-up: still PARKED, wait again.
        }
    }

    /// Like `park`, but returns by `deadline` at the latest (the timer
    /// sentinel's sleep).
    pub(crate) fn park_until(&self, deadline: std::time::Instant) {
        let Some(mut guard) = self.begin_park() else {
            return;
        };
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                // Timed out: back to EMPTY, consuming a token that arrived
                // meanwhile (we return either way).
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            guard = self
                .condvar
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            if self.take_token() {
                return;
            }
        }
    }

    /// Wakes the thread blocked in `park`, or makes its next `park` return at once.
    pub(crate) fn unpark(&self) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Taking the lock orders this signal after the sleeper's
                // `EMPTY -> PARKED` + `wait`, so the signal cannot fall between them.
                drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
                self.condvar.notify_one();
            }
            actual => unreachable!("parker in unknown state {actual}"),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Parker;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn unpark_before_park_is_remembered() {
        let parker = Parker::new();
        parker.unpark();
        parker.unpark();
        parker.park(); // returns: one token
    }

    #[test]
    fn park_until_returns_at_the_deadline_or_when_unparked() {
        use std::time::{Duration, Instant};
        let parker = Parker::new();
        let start = Instant::now();
        parker.park_until(start + Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20));
        parker.unpark();
        let start = Instant::now();
        parker.park_until(start + Duration::from_secs(30));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "a pending token was ignored"
        );
        let parker = Arc::new(Parker::new());
        let waker = parker.clone();
        let t = thread::spawn(move || waker.unpark());
        parker.park_until(Instant::now() + Duration::from_secs(30));
        t.join().unwrap();
    }

    #[test]
    fn unpark_wakes_a_parked_thread() {
        let parker = Arc::new(Parker::new());
        for _ in 0..1000 {
            let p = parker.clone();
            let t = thread::spawn(move || p.park());
            parker.unpark();
            t.join().unwrap();
        }
    }
}
