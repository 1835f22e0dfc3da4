//! The clock timers read: the real monotonic clock, or a paused one that only
//! moves when told to (`advance`) or when the runtime is idle (auto-jump).
//!
//! Timer deadlines are kept as ticks of 1 ms since the clock's start.
//! A deadline rounds *up* to its tick and "now" rounds *down*, so a timer never
//! fires before its deadline.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Length of one tick.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// `TICK` in nanoseconds; it divides a second.
const TICK_NANOS: u32 = TICK.as_nanos() as u32;

/// The ticks in `since`'s whole seconds, saturating. Tick arithmetic stays
/// in u64 (a 128-bit division per timer move showed in profiles).
fn whole_ticks(since: Duration) -> u64 {
    since
        .as_secs()
        .saturating_mul(u64::from(1_000_000_000 / TICK_NANOS))
}

/// How far ahead a deadline may lie: further ones (`Duration::MAX`, centuries)
/// are treated as this far, which no program waits out. About 30 years.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

#[derive(Debug)]
pub(crate) struct Clock {
    start: Instant,
    /// `Some(nanoseconds since start)` when paused.
    paused: Option<AtomicU64>,
}

impl Clock {
    pub(crate) fn new(paused: bool) -> Self {
        Clock {
            start: Instant::now(),
            paused: paused.then(|| AtomicU64::new(0)),
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    pub(crate) fn now(&self) -> Instant {
        match &self.paused {
            Some(offset) => self.start + Duration::from_nanos(offset.load(SeqCst)),
            None => Instant::now(),
        }
    }

    /// Moves a paused clock forward. Returns `false` on a running clock.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        let Some(offset) = &self.paused else {
            return false;
        };
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = offset.fetch_update(SeqCst, SeqCst, |o| Some(o.saturating_add(nanos)));
        true
    }

    /// Moves a paused clock forward to `tick` if it is behind it.
    pub(crate) fn advance_to_tick(&self, tick: u64) {
        if let Some(offset) = &self.paused {
            let target = tick.saturating_mul(TICK.as_nanos() as u64);
            offset.fetch_max(target, SeqCst);
        }
    }

    /// The tick at which a deadline is due: rounded up. Deadlines before the
    /// clock started are due at tick 0.
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.start);
        whole_ticks(since).saturating_add(u64::from(since.subsec_nanos().div_ceil(TICK_NANOS)))
    }

    /// The current tick: rounded down.
    pub(crate) fn now_tick(&self) -> u64 {
        let since = self.now().saturating_duration_since(self.start);
        whole_ticks(since).saturating_add(u64::from(since.subsec_nanos() / TICK_NANOS))
    }

    /// The instant at which `tick` begins.
    pub(crate) fn tick_instant(&self, tick: u64) -> Instant {
        self.start
            .checked_add(Duration::from_millis(tick))
            .unwrap_or_else(|| self.start + FAR_FUTURE)
    }
}

/// `now + by`, saturating at `FAR_FUTURE` from now instead of overflowing.
pub(crate) fn deadline_after(now: Instant, by: Duration) -> Instant {
    now.checked_add(by.min(FAR_FUTURE)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::{Clock, TICK};
    use std::time::Duration;

    #[test]
    fn deadlines_round_up_and_now_rounds_down() {
        let clock = Clock::new(true);
        let start = clock.now();
        assert_eq!(clock.deadline_tick(start), 0);
        assert_eq!(clock.deadline_tick(start + Duration::from_micros(1)), 1);
        assert_eq!(clock.deadline_tick(start + TICK), 1);
        assert_eq!(clock.deadline_tick(start + Duration::from_micros(1_001)), 2);
        clock.advance(Duration::from_micros(1_999));
        assert_eq!(clock.now_tick(), 1);
        assert_eq!(clock.now(), start + Duration::from_micros(1_999));
    }

    #[test]
    fn a_running_clock_cannot_be_advanced() {
        assert!(!Clock::new(false).advance(Duration::from_secs(1)));
    }

    #[test]
    fn instants_before_the_start_are_due_at_once() {
        let clock = Clock::new(false);
        let earlier = clock
            .now()
            .checked_sub(Duration::from_secs(5))
            .unwrap_or(clock.now());
        assert_eq!(clock.deadline_tick(earlier), 0);
    }
}
