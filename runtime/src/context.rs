//! The thread-local context: which runtime this thread serves (as a worker or
//! inside `block_on`) and the worker running here. (The checkpoint budget of
//! the task being polled lives in `canopy-scope`'s context, beside the scope
//! frame, so timers and I/O spend it too.)
//!
//! Every access uses `try_with`, so code running in thread-local destructors
//! (a waker dropped at thread exit, say) sees "outside any runtime" instead of
//! panicking.

use crate::scheduler::worker::WorkerLocal;
use crate::shared::Shared;
use std::cell::Cell;
use std::ptr;
use std::sync::Arc;

struct Context {
    /// The runtime served by this thread; null outside any runtime.
    shared: Cell<*const Shared>,
    /// The worker running on this thread; null on `block_on` threads.
    worker: Cell<*const WorkerLocal>,
    /// The runtime that a panic contained right now is reported to, if not
    /// `shared` (see `report_panics_to`); null otherwise.
    report: Cell<*const Shared>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            shared: Cell::new(ptr::null()),
            worker: Cell::new(ptr::null()),
            report: Cell::new(ptr::null()),
        }
    };
}

/// Restores the context that was in place before it was entered, when
/// dropped (also on unwind).
#[must_use]
pub(crate) struct EnterGuard {
    shared: *const Shared,
    worker: *const WorkerLocal,
    _timers: canopy_timer::TimerContextGuard,
    _io: canopy_io::IoContextGuard,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|cx| {
            cx.shared.set(self.shared);
            cx.worker.set(self.worker);
        });
    }
}

/// Sets the context (and the timer context: `timer_shard` of the runtime's
/// driver; and the I/O context: its reactor), returning a guard that
/// restores the previous one.
fn enter(shared: &Shared, worker: *const WorkerLocal, timer_shard: usize) -> EnterGuard {
    let timers = canopy_timer::enter(shared.timers.clone(), timer_shard);
    let io = canopy_io::enter(shared.reactor.clone());
    CONTEXT.with(|cx| EnterGuard {
        shared: cx.shared.replace(shared),
        worker: cx.worker.replace(worker),
        _timers: timers,
        _io: io,
    })
}

/// Panics unless the thread is outside every runtime: blocking a worker (or
/// nesting `block_on`) would stall every task queued behind it.
fn assert_outside(what: &str) {
    let inside = CONTEXT
        .try_with(|cx| !cx.shared.get().is_null())
        .unwrap_or(false);
    assert!(
        !inside,
        "{what} was called from inside a canopy runtime (a worker thread or another \
         block_on). Blocking here would stall the tasks this thread runs; `.await` the \
         future instead, or call block_on from a thread of your own."
    );
}

/// Marks the thread as a worker of `worker.shared` for the guard's lifetime.
pub(crate) fn enter_worker(worker: &WorkerLocal) -> EnterGuard {
    assert_outside("starting a worker");
    enter(&worker.shared, worker, worker.index())
}

/// Marks the thread as inside `block_on` of `shared` for the guard's lifetime.
pub(crate) fn enter_block_on(shared: &Arc<Shared>) -> EnterGuard {
    assert_outside("block_on");
    enter(shared, ptr::null(), shared.outside_timer_shard())
}

/// Marks the thread as serving `shared` but as no worker, so that tasks woken
/// here go through the global queue. Used where a thread wakes tasks outside
/// its run loop: a parked worker firing timers, and a closed runtime dropping
/// tasks (there it also lets a future whose `Drop` spawns or asks for
/// `Handle::current()` find its runtime, closed, so the spawn is dropped at
/// once, instead of panicking inside async-task, which would abort). Nests:
/// the guard restores whatever context the thread had.
///
/// `shared` must be the contents of an `Arc<Shared>` (every `Shared` is).
pub(crate) fn enter_detached(shared: &Shared) -> EnterGuard {
    enter(shared, ptr::null(), shared.outside_timer_shard())
}

/// Runs `f` with the worker running on this thread, if any.
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&WorkerLocal>) -> R) -> R {
    let worker = CONTEXT
        .try_with(|cx| cx.worker.get())
        .unwrap_or(ptr::null());
    // SAFETY: a non-null pointer was set by `enter_worker` from a `WorkerLocal`
    // that outlives its `EnterGuard`, and the guard nulls it before the worker
    // is dropped. Only shared references are ever made to it.
    f(unsafe { worker.as_ref() })
}

/// The runtime this thread serves, if any.
pub(crate) fn current_shared() -> Option<Arc<Shared>> {
    let shared = CONTEXT
        .try_with(|cx| cx.shared.get())
        .unwrap_or(ptr::null());
    if shared.is_null() {
        return None;
    }
    // The pointer points into an `Arc<Shared>` allocation (it came from
    // `Arc::as_ptr`, or from a `&Shared`, and every `Shared` lives in an
    // `Arc`) that the code which set the context keeps alive until its guard
    // restores the context.
    // SAFETY: so the allocation is live and one more strong reference may be
    // made from the pointer.
    unsafe {
        Arc::increment_strong_count(shared);
        Some(Arc::from_raw(shared))
    }
}

/// Restores the previous report target when dropped (`report_panics_to`),
/// and keeps the target alive until then.
#[must_use]
pub(crate) struct ReportGuard {
    previous: *const Shared,
    _target: Arc<Shared>,
}

impl Drop for ReportGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|cx| cx.report.set(self.previous));
    }
}

/// Until the guard drops, panics contained on this thread where no runtime
/// is at hand (an output nobody took, dropped with its `JoinHandle`) are
/// reported to `shared`, the task's runtime, whatever runtime (if any) this
/// thread serves. Changes nothing else about the context. The guard holds a
/// reference: the task, and its own, may be freed meanwhile.
pub(crate) fn report_panics_to(shared: Arc<Shared>) -> ReportGuard {
    let previous = CONTEXT
        .try_with(|cx| cx.report.replace(Arc::as_ptr(&shared)))
        .unwrap_or(ptr::null());
    ReportGuard {
        previous,
        _target: shared,
    }
}

/// The runtime to report a contained panic to: the one set by
/// `report_panics_to`, else the one this thread serves.
pub(crate) fn report_target() -> Option<Arc<Shared>> {
    let report = CONTEXT
        .try_with(|cx| cx.report.get())
        .unwrap_or(ptr::null());
    if report.is_null() {
        return current_shared();
    }
    // The pointer came from `Arc::as_ptr` in `report_panics_to`, whose
    // guard holds that `Arc` until it restores the previous target.
    // SAFETY: so the allocation is live and one more strong reference may be
    // made from the pointer.
    unsafe {
        Arc::increment_strong_count(report);
        Some(Arc::from_raw(report))
    }
}
