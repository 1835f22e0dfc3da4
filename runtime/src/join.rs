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

use crate::shared::Shared;
use crate::task::TaskMeta;
use async_task::FallibleTask;
use canopy_scope::{CancelError, Cancelled};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{
    AtomicPtr, AtomicU8,
    Ordering::{AcqRel, Acquire, Release},
};
use std::task::{Context, Poll};

type Payload = Box<dyn Any + Send + 'static>;

const HANDLE_DROPPED: u8 = 1;
const PANIC_STORED: u8 = 2;

/// The task side and the handle side of the panic hand-off (module docs).
#[derive(Debug)]
pub(crate) struct JoinState {
    flags: AtomicU8,
    /// A leaked `Box<Payload>`, or null.
    panic: AtomicPtr<Payload>,
}

impl JoinState {
    pub(crate) fn new() -> Self {
        JoinState {
            flags: AtomicU8::new(0),
            panic: AtomicPtr::new(ptr::null_mut()),
        }
    }

    fn take_panic(&self) -> Option<Payload> {
        let raw = self.panic.swap(ptr::null_mut(), Acquire);
        // SAFETY: a non-null pointer came from `Box::into_raw` in
        // `publish_panic`, and the swap gives it to exactly one caller.
        (!raw.is_null()).then(|| *unsafe { Box::from_raw(raw) })
    }

    /// The task panicked with `payload`.
    pub(crate) fn publish_panic(&self, payload: Payload, shared: &Shared) {
        self.panic.store(Box::into_raw(Box::new(payload)), Release);
        if self.flags.fetch_or(PANIC_STORED, AcqRel) & HANDLE_DROPPED != 0 {
            if let Some(payload) = self.take_panic() {
                shared.report_unobserved_panic(payload);
            }
        }
    }

    /// The handle is being dropped before taking the output.
    fn handle_dropped(&self, shared: &Shared) {
        if self.flags.fetch_or(HANDLE_DROPPED, AcqRel) & PANIC_STORED != 0 {
            if let Some(payload) = self.take_panic() {
                shared.report_unobserved_panic(payload);
            }
        }
    }
}

impl Drop for JoinState {
    fn drop(&mut self) {
        drop(self.take_panic());
    }
}

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked or
/// was dropped unfinished at shutdown.
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
    task: Option<FallibleTask<Result<T, ()>, TaskMeta>>,
    /// The task's metadata, which `FallibleTask` does not expose. Valid while
    /// `task` is `Some`: the task allocation outlives its `FallibleTask`.
    meta: NonNull<TaskMeta>,
    /// Where the task was spawned: reported by a `Cancelled` the await returns.
    location: &'static Location<'static>,
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
        task: async_task::Task<Result<T, ()>, TaskMeta>,
        location: &'static Location<'static>,
    ) -> Self {
        let meta = NonNull::from(task.metadata());
        JoinHandle {
            task: Some(task.fallible()),
            meta,
            location,
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

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let location = self.location;
        let task = self
            .task
            .as_mut()
            .expect("JoinHandle polled after it returned its output");
        if task.is_finished() {
            // Decided: the outcome stands even if the awaiting scope is
            // cancelled (DESIGN §2.13); the next checkpoint reports that. A
            // ready join is still a schedule point once per budget, and it
            // yields *before* taking the output, which stays in the task.
            std::task::ready!(canopy_scope::poll_budget(cx));
        } else if let Err(cancelled) = std::task::ready!(canopy_scope::poll_cancelled(cx, location))
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
        let result = match Pin::new(task).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(output))) => Ok(output),
            Poll::Ready(Some(Err(()))) => {
                let payload = self
                    .meta()
                    .join
                    .take_panic()
                    .expect("a panicked task stores its payload before completing");
                Err(JoinError::panicked(payload))
            }
            Poll::Ready(None) => Err(JoinError::dropped()),
        };
        // Finished: the panic (if any) is ours, so dropping must report nothing.
        self.task = None;
        Poll::Ready(result)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            let meta = self.meta();
            meta.join.handle_dropped(&meta.shared);
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

    fn dropped() -> Self {
        JoinError {
            repr: Repr::Dropped,
        }
    }

    fn awaiter_cancelled(cancelled: Cancelled) -> Self {
        JoinError {
            repr: Repr::Cancelled(cancelled),
        }
    }

    /// The task panicked.
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
