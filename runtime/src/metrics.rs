//! Runtime metrics: per-worker counters written only by their own worker (a
//! plain load and store, no read-modify-write on the hot path) and read by
//! anyone as a snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters owned by one worker. Only that worker writes them (except the
/// runtime's extra set for other threads, which uses `fetch_add`).
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) spawned: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) panicked: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

/// Adds one to a counter that only the calling thread writes.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed) + 1, Relaxed);
}

/// A snapshot of the runtime's counters, from [`Runtime::metrics`].
///
/// Counters only grow. Read concurrently with running tasks they are each
/// exact but not taken at one instant, so e.g. `completed_tasks` may run a
/// little ahead of the per-worker poll counts it came from.
///
/// [`Runtime::metrics`]: crate::Runtime::metrics
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One entry per worker thread, by worker index.
    pub workers: Vec<WorkerMetrics>,
    /// Tasks spawned since the runtime started.
    pub spawned_tasks: u64,
    /// Tasks whose future returned.
    pub completed_tasks: u64,
    /// Tasks whose future panicked, in its `poll` or in its `Drop` (the
    /// panic went to the `JoinHandle`, or was reported if the handle was
    /// gone). A future that returned but panicked when dropped right after
    /// counts here, not in `completed_tasks`; so does an unfinished one
    /// whose drop at shutdown panicked.
    pub panicked_tasks: u64,
    /// Tasks whose future was dropped unfinished by a shutdown (and did not
    /// panic doing so). Every spawned task is counted once, in
    /// `completed_tasks`, `panicked_tasks`, `dropped_tasks` or `alive_tasks`.
    pub dropped_tasks: u64,
    /// Panics that no `JoinHandle` received because it had been dropped.
    pub unobserved_panics: u64,
    /// Errors returned by tasks spawned with
    /// [`spawn_detached`](crate::spawn_detached), which no `JoinHandle`
    /// receives (a returned root cancellation is not counted: it is no
    /// failure).
    pub unobserved_errors: u64,
    /// Tasks spawned and not yet finished or dropped.
    pub alive_tasks: u64,
    /// Tasks waiting in the global (injector) queue.
    pub global_queue_depth: usize,
    /// Timers armed (sleeps and intervals waiting on the timer wheel).
    pub armed_timers: usize,
    /// Threads of the blocking pool ([`crate::blocking`]), busy or idle.
    /// (Blocking closures count as tasks in the task counts above.)
    pub blocking_threads: usize,
    /// Blocking-pool threads waiting for a closure.
    pub blocking_idle_threads: usize,
    /// Blocking closures waiting for a thread (all `max_blocking_threads`
    /// are busy).
    pub blocking_queue_depth: usize,
}

/// One worker's counters, part of [`RuntimeMetrics`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Tasks this worker polled.
    pub polls: u64,
    /// Successful steals from other workers' queues (each takes a batch).
    pub steals: u64,
    /// Times this worker parked for lack of work.
    pub parks: u64,
    /// Tasks in this worker's local queue now (not counting its LIFO slot).
    pub local_queue_depth: usize,
}
