//! Blocking work: run synchronous code (file I/O, a C library, CPU-heavy
//! parsing, name resolution) on a pool of threads beside the workers, so it
//! does not stall the tasks a worker runs.
//!
//! - [`to_thread`] is the structured form (Trio's `to_thread.run_sync`):
//!   a checkpoint that runs the closure on a pool thread and waits for it.
//!   Called in a cancelled scope it returns `Cancelled` and runs nothing.
//!   Cancelled while the closure runs, it waits for the closure (by
//!   default: the closure's effects are never lost, and the cancellation
//!   is seen at the next checkpoint) or, with
//!   [`abandon_on_cancel`](ToThread::abandon_on_cancel), returns
//!   `Cancelled` at once and leaves the closure to finish alone.
//! - [`spawn`] starts the closure now and returns its [`JoinHandle`], with
//!   every rule of one (tokio's `spawn_blocking`).
//! - Inside the closure, [`is_cancelled`] (or [`check_cancelled`]) tells
//!   long synchronous work that the caller's scope was cancelled — live, a
//!   load or two per call — so it can stop early; and [`block_on`] runs
//!   async code back on the runtime (AnyIO's `from_thread.run`).
//!
//! A panic in the closure reaches the caller: `to_thread` resumes it in the
//! awaiting task, a `JoinHandle` returns it as a [`JoinError`](crate::JoinError).
//!
//! The pool grows on demand up to [`Builder::max_blocking_threads`]
//! (default 512) and a thread idle for [`Builder::blocking_keep_alive`]
//! (default 10 s) exits (`pool.rs`).
//!
//! ```
//! use canopy_runtime::{Runtime, blocking};
//!
//! let rt = Runtime::builder().workers(2).build().unwrap();
//! let sum = rt.block_on(async {
//!     blocking::to_thread(|| (1..=100u64).sum::<u64>()).await
//! });
//! assert_eq!(sum.unwrap(), 5050);
//! ```
//!
//! [`Builder::max_blocking_threads`]: crate::Builder::max_blocking_threads
//! [`Builder::blocking_keep_alive`]: crate::Builder::blocking_keep_alive

pub(crate) mod pool;
mod thread_waker;

use crate::handle::current_shared_or_panic;
use crate::task;
use crate::task::join::JoinHandle;
use canopy_scope::Cancelled;
use canopy_scope::rt::TaskScope;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `f` on the blocking pool, starting now, and returns its handle.
///
/// The closure runs under the innermost cancel scope of the calling code:
/// [`is_cancelled`] inside it follows that scope while it runs. Awaiting the
/// handle follows [`JoinHandle`]'s rules: the outcome of a finished closure
/// is returned even in a cancelled scope; a wait is a cancel point (the
/// closure then runs on, detached, and a panic of it is reported as
/// unobserved). Panics outside a runtime.
///
/// ```
/// use canopy_runtime::{Runtime, blocking};
///
/// let rt = Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let handle = blocking::spawn(|| std::fs::read_to_string("/definitely/missing"));
///     assert!(handle.await.unwrap().is_err());
/// });
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = current_shared_or_panic("canopy::blocking::spawn");
    let call = BlockingCall {
        scope: TaskScope::here(),
        f: Some(f),
    };
    task::spawn_blocking(&shared, call, Location::caller())
}

/// Runs `f` on the blocking pool and waits for its value: a checkpoint
/// (DESIGN §2.8). See the [module docs](self) for what cancellation does.
///
/// ```
/// use canopy_runtime::{Runtime, blocking};
/// use canopy_scope::CancelScope;
///
/// let rt = Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     // Called in a cancelled scope: the closure never runs.
///     let scope = CancelScope::new();
///     scope.cancel();
///     let ran = scope
///         .run(async { blocking::to_thread(|| unreachable!()).await })
///         .await;
///     assert_eq!(ran, Ok(None));
/// });
/// ```
#[track_caller]
pub fn to_thread<F, T>(f: F) -> ToThread<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    ToThread {
        state: State::Unstarted(Some(f)),
        abandon: false,
        location: Location::caller(),
    }
}

/// Whether the scope the running blocking closure was started in is
/// effectively cancelled (or the runtime is shutting down): for long
/// synchronous work to stop early. Live: a cancel from any thread is seen
/// by the next call. Elsewhere (in a task's poll) it reports the scope of
/// the code polled right now, as a cancel check does.
#[track_caller]
pub fn is_cancelled() -> bool {
    check_cancelled().is_err()
}

/// [`is_cancelled`] as a `Result`, for `?` in a closure that returns
/// `Result<_, Cancelled>`.
#[track_caller]
pub fn check_cancelled() -> Result<(), Cancelled> {
    canopy_scope::check_cancelled(Location::caller())
}

/// From inside a blocking closure: runs `future` as a task of the runtime
/// under the closure's scope (so it sees the caller's cancellation), and
/// blocks this thread until it finishes (AnyIO's `from_thread.run`). Its
/// panic is resumed here.
///
/// # Panics
///
/// Outside a closure running on a canopy blocking pool (on a worker it
/// would stall the worker), or if the runtime shut down and dropped the
/// task before it finished.
///
/// ```
/// use canopy_runtime::{Runtime, blocking};
///
/// let rt = Runtime::builder().workers(1).build().unwrap();
/// let doubled = rt.block_on(async {
///     blocking::to_thread(|| blocking::block_on(async { 21 * 2 })).await
/// });
/// assert_eq!(doubled.unwrap(), 42);
/// ```
#[track_caller]
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    assert!(
        thread_waker::on_pool_thread(),
        "canopy::blocking::block_on must be called from a closure running on the blocking \
         pool (blocking::spawn or blocking::to_thread); in async code, `.await` the future"
    );
    let shared = current_shared_or_panic("canopy::blocking::block_on");
    let task = ScopedTask {
        scope: TaskScope::here(),
        future,
    };
    let mut handle = crate::handle::spawn_on(&shared, task, Location::caller());
    // The task runs under the closure's scope; waiting for it is not a
    // cancel point (it sees the cancellation itself, and returns).
    match thread_waker::wait(|cx| handle.poll_join(cx, false)) {
        Ok(output) => output,
        Err(error) => match error.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(_) => panic!(
                "canopy::blocking::block_on: the runtime shut down and dropped the task \
                 before it finished"
            ),
        },
    }
}

/// The future of [`to_thread`].
#[must_use = "futures do nothing unless awaited: the closure runs only once awaited"]
pub struct ToThread<F, T> {
    state: State<F, T>,
    abandon: bool,
    location: &'static Location<'static>,
}

enum State<F, T> {
    Unstarted(Option<F>),
    Running(JoinHandle<T>),
    Done,
}

impl<F, T> ToThread<F, T> {
    /// On cancellation while the closure runs, return `Cancelled` at once
    /// and leave the closure to finish on its own (its value is dropped; a
    /// panic of it is reported as unobserved). The closure can notice with
    /// [`is_cancelled`]. Trio's `abandon_on_cancel=True`.
    pub fn abandon_on_cancel(mut self) -> Self {
        self.abandon = true;
        self
    }
}

impl<F, T> Unpin for ToThread<F, T> {}

impl<F, T> Future for ToThread<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = Result<T, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let State::Unstarted(f) = &mut this.state {
            // A checkpoint: in a cancelled scope nothing runs.
            if let Err(cancelled) =
                std::task::ready!(canopy_scope::poll_cancelled(cx, this.location))
            {
                this.state = State::Done;
                return Poll::Ready(Err(cancelled));
            }
            let shared = current_shared_or_panic("canopy::blocking::to_thread");
            let call = BlockingCall {
                scope: TaskScope::here(),
                f: f.take(),
            };
            this.state = State::Running(task::spawn_blocking(&shared, call, this.location));
        }
        let State::Running(handle) = &mut this.state else {
            panic!("a to_thread future was polled after it completed");
        };
        let joined = std::task::ready!(handle.poll_join(cx, this.abandon));
        this.state = State::Done;
        Poll::Ready(match joined {
            Ok(value) => Ok(value),
            Err(error) => {
                if let Some(cancelled) = error.cancelled() {
                    // Abandoned: the closure runs on, detached.
                    return Poll::Ready(Err(*cancelled));
                }
                match error.try_into_panic() {
                    Ok(payload) => std::panic::resume_unwind(payload),
                    Err(_) => panic!(
                        "canopy::blocking::to_thread: the runtime shut down and dropped the \
                         closure before it ran"
                    ),
                }
            }
        })
    }
}

impl<F, T> fmt::Debug for ToThread<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToThread")
            .field("abandon_on_cancel", &self.abandon)
            .finish_non_exhaustive()
    }
}

/// A blocking closure as a task's future: its one poll runs the closure,
/// under the scope it was started in.
struct BlockingCall<F> {
    /// `None`: started outside any scope.
    scope: Option<TaskScope>,
    f: Option<F>,
}

impl<F> Unpin for BlockingCall<F> {}

impl<F: FnOnce() -> T, T> Future for BlockingCall<F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = &mut *self;
        let mut run = RunOnce(this.f.take());
        let _on_pool = thread_waker::PoolThread::enter();
        match &this.scope {
            Some(scope) => scope.poll(Pin::new(&mut run), cx),
            None => Pin::new(&mut run).poll(cx),
        }
    }
}

/// A closure as a future that runs it in its first poll.
struct RunOnce<F>(Option<F>);

impl<F> Unpin for RunOnce<F> {}

impl<F: FnOnce() -> T, T> Future for RunOnce<F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<T> {
        let f = self.0.take().expect("a blocking closure runs once");
        Poll::Ready(f())
    }
}

pin_project_lite::pin_project! {
    /// A future run as a task under a given scope (`block_on`).
    struct ScopedTask<F> {
        scope: Option<TaskScope>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for ScopedTask<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        match this.scope {
            Some(scope) => scope.poll(this.future, cx),
            None => this.future.poll(cx),
        }
    }
}
