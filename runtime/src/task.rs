//! Spawning: one async-task allocation per task holding the future, the
//! scheduler's metadata and the output slot.
//!
//! The user's future is wrapped in [`TaskFuture`], which catches panics (a
//! panic never unwinds into a worker) and keeps the task's registry entry
//! (see `registry.rs`) in step with the future's life.

use crate::join::{JoinHandle, JoinState};
use crate::registry::{Entry, Outcome};
use crate::shared::Shared;
use crate::worker::WorkerLocal;
use async_task::{Runnable, ScheduleInfo, WithInfo};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};

/// A scheduled task, as it sits in the run queues.
pub(crate) type Task = Runnable<TaskMeta>;

/// Per-task scheduler state, stored in the task's allocation.
#[derive(Debug)]
pub(crate) struct TaskMeta {
    /// The runtime the task belongs to. Held here rather than captured by the
    /// schedule function, so that function is a zero-sized fn item.
    pub(crate) shared: Arc<Shared>,
    /// The packed registry `Entry`. Written once before the task is first
    /// scheduled; the queue hand-off publishes it.
    registration: AtomicU64,
    pub(crate) join: JoinState,
}

impl TaskMeta {
    fn deregister(&self, outcome: Outcome) {
        let entry = Entry::unpack(self.registration.load(Relaxed));
        self.shared.registry.remove(entry, outcome);
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
/// this thread, if any: its spawns go to its own queue and registry shard.
pub(crate) fn spawn<F>(
    shared: &Arc<Shared>,
    future: F,
    local: Option<&WorkerLocal>,
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
    // SAFETY: `spawn_unchecked` requires, beyond what `spawn` checks, that:
    // - the future is `Send` if the Runnable may move across threads: it is,
    //   since `F: Send` and `&TaskMeta` is `Send` (`TaskMeta: Sync`);
    // - every borrow other than of the metadata outlives the Runnable: the only
    //   borrow is of the metadata, which async-task drops after the future;
    // - the schedule function is `Send + Sync + 'static`: it is a fn item.
    let (runnable, task) = unsafe {
        async_task::Builder::new().metadata(meta).spawn_unchecked(
            move |meta| TaskFuture::new(future, meta),
            WithInfo(schedule),
        )
    };
    let shard = match local {
        Some(worker) => worker.index(),
        None => shared.registry.outside_shard(),
    };
    let entry = shared.registry.insert(shard, runnable.waker());
    runnable
        .metadata()
        .registration
        .store(entry.pack(), Relaxed);
    match local {
        Some(worker) => worker.schedule_local(runnable, false),
        None => shared.schedule_remote(runnable),
    }
    JoinHandle::new(task)
}

pin_project_lite::pin_project! {
    /// The user's future plus panic catching and registry bookkeeping.
    /// Output `Err(())` means it panicked; the payload is in the `JoinState`.
    pub(crate) struct TaskFuture<'a, F> {
        #[pin]
        inner: F,
        meta: &'a TaskMeta,
        finished: bool,
    }

    impl<'a, F> PinnedDrop for TaskFuture<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.finished {
                this.meta.deregister(Outcome::Dropped);
            }
        }
    }
}

impl<'a, F> TaskFuture<'a, F> {
    fn new(inner: F, meta: &'a TaskMeta) -> Self {
        TaskFuture {
            inner,
            meta,
            finished: false,
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                *this.finished = true;
                this.meta.deregister(Outcome::Completed);
                Poll::Ready(Ok(output))
            }
            Err(payload) => {
                *this.finished = true;
                this.meta.deregister(Outcome::Panicked);
                this.meta.join.publish_panic(payload, &this.meta.shared);
                Poll::Ready(Err(()))
            }
        }
    }
}
