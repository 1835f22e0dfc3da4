//! Loom models of the semaphore's grant protocol (`mod.rs`): an acquire
//! cancelled (or dropped) while a release grants it the permit, with another
//! acquirer queued behind it. The permit must end up with exactly one of
//! them, or back in the semaphore; nobody may wait for a wake-up the
//! cancelled waiter swallowed.
//!
//! The cancelled path is driven through `poll_decided` with a stand-in
//! cancellation (`()`), as in the channel's models.

use super::{AcquireWait, Semaphore};
use loom::future::block_on;
use loom::thread;
use std::panic::Location;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

#[test]
fn loom_acquire_cancelled_while_granted_loses_no_permit() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        held.forget(); // released by hand below, from another thread
        let other = {
            let sem = sem.clone();
            thread::spawn(move || {
                let permit = block_on(sem.acquire()).unwrap();
                drop(permit);
            })
        };
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release(1))
        };
        let mut wait = AcquireWait::new(1, Location::caller());
        let mut cx = Context::from_waker(Waker::noop());
        match wait.poll_decided(&sem, &mut cx, Ok::<(), ()>(())) {
            Poll::Ready(Ok(())) => sem.release(1),
            Poll::Ready(Err(())) => unreachable!("not cancelled"),
            Poll::Pending => match wait.poll_decided(&sem, &mut cx, Err(())) {
                Poll::Ready(Ok(())) => sem.release(1), // granted first: stands
                Poll::Ready(Err(())) => {}
                Poll::Pending => unreachable!("a cancelled poll is ready"),
            },
        }
        releaser.join().unwrap();
        other.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn loom_acquire_dropped_while_granted_passes_the_permit_on() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let other = {
            let sem = sem.clone();
            thread::spawn(move || drop(block_on(sem.acquire()).unwrap()))
        };
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.add_permits(1))
        };
        let mut wait = AcquireWait::new(1, Location::caller());
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(Ok(())) = wait.poll_decided(&sem, &mut cx, Ok::<(), ()>(())) {
            sem.release(1);
        }
        wait.abandon(&sem);
        releaser.join().unwrap();
        other.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}
