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

pub(crate) mod detached;
pub(crate) mod join;
pub(crate) mod registry;
pub(crate) mod yield_now;

use crate::scheduler::worker::WorkerLocal;
use crate::shared::{ContainedPanic, Shared};
use crate::task::join::{JoinHandle, JoinState};
use crate::task::registry::Entry;
use async_task::{Runnable, ScheduleInfo, WithInfo};
use std::any::Any;
use std::future::Future;
use std::panic::Location;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, Waker};

/// A scheduled task, as it sits in the run queues.
pub(crate) type Task = Runnable<TaskMeta>;

/// Per-task scheduler state, stored in the task's allocation.
#[derive(Debug)]
pub(crate) struct TaskMeta {
    /// The runtime the task belongs to. Held here rather than captured by the
    /// schedule function, so that function is a zero-sized fn item.
    pub(crate) shared: Arc<Shared>,
    /// The packed registry `Entry` with `REGISTERED`, once the task has one
    /// (see `registry.rs`); 0 before and after. Written and read only by whoever polls or drops the
    /// future, one thread at a time; the scheduler's hand-offs order them.
    registration: AtomicU64,
    pub(crate) join: JoinState,
    /// Where the task was spawned (`#[track_caller]` on every spawn path):
    /// the stuck-poll report names it.
    pub(crate) location: &'static Location<'static>,
}

impl TaskMeta {
    /// Whether the task has a registry entry (one load, by the poller).
    fn is_registered(&self) -> bool {
        self.registration.load(Relaxed) != 0
    }

    /// Gives the task a registry entry in the shard of the thread polling it.
    fn register(&self, waker: &Waker) {
        let shared = &self.shared;
        let shard = crate::context::with_worker(|worker| match worker {
            Some(w) if Arc::ptr_eq(&w.shared, shared) => w.index(),
            _ => shared.registry.outside_shard(),
        });
        let entry = shared.registry.insert(shard, waker.clone());
        self.registration.store(entry.pack() | REGISTERED, Relaxed);
    }

    /// Removes the task's registry entry, if it has one.
    fn deregister(&self) {
        // Only the poller touches it (no read-modify-write needed).
        let packed = self.registration.load(Relaxed);
        if packed != 0 {
            self.registration.store(0, Relaxed);
            self.shared
                .registry
                .remove(Entry::unpack(packed & !REGISTERED));
        }
    }
}

/// Set in `TaskMeta::registration` beside a packed entry, so that a task
/// with an entry never reads 0 (a packed entry may be 0). Shard numbers are
/// far below 2^31.
const REGISTERED: u64 = 1 << 63;

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
    let meta = TaskMeta {
        shared: shared.clone(),
        registration: AtomicU64::new(0),
        join: JoinState::new(),
        location,
    };
    // `spawn_unchecked` requires, beyond what `spawn` checks, that:
    // - the future is `Send` if the Runnable may move across threads: it is,
    //   since `F: Send` and `&TaskMeta` is `Send` (`TaskMeta: Sync`);
    // - every borrow other than of the metadata outlives the Runnable: the only
    //   borrow is of the metadata, which async-task drops after the future;
    // - the schedule function is `Send + Sync + 'static`: it is a fn item.
    // SAFETY: all three hold, as said above.
    let (runnable, task) = unsafe {
        async_task::Builder::new().metadata(meta).spawn_unchecked(
            move |meta| TaskFuture::new(future, meta),
            WithInfo(schedule),
        )
    };
    // `local` is already known: no second thread-local lookup.
    shared.count_on(local, |c| &c.spawned);
    match local {
        Some(worker) => worker.schedule_local(runnable, false),
        None => shared.schedule_remote(runnable),
    }
    JoinHandle::new(task, location)
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
    let meta = TaskMeta {
        shared: shared.clone(),
        registration: AtomicU64::new(0),
        join: JoinState::new(),
        location,
    };
    // SAFETY: as in `spawn` (the schedule function is a fn item too).
    let (runnable, task) = unsafe {
        async_task::Builder::new()
            .metadata(meta)
            .spawn_unchecked(move |meta| TaskFuture::new(future, meta), schedule_blocking)
    };
    shared.count(|c| &c.spawned);
    runnable.schedule();
    JoinHandle::new(task, location)
}

pin_project_lite::pin_project! {
    /// The user's future plus panic catching and registry bookkeeping.
    /// Output `Err(())` means it panicked; the payload is in the `JoinState`.
    pub(crate) struct TaskFuture<'a, F> {
        // The user's future, `None` once it is dropped. `poll` drops it in
        // place as soon as it finished (or panicked), and the drop of an
        // unfinished task drops it too, each under `catch_unwind`: left to
        // async-task, a panicking `Drop` would hit its abort-on-panic guard
        // and take the process down (DESIGN §4).
        #[pin]
        inner: Option<F>,
        meta: &'a TaskMeta,
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
            if this.inner.is_none() {
                // Finished: `poll` did the bookkeeping.
                return;
            }
            this.meta.deregister();
            // Dropped unfinished (a hard shutdown). If that drop panics, the
            // task never delivered an output, so the panic takes its place:
            // it reaches the `JoinHandle`, or is reported if that is gone.
            match drop_in_place_caught(this.inner) {
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

/// Drops the future in `slot` in place, catching a panic of its `Drop`.
///
/// The slot is `None` afterwards even if the drop panicked: an assignment
/// whose drop of the old value unwinds still writes the new value (the
/// `Option` never holds a half-dropped future, so nothing is dropped twice;
/// `task::tests::a_panicking_drop_in_place_leaves_the_slot_empty`).
fn drop_in_place_caught<F>(slot: Pin<&mut Option<F>>) -> Result<(), Payload> {
    catch_unwind(AssertUnwindSafe(move || {
        let mut slot = slot;
        slot.set(None);
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
            inner: Some(inner),
            meta,
            scope: canopy_scope::rt::TaskContext::new(),
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = Result<TaskOutput<F::Output>, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            // async-task never polls a task again once it returned `Ready`.
            return Poll::Pending;
        };
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
                if !meta.is_registered() {
                    meta.register(cx.waker());
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
        meta.deregister();
        // The future is done: drop it now, here, where its `Drop` can be
        // caught (see the field's docs), and the wakers its code left with
        // the scope machinery.
        let dropped = drop_in_place_caught(this.inner);
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
    use super::drop_in_place_caught;
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
    fn a_panicking_drop_in_place_leaves_the_slot_empty() {
        let drops = AtomicUsize::new(0);
        {
            let mut slot = pin!(Some(Loud(&drops)));
            let payload = drop_in_place_caught(slot.as_mut()).unwrap_err();
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"loud drop"));
            assert!(slot.is_none(), "the slot holds no half-dropped value");
            assert!(drop_in_place_caught(slot.as_mut()).is_ok());
        }
        assert_eq!(drops.load(SeqCst), 1, "dropped exactly once");
    }
}
