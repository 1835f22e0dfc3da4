//! `cancellable`: makes any future — from any crate — a cancel point.

use crate::cancelled::Cancelled;
use crate::frame;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Wraps a future that knows nothing of cancel scopes (another crate's
/// client, a `futures` combinator...) so that it becomes a cancel point: as
/// soon as its scope is effectively cancelled, the future is dropped (at
/// once, releasing what it holds) and `Err(Cancelled)` is returned.
///
/// The scope wakes the task when it is cancelled, so a future that is
/// blocked forever is still interrupted promptly.
///
/// ```
/// use canopy_scope::{Cancelled, cancellable, move_on_after};
/// use std::time::Duration;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
/// let out = rt.block_on(move_on_after(Duration::from_secs(1), async {
///     // A future from elsewhere that never completes.
///     cancellable(std::future::pending::<()>()).await?;
///     Ok::<_, Cancelled>(())
/// }));
/// assert_eq!(out, Ok(None));
/// ```
#[track_caller]
pub fn cancellable<F: Future>(future: F) -> Cancellable<F> {
    Cancellable {
        future: Some(future),
        location: Location::caller(),
    }
}

pin_project! {
    /// The future of [`cancellable`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Cancellable<F> {
        #[pin]
        future: Option<F>,
        location: &'static Location<'static>,
    }
}

impl<F: Future> Future for Cancellable<F> {
    type Output = Result<F::Output, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Err(cancelled) = std::task::ready!(frame::poll_check(cx, this.location)) {
            this.future.set(None);
            return Poll::Ready(Err(cancelled));
        }
        match this.future.as_mut().as_pin_mut() {
            Some(future) => future.poll(cx).map(Ok),
            None => panic!("`Cancellable` polled after it completed"),
        }
    }
}

impl<F> fmt::Debug for Cancellable<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancellable")
            .field("done", &self.future.is_none())
            .finish()
    }
}
