//! State shared by every worker and handle of one runtime: the global queue,
//! each worker's stealer and parker, idle accounting, the task registry.
//!
//! The parts with a protocol of their own live beside it: `shutdown.rs`
//! (closing the runtime, waiting for tasks and `block_on` calls),
//! `driver.rs` (which parked worker sleeps in the reactor with the timers),
//! `root.rs` (the root scope above every task and the root-failure policy),
//! `report.rs` (panics and errors nobody received) and `counters.rs` (task
//! counts and metrics).

mod close_flag;
mod counters;
mod driver;
pub(crate) mod finish_event;
mod report;
mod root;
mod shutdown;

pub(crate) use report::{ContainedPanic, report_outside_runtime};
pub(crate) use root::RootFailed;

use crate::block_on::BlockOnWaker;
use crate::builder::Config;
use crate::metrics::WorkerCounters;
use crate::scheduler::idle::Idle;
use crate::scheduler::park::Parker;
use crate::task::Task;
use crate::task::registry::Registry;
use canopy_timer::TimerDriver;
use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};

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
    pub(crate) lifo: crate::scheduler::lifo_slot::LifoSlot,
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
    pub(crate) finish_event: crate::shared::finish_event::FinishEvent,
    /// Tells the monitor thread (`monitor.rs`) to stop.
    pub(crate) monitor_stop: Arc<crate::scheduler::monitor::MonitorStop>,
    /// The I/O reactor (module docs, "The driver").
    pub(crate) reactor: Arc<canopy_io::Reactor>,
    /// The threads that run blocking closures (`blocking/pool.rs`).
    pub(crate) blocking: crate::blocking::pool::BlockingPool,
    /// Index + 1 of the worker sleeping in the reactor with the timers'
    /// deadline (the driver), 0 if none.
    driver: AtomicUsize,
    /// `block_on` threads that are polling or have been woken to poll
    /// (counted from the wake, so an auto-advance cannot slip in between;
    /// see `block_on/state.rs`).
    pub(crate) block_on_active: crate::loom::atomic::AtomicUsize,
    /// Serializes auto-advances of a paused clock (see `maybe_auto_advance`).
    auto_advance: Mutex<()>,
    /// Set once the runtime closes (`close_flag.rs`, `shutdown.rs`).
    closed: close_flag::CloseFlag,
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
                            lifo: crate::scheduler::lifo_slot::LifoSlot::new(),
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
            closed: close_flag::CloseFlag::new(),
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
        self.closed.is_closed(Relaxed)
    }

    /// Queues a task from a thread that is not one of this runtime's workers.
    pub(crate) fn schedule_remote(&self, task: Task) {
        if self.closed.push_then_check(|| self.injector.push(task)) {
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

    /// Called by the last searcher before it parks (idle protocol, rule 3).
    pub(crate) fn notify_if_work_pending(&self) {
        let pending =
            !self.injector.is_empty() || self.remotes.iter().any(|r| !r.stealer.is_empty());
        if pending {
            self.notify_one();
        }
    }

    /// The timer shard of threads that are not workers.
    pub(crate) fn outside_timer_shard(&self) -> usize {
        self.remotes.len()
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
    ///
    /// Two races this closes (both found as rare clock jumps by the property
    /// tests, `tests/model_props.rs`):
    ///
    /// - **Check, then act.** Idleness is checked once, but the jump reads
    ///   the timers later: a thread that became active in between (a
    ///   `block_on` call starting while the workers make their first parks,
    ///   a task spawned from outside) may have armed a timer by then, and
    ///   the clock jumped to it (the main future's first `checkpoint()`
    ///   returning at the watchdog's deadline). So every step of the jump
    ///   checks again, after reading the tick it moves to
    ///   (`TimerDriver::advance_to_next_deadline_while`): whoever arms a
    ///   timer is counted active before it arms it.
    /// - **Firing beside the jump.** The jump steps on while a step fires
    ///   nothing. Others fire due timers too (a busy worker, the driver,
    ///   woken by every earlier deadline armed, and the monitor): one of
    ///   them could take the entries the jump had just reached, and the jump,
    ///   seeing nothing fire, moved on to the next deadline before their
    ///   wake-ups were counted (a sleep ending 10 s late). On a paused clock
    ///   they fire under this lock too (`process_timers`), so their wake-ups
    ///   are counted before the next check.
    pub(crate) fn maybe_auto_advance(&self) {
        if !self.timers.is_paused() {
            return;
        }
        let _serial = self.auto_advance.lock().unwrap_or_else(|e| e.into_inner());
        let _context = crate::context::enter_detached(self);
        // Keep jumping while the timers that fire wake nothing in this runtime
        // (a waker of some other kind): everyone here is still idle.
        let idle = || {
            self.block_on_active.load(SeqCst) == 0
                && (self.closed.is_closed(SeqCst)
                    || (self.idle.num_unparked() == 0 && self.injector.is_empty()))
        };
        // Looked at again before every step of a jump: see the docs above.
        while idle() {
            if !self.timers.advance_to_next_deadline_while(idle) {
                break;
            }
        }
    }

    /// Fires the timers due by now, from a thread other than the one moving
    /// a paused clock (a busy worker's periodic check, the driver after its
    /// sleep, the monitor). On a paused clock this takes the auto-advance
    /// lock: see `maybe_auto_advance`.
    pub(crate) fn process_timers(&self) {
        if self.timers.is_paused() {
            let _serial = self.auto_advance.lock().unwrap_or_else(|e| e.into_inner());
            self.timers.process();
        } else {
            self.timers.process();
        }
    }
}
