//! `HostWaker`: the waker of the task (or sub-future) that hosts a scope,
//! which any thread cancelling the scope must wake.
//!
//! Unlike `AtomicWaker`, waking does not take the waker out: a scope is
//! cancelled, its shield toggled, its deadline fired, possibly many times
//! while the host stays blocked, and the host re-registers only when its
//! waker actually changed (the `Run` future compares with `will_wake` on its
//! own copy, no atomics), so the steady-state poll costs nothing here.
//!
//! Protocol (one `state` word):
//! - `LOCKED`: someone (the host storing, or a waker reading) owns the slot.
//! - `NOTIFY`: a waker found the slot locked; whoever holds it wakes the
//!   stored waker on release, so no wake-up is lost.
//!
//! Nobody ever waits for anybody: a contended `wake` leaves `NOTIFY` for the
//! holder; a contended `register` (rare: only when the waker changed) wakes
//! the new waker itself, so the host polls again and retries.

use crate::loom::atomic::{AtomicU8, Ordering::SeqCst};
use std::cell::UnsafeCell;
use std::task::Waker;

const LOCKED: u8 = 1;
const NOTIFY: u8 = 2;

pub(crate) struct HostWaker {
    state: AtomicU8,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: `waker` is only touched by whoever set `LOCKED` (a successful CAS
// from 0), so at most one thread accesses it at a time; `Waker` is Send+Sync.
unsafe impl Send for HostWaker {}
// SAFETY: as above.
unsafe impl Sync for HostWaker {}

impl HostWaker {
    pub(crate) fn new() -> Self {
        HostWaker {
            state: AtomicU8::new(0),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` as the one to wake. Returns `false` if the slot was
    /// busy; `waker` has then been woken, so the host polls again and
    /// retries.
    pub(crate) fn register(&self, waker: &Waker) -> bool {
        if self
            .state
            .compare_exchange(0, LOCKED, SeqCst, SeqCst)
            .is_err()
        {
            waker.wake_by_ref();
            return false;
        }
        // SAFETY: we hold LOCKED.
        let previous = unsafe { (*self.waker.get()).replace(waker.clone()) };
        self.release();
        drop(previous);
        true
    }

    /// Wakes the stored waker, if any, leaving it in place.
    pub(crate) fn wake(&self) {
        let mut state = self.state.load(SeqCst);
        loop {
            if state & LOCKED == 0 {
                match self.state.compare_exchange(state, LOCKED, SeqCst, SeqCst) {
                    Ok(_) => {
                        self.wake_stored();
                        self.release();
                        return;
                    }
                    Err(actual) => state = actual,
                }
            } else if state & NOTIFY != 0 {
                return; // The holder will wake it on release.
            } else {
                match self
                    .state
                    .compare_exchange(state, state | NOTIFY, SeqCst, SeqCst)
                {
                    Ok(_) => return,
                    Err(actual) => state = actual,
                }
            }
        }
    }

    /// Removes the stored waker (the host is leaving the scope).
    pub(crate) fn clear(&self) {
        loop {
            if self
                .state
                .compare_exchange(0, LOCKED, SeqCst, SeqCst)
                .is_ok()
            {
                // SAFETY: we hold LOCKED.
                let waker = unsafe { (*self.waker.get()).take() };
                // Nobody needs a NOTIFY left for a waker that is gone.
                self.state.store(0, SeqCst);
                drop(waker);
                return;
            }
            // A waker is reading the slot for a moment; it never blocks.
            std::hint::spin_loop();
            #[cfg(loom)]
            loom::thread::yield_now();
        }
    }

    /// Unlocks; wakes on behalf of anyone who found the slot locked.
    fn release(&self) {
        if self.state.swap(0, SeqCst) & NOTIFY != 0 {
            self.wake_again();
        }
    }

    fn wake_again(&self) {
        // Take the lock once more to wake on the notifier's behalf. If it is
        // taken again already, that holder sees our NOTIFY handling through
        // its own CAS failing and wakes (or leaves NOTIFY) itself.
        self.wake();
    }

    fn wake_stored(&self) {
        // SAFETY: callers hold LOCKED.
        if let Some(waker) = unsafe { &*self.waker.get() } {
            waker.wake_by_ref();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn wake_leaves_the_waker_in_place() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let host = HostWaker::new();
        host.wake(); // nothing registered: no-op
        assert!(host.register(&Waker::from(count.clone())));
        host.wake();
        host.wake();
        assert_eq!(count.0.load(SeqCst), 2);
        host.clear();
        host.wake();
        assert_eq!(count.0.load(SeqCst), 2);
    }

    #[test]
    fn concurrent_wakes_are_not_lost() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let host = Arc::new(HostWaker::new());
        assert!(host.register(&Waker::from(count.clone())));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let host = host.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        host.wake();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // Coalesced wakes are allowed; none at all is not.
        assert!(count.0.load(SeqCst) >= 1);
    }
}
