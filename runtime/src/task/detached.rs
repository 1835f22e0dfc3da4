//! `spawn_detached`: root tasks nobody awaits, whose errors are reported
//! rather than dropped (DESIGN §2.10, "errors never pass silently").
//!
//! `spawn` is generic over any output, so a `JoinHandle` dropped unawaited
//! loses whatever the task returns, an `Err` included: the runtime cannot
//! tell an error from a `u64` in there. A task spawned with
//! [`spawn_detached`] returns `()` or a `Result` ([`DetachedOutput`]), and
//! the runtime looks at it when the task ends: an `Err` is a failure of the
//! root group, handled like the panic of a task whose handle was dropped —
//! counted, reported (the `on_unobserved_error` hook, or stderr), and under
//! [`RootFailure::CancelRoot`](crate::RootFailure) it cancels the root and
//! surfaces from `block_on`. The one `Err` that is no failure is the root's
//! own cancellation (a graceful shutdown, a signal, or the root cancelled by
//! an earlier failure): the root caught it, as a task group catches its own.
//!
//! The error is type-erased into a [`DetachedTaskError`] (with the spawn
//! location) only when there is one, so a task that ends well costs an `Arc`
//! clone at spawn and one match at the end more than with `spawn`.

use crate::handle;
use crate::shared::Shared;
use canopy_scope::{CancelError, Cancelled};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// What a task spawned with [`spawn_detached`] may return: `()`, or a
/// `Result<T, E>` whose `Err` the runtime reports (the `Ok` value is
/// dropped: nobody awaits it).
///
/// The error type needs [`CancelError`] (as task-group children's errors do),
/// so that the root's own cancellation, which the task propagated with `?`
/// during a shutdown, is recognised and not reported; `Display` and `Debug`
/// to be reported; `Send + 'static` as any task's output. `Cancelled`,
/// `io::Error`, `Box<dyn Error + Send + Sync>`, `JoinError`, `GroupError`
/// and `StartError` all qualify (`TimedOut` does not: convert it to an
/// `io::Error` with `?`).
///
/// The trait is sealed: it is implemented for exactly these two shapes. Any
/// other output does not compile; spawn such a task with `spawn` and await
/// its `JoinHandle`:
///
/// ```compile_fail
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.spawn_detached(async { 42u64 }); // a u64 cannot be checked for an error
/// ```
#[diagnostic::on_unimplemented(
    message = "a task spawned with `spawn_detached` must return `()` or a `Result` whose \
               error is `CancelError + Display + Debug + Send + 'static`, not `{Self}`",
    label = "this task's output cannot be checked for an error",
    note = "to get another kind of output back, use `canopy::spawn` and await its JoinHandle"
)]
pub trait DetachedOutput: Send + 'static + sealed::Sealed {}

impl DetachedOutput for () {}

impl<T, E> DetachedOutput for Result<T, E>
where
    T: Send + 'static,
    E: CancelError + fmt::Display + fmt::Debug + Send + 'static,
{
}

mod sealed {
    use super::ErasedError;

    /// The part of `DetachedOutput` users cannot see or implement.
    pub trait Sealed {
        /// The error to report, if the task failed.
        fn into_error(self) -> Option<Box<dyn ErasedError>>;
    }

    impl Sealed for () {
        fn into_error(self) -> Option<Box<dyn ErasedError>> {
            None
        }
    }

    impl<T, E> Sealed for Result<T, E>
    where
        E: canopy_scope::CancelError + std::fmt::Display + std::fmt::Debug + Send + 'static,
    {
        fn into_error(self) -> Option<Box<dyn ErasedError>> {
            self.err()
                .map(|error| Box::new(error) as Box<dyn ErasedError>)
        }
    }
}

/// A detached task's error with its type erased. `pub` only because the
/// sealed trait's method names it; this module is private and does not
/// re-export it, so users cannot name it.
pub trait ErasedError: fmt::Display + fmt::Debug + Send + 'static {
    /// `CancelError::as_cancelled` of the error.
    fn cancelled(&self) -> Option<&Cancelled>;
    /// The error, to downcast.
    fn as_any(&self) -> &dyn Any;
}

impl<E> ErasedError for E
where
    E: CancelError + fmt::Display + fmt::Debug + Send + 'static,
{
    fn cancelled(&self) -> Option<&Cancelled> {
        self.as_cancelled()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The error a task spawned with [`spawn_detached`] returned, as the runtime
/// reports it: given to the hook set with
/// [`Builder::on_unobserved_error`](crate::Builder::on_unobserved_error), or
/// written to stderr, and counted in
/// [`RuntimeMetrics::unobserved_errors`](crate::RuntimeMetrics::unobserved_errors).
///
/// It displays as "a detached task (spawned at `file:line:col`) returned an
/// error: `<the error>`"; [`downcast_ref`](Self::downcast_ref) gives back the
/// task's own error type.
pub struct DetachedTaskError {
    error: Box<dyn ErasedError>,
    location: &'static Location<'static>,
}

impl DetachedTaskError {
    /// Where the task was spawned (the `spawn_detached` call).
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// The task's error, if it is an `E`.
    ///
    /// ```
    /// use canopy_runtime::DetachedTaskError;
    /// use std::io;
    ///
    /// fn is_disk_full(error: &DetachedTaskError) -> bool {
    ///     error
    ///         .downcast_ref::<io::Error>()
    ///         .is_some_and(|e| e.kind() == io::ErrorKind::StorageFull)
    /// }
    /// ```
    pub fn downcast_ref<E: 'static>(&self) -> Option<&E> {
        self.error.as_any().downcast_ref()
    }
}

impl fmt::Display for DetachedTaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a detached task (spawned at {}) returned an error: {}",
            self.location, self.error
        )
    }
}

impl fmt::Debug for DetachedTaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetachedTaskError")
            .field("error", &self.error)
            .field("location", &format_args!("{}", self.location))
            .finish()
    }
}

impl std::error::Error for DetachedTaskError {}

impl CancelError for DetachedTaskError {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        self.error.cancelled()
    }
}

/// Spawns `future` into the runtime's root group with no `JoinHandle`, and
/// reports its error if it returns one — the way to run a task nobody
/// awaits without losing its failure (DESIGN §2.10).
///
/// The task returns `()` or a `Result` ([`DetachedOutput`]). When it ends:
///
/// - `Ok(_)` or `()`: nothing happens.
/// - `Err(error)`: a failure of the root group. It is counted in
///   [`RuntimeMetrics::unobserved_errors`](crate::RuntimeMetrics::unobserved_errors)
///   and reported, as a [`DetachedTaskError`], to the hook set with
///   [`Builder::on_unobserved_error`](crate::Builder::on_unobserved_error)
///   (by default one line on stderr). Under
///   [`RootFailure::CancelRoot`](crate::RootFailure::CancelRoot) it also
///   cancels the root group, so every task sees `Cancelled` with reason
///   `GroupFailed`, and the `block_on` call running then panics with the
///   error's message when its future returns.
/// - `Err` holding the root's own cancellation (the task propagated the
///   `Cancelled` of a graceful shutdown, a signal, or an earlier root
///   failure): no failure, nothing reported; the root caught it.
/// - A panic: as for a task whose `JoinHandle` was dropped (counted in
///   `unobserved_panics`, the `on_unobserved_panic` hook), and under
///   `CancelRoot` it fails the root the same way.
///
/// Why a function of its own rather than reporting errors from
/// [`spawn`](crate::spawn): `spawn` takes any output (a `u64`, a
/// `Vec`, ...) for its `JoinHandle` to return, and cannot look inside it;
/// a dropped `JoinHandle` drops an `Err` unseen. Spawning with
/// `spawn_detached` says at the call site that nobody will await the task,
/// and lets the runtime hold it to DESIGN's "errors never pass silently".
///
/// # Panics
///
/// Outside a runtime; use [`Handle::spawn_detached`](crate::Handle::spawn_detached)
/// from a thread of your own.
///
/// ```
/// use canopy_runtime::{Runtime, spawn_detached};
/// use std::sync::{Arc, Mutex};
///
/// let reports = Arc::new(Mutex::new(Vec::new()));
/// let sink = reports.clone();
/// let rt = Runtime::builder()
///     .workers(2)
///     .on_unobserved_error(move |error| sink.lock().unwrap().push(error.to_string()))
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     spawn_detached(async { Ok::<(), std::io::Error>(()) }); // nothing to report
///     spawn_detached(async {
///         Err::<(), _>(std::io::Error::other("the cache is unreachable"))
///     });
/// });
/// while reports.lock().unwrap().is_empty() {
///     std::thread::yield_now();
/// }
/// assert!(reports.lock().unwrap()[0].ends_with("returned an error: the cache is unreachable"));
/// assert_eq!(rt.metrics().unobserved_errors, 1);
/// ```
#[track_caller]
pub fn spawn_detached<F>(future: F)
where
    F: Future + Send + 'static,
    F::Output: DetachedOutput,
{
    let location = Location::caller();
    let shared = handle::current_shared_or_panic("canopy::spawn_detached");
    spawn_detached_on(&shared, future, location);
}

/// [`spawn_detached`] onto `shared`, from any thread.
pub(crate) fn spawn_detached_on<F>(
    shared: &Arc<Shared>,
    future: F,
    location: &'static Location<'static>,
) where
    F: Future + Send + 'static,
    F::Output: DetachedOutput,
{
    let task = Detached {
        future,
        shared: shared.clone(),
        location,
    };
    // Detach at once: a panic is then reported like any other whose handle
    // is gone, and so goes the root failure policy's way too.
    drop(handle::spawn_on(shared, task, location));
}

pin_project_lite::pin_project! {
    /// A detached task's future: reports its error when it ends.
    struct Detached<F> {
        #[pin]
        future: F,
        shared: Arc<Shared>,
        location: &'static Location<'static>,
    }
}

impl<F> Future for Detached<F>
where
    F: Future,
    F::Output: DetachedOutput,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let output = std::task::ready!(this.future.poll(cx));
        if let Some(error) = sealed::Sealed::into_error(output) {
            let caught_by_root = error
                .cancelled()
                .is_some_and(|cancelled| cancelled.scope() == this.shared.root_scope_id());
            if !caught_by_root {
                this.shared.report_unobserved_error(DetachedTaskError {
                    error,
                    location: this.location,
                });
            }
        }
        Poll::Ready(())
    }
}
