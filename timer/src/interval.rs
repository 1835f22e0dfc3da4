//! `interval`: a stream of evenly spaced ticks.

use crate::clock::deadline_after;
use crate::sleep::{Sleep, sleep_until};
use canopy_scope::Cancelled;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What an [`Interval`] does when ticks were missed because the task did not
/// call `tick` in time (it was busy, or the runtime was overloaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissedTicks {
    /// Fire the missed ticks back to back until caught up, keeping the
    /// original schedule (`start + n * period`). Suits counting, not pacing.
    Burst,
    /// Fire once now and, if that tick was late at all, schedule the next
    /// one a full period from now: the schedule shifts by the delay. Suits
    /// "at least a period apart". On a real clock a tick is usually a
    /// fraction of a millisecond late (timers have 1 ms resolution and a
    /// woken task waits for a worker), so the schedule drifts by that much
    /// per tick; use `Skip` to stay on it.
    Delay,
    /// Fire once now and drop the missed ticks, staying on the original
    /// schedule (the next tick is the next `start + n * period` after now).
    /// The default: periodic work neither bursts nor drifts.
    #[default]
    Skip,
}

/// Ticks every `period`, starting now: the first `tick` completes at once.
///
/// ```
/// use std::time::Duration;
/// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let mut every = canopy_timer::interval(Duration::from_secs(10));
///     let first = every.tick().await?;
///     let second = every.tick().await?;
///     assert_eq!(second - first, Duration::from_secs(10));
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
///
/// # Panics
///
/// If `period` is zero (an interval that never waits is a busy loop), or when
/// polled outside a canopy runtime.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    let now = crate::context::now();
    interval_at(now, period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "interval period must be greater than zero; use yield_now in a loop to run continuously"
    );
    Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTicks::default(),
    }
}

/// The stream of ticks made by [`interval`] and [`interval_at`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTicks,
}

impl Interval {
    /// Waits for the next tick and returns when it was scheduled. A
    /// checkpoint, like `sleep`: `Err(Cancelled)` once the enclosing scope is
    /// cancelled (the tick is not consumed).
    pub async fn tick(&mut self) -> Result<Instant, Cancelled> {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (for hand-written futures and streams).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Result<Instant, Cancelled>> {
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(cancelled)) => return Poll::Ready(Err(cancelled)),
            Poll::Ready(Ok(())) => {}
        }
        let scheduled = self.sleep.deadline();
        let now = crate::context::now();
        let next = match self.missed {
            MissedTicks::Burst => deadline_after(scheduled, self.period),
            // Taken after its time (not only a whole period after): the
            // next tick is a full period after this one was delivered.
            MissedTicks::Delay if now > scheduled => deadline_after(now, self.period),
            MissedTicks::Delay => deadline_after(scheduled, self.period),
            MissedTicks::Skip => {
                let late = now.saturating_duration_since(scheduled);
                let periods = late.as_nanos() / self.period.as_nanos() + 1;
                let periods = u32::try_from(periods).unwrap_or(u32::MAX);
                deadline_after(scheduled, self.period.saturating_mul(periods))
            }
        };
        self.sleep.reset(next);
        Poll::Ready(Ok(scheduled))
    }

    /// Sets what happens to missed ticks (default [`MissedTicks::Skip`]).
    pub fn set_missed_ticks(&mut self, behaviour: MissedTicks) {
        self.missed = behaviour;
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        let now = crate::context::now();
        self.sleep.reset(deadline_after(now, self.period));
    }
}
