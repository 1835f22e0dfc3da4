//! The thread's timer context: which driver, and which shard, timers armed on
//! this thread use. The runtime sets it on its workers and inside `block_on`.

use crate::deadline::ScopeDeadlines;
use crate::driver::TimerDriver;
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    static CURRENT: RefCell<Option<(Arc<TimerDriver>, usize)>> = const { RefCell::new(None) };
}

/// Restores the previous timer context when dropped.
#[must_use = "the timer context is left when the guard is dropped"]
#[derive(Debug)]
pub struct TimerContextGuard {
    previous: Option<(Arc<TimerDriver>, usize)>,
    _scope_deadlines: canopy_scope::rt::DriverGuard,
}

impl Drop for TimerContextGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// Makes `driver` the timer driver of this thread, arming timers in `shard`,
/// until the guard is dropped; also installs it as the cancel scopes'
/// deadline driver. For runtimes; applications never call this.
pub fn enter(driver: Arc<TimerDriver>, shard: usize) -> TimerContextGuard {
    let scope_deadlines = canopy_scope::rt::enter_driver(Arc::new(ScopeDeadlines {
        driver: driver.clone(),
        shard,
    }));
    let previous = CURRENT.with(|c| c.borrow_mut().replace((driver, shard)));
    TimerContextGuard {
        previous,
        _scope_deadlines: scope_deadlines,
    }
}

/// The driver and shard of this thread, if it is inside a runtime.
pub(crate) fn current() -> Option<(Arc<TimerDriver>, usize)> {
    CURRENT
        .try_with(|c| c.borrow().as_ref().map(|(d, s)| (d.clone(), *s)))
        .ok()
        .flatten()
}

/// The current time on this thread's runtime clock (real time outside one),
/// without taking a reference to the driver.
pub(crate) fn now() -> std::time::Instant {
    CURRENT
        .try_with(|c| c.borrow().as_ref().map(|(driver, _)| driver.now()))
        .ok()
        .flatten()
        .unwrap_or_else(std::time::Instant::now)
}

/// The message for a timer used outside any runtime.
pub(crate) const OUTSIDE_RUNTIME: &str = "a canopy timer was polled outside a canopy runtime: \
     timers need the runtime's timer driver; await it inside Runtime::block_on or a spawned task";
