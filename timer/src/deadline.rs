//! `DeadlineTimer`: one timer that any thread can arm, move or disarm, and
//! that wakes a given `Waker` when it expires. This is the hook cancel scopes
//! use for their deadlines (one per scope; the waker cancels the scope with
//! reason "deadline"), and it suits any "call me back at T" need.

use crate::context;
use crate::driver::{Registration, TimerDriver};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Instant;

/// A movable timer that wakes `waker` at its deadline, from any thread.
///
/// Arming is explicit ([`set`](Self::set)), so an owner that never needs the
/// timer (a scope whose body finished without waiting) never touches the
/// wheel. Moving the deadline, later or earlier, is O(1) and allocates
/// nothing; moving it into the past fires at the next timer pass. Dropping
/// the `DeadlineTimer` disarms it.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::task::{Wake, Waker};
/// use std::time::Duration;
///
/// struct Flag(AtomicBool);
/// impl Wake for Flag {
///     fn wake(self: Arc<Self>) {
///         self.0.store(true, Ordering::SeqCst);
///     }
/// }
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let flag = Arc::new(Flag(AtomicBool::new(false)));
///     let timer = canopy_timer::DeadlineTimer::new(Waker::from(flag.clone()));
///     timer.set(Some(canopy_timer::now() + Duration::from_secs(30)));
///     timer.set(Some(canopy_timer::now() + Duration::from_secs(5))); // moved earlier
///     canopy_timer::sleep(Duration::from_secs(6)).await;
///     assert!(flag.0.load(Ordering::SeqCst));
/// });
/// ```
pub struct DeadlineTimer {
    driver: Arc<TimerDriver>,
    shard: usize,
    waker: Waker,
    armed: Mutex<Option<Registration>>,
}

impl DeadlineTimer {
    /// A disarmed timer on the current runtime's driver.
    ///
    /// # Panics
    ///
    /// Outside a canopy runtime.
    #[track_caller]
    pub fn new(waker: Waker) -> Self {
        let (driver, shard) = context::current().expect(context::OUTSIDE_RUNTIME);
        Self::on(driver, shard, waker)
    }

    fn on(driver: Arc<TimerDriver>, shard: usize, waker: Waker) -> Self {
        DeadlineTimer {
            driver,
            shard,
            waker,
            armed: Mutex::new(None),
        }
    }

    /// Arms the timer for `deadline`, moves it there if armed, or disarms it
    /// (`None`). If it already fired, setting a deadline arms it again.
    pub fn set(&self, deadline: Option<Instant>) {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        match (deadline, armed.as_ref()) {
            (None, Some(registration)) => {
                self.driver.deregister(registration);
                *armed = None;
            }
            (None, None) => {}
            (Some(deadline), Some(registration)) => {
                if !self.driver.reset(registration, deadline) {
                    *armed = Some(
                        self.driver
                            .register(self.shard, deadline, self.waker.clone()),
                    );
                }
            }
            (Some(deadline), None) => {
                *armed = Some(
                    self.driver
                        .register(self.shard, deadline, self.waker.clone()),
                );
            }
        }
    }

    /// Whether the timer is armed and has not fired yet.
    pub fn is_armed(&self) -> bool {
        let armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        armed
            .as_ref()
            .is_some_and(|registration| !self.driver.has_fired(registration))
    }
}

impl Drop for DeadlineTimer {
    fn drop(&mut self) {
        let armed = self.armed.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(registration) = armed.take() {
            self.driver.deregister(&registration);
        }
    }
}

impl fmt::Debug for DeadlineTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadlineTimer")
            .field("armed", &self.is_armed())
            .finish_non_exhaustive()
    }
}

/// The timer as cancel scopes see it: the runtime's clock, and a
/// [`DeadlineTimer`] per scope deadline, armed in the shard of the thread
/// that installed it. Installed on every runtime thread by [`crate::enter`].
pub(crate) struct ScopeDeadlines {
    pub(crate) driver: Arc<TimerDriver>,
    pub(crate) shard: usize,
}

impl canopy_scope::DeadlineDriver for ScopeDeadlines {
    fn now(&self) -> Instant {
        self.driver.now()
    }

    fn arm(&self, deadline: Instant, waker: Waker) -> Box<dyn canopy_scope::ArmedDeadline> {
        let timer = DeadlineTimer::on(self.driver.clone(), self.shard, waker);
        timer.set(Some(deadline));
        Box::new(timer)
    }
}

impl canopy_scope::ArmedDeadline for DeadlineTimer {
    fn reset(&self, deadline: Instant) {
        self.set(Some(deadline));
    }
}
