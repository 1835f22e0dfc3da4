//! Helpers for the socket suites.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

/// How long a test waits for something before it calls it a failure (a
/// bug must fail, not hang). Generous: the machine is shared.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Runs `f` on its own thread and fails the test if it takes over `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("hung: still running after {limit:?}"),
    }
}

/// Calls `then` once, after the first poll of `fut` returned `Pending`
/// (the future is then waiting, its waker stored).
pub struct AfterFirstPoll<F, G> {
    fut: Pin<Box<F>>,
    then: Option<Box<G>>,
}

pub fn after_first_poll<F: Future, G: FnOnce()>(fut: F, then: G) -> AfterFirstPoll<F, G> {
    AfterFirstPoll {
        fut: Box::pin(fut),
        then: Some(Box::new(then)),
    }
}

impl<F: Future, G: FnOnce()> Future for AfterFirstPoll<F, G> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = self.fut.as_mut().poll(cx);
        if out.is_pending() {
            if let Some(then) = self.then.take() {
                then();
            }
        }
        out
    }
}
