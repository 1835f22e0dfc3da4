//! State shared by every worker and handle of one runtime: the global queue,
//! each worker's stealer and parker, idle accounting, the task registry.
//!
//! # Shutdown protocol
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
//!    queue and the pusher then re-reads `closed` (SeqCst): either it sees the
//!    flag and drains the queue itself, or (3) runs after its push and drains
//!    it. So nothing is left in a queue of a closed runtime. (Step 3 also
//!    steals what is left in every worker's queue, should a worker have
//!    left its loop without draining it.)
//! 5. `block_on` calls are no tasks and go on: (1) unparks their threads,
//!    which from then on fire the timers themselves (see `block_on.rs`).
//!    (1) also shuts the reactor down: sockets fail from then on instead of
//!    waiting for a driver that no longer runs.
//!
//! # The driver
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

use crate::block_on::BlockOnWaker;
use crate::builder::Config;
use crate::idle::Idle;
use crate::metrics::{RuntimeMetrics, WorkerCounters, WorkerMetrics};
use crate::park::Parker;
use crate::registry::Registry;
use crate::task::Task;
use canopy_timer::TimerDriver;
use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use std::any::Any;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The end of the message `block_on` panics with when a detached task's
/// error failed the root: what happened and what to do instead.
const CANCEL_ROOT_ERROR: &str = "under RootFailure::CancelRoot that fails the root group, \
    which was cancelled. Handle the error inside the task, or spawn it with canopy::spawn \
    and await its JoinHandle if a failure should not stop everything";

/// How a root task failed with nobody to receive it, kept under
/// `RootFailure::CancelRoot` for `block_on` to surface.
#[derive(Debug)]
pub(crate) enum RootFailed {
    /// A panic, whose payload `block_on` resumes (the panic hook already
    /// printed it where it happened).
    Panic(Box<dyn Any + Send>),
    /// An error a `spawn_detached` task returned, as the message `block_on`
    /// panics with (the error itself went to the hook or stderr).
    Error(String),
}

/// Where a panic that nobody receives came from, for its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainedPanic {
    /// A task panicked after its `JoinHandle` was dropped.
    Task,
    /// Dropping a task's future or output panicked where no `JoinHandle`
    /// could receive it (a second panic, or an output nobody took).
    Drop,
    /// A waker that a task's code handed to canopy (a combinator's: the
    /// awaiter of a `JoinHandle`, a primitive's leaf waker) panicked when
    /// woken or dropped.
    Waker,
    /// A waker that a firing timer woke panicked.
    TimerWaker,
    /// The `on_thread_stop` hook panicked.
    ThreadStopHook,
    /// The `on_stuck_poll` hook panicked.
    StuckPollHook,
}

/// The default report of a contained panic: one line on stderr (the panic
/// hook has already printed the message and location). A write error is
/// ignored.
fn write_report(what: ContainedPanic, payload: &(dyn Any + Send)) {
    let message = crate::join::payload_message(payload).unwrap_or("<non-string payload>");
    let what = match what {
        ContainedPanic::Task => {
            "a task panicked after its JoinHandle was dropped, so nobody received the panic"
        }
        ContainedPanic::Drop => {
            "dropping a task's future or output panicked where no JoinHandle could receive \
             the panic; it was contained"
        }
        ContainedPanic::Waker => {
            "a waker that a task's code handed to canopy (a combinator's) panicked when woken \
             or dropped; it was contained, and the code it belongs to may not have been \
             woken (a waker must not panic)"
        }
        ContainedPanic::TimerWaker => {
            "a waker panicked when the timer it waited on fired; the panic was contained \
             and the other timers were fired"
        }
        ContainedPanic::ThreadStopHook => {
            "the on_thread_stop hook panicked as a worker thread stopped; it was contained"
        }
        ContainedPanic::StuckPollHook => {
            "the on_stuck_poll hook panicked; it was contained, and is called again for the \
             next stuck poll"
        }
    };
    let _ = writeln!(std::io::stderr(), "canopy: {what}: {message}");
}

/// Reports a contained panic on a thread that serves no runtime (an output
/// dropped with its `JoinHandle` there): stderr only, since no runtime's
/// counters or hooks are at hand. Never unwinds.
pub(crate) fn report_outside_runtime(what: ContainedPanic, payload: Box<dyn Any + Send>) {
    let _ = catch_unwind(AssertUnwindSafe(|| write_report(what, payload.as_ref())));
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
}

/// What other threads may touch of one worker.
#[derive(Debug)]
pub(crate) struct Remote {
    /// Read by other workers as they steal.
    pub(crate) stealer: Stealer<Task>,
    /// Written by whoever wakes the worker.
    pub(crate) parker: Parker,
    /// Written by the worker itself on every poll: on a cache line of its
    /// own, so stealers and wakers do not miss on it.
    pub(crate) own: CachePadded<OwnSide>,
}

/// The part of a worker's shared state that the worker writes as it runs.
#[derive(Debug)]
pub(crate) struct OwnSide {
    /// The worker's LIFO slot: its owner's, and the monitor's when the
    /// owner is stuck (`lifo_slot.rs`).
    pub(crate) lifo: crate::lifo_slot::LifoSlot,
    /// The spawn location of the task the worker is polling, null between
    /// polls: read by the monitor (`monitor.rs`).
    pub(crate) polling: std::sync::atomic::AtomicPtr<std::panic::Location<'static>>,
    pub(crate) counters: WorkerCounters,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) injector: Injector<Task>,
    pub(crate) remotes: Box<[CachePadded<Remote>]>,
    pub(crate) idle: Idle,
    pub(crate) registry: Registry,
    pub(crate) timers: Arc<TimerDriver>,
    /// Notified when a task or `block_on` call finishes once the root is
    /// cancelled: what a graceful shutdown waits on (`finish_event.rs`).
    pub(crate) finish_event: crate::finish_event::FinishEvent,
    /// Tells the monitor thread (`monitor.rs`) to stop.
    pub(crate) monitor_stop: Arc<crate::monitor::MonitorStop>,
    /// The I/O reactor (module docs, "The driver").
    pub(crate) reactor: Arc<canopy_io::Reactor>,
    /// The threads that run blocking closures (`blocking/pool.rs`).
    pub(crate) blocking: crate::blocking::pool::BlockingPool,
    /// Index + 1 of the worker sleeping in the reactor with the timers'
    /// deadline (the driver), 0 if none.
    driver: AtomicUsize,
    /// `block_on` threads that are polling or have been woken to poll
    /// (counted from the wake, so an auto-advance cannot slip in between;
    /// see `block_on_state.rs`).
    pub(crate) block_on_active: crate::loom::atomic::AtomicUsize,
    /// Serializes auto-advances of a paused clock (see `maybe_auto_advance`).
    auto_advance: Mutex<()>,
    closed: AtomicBool,
    /// Task counts of threads other than the workers (spawns from outside,
    /// tasks dropped at shutdown), updated with `fetch_add`.
    outside_counters: CachePadded<WorkerCounters>,
    unobserved_panics: AtomicU64,
    unobserved_errors: AtomicU64,
    /// The root scope, above every task: cancelled by a graceful shutdown.
    root: canopy_scope::CancelScope,
    /// `root` is cancelled: task polls enter it (one load per poll).
    root_cancelled: AtomicBool,
    /// A SIGINT/SIGTERM arrived for this runtime (`handle_signals`).
    signalled: AtomicBool,
    /// The first unobserved root-task failure, under `RootFailure::CancelRoot`,
    /// for `block_on` to surface.
    root_failure: Mutex<Option<RootFailed>>,
    /// The wakers of the futures in `block_on` calls, which are no tasks and
    /// so not in `registry`: a root cancel must wake them too, a graceful
    /// shutdown waits for them, and a closed runtime unparks their threads
    /// (see `block_on.rs`).
    block_ons: Mutex<slab::Slab<Arc<BlockOnWaker>>>,
    /// Worker threads still running; shutdown waits for it to reach zero.
    running_workers: Mutex<usize>,
    worker_exited: Condvar,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        stealers: Vec<Stealer<Task>>,
        reactor: Arc<canopy_io::Reactor>,
    ) -> Self {
        let workers = stealers.len();
        Shared {
            remotes: stealers
                .into_iter()
                .map(|stealer| {
                    CachePadded::new(Remote {
                        stealer,
                        parker: Parker::new(),
                        own: CachePadded::new(OwnSide {
                            lifo: crate::lifo_slot::LifoSlot::new(),
                            polling: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
                            counters: WorkerCounters::default(),
                        }),
                    })
                })
                .collect(),
            injector: Injector::new(),
            idle: Idle::new(workers),
            registry: Registry::new(workers),
            // One timer shard per worker, one for every other thread.
            timers: Arc::new(TimerDriver::new(workers + 1, config.start_paused)),
            finish_event: Default::default(),
            monitor_stop: Arc::default(),
            reactor,
            driver: AtomicUsize::new(0),
            blocking: crate::blocking::pool::BlockingPool::new(config.blocking),
            block_on_active: crate::loom::atomic::AtomicUsize::new(0),
            auto_advance: Mutex::new(()),
            closed: AtomicBool::new(false),
            outside_counters: CachePadded::new(WorkerCounters::default()),
            unobserved_panics: AtomicU64::new(0),
            unobserved_errors: AtomicU64::new(0),
            root: canopy_scope::CancelScope::new(),
            root_cancelled: AtomicBool::new(false),
            signalled: AtomicBool::new(false),
            root_failure: Mutex::new(None),
            block_ons: Mutex::new(slab::Slab::new()),
            running_workers: Mutex::new(workers),
            worker_exited: Condvar::new(),
            config,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    /// Queues a task from a thread that is not one of this runtime's workers.
    pub(crate) fn schedule_remote(&self, task: Task) {
        self.injector.push(task);
        if self.closed.load(SeqCst) {
            // Shutdown protocol, step 4.
            let _context = crate::context::enter_detached(self);
            self.drain_injector();
            return;
        }
        self.notify_one();
    }

    /// Wakes a parked worker if the idle protocol says one is needed.
    pub(crate) fn notify_one(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.unpark_worker(index);
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

    /// Called by the last searcher before it parks (idle protocol, rule 3).
    pub(crate) fn notify_if_work_pending(&self) {
        let pending =
            !self.injector.is_empty() || self.remotes.iter().any(|r| !r.stealer.is_empty());
        if pending {
            self.notify_one();
        }
    }

    fn drain_injector(&self) {
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
    fn drain_worker_queues(&self) {
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

    /// Adds one to a task counter: the running worker's own (no RMW), or the
    /// shared one of other threads.
    pub(crate) fn count(&self, counter: fn(&WorkerCounters) -> &AtomicU64) {
        crate::context::with_worker(|worker| self.count_on(worker, counter));
    }

    /// `count` for a caller that already knows the worker on this thread.
    pub(crate) fn count_on(
        &self,
        worker: Option<&crate::worker::WorkerLocal>,
        counter: fn(&WorkerCounters) -> &AtomicU64,
    ) {
        match worker {
            Some(w) if std::ptr::eq(Arc::as_ptr(&w.shared), self) => {
                crate::metrics::bump(counter(&self.remotes[w.index()].own.counters));
            }
            _ => {
                counter(&self.outside_counters).fetch_add(1, Relaxed);
            }
        }
    }

    /// The timer shard of threads that are not workers.
    pub(crate) fn outside_timer_shard(&self) -> usize {
        self.remotes.len()
    }

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
        if self.closed.load(SeqCst) {
            self.unpark_block_ons();
        }
    }

    /// On a paused clock, jumps to the next timer deadline if nothing in the
    /// runtime can run: every worker parked (a claimed wake-up counts as
    /// unparked from the claim on), no `block_on` thread polling or woken,
    /// the global queue empty. Once the runtime is closed no task runs any
    /// more, so only the `block_on` threads count. The lock makes
    /// check-and-advance one step, so two idle threads cannot jump twice
    /// before the first jump's wake-ups are counted. Wake-ups go through the
    /// global queue.
    ///
    /// Whatever stops counting as active calls this: a worker that parks, a
    /// `block_on` thread that goes idle or returns.
    pub(crate) fn maybe_auto_advance(&self) {
        if !self.timers.is_paused() {
            return;
        }
        let _serial = self.auto_advance.lock().unwrap_or_else(|e| e.into_inner());
        let _context = crate::context::enter_detached(self);
        // Keep jumping while the timers that fire wake nothing in this runtime
        // (a waker of some other kind): everyone here is still idle.
        while self.block_on_active.load(SeqCst) == 0
            && (self.closed.load(SeqCst)
                || (self.idle.num_unparked() == 0 && self.injector.is_empty()))
        {
            if !self.timers.advance_to_next_deadline() {
                break;
            }
        }
    }

    /// The root scope while it is cancelled: polls run inside it then, so
    /// every task's checkpoints return `Cancelled` (reason `Shutdown`).
    #[inline]
    pub(crate) fn cancelled_root(&self) -> Option<&canopy_scope::CancelScope> {
        self.root_cancelled.load(Relaxed).then_some(&self.root)
    }

    /// The root scope, above every task.
    #[inline]
    pub(crate) fn root(&self) -> &canopy_scope::CancelScope {
        &self.root
    }

    /// Whether a signal arrived for this runtime (`handle_signals`).
    pub(crate) fn was_interrupted(&self) -> bool {
        self.signalled.load(SeqCst)
    }

    /// A signal arrived (`handle_signals`): `true` if it is the first one
    /// for this runtime, which then begins its graceful shutdown.
    pub(crate) fn interrupt(&self) -> bool {
        if self.signalled.swap(true, SeqCst) {
            return false;
        }
        self.cancel_root(canopy_scope::CancelReason::Signal);
        true
    }

    /// Graceful shutdown, step 1: cancel the root scope and wake every
    /// waiting task, so that each sees `Cancelled` at its next checkpoint.
    pub(crate) fn cancel_root(&self, reason: canopy_scope::CancelReason) {
        self.root.cancel_with(reason);
        self.root_cancelled.store(true, SeqCst);
        self.registry.wake_all();
        let block_ons: Vec<_> = self
            .block_ons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, waker)| waker.clone())
            .collect();
        for waker in block_ons {
            std::task::Wake::wake(waker);
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

    /// Tasks spawned and not yet finished or dropped (the per-worker
    /// counters only: no other lock).
    pub(crate) fn alive_tasks(&self) -> u64 {
        self.task_totals().alive()
    }

    /// The task counts summed over every worker and the outside threads.
    fn task_totals(&self) -> TaskTotals {
        let all = || {
            self.remotes
                .iter()
                .map(|r| &r.own.counters)
                .chain([&*self.outside_counters])
        };
        let total = |counter: fn(&WorkerCounters) -> &AtomicU64| -> u64 {
            all().map(|c| counter(c).load(Relaxed)).sum()
        };
        TaskTotals {
            spawned: total(|c| &c.spawned),
            completed: total(|c| &c.completed),
            panicked: total(|c| &c.panicked),
            dropped: total(|c| &c.dropped),
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
    fn unpark_block_ons(&self) {
        let block_ons = self.block_ons.lock().unwrap_or_else(|e| e.into_inner());
        for (_, waker) in block_ons.iter() {
            waker.unpark();
        }
    }

    /// Shutdown protocol, step 1 (and 5).
    pub(crate) fn begin_shutdown(&self) {
        self.closed.store(true, SeqCst);
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
            match deadline {
                None => {
                    running = self
                        .worker_exited
                        .wait(running)
                        .unwrap_or_else(|e| e.into_inner());
                }
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left == Duration::ZERO {
                        return false;
                    }
                    running = self
                        .worker_exited
                        .wait_timeout(running, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
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

    /// Reports a panic that no `JoinHandle` received. Runs on a worker (or
    /// wherever a handle is dropped): a panicking hook, or a failing stderr,
    /// must not unwind from here, so both are contained.
    pub(crate) fn report_unobserved_panic(&self, payload: Box<dyn Any + Send>) {
        self.report_contained_panic(ContainedPanic::Task, payload);
    }

    /// Reports the panic of a waker that a firing timer woke (the timer
    /// driver's hook): nobody else can receive it, so it is an unobserved
    /// panic like a task's, under the same hook, count and root policy.
    pub(crate) fn report_waker_panic(&self, payload: Box<dyn Any + Send>) {
        self.report_contained_panic(ContainedPanic::TimerWaker, payload);
    }

    /// Reports a panic of user code that nobody receives (`what` says where
    /// it happened): counts it in `unobserved_panics`, gives it to the
    /// `on_unobserved_panic` hook or stderr, and applies the root failure
    /// policy. Never unwinds (see `report_unobserved_panic`).
    pub(crate) fn report_contained_panic(
        &self,
        what: ContainedPanic,
        payload: Box<dyn Any + Send>,
    ) {
        self.unobserved_panics.fetch_add(1, Relaxed);
        let report = AssertUnwindSafe(|| match &self.config.on_unobserved_panic {
            Some(hook) => hook(payload.as_ref()),
            None => write_report(what, payload.as_ref()),
        });
        if catch_unwind(report).is_err() {
            let _ = writeln!(
                std::io::stderr(),
                "canopy: the on_unobserved_panic hook panicked; the panic was contained"
            );
        }
        if let Some(RootFailed::Panic(payload)) = self.fail_root(RootFailed::Panic(payload)) {
            // Dropping the payload runs user code too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        }
    }

    /// Reports an error a `spawn_detached` task returned (not the root's own
    /// cancellation): counts it, gives it to the `on_unobserved_error` hook
    /// or stderr, and applies the root failure policy. Runs on the thread
    /// that polled the task; the hook and the error's `Display` and `Drop`
    /// are user code, contained as in `report_unobserved_panic`.
    pub(crate) fn report_unobserved_error(&self, error: crate::DetachedTaskError) {
        self.unobserved_errors.fetch_add(1, Relaxed);
        let report = AssertUnwindSafe(|| match &self.config.on_unobserved_error {
            Some(hook) => hook(&error),
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "canopy: {error}; nobody awaits the task, so this is its only report \
                     (set Builder::on_unobserved_error to report such errors your way)"
                );
            }
        });
        if catch_unwind(report).is_err() {
            let _ = writeln!(
                std::io::stderr(),
                "canopy: reporting a detached task's error panicked (in the \
                 on_unobserved_error hook, or the error's Display); the panic was contained"
            );
        }
        if self.config.root_failure == crate::builder::RootFailure::CancelRoot {
            let report =
                catch_unwind(AssertUnwindSafe(|| error.to_string())).unwrap_or_else(|_| {
                    format!(
                        "a detached task (spawned at {}) returned an error whose Display panicked",
                        error.location()
                    )
                });
            let message = format!("{report}; {CANCEL_ROOT_ERROR}");
            drop(self.fail_root(RootFailed::Error(message)));
        }
        let _ = catch_unwind(AssertUnwindSafe(move || drop(error)));
    }

    /// Under `RootFailure::CancelRoot`, keeps the first root failure for
    /// `block_on` and cancels the root group (reason `GroupFailed`). Gives
    /// `failure` back if it was not kept (another policy, or not the first).
    fn fail_root(&self, failure: RootFailed) -> Option<RootFailed> {
        if self.config.root_failure != crate::builder::RootFailure::CancelRoot {
            return Some(failure);
        }
        let mut first = self.root_failure.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_some() {
            return Some(failure);
        }
        *first = Some(failure);
        drop(first);
        self.cancel_root(canopy_scope::CancelReason::GroupFailed);
        None
    }

    /// The id of the root scope: a task's error holding a `Cancelled` of
    /// this scope is the root's own cancellation, not a failure.
    pub(crate) fn root_scope_id(&self) -> canopy_scope::ScopeId {
        self.root.id()
    }

    /// The root failure `block_on` surfaces (`RootFailure::CancelRoot`).
    pub(crate) fn take_root_failure(&self) -> Option<RootFailed> {
        self.root_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    pub(crate) fn metrics(&self) -> RuntimeMetrics {
        let totals = self.task_totals();
        let blocking = self.blocking.metrics();
        RuntimeMetrics {
            workers: self
                .remotes
                .iter()
                .map(|r| WorkerMetrics {
                    polls: r.own.counters.polls.load(Relaxed),
                    steals: r.own.counters.steals.load(Relaxed),
                    parks: r.own.counters.parks.load(Relaxed),
                    stuck_polls: r.own.counters.stuck_polls.load(Relaxed),
                    local_queue_depth: r.stealer.len(),
                })
                .collect(),
            spawned_tasks: totals.spawned,
            completed_tasks: totals.completed,
            panicked_tasks: totals.panicked,
            dropped_tasks: totals.dropped,
            unobserved_panics: self.unobserved_panics.load(Relaxed),
            unobserved_errors: self.unobserved_errors.load(Relaxed),
            alive_tasks: totals.alive(),
            global_queue_depth: self.injector.len(),
            armed_timers: self.timers.armed(),
            blocking_threads: blocking.threads,
            blocking_idle_threads: blocking.idle_threads,
            blocking_queue_depth: blocking.queue_depth,
        }
    }
}

/// Task counts summed over the workers and the outside threads.
struct TaskTotals {
    spawned: u64,
    completed: u64,
    panicked: u64,
    dropped: u64,
}

impl TaskTotals {
    fn alive(&self) -> u64 {
        self.spawned
            .saturating_sub(self.completed + self.panicked + self.dropped)
    }
}
