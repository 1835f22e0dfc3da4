//! `sleep_forever`: wait until cancelled.

use canopy_scope::{Cancelled, poll_cancelled};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Waits until the enclosing scope is cancelled (Trio's `sleep_forever`):
/// for a task whose work is all in its shielded cleanup, or a server's main
/// task once its listeners run in a group. A checkpoint that never completes
/// otherwise, and arms no timer.
///
/// ```
/// use canopy_scope::move_on_after;
/// use std::time::Duration;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
/// let out = rt.block_on(move_on_after(Duration::from_secs(5), async {
///     canopy_timer::sleep_forever().await?;
///     Ok::<(), canopy_scope::Cancelled>(())
/// }));
/// assert_eq!(out, Ok(None));
/// ```
#[track_caller]
pub fn sleep_forever() -> SleepForever {
    SleepForever {
        location: Location::caller(),
    }
}

/// The future of [`sleep_forever`]: its only outcome is `Err(Cancelled)`.
#[must_use = "futures do nothing unless awaited"]
pub struct SleepForever {
    location: &'static Location<'static>,
}

impl Future for SleepForever {
    type Output = Result<Infallible, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The check leaves the waker with the scope, which wakes it on
        // cancellation (so does the runtime's shutdown).
        match poll_cancelled(cx, self.location) {
            Poll::Ready(Err(cancelled)) => Poll::Ready(Err(cancelled)),
            _ => Poll::Pending,
        }
    }
}

impl fmt::Debug for SleepForever {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SleepForever").finish_non_exhaustive()
    }
}
