//! Closing a runtime: the shutdown protocol, and the `block_on` calls a
//! graceful shutdown waits for.
//!
//! # Protocol
//!
//! 1. `begin_shutdown` sets `closed` (SeqCst) and unparks every worker.
//! 2. Each worker leaves its loop at the next iteration, drops every task in
//!    its LIFO slot and local queue (dropping a task can wake or spawn others;
//!    those land in the same queue and are dropped too), and exits.
//! 3. `finish_shutdown` drops what is in the global queue and wakes every task
//!    left in the registry (pending tasks queued nowhere); with `closed` set
//!    the scheduler drops each woken task instead of queueing it. Entries
//!    leave the registry only when their own task's future is gone, so a task
//!    that was running on a worker during a pass is found by a later one. Once
//!    no worker polls any more (all stopped, or the last one exiting after a
//!    `shutdown_timeout` or a drop from inside a task), passes repeat until
//!    the registry is empty. A worker drops, rather than polls, any task it is
//!    handed after (1).
//! 4. A task scheduled from outside a worker after (1) is pushed to the global
//!    queue and the pusher then re-reads `closed` (SeqCst, `close_flag.rs`,
//!    with its loom model): either it sees the
//!    flag and drains the queue itself, or (3) runs after its push and drains
//!    it. So nothing is left in a queue of a closed runtime. (Step 3 also
//!    steals what is left in every worker's queue, should a worker have
//!    left its loop without draining it.)
//! 5. `block_on` calls are no tasks and go on: (1) unparks their threads,
//!    which from then on fire the timers themselves (see `block_on.rs`).
//!    (1) also shuts the reactor down: sockets fail from then on instead of
//!    waiting for a driver that no longer runs.
//!

use super::Shared;
use crate::block_on::BlockOnWaker;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// How often a close waiting for its workers wakes them again (see
/// `wait_for_workers`).
const WAKE_AGAIN_EVERY: Duration = Duration::from_millis(50);

impl Shared {
    pub(super) fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                crossbeam_deque::Steal::Success(task) => drop(task),
                crossbeam_deque::Steal::Empty => break,
                crossbeam_deque::Steal::Retry => {}
            }
        }
    }

    /// Drops what is left in the workers' queues (shutdown protocol, step 3).
    /// A worker drains its own queue as it exits; this catches a queue whose
    /// worker left its loop some other way. Stealing is what other workers
    /// do anyway, so it is safe while a worker still runs.
    pub(super) fn drain_worker_queues(&self) {
        for remote in self.remotes.iter() {
            loop {
                match remote.stealer.steal() {
                    crossbeam_deque::Steal::Success(task) => drop(task),
                    crossbeam_deque::Steal::Empty => break,
                    crossbeam_deque::Steal::Retry => {}
                }
            }
        }
    }

    /// Registers a `block_on` call's waker; returns the key to remove it with.
    pub(crate) fn add_block_on(&self, waker: &Arc<BlockOnWaker>) -> usize {
        self.block_ons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(waker.clone())
    }

    pub(crate) fn remove_block_on(&self, key: usize) {
        let waker = self
            .block_ons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_remove(key);
        drop(waker);
        self.finished_one();
    }

    /// A task or `block_on` call finished: a graceful shutdown in progress
    /// counts again (`finish_event.rs`).
    #[inline]
    pub(crate) fn finished_one(&self) {
        if self.root_cancelled.load(Relaxed) {
            self.finish_event.notify();
        }
    }

    /// `block_on` calls in progress on threads other than this one (a
    /// graceful shutdown waits for them).
    pub(crate) fn block_on_calls_elsewhere(&self) -> usize {
        self.block_ons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, waker)| !waker.is_on_this_thread())
            .count()
    }

    /// Unparks every thread in `block_on`, without waking its future.
    pub(super) fn unpark_block_ons(&self) {
        let block_ons = self.block_ons.lock().unwrap_or_else(|e| e.into_inner());
        for (_, waker) in block_ons.iter() {
            waker.unpark();
        }
    }

    /// Shutdown protocol, step 1 (and 5).
    pub(crate) fn begin_shutdown(&self) {
        self.closed.close();
        self.reactor.shut_down();
        for remote in self.remotes.iter() {
            remote.parker.unpark();
        }
        self.unpark_block_ons();
    }

    /// A worker thread is done (shutdown protocol, step 2). Returns `true`
    /// for the last one.
    pub(crate) fn worker_exited(&self) -> bool {
        let mut running = self
            .running_workers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *running -= 1;
        self.worker_exited.notify_all();
        *running == 0
    }

    /// Waits until at most `allowed` worker threads run (1 when the caller is
    /// itself a worker), or until `deadline`. Returns `true` if they stopped.
    pub(crate) fn wait_for_workers(&self, allowed: usize, deadline: Option<Instant>) -> bool {
        let mut running = self
            .running_workers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while *running > allowed {
            let left = match deadline {
                None => WAKE_AGAIN_EVERY,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left == Duration::ZERO {
                        return false;
                    }
                    left.min(WAKE_AGAIN_EVERY)
                }
            };
            let (now_running, waited) = self
                .worker_exited
                .wait_timeout(running, left)
                .unwrap_or_else(|e| e.into_inner());
            running = now_running;
            if waited.timed_out() && *running > allowed {
                // A backstop, not the protocol: step 1's wake-ups reach every
                // parked worker and the driver, but should one be lost (a
                // poller notification coalesced with another, say), waking
                // them again keeps a close from waiting for ever. A worker
                // busy in a long poll is not hurried by this.
                self.reactor.wake();
                for remote in self.remotes.iter() {
                    remote.parker.unpark();
                }
            }
        }
        true
    }

    /// Shutdown protocol, step 3: drops every task left in the global queue
    /// and wakes every registered task so the closed scheduler drops it.
    ///
    /// `until_empty` is for callers who know no worker polls any more (the
    /// last worker to exit, or the shutdown thread once every worker has):
    /// then every registered task can be dropped, and the pass repeats until
    /// none is left, since dropping a task can spawn or wake others, and a
    /// task being scheduled from another thread right now is dropped by that
    /// thread in a moment. Otherwise one pass drops what it can; a task a
    /// worker is running is dropped by the last worker's pass.
    pub(crate) fn finish_shutdown(&self, until_empty: bool) {
        // On a worker of this runtime (dropped from inside one of its own
        // tasks), step out of the worker: woken tasks must be dropped, not
        // queued on it.
        let _context = crate::context::enter_detached(self);
        loop {
            self.drain_injector();
            self.drain_worker_queues();
            self.registry.wake_all();
            self.drain_injector();
            if !until_empty || self.registry.is_empty() {
                break;
            }
            std::thread::yield_now();
        }
    }
}
