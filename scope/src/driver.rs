//! The deadline-driver hook: how a scope reads the runtime's clock and arms a
//! timer for its deadline without knowing the timer crate (DESIGN §1: `scope`
//! knows no executor and no timer). The timer crate implements
//! [`DeadlineDriver`]; the runtime installs it on each of its threads with
//! [`enter_driver`].

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

/// A clock and a timer service for scope deadlines. Implemented by the timer
/// crate; runtimes install one per thread with [`enter_driver`].
///
/// Armed timers are plain [`TimerHandle`]s (no allocation per deadline);
/// the scope keeps the handle and gives it back to move or disarm the timer.
pub trait DeadlineDriver: Send + Sync + 'static {
    /// The runtime's current time (it may be a paused test clock).
    fn now(&self) -> Instant;
    /// Arms a timer that wakes `waker` at `deadline` (at the next timer pass
    /// if it has passed).
    fn arm(&self, deadline: Instant, waker: &Waker) -> TimerHandle;
    /// Moves an armed timer to `deadline`. Returns `false` if it had fired
    /// already (the caller then arms it anew).
    fn reset(&self, handle: TimerHandle, deadline: Instant) -> bool;
    /// Disarms a timer (nothing happens if it fired).
    fn disarm(&self, handle: TimerHandle);
}

/// An armed timer, as the [`DeadlineDriver`] that armed it identifies it:
/// two words whose meaning is the driver's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerHandle {
    /// The driver's first word (for canopy's timer: shard and slot).
    pub slot: u64,
    /// The driver's second word (for canopy's timer: the entry's id).
    pub id: u64,
}

thread_local! {
    static DRIVER: RefCell<Option<Arc<dyn DeadlineDriver>>> = const { RefCell::new(None) };
}

/// Restores the previous driver when dropped.
#[must_use = "the driver is uninstalled when the guard is dropped"]
pub struct DriverGuard {
    previous: Option<Arc<dyn DeadlineDriver>>,
}

impl std::fmt::Debug for DriverGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverGuard").finish_non_exhaustive()
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = DRIVER.try_with(|d| *d.borrow_mut() = previous);
    }
}

/// Makes `driver` the deadline driver of this thread until the guard drops.
/// For runtimes; applications never call this.
pub fn enter_driver(driver: Arc<dyn DeadlineDriver>) -> DriverGuard {
    let previous = DRIVER.with(|d| d.borrow_mut().replace(driver));
    DriverGuard { previous }
}

/// This thread's driver, if it serves a runtime.
pub(crate) fn current_driver() -> Option<Arc<dyn DeadlineDriver>> {
    DRIVER.try_with(|d| d.borrow().clone()).ok().flatten()
}

/// The runtime clock's time on this thread (real time outside a runtime).
pub(crate) fn now() -> Instant {
    DRIVER
        .try_with(|d| d.borrow().as_ref().map(|driver| driver.now()))
        .ok()
        .flatten()
        .unwrap_or_else(Instant::now)
}

/// Deadlines are stored in one atomic word as nanoseconds since a process-wide
/// base instant; `NO_DEADLINE` means none. The base lies `BASE_AGE` before the
/// first use, so that every instant a clock of this process can produce —
/// a paused clock started before the first deadline was encoded, an
/// `Instant` captured earlier — comes after it and keeps its order: a
/// deadline in the past stays in the past, whatever ran first in the
/// process. Instants before the base clamp to it (the past either way).
pub(crate) const NO_DEADLINE: u64 = u64::MAX;

/// How far before its first use the base lies: 100 years (u64 nanoseconds
/// reach 584 years, so deadlines up to ~480 years ahead still encode).
const BASE_AGE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(|| {
        let now = Instant::now();
        // A platform whose monotonic clock cannot go that far back: as far
        // back as it goes, halving.
        let mut age = BASE_AGE;
        loop {
            if let Some(base) = now.checked_sub(age) {
                return base;
            }
            if age.is_zero() {
                return now;
            }
            age /= 2;
        }
    })
}

pub(crate) fn encode(deadline: Option<Instant>) -> u64 {
    match deadline {
        None => NO_DEADLINE,
        Some(at) => {
            // In u64, saturating (no 128-bit nanoseconds: every
            // `set_deadline` encodes).
            let since = at.saturating_duration_since(base());
            since
                .as_secs()
                .saturating_mul(1_000_000_000)
                .saturating_add(u64::from(since.subsec_nanos()))
                .min(NO_DEADLINE - 1)
        }
    }
}

pub(crate) fn decode(bits: u64) -> Option<Instant> {
    (bits != NO_DEADLINE).then(|| base() + std::time::Duration::from_nanos(bits))
}

/// An instant no deadline can precede: the instant of a cancelled scope's
/// effective deadline (`EffectiveDeadline::instant`; Trio reports `-inf`).
pub(crate) fn past() -> Instant {
    base()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_from_before_the_first_use_stay_ordered() {
        let earlier = Instant::now();
        let later = earlier + Duration::from_millis(1);
        let _ = base();
        assert!(encode(Some(earlier)) < encode(Some(later)));
        assert_eq!(decode(encode(Some(earlier))), Some(earlier));
    }

    #[test]
    fn deadlines_beyond_the_encodable_range_saturate_short_of_none() {
        let Some(far) = Instant::now().checked_add(Duration::from_secs(1_000 * 365 * 24 * 3600))
        else {
            return; // this platform's clock cannot express it at all
        };
        assert_eq!(encode(Some(far)), NO_DEADLINE - 1);
    }

    #[test]
    fn deadlines_round_trip() {
        assert_eq!(decode(encode(None)), None);
        let at = Instant::now() + Duration::from_secs(5);
        assert_eq!(decode(encode(Some(at))), Some(at));
        assert_eq!(decode(encode(Some(past()))), Some(past()));
    }
}
