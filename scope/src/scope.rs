//! `CancelScope`: the user's handle to a node of the scope tree.

use crate::cancelled::{CancelError, CancelReason, ScopeId, TimedOut};
use crate::driver::{self, NO_DEADLINE};
use crate::node::{Node, SHIELD};
use crate::scoped::{Outcome, Scoped, Start};
use crate::task_context;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A cancel scope: a region of code (a future run with [`run`](Self::run))
/// that can be cancelled as a unit, by [`cancel`](Self::cancel), by its
/// deadline, or by the cancellation of a scope around it.
///
/// Cancellation is *level-triggered* (DESIGN §2.2): once the scope is
/// cancelled, every checkpoint reached inside it — `sleep`, `yield_now`,
/// `checkpoint`, socket and channel operations, at any depth, in any task
/// whose scope chain passes through it — returns [`Cancelled`](crate::Cancelled), again and
/// again, until control leaves the scope. The body propagates it with `?`,
/// and the scope that was cancelled catches it at its exit.
///
/// `CancelScope` is a cheap `Clone + Send + Sync` handle: cancel it or move
/// its deadline from any task or thread, before the scope is entered
/// (pre-cancel), while inside, or after exit (no effect).
///
/// ```
/// use canopy_scope::{CancelScope, Cancelled};
/// use std::time::Duration;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let scope = CancelScope::new();
///     let remote = scope.clone();
///     canopy_runtime::spawn(async move {
///         let _ = canopy_timer::sleep(Duration::from_secs(1)).await;
///         remote.cancel();
///     });
///     let out = scope
///         .run(async {
///             canopy_timer::sleep(Duration::from_secs(3600)).await?;
///             Ok::<_, Cancelled>("slept")
///         })
///         .await?;
///     assert_eq!(out, None); // this scope caught its own cancellation
///     assert!(scope.cancelled_caught());
///     Ok::<_, Cancelled>(())
/// })
/// .unwrap();
/// ```
///
/// # Differences from Trio
///
/// - A scope is entered by wrapping a future (`scope.run(fut)`), never by a
///   manual enter/exit, so scopes always nest properly (AnyIO's "exit scopes
///   in LIFO order" rule cannot be broken).
/// - Code that never reaches a checkpoint is not interrupted: a cancelled
///   scope whose body completes without a checkpoint returns `Some(value)`.
///   (Trio behaves the same; Rust futures that are dropped are a different
///   thing, see [`cancellable`](crate::cancellable).)
/// - `fail_after` on an explicit `cancel()` exits quietly, as AnyIO does,
///   rather than raising `TooSlowError` as Trio does (trio#698).
#[derive(Clone)]
pub struct CancelScope {
    node: Arc<Node>,
    /// A deadline this long after entry (`with_relative_deadline`).
    relative: Option<Duration>,
}

impl Default for CancelScope {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelScope {
    /// A scope with no deadline and no shield.
    pub fn new() -> Self {
        CancelScope {
            node: Node::new(NO_DEADLINE, false),
            relative: None,
        }
    }

    /// Gives the scope a deadline `duration` after it is *entered* (its
    /// clock starts at the first poll of [`run`](Self::run), as
    /// `move_on_after`'s does; Trio's `relative_deadline`): for a scope
    /// made ahead of time and handed to the code that runs it, or kept to
    /// cancel or move later. Until entry, [`deadline`](Self::deadline) is
    /// what [`with_deadline`](Self::with_deadline) set, if anything; at
    /// entry the earlier of the two applies.
    ///
    /// ```
    /// use canopy_scope::{CancelScope, Cancelled};
    /// use std::time::Duration;
    ///
    /// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
    /// rt.block_on(async {
    ///     let scope = CancelScope::new().with_relative_deadline(Duration::from_secs(5));
    ///     canopy_timer::sleep(Duration::from_secs(60)).await?; // not started yet
    ///     let entered = canopy_timer::now();
    ///     let out = scope.run(canopy_timer::sleep(Duration::from_secs(3600))).await;
    ///     assert_eq!(out, Ok(None));
    ///     assert_eq!(canopy_timer::now() - entered, Duration::from_secs(5));
    ///     Ok::<(), Cancelled>(())
    /// })
    /// .unwrap();
    /// ```
    #[must_use]
    pub fn with_relative_deadline(mut self, duration: Duration) -> Self {
        self.relative = Some(duration);
        self
    }

    /// Gives the scope a deadline (on the runtime's clock): when it passes,
    /// the scope is cancelled with reason [`CancelReason::Deadline`]. A
    /// deadline already past when the scope is entered cancels it at entry.
    #[must_use]
    pub fn with_deadline(self, deadline: Instant) -> Self {
        self.node.set_deadline(Some(deadline));
        self
    }

    /// Shields the scope: cancellation of the scopes around it does not
    /// reach inside (its own `cancel()` and deadline still do).
    #[must_use]
    pub fn with_shield(self, shield: bool) -> Self {
        self.node.set_shield(shield);
        self
    }

    /// Runs `body` inside this scope.
    ///
    /// The result reads naturally with `?`:
    /// - `Ok(Some(v))`: the body completed with `Ok(v)` (even if the scope
    ///   was cancelled meanwhile but the body reached no checkpoint);
    /// - `Ok(None)`: the body ended with a cancellation that *this* scope
    ///   caught (it was the outermost cancelled scope visible to the body);
    /// - `Err(e)`: any other error, including a cancellation owed to an
    ///   outer scope, which goes on up to be caught there.
    ///
    /// The body's error type may be any `E: CancelError` (see
    /// [`CancelError`]): `Cancelled`, `io::Error`, boxed errors, yours.
    ///
    /// Entering the scope is not a checkpoint, nor is leaving it (as in Trio).
    ///
    /// # Panics
    ///
    /// When the returned future is first polled, if this scope was entered
    /// before (it is running elsewhere, or has exited): a scope is entered
    /// once.
    pub fn run<F, T, E>(&self, body: F) -> Run<F>
    where
        F: Future<Output = Result<T, E>>,
        E: CancelError,
    {
        Run {
            inner: Scoped::new(body, Some(self.node.clone()), self.start()),
        }
    }

    /// How entering this handle's scope sets its deadline.
    fn start(&self) -> Start {
        match self.relative {
            Some(duration) => Start::HandleAfter(duration),
            None => Start::Handle,
        }
    }

    /// Like [`run`](Self::run), but the expiry of this scope's *own*
    /// deadline is an error, `E::from(TimedOut)`; an explicit `cancel()`
    /// still ends in `Ok(None)` (like `move_on`, as AnyIO does).
    pub fn run_or_fail<F, T, E>(&self, body: F) -> RunOrFail<F>
    where
        F: Future<Output = Result<T, E>>,
        E: CancelError + From<TimedOut>,
    {
        RunOrFail {
            inner: Scoped::new(body, Some(self.node.clone()), self.start()),
        }
    }

    /// Cancels the scope: every checkpoint inside it returns `Cancelled`
    /// from now on, and tasks blocked inside are woken at once. Works from
    /// any thread; before entry it pre-cancels; after exit it does nothing
    /// but set [`cancel_called`](Self::cancel_called).
    pub fn cancel(&self) {
        self.node.cancel(CancelReason::Explicit);
        // Seen by this very poll's next checkpoint, as in Trio.
        task_context::mark_stale();
    }

    /// Cancels the scope with a given reason, for code that cancels on
    /// behalf of something else (task groups, shutdown, signal handlers).
    pub fn cancel_with(&self, reason: CancelReason) {
        self.node.cancel(reason);
        task_context::mark_stale();
    }

    /// Whether cancellation was requested of this scope: by `cancel()`, or
    /// by its deadline — true as soon as the deadline has passed on the
    /// runtime's clock (before the scope exited), even before its timer
    /// fired. Once true it stays true, even if the deadline is moved later
    /// (as in Trio): the passed deadline is recorded as a cancellation, and a
    /// scope entered after that runs its body cancelled. A deadline that
    /// passes after the scope exited does not make it true. Takes no lock.
    pub fn cancel_called(&self) -> bool {
        self.node.cancel_called()
    }

    /// Why the scope was cancelled, if it was.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.node.cancel_called().then(|| self.node.reason())
    }

    /// Whether this scope caught a cancellation when its body returned.
    pub fn cancelled_caught(&self) -> bool {
        self.node.caught()
    }

    /// Whether the scope's run has finished.
    pub fn has_exited(&self) -> bool {
        self.node.has_exited()
    }

    /// The scope's deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline()
    }

    /// Moves the deadline — later, earlier, into the past (cancels at once)
    /// — or removes it (`None`), from any thread. O(1): the armed timer is
    /// moved in place.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.node.set_deadline(deadline);
        task_context::mark_stale();
    }

    /// Whether the scope is shielded.
    pub fn shield(&self) -> bool {
        self.node.state() & SHIELD != 0
    }

    /// Raises or lowers the shield, from any thread. Lowering it under a
    /// cancelled scope wakes the tasks blocked below at once, and their
    /// checkpoints return `Cancelled`.
    pub fn set_shield(&self, shield: bool) {
        self.node.set_shield(shield);
        task_context::mark_stale();
    }

    /// This scope's id, as it appears in [`Cancelled::scope`](crate::Cancelled::scope).
    pub fn id(&self) -> ScopeId {
        self.node.id()
    }

    pub(crate) fn from_node(node: Arc<Node>) -> Self {
        CancelScope {
            node,
            relative: None,
        }
    }

    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// For runtimes: unlinks the tasks that finished under this scope from
    /// the scope tree (their nodes stay listed until then, so cancelling
    /// never races a task's exit). Task groups call this as children finish;
    /// it is O(tasks listed), safe from any thread, and does nothing if
    /// another thread is reaping. Exiting the scope frees them too.
    #[doc(hidden)]
    pub fn reap_finished_tasks(&self) {
        self.node.reap_exited();
    }

    /// Makes a scope whose deadline is `deadline` from now (on the runtime's
    /// clock). Used by the deadline-propagation helpers.
    pub(crate) fn with_timeout_from_now(timeout: std::time::Duration) -> Self {
        let scope = CancelScope::new();
        if let Some(deadline) = driver::now().checked_add(timeout) {
            scope.node.set_deadline(Some(deadline));
        }
        scope
    }
}

impl fmt::Debug for CancelScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelScope")
            .field("id", &self.id())
            .field("cancel_called", &self.cancel_called())
            .field("shield", &self.shield())
            .field("deadline", &self.deadline())
            .field("cancelled_caught", &self.cancelled_caught())
            .finish()
    }
}

pin_project! {
    /// The future of [`CancelScope::run`], [`move_on_after`](crate::move_on_after)
    /// and [`move_on_at`](crate::move_on_at): `Ok(Some(v))` when the body
    /// completed, `Ok(None)` when this scope caught a cancellation, `Err(e)`
    /// otherwise.
    #[must_use = "futures do nothing unless awaited"]
    pub struct Run<F> {
        #[pin]
        pub(crate) inner: Scoped<F>,
    }
}

impl<F, T, E> Future for Run<F>
where
    F: Future<Output = Result<T, E>>,
    E: CancelError,
{
    type Output = Result<Option<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll_outcome(cx)
            .map(|outcome| match outcome {
                Outcome::Completed(value) => Ok(Some(value)),
                Outcome::Caught(..) => Ok(None),
                Outcome::Failed(error) => Err(error),
            })
    }
}

pin_project! {
    /// The future of [`CancelScope::run_or_fail`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct RunOrFail<F> {
        #[pin]
        inner: Scoped<F>,
    }
}

impl<F, T, E> Future for RunOrFail<F>
where
    F: Future<Output = Result<T, E>>,
    E: CancelError + From<TimedOut>,
{
    type Output = Result<Option<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll_outcome(cx)
            .map(|outcome| match outcome {
                Outcome::Completed(value) => Ok(Some(value)),
                Outcome::Caught(CancelReason::Deadline, scope) => Err(TimedOut::new(scope).into()),
                Outcome::Caught(..) => Ok(None),
                Outcome::Failed(error) => Err(error),
            })
    }
}

impl<F> fmt::Debug for Run<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run").finish_non_exhaustive()
    }
}

impl<F> fmt::Debug for RunOrFail<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOrFail").finish_non_exhaustive()
    }
}
