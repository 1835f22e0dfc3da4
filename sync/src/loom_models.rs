//! Loom models of the small primitives' wake-up protocols: an `Event` set
//! while a task registers to wait for it (no lost wake-up), and a
//! `Notify::notify_one` racing the drop of the waiter it is handed to (the
//! notification is passed on, not swallowed).

use crate::{Event, Notify};
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::task::{Context, Poll, Waker};

#[test]
fn loom_event_set_while_a_waiter_registers_is_not_lost() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let setter = {
            let event = event.clone();
            thread::spawn(move || event.set())
        };
        // Deadlocks (and loom reports it) if the set's wake-up were lost.
        block_on(event.wait()).unwrap();
        setter.join().unwrap();
        assert!(event.is_set());
    });
}

#[test]
fn loom_notify_one_racing_a_dropped_waiter_is_passed_on() {
    loom::model(|| {
        let notify = Arc::new(Notify::new());
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(notify.notified());
        let mut second = Box::pin(notify.notified());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        let notifier = {
            let notify = notify.clone();
            thread::spawn(move || notify.notify_one())
        };
        drop(first);
        notifier.join().unwrap();
        assert!(matches!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    });
}
