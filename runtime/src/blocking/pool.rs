//! The elastic thread pool that runs blocking closures.
//!
//! A closure submitted with `blocking::spawn` is an ordinary canopy task (an
//! async-task allocation whose one poll runs the closure) whose schedule
//! function queues it here instead of on a worker. So a blocking call has a
//! `JoinHandle` with every rule of one — a decided join completes, a panic
//! reaches the handle or is reported, a dropped handle detaches — and counts
//! as a task for shutdown and metrics.
//!
//! # Threads
//!
//! A queued closure is handed to an idle thread if there is one; otherwise a
//! new thread starts, up to `Builder::max_blocking_threads`; past that it
//! waits in the queue. A thread idle for `Builder::blocking_keep_alive` exits.
//!
//! # The one lock
//!
//! The queue and the thread counts sit behind one `Mutex`, taken once per
//! submitted closure and once per closure a thread takes. This is not the
//! spawn, poll, wake or cancel path of tasks (DESIGN §3): a blocking call
//! costs a thread hand-off of microseconds, against which an uncontended
//! lock is noise (tokio's blocking pool is built the same way).
//!
//! # Shutdown
//!
//! Closing the pool (when the runtime closes) drops the closures still
//! queued — their handles report the task dropped — and tells idle threads
//! to exit. A closure already running cannot be stopped: its thread finishes
//! it and exits, detached; `blocking::is_cancelled` tells it the runtime is
//! shutting down (the root scope is cancelled).

use crate::shared::Shared;
use crate::task::Task;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The pool's size limits, from the builder.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolLimits {
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
}

/// Default `max_blocking_threads`: tokio's, so the two compare on equal
/// terms (blocking calls are mostly waits, not CPU work).
pub(crate) const DEFAULT_MAX_THREADS: usize = 512;

/// Default `blocking_keep_alive`: tokio's 10 s.
pub(crate) const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(crate) struct BlockingPool {
    state: Mutex<PoolState>,
    /// Idle threads wait here for a closure (or for the pool to close).
    work: Condvar,
    limits: PoolLimits,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Task>,
    threads: usize,
    idle: usize,
    /// Idle threads woken for a queued closure that have not taken it yet
    /// (so a second submission wakes a second thread, not the same one).
    woken: usize,
    closed: bool,
    /// Threads started so far (for their names).
    started: usize,
}

/// What `BlockingPool::metrics` reports.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PoolMetrics {
    pub(crate) threads: usize,
    pub(crate) idle_threads: usize,
    pub(crate) queue_depth: usize,
}

impl BlockingPool {
    pub(crate) fn new(limits: PoolLimits) -> Self {
        BlockingPool {
            state: Mutex::new(PoolState::default()),
            work: Condvar::new(),
            limits,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Nothing panics while holding it; a poisoned lock still holds a
        // consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `task` to run on a pool thread of `shared` (whose pool this
    /// is), starting a thread if none is idle and the limit allows.
    pub(crate) fn submit(&self, shared: &Arc<Shared>, task: Task) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            // Dropped outside the lock (the future's `Drop` is user code),
            // in the runtime's context so a panic there is reported to it.
            let _context = crate::context::enter_detached(shared);
            drop(task);
            return;
        }
        state.queue.push_back(task);
        if state.idle > state.woken {
            state.woken += 1;
            drop(state);
            self.work.notify_one();
        } else if state.threads < self.limits.max_threads {
            state.threads += 1;
            state.started += 1;
            let number = state.started;
            drop(state);
            self.start_thread(shared, number);
        }
    }

    fn start_thread(&self, shared: &Arc<Shared>, number: usize) {
        let runtime = shared.clone();
        let mut builder = std::thread::Builder::new().name(format!("canopy-blocking-{number}"));
        if let Some(size) = shared.config.thread_stack_size {
            builder = builder.stack_size(size);
        }
        if builder.spawn(move || run_thread(&runtime)).is_err() {
            // The OS refused a thread: the closure waits in the queue for
            // one of the threads that run (if none does, the next
            // submission tries again).
            let mut state = self.lock();
            state.threads -= 1;
        }
    }

    /// Closes the pool: queued closures are dropped, idle threads exit.
    pub(crate) fn close(&self, shared: &Shared) {
        let queued = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.queue)
        };
        self.work.notify_all();
        let _context = crate::context::enter_detached(shared);
        drop(queued);
    }

    pub(crate) fn metrics(&self) -> PoolMetrics {
        let state = self.lock();
        PoolMetrics {
            threads: state.threads,
            idle_threads: state.idle,
            queue_depth: state.queue.len(),
        }
    }
}

impl std::fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingPool")
            .field("limits", &self.limits)
            .field("now", &self.metrics())
            .finish()
    }
}

/// A pool thread: takes closures until it has been idle for the keep-alive
/// period or the pool closes.
fn run_thread(shared: &Arc<Shared>) {
    // Inside, `Handle::current()`, `canopy::spawn` and timers find the
    // runtime, and tasks woken here go through the global queue.
    let _context = crate::context::enter_detached(shared);
    let pool = &shared.blocking;
    let mut state = pool.lock();
    loop {
        if let Some(task) = state.queue.pop_front() {
            drop(state);
            // The task catches the closure's panic (it goes to the handle).
            task.run();
            state = pool.lock();
            continue;
        }
        if state.closed {
            break;
        }
        state.idle += 1;
        let (next, timeout) = pool
            .work
            .wait_timeout(state, pool.limits.keep_alive)
            .unwrap_or_else(|e| e.into_inner());
        state = next;
        state.idle -= 1;
        if state.woken > 0 {
            state.woken -= 1;
        } else if timeout.timed_out() && state.queue.is_empty() {
            break;
        }
    }
    state.threads -= 1;
}
