//! `TaskGroup::start`: spawn a child and wait until it says it is ready
//! (Trio's `nursery.start`), e.g. a server that has bound its socket.
//!
//! As in Trio, until the child calls [`TaskStatus::started`] it runs under
//! the *caller's* scope: cancelling the caller cancels the starting child,
//! the group's cancellation does not reach it yet, and its outcome belongs
//! to the `start()` caller (an error or panic before that fails `start()`
//! and is not a group failure; a `Cancelled` it returns is owned by one of
//! the caller's scopes). After `started`, it moves into the group's scope
//! and is an ordinary member. The group waits for a starting child too.

use crate::group::{ChildOutput, Failure, GroupClosed, GroupShared, StartMove, TaskGroup};
use crate::loom::Mutex;
use crate::task::join::JoinError;
use canopy_scope::{CancelError, Cancelled};
use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Waker};

/// Given to a child started with [`TaskGroup::start`]: call
/// [`started`](Self::started) once ready.
pub struct TaskStatus<T> {
    slot: Arc<StartSlot<T>>,
    /// Tells the child's task to move from the caller's scope into the
    /// group's once its current poll ends.
    moved: Arc<StartMove>,
}

impl<T> TaskStatus<T> {
    /// Reports the child ready, handing `value` to the `start()` caller; the
    /// child leaves its caller's scope for the group's (it sees the group's
    /// cancellation from its next poll on, and no longer the caller's).
    /// Later calls (there can be none: `self` is consumed) and calls after
    /// the caller stopped waiting hand nothing over.
    pub fn started(self, value: T) {
        self.slot.settle(State::Started(value));
        self.moved.move_now();
    }
}

impl<T> fmt::Debug for TaskStatus<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskStatus").finish_non_exhaustive()
    }
}

/// Why [`TaskGroup::start`] gave no value.
#[derive(Debug)]
pub enum StartError<E> {
    /// The child failed (an error or a panic) before calling `started`.
    Failed(Failure<E>),
    /// The child returned without calling `started`.
    NotStarted,
    /// The caller's scope was cancelled while it waited; the child goes on
    /// in the group.
    Cancelled(Cancelled),
}

impl<E: fmt::Display> fmt::Display for StartError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Failed(Failure::Error(error)) => {
                write!(f, "the started task failed before it was ready: {error}")
            }
            StartError::Failed(Failure::Panic(panic)) => {
                write!(f, "the started task failed before it was ready: {panic}")
            }
            StartError::NotStarted => f.write_str(
                "the started task returned without calling TaskStatus::started; \
                 call it once the task is ready",
            ),
            StartError::Cancelled(cancelled) => {
                write!(f, "stopped waiting for the task to start: {cancelled}")
            }
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for StartError<E> {}

impl<E: CancelError> CancelError for StartError<E> {
    /// The caller's cancellation, or the child's if it was cancelled before
    /// it started (so a scope around `start` catches either).
    fn as_cancelled(&self) -> Option<&Cancelled> {
        match self {
            StartError::Cancelled(cancelled) => Some(cancelled),
            StartError::Failed(Failure::Error(error)) => error.as_cancelled(),
            _ => None,
        }
    }
}

enum State<T> {
    Waiting,
    /// The caller stopped waiting because its scope was cancelled: the
    /// child, in that scope, is cancelled too and stays there.
    CallerCancelled,
    Started(T),
    /// The outcome before `started`, type-erased so the slot needs no `E`.
    Ended(Box<dyn Any + Send>),
    Taken,
}

/// Where a starting child's readiness or early outcome meets its `start()`
/// caller. Whoever comes second under the lock decides where the outcome
/// goes, so it reaches exactly one of the caller and the group (loom model
/// below).
struct StartSlot<T> {
    state: Mutex<(State<T>, Option<Waker>)>,
}

/// What a poll of the `start()` caller found (`StartSlot::poll_outcome`).
enum Polled<T, C> {
    Started(T),
    Ended(Box<dyn Any + Send>),
    /// The caller's scope was cancelled (`C`) while the child was starting.
    GaveUp(C),
    Pending,
}

/// What the `start()` caller left behind as it went away
/// (`StartSlot::abandon`).
enum Abandoned<T> {
    /// The child was still starting: it joins the group.
    Starting,
    /// The child ended before `started` and nobody took its outcome.
    Unclaimed(Box<dyn Any + Send>),
    /// Nothing for anyone (taken, given up, or a value nobody wants).
    Nothing(Option<T>),
}

impl<T> StartSlot<T> {
    fn new() -> Self {
        StartSlot {
            state: Mutex::new((State::Waiting, None)),
        }
    }

    /// Hands the caller `outcome()` if it is still waiting (made under the
    /// lock, so a caller that gives up at the same moment cannot lose it).
    /// Returns whether it was handed over.
    fn settle_with(&self, outcome: impl FnOnce() -> State<T>) -> bool {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if !matches!(state.0, State::Waiting) {
                return false;
            }
            state.0 = outcome();
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    fn settle(&self, outcome: State<T>) -> bool {
        self.settle_with(|| outcome)
    }

    /// The caller's poll: takes what the child settled, or, still waiting,
    /// gives up (its scope `cancelled`) or leaves `waker` to be woken.
    fn poll_outcome<C>(&self, cancelled: Result<(), C>, waker: &Waker) -> Polled<T, C> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut state.0, State::Taken) {
            State::Started(value) => Polled::Started(value),
            State::Ended(outcome) => Polled::Ended(outcome),
            State::Waiting => match cancelled {
                // Stop waiting: the child, in the cancelled scope, is
                // cancelled too; what it returns then is the caller's
                // scope's business.
                Err(cancelled) => {
                    state.0 = State::CallerCancelled;
                    Polled::GaveUp(cancelled)
                }
                Ok(()) => {
                    state.0 = State::Waiting;
                    state.1 = Some(waker.clone());
                    Polled::Pending
                }
            },
            State::Taken | State::CallerCancelled => {
                drop(state);
                panic!("TaskGroup::start's future polled after it completed")
            }
        }
    }

    /// The caller stopped waiting (its `start()` future is dropped): from
    /// now on the child's outcome is the group's, and so is an outcome it
    /// settled that the caller never took.
    fn abandon(&self) -> Abandoned<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut state.0, State::Taken) {
            State::Waiting => Abandoned::Starting,
            State::Ended(outcome) => Abandoned::Unclaimed(outcome),
            State::Started(value) => Abandoned::Nothing(Some(value)),
            State::CallerCancelled | State::Taken => Abandoned::Nothing(None),
        }
    }
}

/// Abandons the slot if the `start()` future is dropped before it finished.
struct Waiting<T, E: CancelError + 'static> {
    slot: Arc<StartSlot<T>>,
    moved: Arc<StartMove>,
    group: Arc<GroupShared<E>>,
}

impl<T, E: CancelError + 'static> Drop for Waiting<T, E> {
    fn drop(&mut self) {
        match self.slot.abandon() {
            // Dropped (a select went the other way): nobody will pass the
            // child's readiness on, and its caller's scope may end at any
            // time; it goes on as a member of the group, under its scope.
            Abandoned::Starting => self.moved.move_now(),
            // It failed before it started, and the failure was the caller's,
            // who is gone: it is the group's now, never dropped (DESIGN
            // §2.9). A cancellation stays with the caller's scope it ran in.
            Abandoned::Unclaimed(outcome) => {
                match outcome.downcast::<StartError<E>>().map(|e| *e) {
                    Ok(StartError::Failed(Failure::Error(error)))
                        if error.as_cancelled().is_some() => {}
                    Ok(StartError::Failed(failure)) => self.group.fail(failure),
                    _ => {}
                }
            }
            Abandoned::Nothing(_) => {}
        }
    }
}

impl<E: CancelError + Send + 'static> TaskGroup<E> {
    /// Spawns `child(status)` into the group and waits until it calls
    /// `status.started(value)`, then returns `value` (the child runs on).
    ///
    /// ```
    /// use canopy_runtime::{task_group, TaskStatus};
    /// use canopy_scope::Cancelled;
    ///
    /// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
    /// rt.block_on(task_group(|tg| async move {
    ///     let port = tg
    ///         .start(|status: TaskStatus<u16>| async move {
    ///             status.started(8080); // e.g. after binding the socket
    ///             canopy_runtime::yield_now().await // ... then serve
    ///         })
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(port, 8080);
    ///     Ok::<(), Cancelled>(())
    /// }))
    /// .unwrap();
    /// ```
    ///
    /// Waiting is a checkpoint: if the caller's scope is cancelled meanwhile,
    /// `start` returns [`StartError::Cancelled`] and the child stays in the
    /// group.
    ///
    /// # Panics
    ///
    /// If the group has closed; see [`try_start`](Self::try_start).
    #[track_caller]
    pub fn start<T, F, Fut>(
        &self,
        child: F,
    ) -> impl Future<Output = Result<T, StartError<E>>> + use<T, F, Fut, E>
    where
        T: Send + 'static,
        F: FnOnce(TaskStatus<T>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: ChildOutput<E>,
    {
        match self.start_at(child, Location::caller()) {
            Ok(started) => started,
            Err(closed) => panic!("{closed}"),
        }
    }

    /// Like [`start`](Self::start), but a closed group is an error value
    /// instead of a panic (the child is then not run).
    ///
    /// ```
    /// use canopy_runtime::{task_group, TaskGroup, TaskStatus};
    /// use canopy_scope::Cancelled;
    ///
    /// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
    /// rt.block_on(async {
    ///     let mut kept: Option<TaskGroup<Cancelled>> = None;
    ///     task_group(|tg| {
    ///         kept = Some(tg.clone());
    ///         async { Ok::<(), Cancelled>(()) }
    ///     })
    ///     .await
    ///     .unwrap();
    ///     let closed = kept.unwrap().try_start(|status: TaskStatus<()>| async move {
    ///         status.started(());
    ///     });
    ///     assert!(closed.is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn try_start<T, F, Fut>(
        &self,
        child: F,
    ) -> Result<impl Future<Output = Result<T, StartError<E>>> + use<T, F, Fut, E>, GroupClosed>
    where
        T: Send + 'static,
        F: FnOnce(TaskStatus<T>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: ChildOutput<E>,
    {
        self.start_at(child, Location::caller())
    }

    fn start_at<T, F, Fut>(
        &self,
        child: F,
        location: &'static Location<'static>,
    ) -> Result<impl Future<Output = Result<T, StartError<E>>> + use<T, F, Fut, E>, GroupClosed>
    where
        T: Send + 'static,
        F: FnOnce(TaskStatus<T>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: ChildOutput<E>,
    {
        if self.is_closed() {
            return Err(GroupClosed::new());
        }
        let slot = Arc::new(StartSlot::new());
        let moved = Arc::new(StartMove::default());
        let future = child(TaskStatus {
            slot: slot.clone(),
            moved: moved.clone(),
        });
        let starting = Starting {
            future,
            slot: slot.clone(),
            moved: moved.clone(),
            error: PhantomData,
        };
        self.spawn_member(starting, Some(moved.clone()), location)?;
        // Made now, not at the first poll: a `start` future dropped unpolled
        // must still hand the child's outcome to the group.
        let waiting = Waiting {
            slot,
            moved,
            group: self.shared.clone(),
        };
        Ok(async move { poll_fn(|cx| poll_started(&waiting.slot, cx, location)).await })
    }
}

fn poll_started<T, E: 'static>(
    slot: &StartSlot<T>,
    cx: &mut Context<'_>,
    location: &'static Location<'static>,
) -> Poll<Result<T, StartError<E>>> {
    // A cancel point; an outcome settled by now still wins over it, so the
    // child's value or failure is never lost.
    let cancelled = std::task::ready!(canopy_scope::poll_cancelled(cx, location));
    match slot.poll_outcome(cancelled, cx.waker()) {
        Polled::Started(value) => Poll::Ready(Ok(value)),
        Polled::Ended(outcome) => Poll::Ready(Err(*outcome
            .downcast::<StartError<E>>()
            .expect("a started task reports the group's error type"))),
        Polled::GaveUp(cancelled) => Poll::Ready(Err(StartError::Cancelled(cancelled))),
        Polled::Pending => Poll::Pending,
    }
}

pin_project_lite::pin_project! {
    /// A started child: until it has called `started`, its outcome goes to
    /// the `start()` caller, not to the group.
    struct Starting<F, T, E> {
        #[pin]
        future: F,
        slot: Arc<StartSlot<T>>,
        moved: Arc<StartMove>,
        error: PhantomData<fn() -> E>,
    }
}

impl<F, T, E> Future for Starting<F, T, E>
where
    F: Future,
    F::Output: ChildOutput<E>,
    T: Send + 'static,
    E: CancelError + Send + 'static,
{
    type Output = Result<(), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = catch_unwind(AssertUnwindSafe(|| this.future.poll(cx)));
        let output = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => output.into_result(),
            Err(payload) => {
                let mut payload = Some(payload);
                let to_caller = this.slot.settle_with(|| {
                    let panic = JoinError::panicked(payload.take().expect("taken once"));
                    State::Ended(Box::new(StartError::<E>::Failed(Failure::Panic(panic))))
                });
                if to_caller {
                    return Poll::Ready(Ok(()));
                }
                // Started (or nobody waits any more): an ordinary member's
                // panic, for the group.
                resume_unwind(payload.expect("not taken"));
            }
        };
        let mut output = Some(output);
        let to_caller = this.slot.settle_with(|| {
            let error = match output.take().expect("taken once") {
                Ok(()) => StartError::<E>::NotStarted,
                Err(error) => StartError::Failed(Failure::Error(error)),
            };
            State::Ended(Box::new(error))
        });
        if to_caller {
            return Poll::Ready(Ok(()));
        }
        let output = output.expect("not taken");
        if !this.moved.moved.load(SeqCst)
            && output.as_ref().is_err_and(|e| e.as_cancelled().is_some())
        {
            // Cancelled before it started, after its caller stopped waiting:
            // a cancellation of the caller's scope (it ran there), which
            // that scope has caught; never the group's business.
            return Poll::Ready(Ok(()));
        }
        Poll::Ready(output)
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::{Abandoned, Polled, StartSlot, State};
    use crate::scheduler::park::Parker;
    use loom::sync::Arc;
    use loom::thread;
    use std::task::{Wake, Waker};

    /// The caller's task: woken means unparked, so a lost wake-up leaves
    /// the caller parked for ever, which loom reports as a deadlock.
    struct Caller(Parker);

    impl Wake for Caller {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }

    /// The child fails before `started` (`Starting::poll`): its failure
    /// goes to the caller if the caller still waits, else to the group.
    fn child_fails(slot: &Arc<StartSlot<u8>>) -> thread::JoinHandle<bool> {
        let slot = slot.clone();
        thread::spawn(move || slot.settle_with(|| State::Ended(Box::new("failed"))))
    }

    /// A caller that waits for the child: it is woken, and receives the
    /// outcome.
    #[test]
    fn loom_start_caller_waiting_is_woken_with_the_outcome() {
        loom::model(|| {
            let slot = Arc::new(StartSlot::<u8>::new());
            let child = {
                let slot = slot.clone();
                thread::spawn(move || assert!(slot.settle(State::Started(7))))
            };
            let caller = std::sync::Arc::new(Caller(Parker::new()));
            let waker = Waker::from(caller.clone());
            let value = loop {
                match slot.poll_outcome(Ok::<(), ()>(()), &waker) {
                    Polled::Started(value) => break value,
                    Polled::Pending => caller.0.park(),
                    _ => panic!("nothing else was settled"),
                }
            };
            assert_eq!(value, 7);
            child.join().unwrap();
        });
    }

    /// The caller's scope is cancelled as the child fails: the failure goes
    /// to exactly one of them (the caller takes it, or gave up first and
    /// the child's task hands it on).
    #[test]
    fn loom_start_caller_cancelled_as_the_child_fails_gets_it_or_hands_it_on() {
        loom::model(|| {
            let slot = Arc::new(StartSlot::<u8>::new());
            let child = child_fails(&slot);
            let caller_took = match slot.poll_outcome(Err(()), Waker::noop()) {
                Polled::Ended(_) => true,
                Polled::GaveUp(()) => false,
                _ => panic!("cancelled: the caller does not wait"),
            };
            let to_caller = child.join().unwrap();
            assert_eq!(caller_took, to_caller, "the failure is in one place");
        });
    }

    /// The caller's `start()` future is dropped as the child fails: the
    /// failure reaches the group exactly once, through the child's task
    /// (the caller had gone) or through the dropped future (the child had
    /// handed it to a caller who never took it).
    #[test]
    fn loom_start_future_dropped_as_the_child_fails_leaves_the_failure_to_the_group() {
        loom::model(|| {
            let slot = Arc::new(StartSlot::<u8>::new());
            let child = child_fails(&slot);
            let by_the_dropped_future = match slot.abandon() {
                Abandoned::Unclaimed(_) => true,
                Abandoned::Starting => false,
                Abandoned::Nothing(_) => panic!("the failure vanished"),
            };
            let by_the_child = !child.join().unwrap();
            assert!(
                by_the_dropped_future != by_the_child,
                "the group gets it exactly once"
            );
        });
    }
}
