//! Loom models of the readiness protocol (`readiness.rs`): the reactor's
//! event races waiters registering, clearing readiness on `WouldBlock`, and
//! being cancelled. A lost wake-up leaves a waiter blocked on its
//! notification, which loom reports as a deadlock. Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p canopy-io --release --lib loom_`

use crate::readiness::{Direction, ScheduledIo};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Notify};
use loom::thread;
use std::task::{Poll, Wake, Waker};

/// A waker that unblocks one loom thread.
struct Unblock(Notify);

impl Wake for Unblock {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.notify();
    }
}

/// A source that is not ready (as after a `WouldBlock`) and holds `items`
/// "connections" the waiters accept.
fn not_ready_source() -> Arc<ScheduledIo> {
    let io = Arc::new(ScheduledIo::new());
    let Poll::Ready(tick) = io.poll_ready(Direction::Read, Waker::noop(), &mut None) else {
        unreachable!("a new source starts ready")
    };
    io.clear_ready(Direction::Read, tick);
    io
}

/// An accept loop: runs the "system call" (take an item) whenever the
/// direction is ready, clears readiness on "WouldBlock", waits otherwise.
fn accept_one(io: &ScheduledIo, items: &AtomicUsize) {
    let unblock = std::sync::Arc::new(Unblock(Notify::new()));
    let waker = Waker::from(unblock.clone());
    let mut key = None;
    loop {
        match io.poll_ready(Direction::Read, &waker, &mut key) {
            Poll::Ready(tick) => {
                let taken = items
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if taken {
                    return;
                }
                io.clear_ready(Direction::Read, tick);
            }
            Poll::Pending => unblock.0.wait(),
        }
    }
}

/// The reactor delivers an event while one waiter registers and another,
/// registered too, is cancelled: the live waiter gets the item.
#[test]
fn loom_a_cancelled_waiter_does_not_swallow_the_event() {
    loom::model(|| {
        let io = not_ready_source();
        let items = Arc::new(AtomicUsize::new(0));
        let reactor = {
            let (io, items) = (io.clone(), items.clone());
            thread::spawn(move || {
                items.fetch_add(1, SeqCst);
                io.set_ready(true, false);
            })
        };
        let cancelled = {
            let io = io.clone();
            thread::spawn(move || {
                let mut key = None;
                // Registers (or finds it ready), then is cancelled without
                // running its call.
                let _ = io.poll_ready(Direction::Read, Waker::noop(), &mut key);
                io.forget(Direction::Read, &mut key);
            })
        };
        accept_one(&io, &items);
        reactor.join().unwrap();
        cancelled.join().unwrap();
        assert_eq!(items.load(SeqCst), 0);
    });
}

/// Two waiters, two events that race their registrations and each other's
/// `WouldBlock`: both are served.
#[test]
fn loom_two_waiters_two_events_both_served() {
    loom::model(|| {
        let io = not_ready_source();
        let items = Arc::new(AtomicUsize::new(0));
        let reactor = {
            let (io, items) = (io.clone(), items.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    items.fetch_add(1, SeqCst);
                    io.set_ready(true, false);
                }
            })
        };
        let other = {
            let (io, items) = (io.clone(), items.clone());
            thread::spawn(move || accept_one(&io, &items))
        };
        accept_one(&io, &items);
        other.join().unwrap();
        reactor.join().unwrap();
        assert_eq!(items.load(SeqCst), 0);
    });
}
