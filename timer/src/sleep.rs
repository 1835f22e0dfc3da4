//! `sleep` and `sleep_until`.

use crate::clock::deadline_after;
use crate::context;
use crate::driver::{Registration, TimerDriver};
use canopy_scope::{Cancelled, poll_budget, poll_cancelled};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has passed (on the runtime's clock, which may be
/// paused in tests).
///
/// A checkpoint (DESIGN §2.8): returns `Err(Cancelled)` if the enclosing
/// cancel scope is cancelled — when first polled, or at once if it is
/// cancelled while sleeping (the scope wakes the task). A sleep that is
/// already over when polled spends one unit of the task's checkpoint budget,
/// so a loop of zero-length sleeps still yields now and then.
///
/// The deadline is taken when `sleep` is called. It is rounded up to the
/// timer's 1 ms resolution, so a sleep never ends early. `Duration::MAX` (or
/// anything beyond about 30 years) sleeps about 30 years. Nothing is armed
/// until the first poll, and a sleep whose deadline has passed by then
/// completes without touching the timer wheel.
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let started = Instant::now();
///     canopy_timer::sleep(Duration::from_millis(5)).await?;
///     assert!(started.elapsed() >= Duration::from_millis(5));
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
///
/// # Panics
///
/// When polled outside a canopy runtime.
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let now = context::now();
    Sleep::new(deadline_after(now, duration), Location::caller())
}

/// Waits until `deadline`. A deadline in the past completes at the first poll.
///
/// # Panics
///
/// When polled outside a canopy runtime.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline, Location::caller())
}

/// The future of [`sleep`] and [`sleep_until`]; `Unpin`, 48 bytes.
///
/// It allocates nothing: when it must wait, it arms an entry (56 bytes) in
/// the slab of the timer-wheel shard of the worker polling it (slabs grow and
/// are reused, so no allocation per sleep), and disarms it when dropped.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    armed: Option<(Arc<TimerDriver>, Registration)>,
    /// Where the sleep was created: reported by a `Cancelled` it returns.
    location: &'static Location<'static>,
}

impl Sleep {
    fn new(deadline: Instant, location: &'static Location<'static>) -> Self {
        Sleep {
            deadline,
            armed: None,
            location,
        }
    }

    /// When this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed (on the runtime's clock, if inside one).
    pub fn is_elapsed(&self) -> bool {
        let now = match &self.armed {
            Some((driver, _)) => driver.now(),
            None => context::now(),
        };
        now >= self.deadline
    }

    /// Moves the deadline, earlier or later, without re-creating the sleep.
    /// An armed timer is moved in place (a no-op when it stays in its slot).
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let Some((driver, registration)) = &self.armed {
            if !driver.reset(registration, deadline) {
                // It had fired; the next poll arms it anew.
                self.armed = None;
            }
        }
    }
}

impl Future for Sleep {
    type Output = Result<(), Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cancelled = std::task::ready!(poll_cancelled(cx, this.location));
        if let Some((driver, registration)) = &this.armed {
            if let Err(cancelled) = cancelled {
                // Fired already: the outcome is decided and stands although
                // the scope was cancelled meanwhile (DESIGN §2.13; the next
                // checkpoint reports the cancellation). Else disarm.
                let fired = driver.deregister_unless_fired(registration);
                this.armed = None;
                return Poll::Ready(if fired { Ok(()) } else { Err(cancelled) });
            }
            if driver.poll_registered(registration, cx.waker()) {
                this.armed = None;
                return Poll::Ready(Ok(()));
            }
            if driver.now() >= this.deadline {
                // Due, but no worker has fired the wheel yet (all busy since):
                // finish now rather than wait for the next timer pass.
                driver.deregister(registration);
                this.armed = None;
                return Poll::Ready(Ok(()));
            }
            return Poll::Pending;
        }
        cancelled?;
        let (driver, shard) = context::current().expect(context::OUTSIDE_RUNTIME);
        if driver.now() >= this.deadline {
            // Ready without waiting: a schedule point once per budget.
            return poll_budget(cx).map(Ok);
        }
        let registration = driver.register(shard, this.deadline, cx.waker().clone());
        this.armed = Some((driver, registration));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((driver, registration)) = self.armed.take() {
            driver.deregister(&registration);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("armed", &self.armed.is_some())
            .finish()
    }
}
