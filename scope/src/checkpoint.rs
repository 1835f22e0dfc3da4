//! Checkpoints (DESIGN §2.8): `checkpoint` (cancel point + schedule point),
//! `checkpoint_if_cancelled` (cancel point), `cancel_shielded_checkpoint`
//! (schedule point), and `check_cancelled`, the cancel half primitives call.

use crate::cancelled::Cancelled;
use crate::frame;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The cancel check for primitives: `Err` if the code being polled on this
/// thread is inside an effectively cancelled scope. Costs a thread-local read
/// and a pointer read. `location` is reported by the `Cancelled` (give it
/// `Location::caller()` from a `#[track_caller]` constructor).
#[inline]
pub fn check_cancelled(location: &'static Location<'static>) -> Result<(), Cancelled> {
    frame::check(location)
}

/// [`check_cancelled`] for a primitive's `poll`: also a schedule point once
/// per checkpoint budget when it keeps finding the scope cancelled (so a
/// loop of failing checkpoints cannot hog its worker, and sees later
/// cancellations of outer scopes). Prefer it inside `poll`.
#[inline]
pub fn poll_cancelled(
    cx: &mut Context<'_>,
    location: &'static Location<'static>,
) -> Poll<Result<(), Cancelled>> {
    frame::poll_check(cx, location)
}

/// A full checkpoint: returns `Cancelled` if the enclosing scope is
/// (effectively) cancelled, and otherwise yields to the scheduler once, so
/// other tasks run. Put it in long loops that never wait on anything.
///
/// ```
/// use canopy_scope::{CancelScope, Cancelled, checkpoint};
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let scope = CancelScope::new();
///     let out = scope
///         .run(async {
///             for step in 0.. {
///                 if step == 10 {
///                     scope.cancel();
///                 }
///                 checkpoint().await?;
///             }
///             Ok::<(), Cancelled>(())
///         })
///         .await;
///     assert_eq!(out, Ok(None));
/// });
/// ```
#[track_caller]
#[inline]
pub fn checkpoint() -> Checkpoint {
    Checkpoint {
        yielded: false,
        location: Location::caller(),
    }
}

/// The future of [`checkpoint`] (and of `yield_now`).
#[must_use = "futures do nothing unless awaited"]
pub struct Checkpoint {
    yielded: bool,
    location: &'static Location<'static>,
}

impl Future for Checkpoint {
    type Output = Result<(), Cancelled>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Checked at every poll: what decides is the state when polled.
        std::task::ready!(frame::poll_check(cx, self.location))?;
        if self.yielded {
            return Poll::Ready(Ok(()));
        }
        self.yielded = true;
        // Woken while running, so the scheduler queues the task at the back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("yielded", &self.yielded)
            .field("location", &format_args!("{}", self.location))
            .finish()
    }
}

/// A cancel point only: `Err(Cancelled)` if the enclosing scope is
/// cancelled, else `Ok(())` at once, without yielding.
#[track_caller]
pub fn checkpoint_if_cancelled() -> CheckpointIfCancelled {
    CheckpointIfCancelled {
        location: Location::caller(),
    }
}

/// The future of [`checkpoint_if_cancelled`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct CheckpointIfCancelled {
    location: &'static Location<'static>,
}

impl Future for CheckpointIfCancelled {
    type Output = Result<(), Cancelled>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        frame::poll_check(cx, self.location)
    }
}

/// A schedule point only: yields once, and is never cancelled.
pub fn cancel_shielded_checkpoint() -> CancelShieldedCheckpoint {
    CancelShieldedCheckpoint { yielded: false }
}

/// The future of [`cancel_shielded_checkpoint`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct CancelShieldedCheckpoint {
    yielded: bool,
}

impl Future for CancelShieldedCheckpoint {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
