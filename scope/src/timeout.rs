//! Timeouts: `move_on_after`/`move_on_at` (give up quietly) and
//! `fail_after`/`fail_at` (give up with `TimedOut`).
//!
//! The clock of the `*_after` forms starts when the future is first polled
//! (when the scope is entered, as in Trio ≥ 0.25's relative deadlines), not
//! when it is created: a timeout built now and awaited later still gives its
//! body the whole duration.
//!
//! None of them touches the timer wheel, the scope tree or the allocator
//! unless the body actually waits: around work that is ready at once they
//! cost one clock read, like `tokio::time::timeout`.

use crate::cancelled::{CancelError, TimedOut};
use crate::scope::Run;
use crate::scoped::{Outcome, Scoped, Start};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Runs `body` in a new scope whose deadline is `duration` after the first
/// poll. `Ok(Some(v))`: it completed; `Ok(None)`: the deadline cut it short;
/// `Err(e)`: it failed, or an outer scope was cancelled (that cancellation
/// goes through unchanged, to be caught by its own scope).
///
/// ```
/// use canopy_scope::{Cancelled, move_on_after};
/// use std::time::Duration;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
/// let out = rt.block_on(move_on_after(Duration::from_secs(1), async {
///     canopy_timer::sleep(Duration::from_secs(60)).await?;
///     Ok::<_, Cancelled>("done")
/// }));
/// assert_eq!(out, Ok(None));
/// ```
pub fn move_on_after<F, T, E>(duration: Duration, body: F) -> Run<F>
where
    F: Future<Output = Result<T, E>>,
    E: CancelError,
{
    Run {
        inner: Scoped::new(body, None, Start::After(duration)),
    }
}

/// Like [`move_on_after`] with a fixed deadline; one already past cancels
/// the body at its first checkpoint.
pub fn move_on_at<F, T, E>(deadline: Instant, body: F) -> Run<F>
where
    F: Future<Output = Result<T, E>>,
    E: CancelError,
{
    Run {
        inner: Scoped::new(body, None, Start::At(deadline)),
    }
}

/// Runs `body` in a new scope whose deadline is `duration` after the first
/// poll; if that deadline cuts it short, returns `Err(TimedOut.into())`.
/// Works with any error type that can hold both a cancellation and a
/// timeout (`io::Error`: kind `TimedOut`):
///
/// ```
/// use std::{io, time::Duration};
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
/// let out: io::Result<()> = rt.block_on(canopy_scope::fail_after(Duration::from_secs(1), async {
///     canopy_timer::sleep(Duration::from_secs(60)).await?; // Cancelled -> io::Error via `?`
///     Ok(())
/// }));
/// assert_eq!(out.unwrap_err().kind(), io::ErrorKind::TimedOut);
/// ```
pub fn fail_after<F, T, E>(duration: Duration, body: F) -> FailAt<F>
where
    F: Future<Output = Result<T, E>>,
    E: CancelError + From<TimedOut>,
{
    FailAt {
        inner: Scoped::new(body, None, Start::After(duration)),
    }
}

/// Like [`fail_after`] with a fixed deadline.
pub fn fail_at<F, T, E>(deadline: Instant, body: F) -> FailAt<F>
where
    F: Future<Output = Result<T, E>>,
    E: CancelError + From<TimedOut>,
{
    FailAt {
        inner: Scoped::new(body, None, Start::At(deadline)),
    }
}

pin_project! {
    /// The future of [`fail_after`] and [`fail_at`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct FailAt<F> {
        #[pin]
        inner: Scoped<F>,
    }
}

impl<F, T, E> Future for FailAt<F>
where
    F: Future<Output = Result<T, E>>,
    E: CancelError + From<TimedOut>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll_outcome(cx)
            .map(|outcome| match outcome {
                Outcome::Completed(value) => Ok(value),
                // Nobody holds a handle to this scope, so its deadline is the
                // only thing that can cancel it.
                Outcome::Caught(_, scope) => Err(TimedOut::new(scope).into()),
                Outcome::Failed(error) => Err(error),
            })
    }
}

impl<F> fmt::Debug for FailAt<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailAt").finish_non_exhaustive()
    }
}
