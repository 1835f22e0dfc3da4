//! The timer as cancel scopes see it: the runtime's clock, and deadline
//! timers armed, moved and disarmed through plain `TimerHandle`s (no
//! allocation per deadline; the scope's own lock serializes its calls).
//! Installed on every runtime thread by [`crate::enter`].

use crate::driver::{Registration, TimerDriver};
use canopy_scope::rt::{DeadlineDriver, TimerHandle};
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

/// Arms scope deadlines in the shard of the thread that installed it.
pub(crate) struct ScopeDeadlines {
    pub(crate) driver: Arc<TimerDriver>,
    pub(crate) shard: usize,
}

impl DeadlineDriver for ScopeDeadlines {
    fn now(&self) -> Instant {
        self.driver.now()
    }

    fn arm(&self, deadline: Instant, waker: &Waker) -> TimerHandle {
        self.driver
            .register(self.shard, deadline, waker.clone())
            .to_handle()
    }

    fn reset(&self, handle: TimerHandle, deadline: Instant) -> bool {
        self.driver
            .reset(&Registration::from_handle(handle), deadline)
    }

    fn disarm(&self, handle: TimerHandle) {
        self.driver.deregister(&Registration::from_handle(handle));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::Wake;
    use std::time::Duration;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn armed_moved_fired_rearmed_and_disarmed_through_handles() {
        let driver = Arc::new(TimerDriver::new(1, true));
        let deadlines = ScopeDeadlines {
            driver: driver.clone(),
            shard: 0,
        };
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let start = driver.now();
        let handle = deadlines.arm(start + Duration::from_secs(10), &waker);
        assert!(deadlines.reset(handle, start + Duration::from_secs(3)));
        assert!(driver.advance(Duration::from_secs(4)));
        assert_eq!(count.0.load(SeqCst), 1, "fired once, at the moved deadline");
        assert_eq!(driver.armed(), 0);
        // A fired timer cannot be moved; it is armed anew.
        assert!(!deadlines.reset(handle, start + Duration::from_secs(20)));
        let handle = deadlines.arm(start + Duration::from_secs(20), &waker);
        assert_eq!(driver.armed(), 1);
        deadlines.disarm(handle);
        assert_eq!(driver.armed(), 0);
        assert!(driver.advance(Duration::from_secs(30)));
        assert_eq!(count.0.load(SeqCst), 1);
    }
}
