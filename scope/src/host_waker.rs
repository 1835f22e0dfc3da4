//! `HostWaker`: the waker of the task (or sub-future) that hosts a scope,
//! which any thread cancelling the scope must wake.
//!
//! Unlike `AtomicWaker`, waking does not take the waker out: a scope is
//! cancelled, its shield toggled, its deadline fired, possibly many times
//! while the host stays blocked, and the host re-registers only when its
//! waker actually changed (the `Scoped` future compares with `will_wake` on
//! its own copy, no atomics), so the steady-state poll costs nothing here.
//!
//! Protocol (one `state` word):
//! - `LOCKED`: someone (the host storing, or a waker cloning) owns the slot.
//! - `NOTIFY`: a waker found the slot locked; whoever holds it wakes the
//!   stored waker on release, so no wake-up is lost.
//!
//! Nobody ever waits for anybody: a contended `wake` leaves `NOTIFY` for the
//! holder; a contended `register` (rare: only when the waker changed) wakes
//! the new waker itself, so the host polls again and retries.
//!
//! The user's waker never runs under `LOCKED`: a waker clones the stored
//! waker under it and wakes the clone after releasing, so a panicking waker
//! leaves the slot free. Its panic is caught and handed back to the caller
//! (a cancel walk finishes first, then resumes it).

use crate::loom::atomic::{AtomicU8, Ordering::SeqCst};
use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Waker;

const LOCKED: u8 = 1;
const NOTIFY: u8 = 2;

/// A panic payload from a user's waker.
pub(crate) type WakerPanic = Box<dyn Any + Send>;

/// Reports the panic of a user's waker woken on the runtime's behalf (a
/// deadline firing, a scope dropped, a task moving): nobody called anything
/// that could receive it, so it is written to stderr and dropped (its drop
/// contained too) — the waking thread, maybe a worker, goes on.
#[cold]
pub(crate) fn report_waker_panic(payload: WakerPanic, while_doing: &str) {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string payload>");
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "canopy: a waker panicked while {while_doing}; the panic was contained: {message}\n"
        ),
    );
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
}

pub(crate) struct HostWaker {
    state: AtomicU8,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: `waker` is only touched by whoever set `LOCKED` (a successful CAS
// from 0), so at most one thread accesses it at a time; `Waker` is Send+Sync.
unsafe impl Send for HostWaker {}
// SAFETY: as above.
unsafe impl Sync for HostWaker {}

/// Releases `LOCKED` when dropped, also if a waker's `clone` panics.
struct Held<'a>(&'a HostWaker);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.0.state.swap(0, SeqCst) & NOTIFY != 0 {
            // Someone found the slot locked: wake on its behalf. (If the slot
            // is taken again already, that holder sees the NOTIFY handling
            // through its own CAS failing, and wakes or leaves NOTIFY.)
            let _ = self.0.wake();
        }
    }
}

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
        let previous = {
            let _held = Held(self);
            let new = waker.clone();
            // SAFETY: we hold LOCKED.
            unsafe { (*self.waker.get()).replace(new) }
        };
        drop(previous);
        true
    }

    /// Wakes the stored waker, if any, leaving it in place. A panic of the
    /// user's waker is caught and returned.
    pub(crate) fn wake(&self) -> Result<(), WakerPanic> {
        let mut state = self.state.load(SeqCst);
        loop {
            if state & LOCKED == 0 {
                match self.state.compare_exchange(state, LOCKED, SeqCst, SeqCst) {
                    Ok(_) => break,
                    Err(actual) => state = actual,
                }
            } else if state & NOTIFY != 0 {
                return Ok(()); // The holder will wake it on release.
            } else {
                match self
                    .state
                    .compare_exchange(state, state | NOTIFY, SeqCst, SeqCst)
                {
                    Ok(_) => return Ok(()),
                    Err(actual) => state = actual,
                }
            }
        }
        catch_unwind(AssertUnwindSafe(|| {
            let stored = {
                let _held = Held(self);
                // SAFETY: we hold LOCKED.
                unsafe { (*self.waker.get()).clone() }
            };
            if let Some(waker) = stored {
                waker.wake();
            }
        }))
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
            // A waker is cloning the stored waker for a moment; it never
            // runs user code beyond that clone under the bit.
            std::hint::spin_loop();
            #[cfg(loom)]
            loom::thread::yield_now();
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
        host.wake().unwrap(); // nothing registered: no-op
        assert!(host.register(&Waker::from(count.clone())));
        host.wake().unwrap();
        host.wake().unwrap();
        assert_eq!(count.0.load(SeqCst), 2);
        host.clear();
        host.wake().unwrap();
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
                        host.wake().unwrap();
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
