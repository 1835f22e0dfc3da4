//! A worker thread's scheduling loop.
//!
//! Each worker owns a FIFO `crossbeam_deque::Worker` (its local run queue) and
//! a LIFO slot. Per loop iteration it:
//!
//! 1. every `interval` ticks takes from the global queue first, so tasks
//!    spawned from outside are not starved by a busy local queue (see
//!    "Global-queue fairness" below);
//! 2. otherwise takes its LIFO slot, then its local queue, then the global queue;
//! 3. failing that, searches: steals half of another worker's queue (victims in
//!    random order) or a batch of the global queue, a few rounds with backoff;
//! 4. failing that, parks (see `idle.rs` for the protocol that makes sure no
//!    wake-up is lost).
//!
//! # The LIFO slot
//!
//! A task woken or spawned by the running task goes into the LIFO slot and
//! runs next on this worker, while its data is still in cache; the task that
//! was in the slot moves to the back of the local queue. This makes message
//! passing between two tasks (request/response, ping-pong) as cheap as a
//! function call. To keep such a pair from starving everything else, at most
//! `MAX_LIFO_POLLS` tasks run from the slot in a row; then the slot's task goes
//! to the back of the queue. A task woken while it is running (by itself, as
//! `yield_now` and a spent checkpoint budget do, or by another thread) goes to
//! the back.
//!
//! In tokio the slot is its worker's alone: while a task runs one very long
//! poll, the task it last woke waits for the whole poll. canopy's slot is an
//! atomic pointer (`lifo_slot.rs`), and the monitor (`monitor.rs`) moves a
//! stuck worker's slot to the global queue and wakes an idle worker for it
//! and for the local queue, so nothing waits behind a stuck worker for more
//! than a millisecond or two (DESIGN §4).
//!
//! # Global-queue fairness
//!
//! A worker whose local queue never runs dry (tasks that keep yielding) only
//! sees the global queue on its periodic check. With a fixed interval of N
//! ticks, tasks spawned from outside wait N task-polls, which is 10 ms behind
//! tasks that compute 10 µs per poll at N = 1,000 and still 600 µs at 61. So
//! the interval adapts, as tokio's does: at each check the worker measures the
//! average time per tick since the previous check and sets the interval so the
//! check comes about every 200 µs (between 2 and 127 ticks). Each check then
//! takes a fair share of the backlog (its length split over the workers, at
//! most 256), not one task. `Builder::global_queue_interval` fixes the
//! interval instead.

use crate::context;
use crate::metrics::bump;
use crate::shared::{ContainedPanic, OwnSide, Shared};
use crate::startup::Startup;
use crate::task::Task;
use crossbeam_deque::{Steal, Worker as LocalQueue};
use crossbeam_utils::Backoff;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// How many tasks may run from the LIFO slot in a row: 3, tokio's value,
/// enough to cover a request/response exchange without letting a pair hog
/// the worker.
const MAX_LIFO_POLLS: u32 = 3;

/// Steal rounds before a searching worker gives up and parks: a short spin
/// catches work that is being published right now without burning a core.
const STEAL_ROUNDS: u32 = 4;

/// How long a task spawned from outside may wait behind a busy local queue
/// before its worker looks at the global queue: tokio's target (200 µs).
const GLOBAL_QUEUE_LATENCY: Duration = Duration::from_micros(200);

/// Bounds of the adaptive global-queue interval, in ticks (tokio's: 2..=127).
const MIN_GLOBAL_INTERVAL: u32 = 2;
const MAX_GLOBAL_INTERVAL: u32 = 127;

/// The most tasks one check moves from the global queue to the local one.
/// tokio takes at most 128 because its local queue has a fixed capacity of
/// 256; crossbeam's grows, and 256 halves the share of each check that goes to
/// the busy tasks ahead of the batch (spawn_many_remote_busy: 2.9 ms at 128,
/// 1.7 ms at 256, with spawn_many_remote_idle unchanged).
const MAX_GLOBAL_BATCH: usize = 256;

/// The worker's own state; lives on its thread's stack.
pub(crate) struct WorkerLocal {
    pub(crate) shared: Arc<Shared>,
    index: usize,
    /// `&shared.remotes[index].own`, kept to skip the indexing on every
    /// poll (see `own`).
    own: *const OwnSide,
    queue: LocalQueue<Task>,
    searching: Cell<bool>,
    /// Ticks left until the next global-queue check.
    global_countdown: Cell<u32>,
    /// Ticks between global-queue checks (adaptive unless configured).
    global_interval: Cell<u32>,
    /// When the current global-queue interval began.
    window_start: Cell<Instant>,
    rng: Cell<u32>,
}

impl WorkerLocal {
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The part of the shared state this worker writes as it runs (its
    /// LIFO slot, current-task word and counters): one pointer read.
    #[inline]
    pub(crate) fn own(&self) -> &OwnSide {
        // SAFETY: `own` points into `self.shared.remotes`, which the `Arc`
        // in `self.shared` keeps alive, unmoved (a boxed slice), as long as
        // `self`.
        unsafe { &*self.own }
    }

    /// Queues a task woken or spawned on this worker's thread.
    pub(crate) fn schedule_local(&self, task: Task, woken_while_running: bool) {
        if woken_while_running || !self.shared.config.lifo_slot {
            self.queue.push(task);
            self.shared.notify_one();
            return;
        }
        if let Some(previous) = self.own().lifo.put(task) {
            // The displaced task is now stealable: let an idle worker know.
            self.queue.push(previous);
            self.shared.notify_one();
        }
    }

    fn run(&self) {
        while !self.shared.is_closed() {
            match self.next_task().or_else(|| self.steal_work()) {
                Some(task) => self.run_task(task),
                None => self.park(),
            }
        }
    }

    fn next_task(&self) -> Option<Task> {
        let left = self.global_countdown.get();
        if left <= 1 {
            self.retune_global_interval();
            self.global_countdown.set(self.global_interval.get());
            // A busy runtime never parks, so timers are fired here too (the
            // same cadence tokio polls its drivers at). Wake-ups land in this
            // worker's queue.
            self.shared.process_timers();
            // Likewise I/O (no system call while no socket is registered).
            self.shared.poll_io_if_no_driver();
            if let Some(task) = self.pop_global() {
                return Some(task);
            }
        } else {
            self.global_countdown.set(left - 1);
        }
        self.own()
            .lifo
            .take()
            .or_else(|| self.queue.pop())
            .or_else(|| self.pop_global())
    }

    /// Sets the next interval so global-queue checks come about every
    /// `GLOBAL_QUEUE_LATENCY` (module docs, "Global-queue fairness").
    fn retune_global_interval(&self) {
        if let Some(fixed) = self.shared.config.global_queue_interval {
            self.global_interval.set(fixed);
            return;
        }
        let now = Instant::now();
        let window = now.duration_since(self.window_start.replace(now));
        let per_tick = window.as_nanos() / u128::from(self.global_interval.get());
        let interval = GLOBAL_QUEUE_LATENCY.as_nanos() / per_tick.max(1);
        self.global_interval.set(
            u32::try_from(interval)
                .unwrap_or(MAX_GLOBAL_INTERVAL)
                .clamp(MIN_GLOBAL_INTERVAL, MAX_GLOBAL_INTERVAL),
        );
    }

    /// Moves a fair share of the global queue into the local one and returns
    /// its first task.
    fn pop_global(&self) -> Option<Task> {
        let injector = &self.shared.injector;
        if injector.is_empty() {
            return None;
        }
        let share = (injector.len() / self.shared.remotes.len() + 1).min(MAX_GLOBAL_BATCH);
        let before = self.queue.len();
        let first = loop {
            match injector.steal_batch_with_limit_and_pop(&self.queue, share) {
                Steal::Success(task) => break task,
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        };
        // One steal stops at the end of the injector's internal block (63
        // slots); top up towards the share. Other workers may be stealing from
        // our queue meanwhile, so its length only estimates what we took.
        let taken = || self.queue.len().saturating_sub(before) + 1;
        for _ in 0..MAX_GLOBAL_BATCH / 63 {
            let want = share.saturating_sub(taken());
            if want == 0
                || injector
                    .steal_batch_with_limit(&self.queue, want)
                    .is_empty()
            {
                break;
            }
        }
        let taken = taken();
        if taken > 1 {
            // The batch is stealable now: let an idle worker share it.
            self.shared.notify_one();
        }
        Some(first)
    }

    fn run_task(&self, task: Task) {
        if self.searching.replace(false) && self.shared.idle.transition_from_searching() {
            // We were the last searcher and found work: there may be more, so
            // hand the search on (idle protocol, rule 5).
            self.shared.notify_one();
        }
        self.poll(task);
        let mut lifo_polls = 0;
        while let Some(task) = self.own().lifo.take() {
            if lifo_polls == MAX_LIFO_POLLS {
                self.queue.push(task);
                self.shared.notify_one();
                break;
            }
            lifo_polls += 1;
            self.poll(task);
        }
    }

    fn poll(&self, task: Task) {
        if self.shared.is_closed() {
            // Shutdown protocol: after close, tasks are dropped, never polled.
            drop(task);
            return;
        }
        let own = self.own();
        bump(&own.counters.polls);
        // For the monitor (`monitor.rs`): two plain stores per poll.
        let location: *const std::panic::Location<'static> = task.metadata().location;
        own.polling.store(location.cast_mut(), Relaxed);
        task.run();
        own.polling.store(std::ptr::null_mut(), Relaxed);
    }

    fn steal_work(&self) -> Option<Task> {
        if !self.searching.get() {
            if !self.shared.idle.transition_to_searching() {
                // Enough workers are searching already; one of them will find
                // whatever appears (idle protocol, rule 3).
                return None;
            }
            self.searching.set(true);
        }
        let remotes = &self.shared.remotes;
        let backoff = Backoff::new();
        for _ in 0..STEAL_ROUNDS {
            let start = self.next_random() as usize % remotes.len();
            for offset in 0..remotes.len() {
                let victim = (start + offset) % remotes.len();
                if victim == self.index {
                    continue;
                }
                loop {
                    match remotes[victim].stealer.steal_batch_and_pop(&self.queue) {
                        Steal::Success(task) => {
                            bump(&remotes[self.index].own.counters.steals);
                            return Some(task);
                        }
                        Steal::Empty => break,
                        Steal::Retry => backoff.spin(),
                    }
                }
            }
            if let Some(task) = self.pop_global() {
                return Some(task);
            }
            if self.shared.is_closed() {
                return None;
            }
            backoff.snooze();
        }
        None
    }

    fn park(&self) {
        let shared = &self.shared;
        let idle = &shared.idle;
        if idle.transition_to_parked(self.index, self.searching.replace(false)) {
            shared.notify_if_work_pending();
        }
        // On a paused clock, the last one to go idle moves time on.
        shared.maybe_auto_advance();
        let remote = &shared.remotes[self.index];
        bump(&remote.own.counters.parks);
        while !shared.is_closed() {
            // One parked worker, the driver, sleeps in the reactor until I/O
            // or the next timer deadline (see canopy-timer's driver.rs for
            // the timer protocol, `shared/driver.rs` for the role); the others sleep
            // until woken.
            let driver = shared.try_become_driver(self.index);
            if driver {
                // The other half of `Shared::unpark_worker`'s Dekker pair:
                // the role is published before the token is looked at.
                std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
                let deadline = shared.timers.prepare_sleep();
                // Still counted as parked, so the tasks that I/O events and
                // timers wake go through the global queue and the idle
                // protocol.
                let _detached = context::enter_detached(shared);
                // A token that came before we took the role: do not block
                // (`shared/driver.rs`).
                if !remote.parker.take_token() {
                    shared.reactor.wait(deadline);
                    remote.parker.take_token();
                }
                shared.timers.finish_sleep();
                if !shared.is_closed() {
                    // Fire due timers, also when claimed meanwhile (the sleep
                    // may have timed out too).
                    shared.process_timers();
                }
                shared.stop_being_driver();
            } else {
                remote.parker.park();
            }
            if idle.is_claimed(self.index) {
                self.searching.set(true);
                if driver {
                    shared.hand_off_driver(self.index);
                }
                break;
            }
        }
        // Time asleep says nothing about how long tasks take to poll.
        self.window_start.set(Instant::now());
    }

    /// Drops every task left in the slot and queue (shutdown protocol, step 2).
    fn drain(&self) {
        while let Some(task) = self.own().lifo.take().or_else(|| self.queue.pop()) {
            drop(task);
        }
    }

    /// xorshift32: victim order only needs to differ between workers and rounds.
    fn next_random(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }
}

/// The body of worker thread `index`.
pub(crate) fn run_worker(
    shared: Arc<Shared>,
    index: usize,
    queue: LocalQueue<Task>,
    startup: &Startup,
) {
    /// Counts the worker out even if a hook panics, so shutdown never waits
    /// for a thread that is gone.
    struct CountOut<'a>(Option<&'a Shared>);
    impl CountOut<'_> {
        /// Counts out now; `true` for the last worker.
        fn count_out(&mut self) -> bool {
            self.0.take().is_some_and(Shared::worker_exited)
        }
    }
    impl Drop for CountOut<'_> {
        fn drop(&mut self) {
            self.count_out();
        }
    }
    let mut count_out = CountOut(Some(&shared));
    if let Some(hook) = &shared.config.on_thread_start {
        // A worker whose start hook panicked never serves: `build` reports
        // the panic and shuts the runtime down (see `startup.rs`). Its stop
        // hook does not run either, since it never started.
        let outcome = catch_unwind(AssertUnwindSafe(|| hook()));
        let failed = outcome.is_err();
        startup.report(index, outcome);
        if failed {
            return;
        }
    }
    let worker = WorkerLocal {
        own: &*shared.remotes[index].own,
        shared: shared.clone(),
        index,
        queue,
        searching: Cell::new(false),
        global_countdown: Cell::new(MAX_GLOBAL_INTERVAL),
        global_interval: Cell::new(MAX_GLOBAL_INTERVAL),
        window_start: Cell::new(Instant::now()),
        rng: Cell::new(0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1),
    };
    {
        let _context = context::enter_worker(&worker);
        worker.run();
        worker.drain();
    }
    drop(worker);
    // The loop only ends once the runtime is closed. Counted out before the
    // stop hook, so a hook that drops the runtime does not wait for its own
    // thread. The last worker out finishes the shutdown: the thread that began
    // it may have stopped waiting (`shutdown_timeout`, or a drop from inside
    // a task), and tasks may have been woken since.
    if count_out.count_out() {
        shared.finish_shutdown(true);
    }
    if let Some(hook) = &shared.config.on_thread_stop {
        // The runtime is gone by now, but a panic here must not pass
        // silently (nor unwind out of the thread, where nobody joins it when
        // the shutdown timed out): it is reported like an unobserved one.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook())) {
            shared.report_contained_panic(ContainedPanic::ThreadStopHook, payload);
        }
    }
}
