//! `JoinHandle`, `JoinError`, and the hand-off of a panic between a task and
//! its handle.
//!
//! # Dropping a `JoinHandle`
//!
//! Dropping the handle detaches the task: it keeps running to completion (as in
//! tokio; cancellation in canopy is done with cancel scopes, never by dropping
//! a handle). Its failure must not vanish with the handle, so a task that
//! panics with no handle left to receive the panic is reported: it is counted
//! in [`RuntimeMetrics::unobserved_panics`](crate::RuntimeMetrics) and a line
//! is written to stderr (the panic hook has already printed the message and
//! location).
//!
//! # The panic hand-off
//!
//! The payload of a panic is stored in the task's `JoinState`, then the task
//! sets `PANIC_STORED`; a handle being dropped sets `HANDLE_DROPPED`. Each
//! side sets its bit with one `fetch_or` and the side that comes *second*
//! (sees the other's bit) deals with the payload: the task reports it if the
//! handle is gone, the dropping handle reports it if the panic is already
//! stored. Exactly one of them sees the other's bit, so the payload is
//! reported once or handed to the handle, never both, never neither.

use crate::loom::atomic::{
    AtomicUsize,
    Ordering::{AcqRel, Acquire},
};
use crate::shared::{ContainedPanic, Shared};
use crate::task::{TaskMeta, TaskOutput};
use async_task::FallibleTask;
use canopy_scope::{CancelError, Cancelled};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// `JoinState` bit: the handle was dropped before taking the output.
const HANDLE_DROPPED: usize = 1;
/// `JoinState` bit: the task stored a panic payload.
const PANIC_STORED: usize = 2;
const FLAGS: usize = HANDLE_DROPPED | PANIC_STORED;

/// The task side and the handle side of the panic hand-off (module docs).
/// One word, so the task's metadata stays small: the address of a leaked
/// `Box<Payload>` (8-aligned, so its low bits are free) or 0, with the two
/// flags in its low bits.
#[derive(Debug)]
pub(crate) struct JoinState {
    word: AtomicUsize,
}

impl JoinState {
    pub(crate) fn new() -> Self {
        JoinState {
            word: AtomicUsize::new(0),
        }
    }

    pub(crate) fn take_panic(&self) -> Option<Payload> {
        // Acquire: pairs with the release of `publish_panic`, so the boxed
        // payload is fully written.
        let word = self.word.fetch_and(FLAGS, Acquire);
        // SAFETY: the `fetch_and` hands the address to this caller alone.
        unsafe { Self::payload_in(word) }
    }

    /// The payload whose address `word` holds, if any.
    ///
    /// # Safety
    ///
    /// `word` was read from `self.word` by a caller that now owns the
    /// payload (no one else can take it).
    // SAFETY (for callers): see `# Safety` above; both callers took the
    // word with an RMW that leaves them its only holder.
    #[inline]
    unsafe fn payload_in(word: usize) -> Option<Payload> {
        let addr = word & !FLAGS;
        if addr == 0 {
            return None;
        }
        // SAFETY: a non-zero address came from `Box::into_raw` in
        // `publish_panic` (its provenance exposed there), and the caller
        // owns it.
        Some(*unsafe { Box::from_raw(ptr::with_exposed_provenance_mut(addr)) })
    }

    /// The task panicked with `payload` (once per task). Returns it back if
    /// the handle is gone: the caller reports it as unobserved.
    #[must_use = "a returned payload was observed by nobody and must be reported"]
    pub(crate) fn publish_panic(&self, payload: Payload) -> Option<Payload> {
        let addr = Box::into_raw(Box::new(payload)).expose_provenance();
        debug_assert_eq!(addr & FLAGS, 0, "a Box<Payload> is 8-aligned");
        if self.word.fetch_or(addr | PANIC_STORED, AcqRel) & HANDLE_DROPPED != 0 {
            return self.take_panic();
        }
        None
    }

    /// The handle is being dropped before taking the output. Returns the
    /// task's panic if it is already stored: the caller reports it.
    #[must_use = "a returned payload was observed by nobody and must be reported"]
    #[inline]
    pub(crate) fn handle_dropped(&self) -> Option<Payload> {
        if self.word.fetch_or(HANDLE_DROPPED, AcqRel) & PANIC_STORED != 0 {
            return self.take_panic();
        }
        None
    }
}

impl Drop for JoinState {
    #[inline]
    fn drop(&mut self) {
        // `&mut self`: nobody else is left, so a load (not a read-modify-
        // write: this runs for every task) owns whatever it finds.
        let word = self.word.load(Acquire);
        // SAFETY: as said above.
        drop(unsafe { Self::payload_in(word) });
    }
}

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked or
/// was dropped unfinished at shutdown. A panic in the task's `Drop` counts as
/// the task's panic when its output was not delivered yet: a future that
/// panics as it is dropped right after returning (a select's losing branch
/// holding a guard, say), or one dropped unfinished at shutdown, gives
/// [`JoinError::is_panic`]. The process never aborts for it (DESIGN §4).
///
/// Awaiting it is a checkpoint (DESIGN §2.8):
///
/// - If the task has **finished**, the await returns its outcome (output or
///   panic) even when the awaiting code's scope is cancelled: an outcome
///   already decided stands (DESIGN §2.13), and the next checkpoint reports
///   the cancellation. Such a ready await spends one unit of the checkpoint
///   budget; when the budget is spent it yields once first, keeping the
///   output in the task.
/// - If the await **has to wait**, it is a cancel point: once the awaiting
///   code's scope is cancelled it returns a `JoinError` for which
///   [`JoinError::cancelled`] is `Some` — told apart from the task's own
///   outcome, which stays in the task (a task that was itself cancelled
///   returns its `Cancelled` through its output, as `Ok(Err(cancelled))`).
///   The handle may then be awaited again (`(&mut handle).await`) from
///   outside the cancelled scope.
///
/// Dropping the handle does **not** cancel the task: it keeps running, and if
/// it then panics the panic is reported (see [`RuntimeMetrics::unobserved_panics`]).
/// Its output is lost, though, an `Err` included: for a task nobody awaits,
/// use [`spawn_detached`](crate::spawn_detached), which reports its error
/// like an unobserved panic. To stop a task, cancel a scope it runs in.
///
/// [`RuntimeMetrics::unobserved_panics`]: crate::RuntimeMetrics::unobserved_panics
///
/// ```
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// let answer = rt.block_on(async {
///     let handle = canopy_runtime::spawn(async { 6 * 7 });
///     handle.await
/// });
/// assert_eq!(answer.unwrap(), 42);
/// ```
#[must_use = "dropping a JoinHandle detaches the task and loses its output, an Err \
              included; await it, or spawn with `spawn_detached` to have its errors reported"]
pub struct JoinHandle<T> {
    task: Option<FallibleTask<Result<TaskOutput<T>, ()>, TaskMeta>>,
    /// The task's metadata, which `FallibleTask` does not expose. Valid while
    /// `task` is `Some`: the task allocation outlives its `FallibleTask`.
    meta: NonNull<TaskMeta>,
    /// Where the task was spawned: reported by a `Cancelled` the await returns.
    location: &'static Location<'static>,
    /// The waker last registered with the task: the awaiter's, guarded (see
    /// `AwaiterWaker`). Kept to register it again without allocating while
    /// the awaiter's waker stays the same.
    awaiter: Option<Arc<AwaiterWaker>>,
}

// SAFETY: `meta` points into the task allocation, which `task` keeps alive, and
// is only used for shared access to `TaskMeta`, which is `Sync`. The rest of the
// handle is `Send`/`Sync` under the same bounds as async-task's `Task`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above; `&JoinHandle` gives access to nothing but `is_finished`.
unsafe impl<T> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(
        task: async_task::Task<Result<TaskOutput<T>, ()>, TaskMeta>,
        location: &'static Location<'static>,
    ) -> Self {
        let meta = NonNull::from(task.metadata());
        JoinHandle {
            task: Some(task.fallible()),
            meta,
            location,
            awaiter: None,
        }
    }

    fn meta(&self) -> &TaskMeta {
        // SAFETY: see the field's docs. Callers hold the `FallibleTask` (in
        // `self.task`, or taken out into a local in `drop`) while using it.
        unsafe { self.meta.as_ref() }
    }

    /// Returns `true` once the task has finished (completed, panicked, or been
    /// dropped by shutdown). Never blocks.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|task| task.is_finished())
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_join(cx, true)
    }
}

impl<T> JoinHandle<T> {
    /// The join. `cancellable`: a join that has to wait is a cancel point
    /// (always, for users; a blocking call that waits for its closure
    /// whatever happens is not).
    pub(crate) fn poll_join(
        &mut self,
        cx: &mut Context<'_>,
        cancellable: bool,
    ) -> Poll<Result<T, JoinError>> {
        let this = self;
        let task = this
            .task
            .as_mut()
            .expect("JoinHandle polled after it returned its output");
        // SAFETY: `task` is held (see the field's docs) for as long as this
        // reference is used: the output is taken before `task` is cleared.
        let meta = unsafe { this.meta.as_ref() };
        if task.is_finished() {
            // Decided: the outcome stands even if the awaiting scope is
            // cancelled (DESIGN §2.13); the next checkpoint reports that. A
            // ready join is still a schedule point once per budget, and it
            // yields *before* taking the output, which stays in the task.
            std::task::ready!(canopy_scope::poll_budget(cx));
        } else if !cancellable {
            // Waits whatever happens: no cancel point.
        } else if let Err(cancelled) =
            std::task::ready!(canopy_scope::poll_cancelled(cx, this.location))
        {
            // It would have to wait, so it is a cancel point (DESIGN §2.8),
            // unless the task finished since we looked: then the outcome
            // is decided after all and goes to the awaiter. (The check has
            // spent the budget unit either way.)
            if !task.is_finished() {
                return Poll::Ready(Err(JoinError::awaiter_cancelled(cancelled)));
            }
        }
        // Unfinished at the first look and not cancelled: this poll registers
        // the waker. (If the task finished in between the two looks, this
        // takes its output without spending budget: a rare race, and one
        // unspent unit cannot keep a task from yielding for long.)
        //
        // async-task wakes and drops the registered waker inside its
        // abort-on-panic guard, so the awaiter's waker goes in wrapped (see
        // `AwaiterWaker`). A finished task needs no waker: it is polled with
        // a no-op one first, and with the guarded one only if it turns out
        // to be still dropping its future (closed, not yet finished).
        let mut polled = Poll::Pending;
        if task.is_finished() {
            polled = Pin::new(&mut *task).poll(&mut Context::from_waker(Waker::noop()));
        }
        if polled.is_pending() {
            let waker = AwaiterWaker::guard(&mut this.awaiter, cx.waker(), &meta.shared);
            polled = Pin::new(&mut *task).poll(&mut Context::from_waker(&waker));
        }
        let result = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(output))) => Ok(output.into_inner()),
            Poll::Ready(Some(Err(()))) => {
                let payload = meta
                    .join
                    .take_panic()
                    .expect("a panicked task stores its payload before completing");
                Err(JoinError::panicked(payload))
            }
            // Dropped unfinished (a hard shutdown); if that drop panicked,
            // the panic took the place of the output.
            Poll::Ready(None) => match meta.join.take_panic() {
                Some(payload) => Err(JoinError::panicked(payload)),
                None => Err(JoinError::dropped()),
            },
        };
        // Finished: the panic (if any) is ours, so dropping must report nothing.
        this.task = None;
        Poll::Ready(result)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            let meta = self.meta();
            if let Some(payload) = meta.join.handle_dropped() {
                meta.shared.report_unobserved_panic(payload);
            }
            // Detaching a finished task drops its output here; a panic of
            // its `Drop` is reported to the task's runtime, whichever this
            // thread serves (see `TaskOutput`). (`needs_drop` is known at
            // compile time: outputs that cannot panic pay nothing.)
            let _report = std::mem::needs_drop::<T>()
                .then(|| crate::context::report_panics_to(meta.shared.clone()));
            task.detach();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// The waker a `JoinHandle` registers with its task in place of the
/// awaiter's own: it wakes and drops that waker under `catch_unwind`.
///
/// async-task wakes the registered waker when the task finishes (on the
/// worker that ran it), and drops it when it is replaced or the task freed,
/// each inside its abort-on-panic guard. The awaiter's waker is user code
/// when the handle is polled by a combinator or a hand-written future, so a
/// panic there would abort the process (DESIGN §4). Here it is reported as
/// unobserved instead: the task's own outcome is decided and stays in the
/// task for the handle, and the panic belongs to the awaiter's waker, not to
/// the task. The wrapper is allocated only when a join has to wait, and kept
/// while the awaiter's waker stays the same.
struct AwaiterWaker {
    inner: Waker,
    shared: Arc<Shared>,
}

impl AwaiterWaker {
    /// The guarded form of `waker`: the one in `slot` if it wraps an
    /// equivalent waker, else a new one (kept in `slot`).
    fn guard(slot: &mut Option<Arc<AwaiterWaker>>, waker: &Waker, shared: &Arc<Shared>) -> Waker {
        match slot {
            Some(guarded) if guarded.inner.will_wake(waker) => Waker::from(guarded.clone()),
            _ => {
                let guarded = Arc::new(AwaiterWaker {
                    inner: waker.clone(),
                    shared: shared.clone(),
                });
                // The old wrapper may be the last reference to a waker whose
                // drop panics: its own `Drop` contains that.
                *slot = Some(guarded.clone());
                Waker::from(guarded)
            }
        }
    }
}

impl Wake for AwaiterWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.inner.wake_by_ref())) {
            self.shared
                .report_contained_panic(ContainedPanic::Waker, payload);
        }
    }
}

impl Drop for AwaiterWaker {
    fn drop(&mut self) {
        let inner = std::mem::replace(&mut self.inner, Waker::noop().clone());
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(inner))) {
            self.shared
                .report_contained_panic(ContainedPanic::Waker, payload);
        }
    }
}

/// Why awaiting a task gave no output: it panicked, its future was dropped
/// unfinished by a hard shutdown, or the *awaiter* was cancelled while
/// waiting ([`cancelled`](Self::cancelled)).
///
/// A task's own cancellation is not a `JoinError`: in canopy cancellation is
/// a value, so a task in a cancelled scope returns its `Cancelled` through its
/// own output, and the handle gives `Ok(Err(cancelled))`. `JoinError`
/// implements [`CancelError`], so `handle.await?` inside a scope propagates
/// the awaiter's cancellation to the scope that catches it.
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    /// The payload sits in a `Mutex` only so that `JoinError` is `Sync` (and
    /// so fits `anyhow`-style error boxes); it is never locked concurrently.
    /// The message is copied out once, on this cold path.
    Panicked {
        payload: std::sync::Mutex<Payload>,
        message: Option<String>,
    },
    Dropped,
    Cancelled(Cancelled),
}

impl JoinError {
    pub(crate) fn panicked(payload: Payload) -> Self {
        let message = payload_message(payload.as_ref()).map(str::to_owned);
        JoinError {
            repr: Repr::Panicked {
                payload: std::sync::Mutex::new(payload),
                message,
            },
        }
    }

    pub(crate) fn dropped() -> Self {
        JoinError {
            repr: Repr::Dropped,
        }
    }

    fn awaiter_cancelled(cancelled: Cancelled) -> Self {
        JoinError {
            repr: Repr::Cancelled(cancelled),
        }
    }

    /// The task panicked: in its `poll`, or in its `Drop` before its output
    /// was delivered (see [`JoinHandle`]).
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panicked { .. })
    }

    /// The task's future was dropped before it finished because its runtime
    /// shut down.
    pub fn is_dropped(&self) -> bool {
        matches!(self.repr, Repr::Dropped)
    }

    /// The awaiting code's scope was cancelled while it waited; the task
    /// itself was not touched by this and may still be running.
    pub fn cancelled(&self) -> Option<&Cancelled> {
        match &self.repr {
            Repr::Cancelled(cancelled) => Some(cancelled),
            _ => None,
        }
    }

    /// The panic's message, when the payload is a string (as with `panic!`).
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panicked { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// Returns the panic payload, to resume it with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// If the task did not panic (check [`is_panic`](Self::is_panic), or
    /// use [`try_into_panic`](Self::try_into_panic)).
    ///
    /// ```
    /// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
    /// let error = rt.block_on(rt.spawn(async { panic!("boom") })).unwrap_err();
    /// let payload = error.into_panic();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(error) => panic!("JoinError::into_panic on an error that is no panic: {error}"),
        }
    }

    /// Returns the panic payload, to resume it with
    /// [`std::panic::resume_unwind`], or `self` if the task did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panicked { payload, .. } => {
                Ok(payload.into_inner().unwrap_or_else(|e| e.into_inner()))
            }
            _ => Err(self),
        }
    }
}

/// The message of a `panic!` payload (`&str` or `String`), if it is one.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panicked { .. } => match self.panic_message() {
                Some(msg) => write!(f, "task panicked: {msg}"),
                None => f.write_str("task panicked with a non-string payload"),
            },
            Repr::Dropped => f.write_str(
                "task was dropped before it finished because its runtime shut down; \
                 keep the runtime alive (or shut it down gracefully) until the task ends",
            ),
            Repr::Cancelled(cancelled) => write!(
                f,
                "stopped waiting for the task because the awaiting code was {cancelled}; \
                 the task itself keeps running"
            ),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panicked { .. } => f
                .debug_tuple("JoinError::Panicked")
                .field(&self.panic_message().unwrap_or("<non-string payload>"))
                .finish(),
            Repr::Dropped => f.write_str("JoinError::Dropped"),
            Repr::Cancelled(cancelled) => f
                .debug_tuple("JoinError::Cancelled")
                .field(cancelled)
                .finish(),
        }
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Cancelled(cancelled) => Some(cancelled),
            _ => None,
        }
    }
}

impl CancelError for JoinError {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        self.cancelled()
    }
}

impl From<JoinError> for std::io::Error {
    fn from(error: JoinError) -> Self {
        match error.repr {
            Repr::Cancelled(cancelled) => cancelled.into(),
            _ => std::io::Error::other(error),
        }
    }
}
