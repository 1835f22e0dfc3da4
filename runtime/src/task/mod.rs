//! Spawning: one async-task allocation per task holding the future, the
//! scheduler's metadata and the output slot.
//!
//! The user's future is wrapped in [`TaskFuture`], which catches panics (a
//! panic never unwinds into a worker) and keeps the task's registry entry
//! (see `registry.rs`) in step with the future's life.
//!
//! # No user `Drop` runs inside async-task's guards
//!
//! async-task drops a task's future, its output and the awaiter's waker
//! inside an abort-on-panic guard: a panicking `Drop` there ends the
//! process. So canopy never leaves any of them to it (DESIGN §4):
//!
//! - `TaskFuture` drops the user's future itself, under `catch_unwind`: in
//!   `poll` right after it returned or panicked, and in its own `Drop` when
//!   the task is dropped unfinished (at shutdown). A panic there takes the
//!   place of the output, which was not delivered yet: it reaches the
//!   `JoinHandle`, or is reported as unobserved if the handle is gone.
//! - The task's scope context, whose leaves hold wakers the task's code
//!   handed to canopy primitives, is dropped with the future, the same way.
//! - The output waits in a [`TaskOutput`], which drops an output nobody
//!   took under `catch_unwind`.
//! - The awaiter's waker is registered wrapped (`join.rs`, `AwaiterWaker`).
//!
//! A panic of a waker's `Drop` is reported as unobserved: it belongs to the
//! code that made the waker, not to the task's outcome.

mod bookkeeping;
pub(crate) mod detached;
pub(crate) mod join;
pub(crate) mod registry;
pub(crate) mod yield_now;

use crate::scheduler::worker::WorkerLocal;
use crate::shared::{ContainedPanic, Shared};
use crate::task::bookkeeping::Bookkeeping;
use crate::task::join::{JoinHandle, JoinState};
use async_task::{Runnable, ScheduleInfo, WithInfo};
use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A scheduled task, as it sits in the run queues.
pub(crate) type Task = Runnable<TaskMeta>;

/// async-task's handle to a task's output (`Err(())`: it panicked), which
/// a `JoinHandle` wraps.
type OutputTask<T> = async_task::Task<Result<TaskOutput<T>, ()>, TaskMeta>;

/// Per-task scheduler state, stored in the task's allocation.
#[derive(Debug)]
pub(crate) struct TaskMeta {
    /// The runtime the task belongs to. Held here rather than captured by the
    /// schedule function, so that function is a zero-sized fn item.
    pub(crate) shared: Arc<Shared>,
    pub(crate) join: JoinState,
    /// Where the task was spawned (`#[track_caller]` on every spawn path):
    /// the stuck-poll report names it.
    pub(crate) location: &'static Location<'static>,
}

impl TaskMeta {
    /// Gives the task a registry entry in the shard of the thread polling it.
    fn register(&self, waker: &Waker, bookkeeping: &mut Bookkeeping) {
        let shared = &self.shared;
        let shard = crate::context::with_worker(|worker| match worker {
            Some(w) if Arc::ptr_eq(&w.shared, shared) => w.index(),
            _ => shared.registry.outside_shard(),
        });
        bookkeeping.set_entry(shared.registry.insert(shard, waker.clone()));
    }

    /// Removes the task's registry entry, if it has one.
    #[inline]
    fn deregister(&self, bookkeeping: &mut Bookkeeping) {
        if let Some(entry) = bookkeeping.take_entry() {
            self.shared.registry.remove(entry);
        }
    }
}

/// The async-task schedule function: every wake-up of every task lands here.
fn schedule(task: Task, info: ScheduleInfo) {
    let owner = Arc::as_ptr(&task.metadata().shared);
    let remote = crate::context::with_worker(|worker| match worker {
        Some(worker) if Arc::as_ptr(&worker.shared) == owner => {
            worker.schedule_local(task, info.woken_while_running);
            None
        }
        _ => Some(task),
    });
    if let Some(task) = remote {
        // The task may run, finish and be freed on a worker as soon as it is
        // pushed, so keep the runtime alive by our own reference meanwhile.
        let shared = task.metadata().shared.clone();
        shared.schedule_remote(task);
    }
}

/// Spawns `future` onto `shared`. `local` is the worker of `shared` running on
/// this thread, if any: its spawns go to its own queue.
pub(crate) fn spawn<F>(
    shared: &Arc<Shared>,
    future: F,
    local: Option<&WorkerLocal>,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (runnable, task) = new_task(shared, future, location, WithInfo(schedule));
    // `local` is already known: no second thread-local lookup.
    shared.count_on(local, |c| &c.spawned);
    match local {
        Some(worker) => worker.schedule_local(runnable, false),
        None => shared.schedule_remote(runnable),
    }
    JoinHandle::new(task, location)
}

/// Allocates the task running `future` for `shared`, scheduled by
/// `schedule` (a fn item: a worker's queues, or the blocking pool).
#[inline(always)]
fn new_task<F, S>(
    shared: &Arc<Shared>,
    future: F,
    location: &'static Location<'static>,
    schedule: S,
) -> (Task, OutputTask<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: async_task::Schedule<TaskMeta> + Send + Sync + 'static,
{
    let meta = TaskMeta {
        shared: shared.clone(),
        join: JoinState::new(),
        location,
    };
    // `spawn_unchecked` requires, beyond what `spawn` checks, that:
    // - the future is `Send` if the Runnable may move across threads: it is,
    //   since `F: Send` and `&TaskMeta` is `Send` (`TaskMeta: Sync`);
    // - every borrow other than of the metadata outlives the Runnable: the only
    //   borrow is of the metadata, which async-task drops after the future;
    // - the schedule function is `Send + Sync + 'static`: the bound says so.
    // SAFETY: all three hold, as said above.
    unsafe {
        async_task::Builder::new()
            .metadata(meta)
            .spawn_unchecked(move |meta| TaskFuture::new(future, meta), schedule)
    }
}

/// The schedule function of a blocking task (`blocking/pool.rs`): its one
/// poll runs on a pool thread. (Scheduled once, at spawn: the future never
/// waits.)
fn schedule_blocking(task: Task) {
    // The task may run and be freed as soon as it is queued: keep the
    // runtime alive by our own reference meanwhile.
    let shared = task.metadata().shared.clone();
    shared.blocking.submit(&shared, task);
}

/// Spawns `future` as a blocking task of `shared`: polled once, on a thread
/// of the blocking pool.
pub(crate) fn spawn_blocking<F>(
    shared: &Arc<Shared>,
    future: F,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (runnable, task) = new_task(shared, future, location, schedule_blocking);
    shared.count(|c| &c.spawned);
    runnable.schedule();
    JoinHandle::new(task, location)
}

pin_project_lite::pin_project! {
    /// The user's future plus panic catching and registry bookkeeping.
    /// Output `Err(())` means it panicked; the payload is in the `JoinState`.
    pub(crate) struct TaskFuture<'a, F> {
        // The user's future, until `bookkeeping` says it was dropped. `poll`
        // drops it in place as soon as it finished (or panicked), and the
        // drop of an unfinished task drops it too, each under
        // `catch_unwind`: left to async-task, a panicking `Drop` would hit
        // its abort-on-panic guard and take the process down (DESIGN §4).
        // Not an `Option`: a future has no niche for its `None`, so that
        // would cost a word of every task allocation (see `bookkeeping.rs`).
        #[pin]
        inner: ManuallyDrop<F>,
        meta: &'a TaskMeta,
        // The registry entry and whether `inner` was dropped; only the
        // poller (or dropper) of the future touches it.
        bookkeeping: Bookkeeping,
        // The task's scope context (one word: its cancel word, leaves and
        // budget pass live behind it). Released with the future: its leaves
        // hold wakers that the task's code handed to canopy primitives (a
        // combinator's, user code), whose `Drop` may panic, so it is
        // released under `catch_unwind` too.
        scope: canopy_scope::rt::TaskContext,
    }

    impl<'a, F> PinnedDrop for TaskFuture<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.bookkeeping.future_dropped() {
                // Finished: `poll` did the bookkeeping.
                return;
            }
            this.meta.deregister(this.bookkeeping);
            // Dropped unfinished (a hard shutdown). If that drop panics, the
            // task never delivered an output, so the panic takes its place:
            // it reaches the `JoinHandle`, or is reported if that is gone.
            match drop_future_caught(this.inner, this.bookkeeping) {
                Ok(()) => {
                    this.meta.shared.count(|c| &c.dropped);
                    this.meta.shared.finished_one();
                }
                Err(payload) => this.meta.fail(payload),
            }
            release_reporting(this.scope, &this.meta.shared);
        }
    }
}

/// Drops the future in `slot` in place, once (`bookkeeping` records it
/// first), catching a panic of its `Drop`.
///
/// A panicking drop counts as done: `drop_in_place` still drops the
/// remaining fields as it unwinds, so nothing may be dropped again
/// (`task::tests::a_panicking_future_drop_counts_as_done`).
fn drop_future_caught<F>(
    slot: Pin<&mut ManuallyDrop<F>>,
    bookkeeping: &mut Bookkeeping,
) -> Result<(), Payload> {
    debug_assert!(
        !bookkeeping.future_dropped(),
        "a task's future is dropped once"
    );
    bookkeeping.set_future_dropped();
    catch_unwind(AssertUnwindSafe(move || {
        // SAFETY: the future is dropped in place (never moved, as its pin
        // requires) and exactly once: the flag was clear and is now set,
        // and every use of `slot` checks it first.
        unsafe { ManuallyDrop::drop(slot.get_unchecked_mut()) }
    }))
}

/// A panic payload.
type Payload = Box<dyn Any + Send + 'static>;

impl TaskMeta {
    /// The task failed with `payload` in place of an output: count it and
    /// hand the payload to the `JoinHandle` (or report it if that is gone).
    fn fail(&self, payload: Payload) {
        self.shared.count(|c| &c.panicked);
        self.shared.finished_one();
        if let Some(payload) = self.join.publish_panic(payload) {
            self.shared.report_unobserved_panic(payload);
        }
    }
}

impl<'a, F> TaskFuture<'a, F> {
    fn new(inner: F, meta: &'a TaskMeta) -> Self {
        TaskFuture {
            inner: ManuallyDrop::new(inner),
            meta,
            bookkeeping: Bookkeeping::default(),
            scope: canopy_scope::rt::TaskContext::new(),
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = Result<TaskOutput<F::Output>, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.bookkeeping.future_dropped() {
            // async-task never polls a task again once it returned `Ready`.
            return Poll::Pending;
        }
        // SAFETY: a projection of the pinned future, which is live (checked
        // just above) and stays pinned: it is only ever dropped in place.
        let inner = unsafe { this.inner.as_mut().map_unchecked_mut(|f| &mut **f) };
        // The task runs under the runtime's root scope (cancelled by a
        // graceful shutdown), with its checkpoint budget.
        let meta = *this.meta;
        let shared = &meta.shared;
        let result = this.scope.enter(
            cx.waker(),
            shared.config.checkpoint_budget,
            Some(shared.root()),
            || catch_unwind(AssertUnwindSafe(|| inner.poll(cx))),
        );
        let result = match result {
            Ok(Poll::Pending) => {
                if this.bookkeeping.entry().is_none() {
                    meta.register(cx.waker(), this.bookkeeping);
                    // The root was cancelled during this poll, maybe before
                    // we were registered for its wake-all: poll again to
                    // see it. (Once registered, its wake-all finds us.)
                    if shared.cancelled_root().is_some() {
                        cx.waker().wake_by_ref();
                    }
                }
                return Poll::Pending;
            }
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => Err(payload),
        };
        meta.deregister(this.bookkeeping);
        // The future is done: drop it now, here, where its `Drop` can be
        // caught (see the field's docs), and the wakers its code left with
        // the scope machinery.
        let dropped = drop_future_caught(this.inner, this.bookkeeping);
        release_reporting(this.scope, shared);
        match (result, dropped) {
            (Ok(output), Ok(())) => {
                shared.count(|c| &c.completed);
                shared.finished_one();
                Poll::Ready(Ok(TaskOutput::new(output)))
            }
            (Ok(output), Err(payload)) => {
                // The output was not delivered yet, so the panic goes where
                // it would have gone (as tokio's `JoinError::Panic`); the
                // output is dropped unseen.
                drop_reporting(output, shared, ContainedPanic::Drop);
                meta.fail(payload);
                Poll::Ready(Err(()))
            }
            (Err(payload), dropped) => {
                // The future panicked, then its drop panicked too: the first
                // panic is the task's outcome, the second can only be reported.
                if let Err(second) = dropped {
                    shared.report_contained_panic(ContainedPanic::Drop, second);
                }
                meta.fail(payload);
                Poll::Ready(Err(()))
            }
        }
    }
}

/// Releases a finished task's scope context, reporting a panic of a waker's
/// `Drop` (a waker the task's code left with it) as unobserved.
fn release_reporting(scope: &canopy_scope::rt::TaskContext, shared: &Shared) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| scope.release())) {
        shared.report_contained_panic(ContainedPanic::Waker, payload);
    }
}

/// Drops `value`, reporting a panic of its `Drop` as unobserved (`what`).
fn drop_reporting<T>(value: T, shared: &Shared, what: ContainedPanic) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        shared.report_contained_panic(what, payload);
    }
}

/// A finished task's output while it waits in the task allocation for its
/// `JoinHandle`.
///
/// An output nobody takes (its handle was dropped meanwhile) is dropped by
/// async-task, inside its abort-on-panic guard, on the worker that finished
/// the task or in the dropping `JoinHandle`. This wrapper drops the value
/// under `catch_unwind` instead and reports a panic as unobserved to the
/// task's runtime: the worker's, or the one the handle names with
/// `context::report_panics_to` (stderr alone if neither is at hand).
pub(crate) struct TaskOutput<T>(Option<T>);

impl<T> TaskOutput<T> {
    fn new(value: T) -> Self {
        TaskOutput(Some(value))
    }

    /// The output, for the `JoinHandle` that takes it.
    pub(crate) fn into_inner(mut self) -> T {
        self.0.take().expect("a task output is taken once")
    }
}

impl<T> Drop for TaskOutput<T> {
    fn drop(&mut self) {
        let Some(value) = self.0.take() else { return };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
            match crate::context::report_target() {
                Some(shared) => shared.report_contained_panic(ContainedPanic::Drop, payload),
                None => crate::shared::report_outside_runtime(ContainedPanic::Drop, payload),
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Bookkeeping, drop_future_caught};
    use std::mem::ManuallyDrop;
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    struct Loud<'a>(&'a AtomicUsize);

    impl Drop for Loud<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
            panic!("loud drop");
        }
    }

    #[test]
    fn a_panicking_future_drop_counts_as_done() {
        let drops = AtomicUsize::new(0);
        let mut bookkeeping = Bookkeeping::default();
        {
            let mut slot = pin!(ManuallyDrop::new(Loud(&drops)));
            let payload = drop_future_caught(slot.as_mut(), &mut bookkeeping).unwrap_err();
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"loud drop"));
            assert!(bookkeeping.future_dropped(), "never dropped again");
        }
        assert_eq!(drops.load(SeqCst), 1, "dropped exactly once");
    }
}
