//! `Handle`: a cloneable reference to a runtime, usable from any thread.

use crate::block_on::block_on;
use crate::context;
use crate::metrics::RuntimeMetrics;
use crate::shared::Shared;
use crate::task;
use crate::task::detached::{self, DetachedOutput};
use crate::task::join::JoinHandle;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

/// A cloneable, `Send + Sync` reference to a [`Runtime`](crate::Runtime), to
/// spawn tasks and `block_on` from any thread, inside the runtime or not.
///
/// A handle does not keep the runtime running: once the `Runtime` is dropped,
/// tasks spawned through a handle are dropped at once and their `JoinHandle`
/// reports [`JoinError::is_dropped`](crate::JoinError::is_dropped).
/// [`block_on`](Handle::block_on) still runs its future, and its timers
/// still fire: the calling thread fires them itself.
///
/// ```
/// use canopy_runtime::Runtime;
///
/// let rt = Runtime::builder().workers(2).build().unwrap();
/// let handle = rt.handle().clone();
/// let join = std::thread::spawn(move || {
///     // A plain OS thread, outside the runtime.
///     let task = handle.spawn(async { "from another thread" });
///     handle.block_on(task).unwrap()
/// });
/// assert_eq!(join.join().unwrap(), "from another thread");
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Handle {
    /// The handle of the runtime this code runs in.
    ///
    /// # Panics
    ///
    /// Outside a runtime (neither on a worker nor inside `block_on`). Use
    /// [`Handle::try_current`] to check instead.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(e) => panic!("Handle::current(): {e}"),
        }
    }

    /// The handle of the runtime this code runs in, or an error outside one.
    pub fn try_current() -> Result<Handle, OutsideRuntime> {
        context::current_shared()
            .map(|shared| Handle { shared })
            .ok_or(OutsideRuntime(()))
    }

    /// Spawns `future` onto this runtime and returns a handle to its output.
    /// From one of this runtime's workers the task is queued locally; from
    /// anywhere else it goes through the global queue and wakes a worker.
    ///
    /// Dropping the returned handle loses the task's output, an `Err`
    /// included; for a task nobody awaits use
    /// [`spawn_detached`](Self::spawn_detached).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.shared, future, Location::caller())
    }

    /// Spawns `future` onto this runtime with no `JoinHandle`, reporting the
    /// error it returns; see [`spawn_detached`](crate::spawn_detached).
    #[track_caller]
    pub fn spawn_detached<F>(&self, future: F)
    where
        F: Future + Send + 'static,
        F::Output: DetachedOutput,
    {
        detached::spawn_detached_on(&self.shared, future, Location::caller());
    }

    /// Runs `future` to completion on the calling thread; see
    /// [`Runtime::block_on`](crate::Runtime::block_on).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        block_on(&self.shared, future)
    }

    /// A snapshot of the runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.shared.metrics()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.config.workers)
            .finish_non_exhaustive()
    }
}

/// Spawns `future` onto the runtime this code runs in.
///
/// From a worker the task goes to that worker's queue (the LIFO slot: it runs
/// next, unless stolen first); from a `block_on` thread it goes to the global
/// queue.
///
/// Dropping the returned [`JoinHandle`] detaches the task: it runs on, but
/// its output is lost, and so is an `Err` it returns (only a panic is still
/// reported). For a task nobody awaits, use
/// [`spawn_detached`](crate::spawn_detached), which reports
/// its error like an unobserved panic and, under
/// [`RootFailure::CancelRoot`](crate::RootFailure), fails the root group
/// (DESIGN §2.10).
///
/// # Panics
///
/// Outside a runtime. Use [`Handle::spawn`] to spawn from a thread of your own.
///
/// ```
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// let sum = rt.block_on(async {
///     let handles: Vec<_> = (0..10u64).map(|i| canopy_runtime::spawn(async move { i * i })).collect();
///     let mut sum = 0;
///     for handle in handles {
///         sum += handle.await.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 285);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_at(future, Location::caller())
}

/// Spawns onto `shared` from any thread: into this thread's worker queue
/// if it is one of `shared`'s workers, else through the global queue.
pub(crate) fn spawn_on<F>(
    shared: &Arc<Shared>,
    future: F,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    context::with_worker(|worker| {
        let local = worker.filter(|w| Arc::ptr_eq(&w.shared, shared));
        task::spawn(shared, future, local, location)
    })
}

/// The runtime this thread serves; panics outside one, naming `what`.
#[track_caller]
pub(crate) fn current_shared_or_panic(what: &str) -> Arc<Shared> {
    context::current_shared().unwrap_or_else(|| panic!("{what}: {}", OutsideRuntime(())))
}

/// [`spawn`], reporting `location` as the spawn site.
pub(crate) fn spawn_at<F>(future: F, location: &'static Location<'static>) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    context::with_worker(|worker| match worker {
        Some(worker) => task::spawn(&worker.shared.clone(), future, Some(worker), location),
        None => match context::current_shared() {
            Some(shared) => task::spawn(&shared, future, None, location),
            None => panic!("canopy::spawn: {}", OutsideRuntime(())),
        },
    })
}

/// The error of [`Handle::try_current`]: the calling thread is not inside a
/// runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideRuntime(());

impl fmt::Display for OutsideRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "called outside a canopy runtime (this thread is neither a worker nor inside \
             block_on); run the code inside Runtime::block_on, or keep a Handle \
             (Runtime::handle) and call Handle::spawn",
        )
    }
}

impl std::error::Error for OutsideRuntime {}
