//! `Leaves`: the wakers of waiting primitives polled *below* a scope's host
//! with a waker of their own — children of a `FuturesUnordered`, a
//! `select_all`, any combinator that gives each child its own waker.
//!
//! A cancel walk wakes a scope's host. Such a combinator, re-polled with its
//! host's waker, polls only the children whose own wakers fired, so a child
//! asleep in a primitive would never see the cancellation. So a primitive
//! whose waker is not its innermost scope's host waker (`will_wake`) leaves
//! its waker here, and when the host is polled and finds its scope
//! cancelled it wakes them all ("flushes"): the combinator then re-polls
//! each of them, and each returns `Cancelled`.
//!
//! Only the host's own poll touches the list (it is on the scope's `Slot`,
//! or the task's context for primitives outside any scope), so it needs no
//! synchronisation; the cancel walk only wakes the host, as before.
//!
//! The list must not grow without bound while the scope lives (a primitive
//! re-registers on every pending poll; finished ones never deregister):
//! when it reaches its capacity it is deduplicated, and if it is still more
//! than half full every entry is woken and dropped — a spurious wake-up,
//! which futures must tolerate; live waiters register again. Each such
//! flush doubles the capacity, so many live waiters cannot make it flush
//! over and over (they fit after a few doublings, and then no flush
//! happens); every `RESET_AFTER`th flush sets it back to the minimum, so
//! finished waiters cannot make it grow for ever. A flush of n wakers comes
//! after at least n/2 new registrations: amortized O(log n) per registration,
//! and the list never holds more than `MIN_CAPACITY << RESET_AFTER` wakers
//! unless that many are waiting at once.

use crate::host_waker::WakerPanic;
use std::cell::{Cell, UnsafeCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Waker;

/// The capacity a list starts with and never goes below.
const MIN_CAPACITY: usize = 64;

/// Every this many flushes the capacity starts again from the minimum.
const RESET_AFTER: u32 = 8;

pub(crate) struct Leaves {
    wakers: UnsafeCell<Vec<Waker>>,
    capacity: Cell<usize>,
    flushes: Cell<u32>,
}

/// A waker's identity: its data and vtable pointers.
type Key = (usize, usize);

fn key(waker: &Waker) -> Key {
    (waker.data() as usize, waker.vtable() as *const _ as usize)
}

impl Leaves {
    pub(crate) const fn new() -> Self {
        Leaves {
            wakers: UnsafeCell::new(Vec::new()),
            capacity: Cell::new(MIN_CAPACITY),
            flushes: Cell::new(0),
        }
    }

    /// Keeps `waker` to be woken when the scope is found cancelled.
    pub(crate) fn register(&self, waker: &Waker) {
        // SAFETY: only the owning host's poll touches the list, and no
        // reference into it outlives a call.
        let wakers = unsafe { &mut *self.wakers.get() };
        if wakers.iter().rev().take(4).any(|w| w.will_wake(waker)) {
            return; // registered a moment ago (the common re-poll)
        }
        if wakers.len() >= self.capacity.get() {
            self.compact(wakers);
        }
        wakers.push(waker.clone());
    }

    #[cold]
    fn compact(&self, wakers: &mut Vec<Waker>) {
        wakers.sort_unstable_by_key(key);
        wakers.dedup_by(|a, b| key(a) == key(b));
        if wakers.len() <= self.capacity.get() / 2 {
            return;
        }
        let flushes = self.flushes.get().wrapping_add(1);
        self.flushes.set(flushes);
        self.capacity.set(if flushes % RESET_AFTER == 0 {
            MIN_CAPACITY
        } else {
            self.capacity.get() * 2
        });
        if let Some(payload) = wake_all(std::mem::take(wakers)) {
            // In the registering primitive's poll: its task receives it.
            std::panic::resume_unwind(payload);
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: as in `register`.
        unsafe { (*self.wakers.get()).is_empty() }
    }

    /// The scope is cancelled: wake every waiting primitive below it. Each
    /// waker is woken even if one panics; the first panic is returned, for
    /// the caller to resume (inside a task's poll) or report.
    #[must_use = "a waker's panic is returned, to be resumed or reported"]
    pub(crate) fn flush(&self) -> Option<WakerPanic> {
        // SAFETY: as in `register`; the list is taken out before any waker
        // runs, so a waker that re-enters finds it empty.
        let wakers = unsafe { std::mem::take(&mut *self.wakers.get()) };
        wake_all(wakers)
    }
}

/// `Leaves` allocated on first use: a scope's slot carries one pointer
/// (most scopes never have a primitive below them polled with a waker of
/// its own, and a smaller scope future is a faster one to poll).
pub(crate) struct LazyLeaves(std::cell::OnceCell<Box<Leaves>>);

impl LazyLeaves {
    pub(crate) const fn new() -> Self {
        LazyLeaves(std::cell::OnceCell::new())
    }

    pub(crate) fn register(&self, waker: &Waker) {
        self.0
            .get_or_init(|| Box::new(Leaves::new()))
            .register(waker);
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.get().is_none_or(|leaves| leaves.is_empty())
    }

    #[must_use = "a waker's panic is returned, to be resumed or reported"]
    pub(crate) fn flush(&self) -> Option<WakerPanic> {
        self.0.get().and_then(|leaves| leaves.flush())
    }
}

/// Wakes every waker, even if one panics; returns the first panic.
fn wake_all(wakers: Vec<Waker>) -> Option<WakerPanic> {
    let mut first = None;
    for waker in wakers {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            first.get_or_insert(payload);
        }
    }
    first
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn a_flush_wakes_each_distinct_waker_once() {
        let leaves = Leaves::new();
        let counts: Vec<_> = (0..3)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        for _ in 0..5 {
            for count in &counts {
                leaves.register(&Waker::from(count.clone()));
            }
        }
        assert!(leaves.flush().is_none());
        for count in &counts {
            assert_eq!(count.0.load(SeqCst), 1);
        }
        assert!(leaves.is_empty());
    }

    #[test]
    fn churning_waiters_keep_the_list_bounded() {
        let leaves = Leaves::new();
        let live: Vec<_> = (0..10)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        for round in 0..100_000 {
            // A finished waiter that never comes back, and the live ones.
            leaves.register(&Waker::from(Arc::new(Count(AtomicUsize::new(0)))));
            leaves.register(&Waker::from(live[round % live.len()].clone()));
            // SAFETY: single-threaded test.
            assert!(unsafe { (*leaves.wakers.get()).len() } <= MIN_CAPACITY << RESET_AFTER);
        }
    }

    #[test]
    fn many_live_waiters_are_not_woken_over_and_over() {
        use std::collections::VecDeque;
        use std::sync::Mutex;

        /// Records the order of wake-ups, as a combinator's ready queue.
        struct Waiter(usize, Arc<Mutex<VecDeque<usize>>>);
        impl Wake for Waiter {
            fn wake(self: Arc<Self>) {
                self.1.lock().unwrap().push_back(self.0);
            }
        }
        let woken = Arc::new(Mutex::new(VecDeque::new()));
        let waiters: Vec<_> = (0..1000)
            .map(|i| Waker::from(Arc::new(Waiter(i, woken.clone()))))
            .collect();
        let leaves = Leaves::new();
        for waker in &waiters {
            leaves.register(waker);
        }
        // Each woken waiter is polled again and registers again, in the
        // order it was woken.
        let mut wakes = 0;
        loop {
            let next = woken.lock().unwrap().pop_front();
            let Some(index) = next else { break };
            wakes += 1;
            assert!(wakes < 10 * waiters.len(), "woken over and over");
            leaves.register(&waiters[index]);
        }
        assert!(leaves.flush().is_none());
        assert_eq!(woken.lock().unwrap().len(), waiters.len());
    }
}
