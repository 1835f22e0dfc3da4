//! The driver role: which parked worker sleeps in the reactor, with the
//! earliest timer as its timeout.
//!
//! # Protocol
//!
//! One parked worker at a time is "the driver" (`driver` holds its index
//! plus one): it sleeps in the reactor's poller with the earliest timer deadline
//! as timeout, so I/O events and timers wake the same thread (see
//! `worker.rs`, `park`). The others sleep on their parkers. Waking a worker
//! (`unpark_worker`) sets its parker's token, *then* reads `driver` and, if
//! that worker drives, notifies the poller; the driver sets `driver`,
//! *then* consumes a pending token before it blocks in the poller. Both in
//! `SeqCst`: either the driver sees the token and does not block, or the
//! waker sees the role and notifies the poller (a notification is kept for
//! a wait that has not begun). A driver that leaves the role to run tasks
//! hands it on (`hand_off_driver`): it clears `driver`, then wakes one other
//! parked worker, which takes the role. A worker about to park sets its
//! sleeper bit before trying to take the role, so either it takes the role
//! or the leaving driver sees its bit and wakes it. So while any worker is
//! parked, one of them soon drives, and I/O and timers fire even while the
//! busy workers are stuck in long polls (DESIGN §4).
//!
//! A notification is "kept for a wait that has not begun" only if nobody
//! else waits on the poller first: `polling` clears its notified flag after
//! *any* wait, a busy worker's non-blocking `poll_now` included, which could
//! so swallow the driver's wake-up (and, at a close, leave the driver asleep
//! with no timers to wake it). So busy workers poll the reactor only while
//! no worker drives (`poll_io_if_no_driver`): a driver receives the events
//! itself. What narrow window remains (a worker taking the role just after
//! a busy worker looked) is covered by the driver's loop re-checking its
//! token and the close's periodic re-wake (`shutdown.rs`).

use super::Shared;
use std::sync::atomic::Ordering::SeqCst;

impl Shared {
    /// Tries to make worker `index` the driver (module docs). On a paused
    /// clock too: the driver then waits for I/O without a timeout.
    pub(crate) fn try_become_driver(&self, index: usize) -> bool {
        self.driver
            .compare_exchange(0, index + 1, SeqCst, SeqCst)
            .is_ok()
    }

    pub(crate) fn stop_being_driver(&self) {
        self.driver.store(0, SeqCst);
    }

    /// For busy workers (and the monitor): delivers the I/O events ready now,
    /// unless a worker is driving, which receives them itself (module docs:
    /// a poll here could swallow its wake-up).
    pub(crate) fn poll_io_if_no_driver(&self) {
        if self.driver.load(SeqCst) == 0 {
            self.reactor.poll_now();
        }
    }

    /// Worker `index` left the driver role to run tasks: wake another
    /// parked worker to take it (module docs, "The driver").
    pub(crate) fn hand_off_driver(&self, index: usize) {
        if let Some(other) = self.idle.parked_worker_other_than(index) {
            self.remotes[other].parker.unpark();
        }
    }

    /// The timer driver's hook: a deadline earlier than the driver's sleep
    /// was armed, or one was armed while `block_on` threads of a closed
    /// runtime watch the timers (see `block_on.rs`).
    pub(crate) fn wake_timer_sentinel(&self) {
        if let Some(index) = self.driver.load(SeqCst).checked_sub(1) {
            self.unpark_worker(index);
        }
        // SeqCst: a watcher saw `closed` before it counted itself, and the
        // driver saw the count before calling us, so this load sees it too.
        if self.closed.is_closed(SeqCst) {
            self.unpark_block_ons();
        }
    }

    /// Wakes worker `index` from its parker, or from the poller if it is the
    /// driver (module docs, "The driver").
    pub(crate) fn unpark_worker(&self, index: usize) {
        self.remotes[index].parker.unpark();
        // Orders the token before the read of the role (the Dekker pair
        // with `WorkerLocal::park`; explicit, as in the timer driver, so
        // that loom, which models SeqCst accesses as acquire/release only,
        // checks the real guarantee).
        std::sync::atomic::fence(SeqCst);
        if self.driver.load(SeqCst) == index + 1 {
            self.reactor.wake();
        }
    }
}
