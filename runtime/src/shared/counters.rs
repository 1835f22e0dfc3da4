//! Task counts, kept per worker (written by that worker alone) and summed
//! on demand: metrics and the shutdown's count of tasks still alive.

use super::Shared;
use crate::metrics::{RuntimeMetrics, WorkerCounters, WorkerMetrics};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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

impl Shared {
    /// Adds one to a task counter: the running worker's own (no RMW), or the
    /// shared one of other threads. (Inlined, with the counter picked at
    /// compile time: it runs twice per task.)
    #[inline]
    pub(crate) fn count(&self, counter: impl Fn(&WorkerCounters) -> &AtomicU64) {
        crate::context::with_worker(|worker| self.count_on(worker, counter));
    }

    /// `count` for a caller that already knows the worker on this thread.
    #[inline]
    pub(crate) fn count_on(
        &self,
        worker: Option<&crate::scheduler::worker::WorkerLocal>,
        counter: impl Fn(&WorkerCounters) -> &AtomicU64,
    ) {
        match worker {
            Some(w) if std::ptr::eq(Arc::as_ptr(&w.shared), self) => {
                crate::metrics::bump(counter(&w.own().counters));
            }
            _ => {
                counter(&self.outside_counters).fetch_add(1, Relaxed);
            }
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
