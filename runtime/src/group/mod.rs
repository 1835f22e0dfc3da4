//! Task groups (nurseries, DESIGN §2.9): a scope whose children run in
//! parallel on the pool, which waits for all of them, cancels the rest on the
//! first failure, and returns every failure.
//!
//! # Protocol
//!
//! `count` holds the number of live members (children not yet finished, plus
//! one for the body), the finished ones not yet reaped, and a `CLOSED` bit. A
//! spawn increments it unless it is closed; a member that finishes
//! decrements it (one `fetch_add`, counting itself unreaped at once); the
//! group closes with a CAS from "no live member" to `CLOSED`, so a spawn either lands before the close (and
//! is waited for) or sees `CLOSED` (and is refused). The group's waker is
//! only touched when the count reaches 0 or finished children pile up to be
//! reaped from the scope tree, so a child's exit normally costs one atomic
//! decrement.

pub(crate) mod start;

use crate::handle;
use crate::loom::Mutex;
use crate::loom::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use crate::task::join::JoinError;
use canopy_scope::rt::TaskScope;
use canopy_scope::{CancelError, CancelReason, CancelScope, Cancelled, ScopeId};
use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// `GroupShared::count` packs the live members (low 32 bits), the finished
/// children not yet reaped from the scope tree (bits 32..63) and `CLOSED`, so
/// a member leaving is one atomic add.
const CLOSED: u64 = 1 << 63;
const LIVE: u64 = (1 << 32) - 1;
const UNREAPED_ONE: u64 = 1 << 32;
const UNREAPED: u64 = !CLOSED & !LIVE;

/// Reap finished children from the scope tree once this many (or as many as
/// are still alive, whichever is more) have piled up: amortized O(1) each.
const REAP_BATCH: usize = 64;

/// Opens a task group around `body`, which receives a [`TaskGroup`] handle to
/// spawn children with. Returns once the body and every child have finished:
/// `Ok(())`, or a [`GroupError`] listing *every* failure (errors and panics,
/// of the body and of the children).
///
/// - The group owns a cancel scope nested in the scope it was opened in:
///   cancelling an outer scope cancels every child, on every worker.
/// - The first failure cancels the group's scope (reason
///   [`CancelReason::GroupFailed`]), so the others see `Cancelled` at their
///   next checkpoint. Cancellations the group's own scope caught are not
///   failures; a cancellation of an outer scope goes through (the
///   `GroupError` then carries it, and `?` hands it on to be caught there).
///
/// ```
/// use canopy_runtime::task_group;
///
/// type BoxError = Box<dyn std::error::Error + Send + Sync>;
///
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let result = task_group(|tg| async move {
///         for i in 0..10u32 {
///             tg.spawn(async move {
///                 canopy_runtime::yield_now().await?; // cancelled once child 7 fails
///                 if i == 7 { Err(BoxError::from(format!("child {i} failed"))) } else { Ok(()) }
///             });
///         }
///         Ok::<(), BoxError>(())
///     })
///     .await;
///     let error = result.unwrap_err();
///     assert_eq!(error.failures().len(), 1);
///     assert!(error.to_string().contains("child 7 failed"));
/// });
/// ```
pub async fn task_group<E, F, Fut>(body: F) -> Result<(), GroupError<E>>
where
    E: CancelError + Send + 'static,
    F: FnOnce(TaskGroup<E>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let shared = Arc::new(GroupShared::new());
    let group = TaskGroup {
        shared: shared.clone(),
    };
    // Dropped before it finished (a select that went the other way, a
    // cancelled `cancellable`, a hard shutdown): the children must not run
    // on unsupervised, so they are cancelled.
    let _abandon = AbandonGuard(&shared.scope, &shared.count, &shared.abandoned);
    let scope = shared.scope.clone();
    let ran = scope
        .run(async {
            let body = AssertUnwindSafe(body(group)).catch_unwind_();
            match body.await {
                Ok(result) => shared.finish_member(result.into_result(), None),
                Err(payload) => shared.fail(Failure::Panic(JoinError::panicked(payload))),
            }
            shared.body_done.store(true, SeqCst);
            shared.leave();
            poll_fn(|cx| shared.poll_all_done(cx)).await;
            // The group's own cancellation (its `cancel()`, a failing
            // member, its deadline) ends here: the group's scope catches it
            // and reports `cancelled_caught()`, as a Trio nursery's does.
            // An outer one goes on to the scope that owns it.
            match canopy_scope::check_cancelled(Location::caller()) {
                Err(cancelled) if cancelled.scope() == shared.scope.id() => Err(cancelled),
                _ => Ok(()),
            }
        })
        .await;
    debug_assert!(
        matches!(ran, Ok(Some(()) | None)),
        "the group's body fails only with its own cancellation"
    );
    // Leaving the group is a schedule point.
    canopy_scope::cancel_shielded_checkpoint().await;
    let outcome = std::mem::take(&mut *shared.outcome.lock().unwrap_or_else(|e| e.into_inner()));
    if outcome.failures.is_empty() && outcome.passing.is_none() {
        Ok(())
    } else {
        Err(GroupError {
            failures: outcome.failures,
            cancelled: outcome.passing,
        })
    }
}

/// Cancels the group's scope if the group future is dropped before the
/// group closed.
struct AbandonGuard<'a>(&'a CancelScope, &'a AtomicU64, &'a AtomicBool);

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        // Closed from now on: a handle kept elsewhere can spawn no more
        // children into a group nobody waits for.
        if self.1.fetch_or(CLOSED, SeqCst) & CLOSED == 0 {
            self.2.store(true, SeqCst);
            self.0.cancel_with(CancelReason::Explicit);
        }
    }
}

/// A handle to a task group, given to its body; clone it to let children
/// spawn siblings.
pub struct TaskGroup<E> {
    shared: Arc<GroupShared<E>>,
}

impl<E> Clone for TaskGroup<E> {
    fn clone(&self) -> Self {
        TaskGroup {
            shared: self.shared.clone(),
        }
    }
}

impl<E: CancelError + Send + 'static> TaskGroup<E> {
    /// Spawns `child` into the group, onto the work-stealing pool. It runs
    /// in the group's scope: it sees the group's (and outer scopes')
    /// cancellation at its checkpoints. Spawning into a cancelled group is
    /// allowed: the child runs and is cancelled at its first checkpoint.
    ///
    /// # Panics
    ///
    /// If the group has already closed (its body and all children finished);
    /// see [`try_spawn`](Self::try_spawn).
    #[track_caller]
    pub fn spawn<F>(&self, child: F)
    where
        F: Future + Send + 'static,
        F::Output: ChildOutput<E>,
    {
        if self.try_spawn(child).is_err() {
            panic!("{}", GroupClosed(()));
        }
    }

    /// Like [`spawn`](Self::spawn), but returns an error instead of
    /// panicking when the group has closed.
    #[track_caller]
    pub fn try_spawn<F>(&self, child: F) -> Result<(), GroupClosed>
    where
        F: Future + Send + 'static,
        F::Output: ChildOutput<E>,
    {
        self.spawn_member(child, None, Location::caller())
    }

    /// Spawns a member: under the group's scope, or (`starting`) under the
    /// caller's innermost scope until the child has started, then under the
    /// group's (Trio's `nursery.start`).
    pub(crate) fn spawn_member<F>(
        &self,
        child: F,
        starting: Option<Arc<StartMove>>,
        location: &'static Location<'static>,
    ) -> Result<(), GroupClosed>
    where
        F: Future + Send + 'static,
        F::Output: ChildOutput<E>,
    {
        let count = self.shared.join()?;
        // A body that spawns in a loop and never waits for the group (an
        // accept loop) must not pile up finished children: reap them here
        // once they are as many as the live ones (amortized O(1) each).
        self.shared.reap_if_piled_up(count);
        let scope = match &starting {
            Some(moving) => {
                let scope = TaskScope::starting(&self.shared.scope);
                let _ = moving.switch.set(scope.started_switch());
                scope
            }
            None => TaskScope::new(&self.shared.scope),
        };
        let member = Member {
            scope,
            starting,
            future: child,
            group: MemberGuard(self.shared.clone()),
        };
        drop(handle::spawn_at(member, location));
        Ok(())
    }

    /// How many children are running (spawned and not finished), the body
    /// not counted: a snapshot, for limits and metrics (an accept loop that
    /// stops accepting above some number of connections).
    ///
    /// ```
    /// use canopy_runtime::task_group;
    /// use canopy_scope::Cancelled;
    ///
    /// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
    /// rt.block_on(task_group(|tg| async move {
    ///     assert_eq!(tg.live_children(), 0);
    ///     let (tx, rx) = std::sync::mpsc::channel::<()>();
    ///     tg.spawn(async move { rx.recv().ok(); });
    ///     assert_eq!(tg.live_children(), 1);
    ///     drop(tx);
    ///     Ok::<(), Cancelled>(())
    /// }))
    /// .unwrap();
    /// ```
    pub fn live_children(&self) -> usize {
        let live = self.shared.count.load(SeqCst) & LIVE;
        let body = u64::from(!self.shared.body_done.load(SeqCst));
        live.saturating_sub(body) as usize
    }

    /// Whether the group has closed (its body and every child finished):
    /// spawning into it is refused from then on.
    pub fn is_closed(&self) -> bool {
        self.shared.count.load(SeqCst) & CLOSED != 0
    }

    /// The group's cancel scope: cancel it to stop every child (the group
    /// then returns `Ok(())`, as its own scope caught the cancellation).
    pub fn cancel_scope(&self) -> CancelScope {
        self.shared.scope.clone()
    }
}

impl<E> fmt::Debug for TaskGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("scope", &self.shared.scope.id())
            .field("live", &(self.shared.count.load(SeqCst) & LIVE))
            .finish()
    }
}

/// What a group child (or body) may return: `()` or `Result<(), E>`.
pub trait ChildOutput<E> {
    /// As a `Result`.
    fn into_result(self) -> Result<(), E>;
}

impl<E> ChildOutput<E> for () {
    fn into_result(self) -> Result<(), E> {
        Ok(())
    }
}

impl<E> ChildOutput<E> for Result<(), E> {
    fn into_result(self) -> Result<(), E> {
        self
    }
}

/// The error of [`TaskGroup::try_spawn`] and [`TaskGroup::try_start`] on a
/// closed group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupClosed(());

impl GroupClosed {
    pub(crate) fn new() -> Self {
        GroupClosed(())
    }
}

impl fmt::Display for GroupClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "spawned into a task group that has closed (its body and every child \
             finished); spawn while the group is running, or open a new group",
        )
    }
}

impl std::error::Error for GroupClosed {}

/// One failure in a task group.
#[derive(Debug)]
pub enum Failure<E> {
    /// A member returned this error.
    Error(E),
    /// A member panicked; the `JoinError` holds the payload.
    Panic(JoinError),
}

/// Every failure of a task group (never just the first), and the outer
/// cancellation that went through it, if any.
pub struct GroupError<E> {
    failures: Vec<Failure<E>>,
    cancelled: Option<Cancelled>,
}

impl<E> GroupError<E> {
    /// The errors and panics, in the order they happened.
    pub fn failures(&self) -> &[Failure<E>] {
        &self.failures
    }

    /// The failures, by value.
    pub fn into_failures(self) -> Vec<Failure<E>> {
        self.failures
    }

    /// The single error, when exactly one member failed with an error (the
    /// common case); otherwise the whole `GroupError` back.
    pub fn into_single_error(mut self) -> Result<E, Self> {
        if self.failures.len() == 1 && matches!(self.failures[0], Failure::Error(_)) {
            match self.failures.pop() {
                Some(Failure::Error(error)) => Ok(error),
                _ => unreachable!(),
            }
        } else {
            Err(self)
        }
    }

    /// The cancellation of an outer scope that ended the group, which the
    /// group passes on (to be caught by that scope).
    pub fn cancelled(&self) -> Option<&Cancelled> {
        self.cancelled.as_ref()
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failures.is_empty() {
            if let Some(cancelled) = &self.cancelled {
                return write!(f, "task group {cancelled}");
            }
        }
        write!(f, "task group failed ({} failures)", self.failures.len())?;
        for (n, failure) in self.failures.iter().enumerate() {
            match failure {
                Failure::Error(error) => write!(f, "; [{}] error: {error}", n + 1)?,
                Failure::Panic(panic) => write!(f, "; [{}] {panic}", n + 1)?,
            }
        }
        Ok(())
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupError")
            .field("failures", &self.failures)
            .field("cancelled", &self.cancelled)
            .finish()
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GroupError<E> {}

impl<E> CancelError for GroupError<E> {
    /// A group that ended only because an outer scope was cancelled is a
    /// cancellation (so `?` takes it to that scope); one with failures is not.
    fn as_cancelled(&self) -> Option<&Cancelled> {
        if self.failures.is_empty() {
            self.cancelled.as_ref()
        } else {
            None
        }
    }
}

struct GroupShared<E> {
    scope: CancelScope,
    /// Live members, plus `CLOSED` (module docs).
    count: AtomicU64,
    waiter: Mutex<Option<Waker>>,
    outcome: Mutex<Outcome<E>>,
    /// The group's future was dropped before it finished: nobody will read
    /// `outcome`, so a member's panic is reported as unobserved instead.
    abandoned: AtomicBool,
    /// The body has returned (it is no longer one of the live members).
    body_done: AtomicBool,
}

struct Outcome<E> {
    failures: Vec<Failure<E>>,
    /// The first cancellation of an outer scope a member returned.
    passing: Option<Cancelled>,
}

impl<E> Default for Outcome<E> {
    fn default() -> Self {
        Outcome {
            failures: Vec::new(),
            passing: None,
        }
    }
}

impl<E: CancelError> GroupShared<E> {
    /// Records how a member ended. `own_root` is a child's root scope.
    fn finish_member(&self, result: Result<(), E>, own_root: Option<ScopeId>) {
        let Err(error) = result else { return };
        match error.as_cancelled() {
            Some(cancelled) => {
                let caught_here =
                    cancelled.scope() == self.scope.id() || Some(cancelled.scope()) == own_root;
                if !caught_here {
                    let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
                    outcome.passing.get_or_insert(*cancelled);
                }
            }
            None => self.fail(Failure::Error(error)),
        }
    }

    fn fail(&self, failure: Failure<E>) {
        self.outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failures
            .push(failure);
        self.scope.cancel_with(CancelReason::GroupFailed);
    }
}

impl<E> GroupShared<E> {
    /// A group with its body as its one member.
    fn new() -> Self {
        GroupShared {
            scope: CancelScope::new(),
            count: AtomicU64::new(1), // the body
            waiter: Mutex::new(None),
            outcome: Mutex::new(Outcome::default()),
            abandoned: AtomicBool::new(false),
            body_done: AtomicBool::new(false),
        }
    }

    /// A member joins (a child is spawned): refused once the group closed.
    /// Returns the count with it.
    fn join(&self) -> Result<u64, GroupClosed> {
        let mut count = self.count.load(SeqCst);
        loop {
            if count & CLOSED != 0 {
                return Err(GroupClosed(()));
            }
            match self
                .count
                .compare_exchange_weak(count, count + 1, SeqCst, SeqCst)
            {
                Ok(_) => return Ok(count + 1),
                Err(actual) => count = actual,
            }
        }
    }

    /// A member is gone (finished, or dropped by a hard shutdown).
    fn leave(&self) {
        // live - 1 and unreaped + 1 at once (live >= 1, so no borrow).
        let before = self.count.fetch_add(UNREAPED_ONE - 1, SeqCst);
        let left = (before & LIVE) - 1;
        let unreaped = ((before & UNREAPED) >> 32) + 1;
        if left == 0 || unreaped >= (REAP_BATCH as u64).max(left) {
            if let Some(waker) = self.waiter.lock().unwrap_or_else(|e| e.into_inner()).take() {
                waker.wake();
            }
        }
    }

    fn poll_all_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        *self.waiter.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        let mut count = self.count.load(SeqCst);
        while count & LIVE == 0 {
            match self.count.compare_exchange(count, CLOSED, SeqCst, SeqCst) {
                Ok(_) => return Poll::Ready(()),
                Err(actual) => count = actual,
            }
        }
        self.reap_if_piled_up(count);
        Poll::Pending
    }

    /// Reaps the finished children from the scope tree if they pile up
    /// (`count` is a recent value of `self.count`): one pass over the list
    /// once the unreaped are at least as many as the live (and a batch), so
    /// the list holds at most about twice the live children and each
    /// child's reaping costs O(1) amortized. Any thread; a reap already
    /// under way elsewhere makes this one a no-op.
    fn reap_if_piled_up(&self, count: u64) {
        let unreaped = (count & UNREAPED) >> 32;
        if unreaped >= (REAP_BATCH as u64).max(count & LIVE) {
            self.count.fetch_sub(unreaped << 32, SeqCst);
            self.scope.reap_finished_tasks();
        }
    }
}

/// The hand-over of a child being started: set when it called `started`,
/// or when its caller stopped waiting without being cancelled. The child
/// sees its group's scope from its very next check (the switch), and its
/// task retires its side of the caller's scope at the end of that poll
/// (woken for it).
#[derive(Default)]
pub(crate) struct StartMove {
    pub(crate) moved: AtomicBool,
    child: Mutex<Option<Waker>>,
    /// Set once the child's root scope exists (`spawn_member`).
    switch: std::sync::OnceLock<canopy_scope::rt::StartedSwitch>,
}

impl StartMove {
    /// Moves the child into the group: at once for its checks (as in Trio,
    /// where `started` moves the task into the nursery before it goes on),
    /// and wakes its task to finish the move.
    pub(crate) fn move_now(&self) {
        if let Some(switch) = self.switch.get() {
            switch.switch();
        }
        self.moved.store(true, SeqCst);
        let waker = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The child's task, to be woken by `move_now`.
    fn remember(&self, waker: &Waker) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if !child.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *child = Some(waker.clone());
        }
        drop(child);
        // A move that came in before we stored the waker: act on it now.
        if self.moved.load(SeqCst) {
            waker.wake_by_ref();
        }
    }
}

/// Counts a child out of its group when it is dropped: after it finished,
/// or unfinished at a hard shutdown.
struct MemberGuard<E>(Arc<GroupShared<E>>);

impl<E> Drop for MemberGuard<E> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

pin_project_lite::pin_project! {
    /// A child task: its future inside its root scope, with panics caught
    /// and its outcome reported to the group.
    struct Member<F, E> {
        scope: TaskScope,
        // Set while the child is being started: it runs under its caller's
        // scope until it has called `started` (or its caller stopped
        // waiting).
        starting: Option<Arc<StartMove>>,
        #[pin]
        future: F,
        group: MemberGuard<E>,
    }
}

impl<F, E> Future for Member<F, E>
where
    F: Future,
    F::Output: ChildOutput<E>,
    E: CancelError,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let polled = catch_unwind(AssertUnwindSafe(|| this.scope.poll(this.future, cx)));
        let group = &this.group.0;
        match polled {
            Ok(Poll::Pending) => {
                if let Some(starting) = this.starting.as_ref() {
                    if starting.moved.load(SeqCst) {
                        // Started: from now on it is the group's.
                        this.scope.finish_starting();
                        *this.starting = None;
                        // Polled again at once, so it sees the group's state.
                        cx.waker().wake_by_ref();
                    } else {
                        starting.remember(cx.waker());
                    }
                }
                Poll::Pending
            }
            Ok(Poll::Ready(output)) => {
                let root = this.scope.id();
                group.finish_member(output.into_result(), Some(root));
                Poll::Ready(())
            }
            Err(payload) => {
                if group.abandoned.load(SeqCst) {
                    // Nobody waits for the group: report it, never drop it.
                    match crate::context::current_shared() {
                        Some(shared) => shared.report_unobserved_panic(payload),
                        None => drop(payload),
                    }
                } else {
                    group.fail(Failure::Panic(JoinError::panicked(payload)));
                }
                Poll::Ready(())
            }
        }
    }
}

/// `catch_unwind` for a future, polled in place.
trait CatchUnwind: Future + Sized {
    fn catch_unwind_(self) -> CatchUnwindFuture<Self> {
        CatchUnwindFuture { future: self }
    }
}

impl<F: Future> CatchUnwind for AssertUnwindSafe<F> {}

pin_project_lite::pin_project! {
    struct CatchUnwindFuture<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for CatchUnwindFuture<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::{CLOSED, GroupShared, LIVE};
    use canopy_scope::Cancelled;
    use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use loom::thread;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// The group's count/closed/waiter protocol: a child leaving races the
    /// body waiting for the members, and a late spawn races the close. The
    /// body is woken when the last member leaves (no lost wake-up); a spawn
    /// is either refused (closed) or counted before the group closes, never
    /// accepted into a closed group.
    #[test]
    fn loom_group_close_racing_a_leaving_child_and_a_late_spawn() {
        loom::model(|| {
            let group = Arc::new(GroupShared::<Cancelled>::new());
            group.join().unwrap(); // a child
            let child = {
                let group = group.clone();
                thread::spawn(move || group.leave())
            };
            let late = {
                let group = group.clone();
                thread::spawn(move || match group.join() {
                    Ok(_) => {
                        group.leave(); // it runs, then finishes
                        true
                    }
                    Err(_) => false,
                })
            };
            group.leave(); // the body is done
            let woken = Arc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(woken.clone());
            let mut cx = Context::from_waker(&waker);
            let mut wakes_seen = 0;
            loop {
                if group.poll_all_done(&mut cx).is_ready() {
                    break;
                }
                // Pending: a member is still live, and its leaving will wake
                // us; wait for that wake (loom explores who runs meanwhile).
                while woken.0.load(SeqCst) == wakes_seen {
                    thread::yield_now();
                }
                wakes_seen = woken.0.load(SeqCst);
            }
            child.join().unwrap();
            let accepted = late.join().unwrap();
            let count = group.count.load(SeqCst);
            assert_ne!(count & CLOSED, 0, "closed once done");
            assert_eq!(count & LIVE, 0, "no member live in a closed group");
            // A late spawn after the close was refused.
            assert!(group.join().is_err());
            let _ = accepted;
        });
    }
}
