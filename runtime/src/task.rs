//! Spawning: one async-task allocation per task holding the future, the
//! scheduler's metadata and the output slot.
//!
//! The user's future is wrapped in [`TaskFuture`], which catches panics (a
//! panic never unwinds into a worker) and keeps the task's registry entry
//! (see `registry.rs`) in step with the future's life.

use crate::join::{JoinHandle, JoinState};
use crate::registry::Entry;
use crate::shared::Shared;
use crate::worker::WorkerLocal;
use async_task::{Runnable, ScheduleInfo, WithInfo};
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
    /// The packed registry `Entry`, once the task has one (see
    /// `registry.rs`). Written and read only by whoever polls or drops the
    /// future, one thread at a time; the scheduler's hand-offs order them.
    registration: AtomicU64,
    pub(crate) join: JoinState,
}

impl TaskMeta {
    /// Gives the task a registry entry in the shard of the thread polling it.
    fn register(&self, waker: &Waker) {
        let shared = &self.shared;
        let shard = crate::context::with_worker(|worker| match worker {
            Some(w) if Arc::ptr_eq(&w.shared, shared) => w.index(),
            _ => shared.registry.outside_shard(),
        });
        let entry = shared.registry.insert(shard, waker.clone());
        self.registration.store(entry.pack(), Relaxed);
    }

    fn deregister(&self) {
        let entry = Entry::unpack(self.registration.load(Relaxed));
        self.shared.registry.remove(entry);
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
    let meta = TaskMeta {
        shared: shared.clone(),
        registration: AtomicU64::new(0),
        join: JoinState::new(),
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

pin_project_lite::pin_project! {
    /// The user's future plus panic catching and registry bookkeeping.
    /// Output `Err(())` means it panicked; the payload is in the `JoinState`.
    pub(crate) struct TaskFuture<'a, F> {
        #[pin]
        inner: F,
        meta: &'a TaskMeta,
        // The task's scope context: its cancel word, budget pass, leaves.
        scope: canopy_scope::rt::TaskContext,
        registered: bool,
        finished: bool,
    }

    impl<'a, F> PinnedDrop for TaskFuture<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.finished {
                if *this.registered {
                    this.meta.deregister();
                }
                this.meta.shared.count(|c| &c.dropped);
            }
        }
    }
}

impl<'a, F> TaskFuture<'a, F> {
    fn new(inner: F, meta: &'a TaskMeta) -> Self {
        TaskFuture {
            inner,
            meta,
            scope: canopy_scope::rt::TaskContext::default(),
            registered: false,
            finished: false,
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        // The task runs under the runtime's root scope (cancelled by a
        // graceful shutdown), with its checkpoint budget.
        let shared = &this.meta.shared;
        let root = shared.cancelled_root();
        let result = {
            let _scope = this.scope.enter(
                cx.waker(),
                shared.config.checkpoint_budget,
                Some(shared.root()),
            );
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
        if matches!(result, Ok(Poll::Pending)) {
            if !*this.registered {
                this.meta.register(cx.waker());
                *this.registered = true;
            }
            // The root was cancelled during this poll, maybe before we were
            // registered for its wake-all: poll again to see it.
            if root.is_none() && this.meta.shared.cancelled_root().is_some() {
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
        *this.finished = true;
        if *this.registered {
            this.meta.deregister();
        }
        match result {
            Ok(Poll::Ready(output)) => {
                this.meta.shared.count(|c| &c.completed);
                Poll::Ready(Ok(output))
            }
            Ok(Poll::Pending) => unreachable!("handled above"),
            Err(payload) => {
                this.meta.shared.count(|c| &c.panicked);
                this.meta.join.publish_panic(payload, &this.meta.shared);
                Poll::Ready(Err(()))
            }
        }
    }
}
