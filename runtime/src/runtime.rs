//! `Runtime`: owns the worker threads.

use crate::builder::{BuildError, Builder, Config, FailedHook};
use crate::context;
use crate::handle::Handle;
use crate::metrics::RuntimeMetrics;
use crate::scheduler::worker::run_worker;
use crate::shared::Shared;
use crate::startup::Startup;
use crate::task::join::JoinHandle;
use crossbeam_deque::Worker as LocalQueue;
use std::future::Future;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A multi-threaded, work-stealing runtime.
///
/// A `Runtime` outlives any one [`block_on`](Runtime::block_on): tasks keep
/// running between calls, and several threads may `block_on` at once.
///
/// Dropping it is the hard shutdown: the workers stop after their current
/// poll, every unfinished task's future is dropped exactly once, and the worker
/// threads are joined before `drop` returns. [`shutdown_timeout`] bounds the
/// wait for a worker stuck in a long poll. (A task that another thread is
/// waking at that very moment is dropped by that thread, when its wake
/// completes, rather than by `drop`.) A `block_on` call on another thread is
/// no task and runs on; its timers keep firing (the waiting thread fires
/// them itself once the workers are gone), and so do those of a `block_on`
/// made through a [`Handle`] after the drop (DESIGN §4).
///
/// [`shutdown_timeout`]: Runtime::shutdown_timeout
///
/// ```
/// use canopy_runtime::Runtime;
///
/// let rt = Runtime::builder().workers(2).build()?;
/// let out = rt.block_on(async {
///     let a = canopy_runtime::spawn(async { 20 });
///     let b = canopy_runtime::spawn(async { 22 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// # Ok::<(), canopy_runtime::BuildError>(())
/// ```
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Runtime {
    /// A [`Builder`] to configure a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime with the default configuration (one worker per core).
    pub fn new() -> Result<Runtime, BuildError> {
        Builder::new().build()
    }

    /// Starts the workers. Returns once each has run its `on_thread_start`
    /// hook (see `startup.rs`); a hook that panicked fails the build.
    pub(crate) fn start(config: Config) -> Result<Runtime, BuildError> {
        // A signal that arrives from here on applies to this runtime (see
        // `signal::handle_for`).
        let signals_seen = config.handle_signals.then(crate::signal::received_so_far);
        // Names first, before anything is started: naming is user code too.
        let names = (0..config.workers)
            .map(|index| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    (config.thread_name)(index)
                }))
                .map_err(|payload| {
                    BuildError::hook_panicked(FailedHook::ThreadName, index, payload)
                })
            })
            .collect::<Result<Vec<String>, BuildError>>()?;
        let queues: Vec<LocalQueue<_>> = (0..config.workers)
            .map(|_| LocalQueue::new_fifo())
            .collect();
        let stealers = queues.iter().map(LocalQueue::stealer).collect();
        let reactor = canopy_io::Reactor::new().map_err(BuildError::reactor)?;
        let shared = Arc::new(Shared::new(config.clone(), stealers, reactor));
        if let Some(seen) = signals_seen {
            crate::signal::handle_for(&shared, seen);
        }
        let weak = Arc::downgrade(&shared);
        shared.timers.set_wake_sleeper(move || {
            if let Some(shared) = weak.upgrade() {
                shared.wake_timer_sentinel();
            }
        });
        let weak = Arc::downgrade(&shared);
        shared
            .timers
            .set_on_waker_panic(move |payload| match weak.upgrade() {
                Some(shared) => shared.report_waker_panic(payload),
                // Nothing is left to report to (the driver contains a panic of
                // dropping the payload).
                None => drop(payload),
            });
        let mut runtime = Runtime {
            handle: Handle {
                shared: shared.clone(),
            },
            threads: Vec::with_capacity(config.workers),
        };
        let startup = Arc::new(Startup::new(config.workers));
        for ((index, queue), name) in queues.into_iter().enumerate().zip(names) {
            let mut builder = thread::Builder::new().name(name);
            if let Some(size) = config.thread_stack_size {
                builder = builder.stack_size(size);
            }
            let shared = shared.clone();
            let started = startup.clone();
            match builder.spawn(move || run_worker(shared, index, queue, &started)) {
                Ok(thread) => runtime.threads.push(thread),
                Err(e) => {
                    // Count out the workers that never started, then stop the
                    // ones that did (dropping `runtime` joins them).
                    for _ in index..config.workers {
                        runtime.handle.shared.worker_exited();
                    }
                    startup.abandon(config.workers - index);
                    return Err(BuildError::spawn_thread(e));
                }
            }
        }
        if config.on_thread_start.is_some() {
            if let Err((index, payload)) = startup.wait() {
                // The other workers stop (dropping `runtime` joins them);
                // no task was spawned yet, so none is lost.
                drop(runtime);
                return Err(BuildError::hook_panicked(
                    FailedHook::ThreadStart,
                    index,
                    payload,
                ));
            }
        }
        if let Err(e) = crate::scheduler::monitor::start(&shared) {
            drop(runtime);
            return Err(BuildError::spawn_thread(e));
        }
        Ok(runtime)
    }

    /// Runs `future` to completion on the calling thread, while the workers
    /// run spawned tasks, and returns its output. `canopy_runtime::spawn`
    /// works inside it. A panic in `future` propagates to the caller.
    ///
    /// # Panics
    ///
    /// If called from inside a runtime (on a worker, or inside another
    /// `block_on`): that would block a thread the runtime needs. `.await`
    /// the future instead.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns `future` onto this runtime; see [`Handle::spawn`].
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Spawns `future` onto this runtime with no `JoinHandle`, reporting the
    /// error it returns; see [`spawn_detached`](crate::spawn_detached).
    #[track_caller]
    pub fn spawn_detached<F>(&self, future: F)
    where
        F: Future + Send + 'static,
        F::Output: crate::DetachedOutput,
    {
        self.handle.spawn_detached(future)
    }

    /// A cloneable handle to spawn and `block_on` from other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// A snapshot of the runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts down, waiting at most `timeout` for workers to finish the poll
    /// they are in. Every task's future is dropped either way; a worker still
    /// stuck in a poll after `timeout` is left to exit on its own (its thread
    /// is detached) and drops its queued tasks when it does. Returns `true`
    /// if every worker stopped in time.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> bool {
        self.close(Some(Instant::now() + timeout))
    }

    /// Shuts down gracefully (DESIGN §2.11): cancels the root scope, above
    /// every task, with reason [`Shutdown`](canopy_scope::CancelReason), so
    /// every task sees `Cancelled` at its next checkpoint and may run
    /// shielded cleanup, and so does the future of every `block_on` call in
    /// progress; waits up to `grace` for all tasks and for the `block_on`
    /// calls on other threads to finish; then drops whatever tasks are left
    /// and joins the workers (as dropping the runtime does at once).
    /// Returns `true` if every task and `block_on` call finished within the
    /// grace period.
    ///
    /// A `block_on` call still running after the grace period is not
    /// dropped (its future lives on its caller's stack): it runs on, its
    /// timers still fire, and tasks it spawns are dropped at once.
    ///
    /// ```
    /// use canopy_runtime::Runtime;
    /// use std::time::Duration;
    ///
    /// let rt = Runtime::builder().workers(2).build().unwrap();
    /// let flushed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    /// let flag = flushed.clone();
    /// rt.spawn(async move {
    ///     // Runs until shutdown, then flushes in a shielded scope.
    ///     let stopped = canopy_timer::sleep(Duration::from_secs(3600)).await;
    ///     assert!(stopped.is_err());
    ///     canopy_scope::CancelScope::new()
    ///         .with_shield(true)
    ///         .run(canopy_timer::sleep(Duration::from_millis(10)))
    ///         .await
    ///         .unwrap();
    ///     flag.store(true, std::sync::atomic::Ordering::SeqCst);
    /// });
    /// std::thread::sleep(Duration::from_millis(20)); // let it start
    /// assert!(rt.shutdown(Duration::from_secs(10)));
    /// assert!(flushed.load(std::sync::atomic::Ordering::SeqCst));
    /// ```
    pub fn shutdown(mut self, grace: Duration) -> bool {
        let shared = self.handle.shared.clone();
        shared.cancel_root(canopy_scope::CancelReason::Shutdown);
        // From inside one of its own tasks, waiting would wait for itself.
        let own = context::with_worker(|w| w.is_some_and(|w| Arc::ptr_eq(&w.shared, &shared)));
        let deadline = Instant::now() + grace;
        // A `block_on` call on this very thread (the runtime was handed to
        // its future) cannot finish while we wait: it is not waited for.
        let all_done = || shared.alive_tasks() == 0 && shared.block_on_calls_elsewhere() == 0;
        let finished = if own {
            all_done()
        } else {
            // Woken as tasks finish (`finish_event.rs`).
            shared.finish_event.wait_until(all_done, deadline)
        };
        self.close(None);
        finished
    }

    /// Whether SIGINT or SIGTERM started this runtime's graceful shutdown
    /// (with [`Builder::handle_signals`]): a program then usually exits with
    /// code 130, as `#[canopy::main]` does.
    ///
    /// [`Builder::handle_signals`]: crate::Builder::handle_signals
    pub fn was_interrupted(&self) -> bool {
        self.handle.shared.was_interrupted()
    }

    /// [`shutdown`](Self::shutdown), saying on stderr if tasks had to be
    /// dropped because they outlived the grace period (for `run` and
    /// `#[canopy::main]`, which have nobody to return that to).
    #[doc(hidden)]
    pub fn shutdown_reporting_overrun(self, grace: Duration) {
        if !self.shutdown(grace) {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "canopy: some tasks (or block_on calls on other threads) were still \
                 running {grace:?} after the shutdown began, and the tasks were dropped; \
                 give them a longer Builder::shutdown_grace, or make them return on \
                 Cancelled"
            );
        }
    }

    /// The grace period set by [`Builder::shutdown_grace`].
    ///
    /// [`Builder::shutdown_grace`]: crate::Builder::shutdown_grace
    pub fn shutdown_grace(&self) -> Duration {
        self.handle.shared.config.shutdown_grace
    }

    fn close(&mut self, deadline: Option<Instant>) -> bool {
        let shared = &self.handle.shared;
        shared.begin_shutdown();
        // Dropped from inside one of our own tasks: that worker cannot wait
        // for itself; it drops its queue when the current poll returns.
        let own_worker =
            context::with_worker(|w| w.is_some_and(|w| Arc::ptr_eq(&w.shared, shared)));
        let stopped = shared.wait_for_workers(usize::from(own_worker), deadline);
        let me = thread::current().id();
        for thread in self.threads.drain(..) {
            if stopped && thread.thread().id() != me {
                // The worker has exited its loop; this only reaps the thread.
                let _ = thread.join();
            }
        }
        shared.monitor_stop.stop();
        shared.blocking.close(shared);
        shared.finish_shutdown(stopped && !own_worker);
        stopped
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.threads.is_empty() || !self.handle.shared.is_closed() {
            self.close(None);
        }
    }
}

/// Runs a program's main future: starts a runtime with the default
/// configuration, drives `main` to completion on this thread, then shuts the
/// runtime down gracefully (DESIGN §2.11): every task still running is
/// cancelled and has the grace period (5 s by default) to finish its
/// shielded cleanup before the rest are dropped.
///
/// ```
/// let answer = canopy_runtime::run(async {
///     let task = canopy_runtime::spawn(async { 6 * 7 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// # Panics
///
/// If the runtime cannot start (see [`Builder::run`] to handle that, and to
/// configure it).
pub fn run<F: Future>(main: F) -> F::Output {
    Runtime::builder()
        .run(main)
        .unwrap_or_else(|error| panic!("canopy::run could not start a runtime: {error}"))
}

impl Builder {
    /// [`run`]: builds the runtime, drives `main` to completion, then shuts
    /// down gracefully with this builder's [`shutdown_grace`](Self::shutdown_grace).
    pub fn run<F: Future>(self, main: F) -> Result<F::Output, BuildError> {
        let rt = self.build()?;
        let output = rt.block_on(main);
        let grace = rt.shutdown_grace();
        rt.shutdown_reporting_overrun(grace);
        Ok(output)
    }
}
