//! `yield_now`: give other tasks a turn.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields once to the scheduler: the task goes to the back of its worker's run
/// queue, so every task already queued there runs before it continues.
///
/// Use it inside long computations that never await anything else. (Once
/// cancel scopes land, `yield_now` becomes a full checkpoint returning
/// `Result<(), Cancelled>`; today it only schedules.)
///
/// ```
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     for _ in 0..3 {
///         canopy_runtime::yield_now().await;
///     }
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Woken while running: the scheduler sees `woken_while_running` and
        // queues the task at the back instead of the LIFO slot.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
