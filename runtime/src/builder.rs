//! `Builder`: configures and starts a runtime.

use crate::DEFAULT_BUDGET;

/// The default grace period of a graceful shutdown.
const DEFAULT_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
use crate::runtime::Runtime;
use crate::scheduler::idle::MAX_WORKERS;
use std::fmt;
use std::sync::Arc;

type Hook = Arc<dyn Fn() + Send + Sync + 'static>;
type PanicHook = Arc<dyn Fn(&(dyn std::any::Any + Send)) + Send + Sync + 'static>;
type ErrorHook = Arc<dyn Fn(&crate::DetachedTaskError) + Send + Sync + 'static>;
type StuckHook = Arc<dyn Fn(&crate::StuckPoll) + Send + Sync + 'static>;
type NameFn = Arc<dyn Fn(usize) -> String + Send + Sync + 'static>;

/// The settings a running runtime reads.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) checkpoint_budget: u32,
    /// `None`: adaptive (see `worker.rs`, "Global-queue fairness").
    pub(crate) global_queue_interval: Option<u32>,
    pub(crate) lifo_slot: bool,
    pub(crate) start_paused: bool,
    pub(crate) thread_name: NameFn,
    pub(crate) thread_stack_size: Option<usize>,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
    /// `None`: report to stderr.
    pub(crate) on_unobserved_panic: Option<PanicHook>,
    /// `None`: report to stderr.
    pub(crate) on_unobserved_error: Option<ErrorHook>,
    /// How long a graceful shutdown waits for cancelled tasks.
    pub(crate) shutdown_grace: std::time::Duration,
    /// SIGINT/SIGTERM cancel the root scope (`Builder::handle_signals`).
    pub(crate) handle_signals: bool,
    /// What a root task's unobserved panic does (`Builder::root_failure`).
    pub(crate) root_failure: RootFailure,
    /// The blocking pool's size limits.
    pub(crate) blocking: crate::blocking::pool::PoolLimits,
    /// How long a poll may run before it is reported (`None`: never).
    pub(crate) stuck_poll_threshold: Option<std::time::Duration>,
    /// `None`: a rate-limited line on stderr.
    pub(crate) on_stuck_poll: Option<StuckHook>,
}

/// What happens when a task in the runtime's root group fails with nobody to
/// receive the failure (DESIGN §2.10): a task spawned with `canopy::spawn`
/// panics after its `JoinHandle` was dropped, or a task spawned with
/// [`spawn_detached`](crate::spawn_detached) panics or returns an error. A
/// held handle always receives its task's outcome instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootFailure {
    /// Report it (the `on_unobserved_panic` / `on_unobserved_error` hook, or
    /// stderr) and go on: tokio's habit. The default.
    #[default]
    Report,
    /// Trio's strictness: report it, cancel the root group (every task sees
    /// `Cancelled` with reason `GroupFailed`, including the future given to
    /// `block_on`), and when that `block_on` returns, surface the first
    /// failure there: a panic is resumed as it was; an error becomes a panic
    /// whose message is the error's report ("a detached task (spawned at
    /// ...) returned an error: ..."), so `#[should_panic(expected = ..)]` and
    /// `#[canopy::test]` see it. Later failures are only reported.
    CancelRoot,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("workers", &self.workers)
            .field("checkpoint_budget", &self.checkpoint_budget)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("lifo_slot", &self.lifo_slot)
            .field("thread_stack_size", &self.thread_stack_size)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Runtime`]. Start from [`Runtime::builder`].
///
/// ```
/// use canopy_runtime::Runtime;
///
/// let rt = Runtime::builder()
///     .workers(2)
///     .thread_name("server")
///     .checkpoint_budget(64)
///     .build()
///     .expect("valid configuration");
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a Builder does nothing until .build() is called"]
pub struct Builder {
    workers: Option<usize>,
    config: Config,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with the defaults: one worker per available core, checkpoint
    /// budget 128, adaptive global-queue interval, LIFO slot on.
    pub fn new() -> Self {
        Builder {
            workers: None,
            config: Config {
                workers: 0,
                checkpoint_budget: DEFAULT_BUDGET,
                global_queue_interval: None,
                lifo_slot: true,
                start_paused: false,
                thread_name: Arc::new(|i| format!("canopy-worker-{i}")),
                thread_stack_size: None,
                on_thread_start: None,
                on_thread_stop: None,
                on_unobserved_panic: None,
                on_unobserved_error: None,
                shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
                handle_signals: false,
                root_failure: RootFailure::Report,
                blocking: crate::blocking::pool::PoolLimits {
                    max_threads: crate::blocking::pool::DEFAULT_MAX_THREADS,
                    keep_alive: crate::blocking::pool::DEFAULT_KEEP_ALIVE,
                },
                stuck_poll_threshold: Some(crate::scheduler::monitor::DEFAULT_THRESHOLD),
                on_stuck_poll: None,
            },
        }
    }

    /// Number of worker threads. Default: [`std::thread::available_parallelism`].
    /// `0` (or more than 65,535) makes [`build`](Self::build) fail.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Names worker threads `"{name}-{index}"`. Default: `canopy-worker-{index}`.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.config.thread_name = Arc::new(move |i| format!("{name}-{i}"));
        self
    }

    /// Names worker thread `index` with `f(index)`. If `f` panics,
    /// [`build`](Self::build) returns an error carrying the panic.
    pub fn thread_name_fn(mut self, f: impl Fn(usize) -> String + Send + Sync + 'static) -> Self {
        self.config.thread_name = Arc::new(f);
        self
    }

    /// Stack size of worker threads in bytes. Default: the platform's default
    /// for spawned threads (2 MiB on Linux). `0` makes `build` fail.
    pub fn thread_stack_size(mut self, bytes: usize) -> Self {
        self.config.thread_stack_size = Some(bytes);
        self
    }

    /// Runs `f` on each worker thread as it starts, before it polls any task.
    ///
    /// [`build`](Self::build) returns once every worker has run it, so it
    /// must not wait for anything that happens only after `build` returns.
    /// If it panics on any worker, `build` shuts the runtime down and returns
    /// an error carrying the panic ([`BuildError::panic_message`],
    /// [`BuildError::try_into_panic`]); the workers whose hook had run run
    /// [`on_thread_stop`](Self::on_thread_stop).
    ///
    /// ```
    /// let error = canopy_runtime::Runtime::builder()
    ///     .workers(2)
    ///     .on_thread_start(|| panic!("no config file"))
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(error.panic_message(), Some("no config file"));
    /// ```
    pub fn on_thread_start(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each worker thread as it stops, after it dropped its tasks.
    /// A panic in it is contained and reported like an unobserved task panic
    /// (counted in [`RuntimeMetrics::unobserved_panics`], given to
    /// [`on_unobserved_panic`](Self::on_unobserved_panic) or stderr).
    ///
    /// [`RuntimeMetrics::unobserved_panics`]: crate::RuntimeMetrics::unobserved_panics
    pub fn on_thread_stop(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Runs `f` with the payload of every task panic that no `JoinHandle`
    /// receives (its handle was dropped), instead of the default report on
    /// stderr. Other panics of user code that nobody can receive go here too:
    /// a waker that panics when a timer fires it, a task future that panics
    /// again when dropped after a panicking poll, an output nobody took whose
    /// `Drop` panics, and a panicking waker of code awaiting a `JoinHandle`.
    /// Runs on the thread where the panic was caught or the handle
    /// dropped; it must not block. Such panics are counted in
    /// [`RuntimeMetrics::unobserved_panics`](crate::RuntimeMetrics) either way.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let counter = seen.clone();
    /// let rt = canopy_runtime::Runtime::builder()
    ///     .workers(1)
    ///     .on_unobserved_panic(move |payload| {
    ///         let message = payload.downcast_ref::<&str>().copied().unwrap_or("?");
    ///         assert_eq!(message, "lost");
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let hook = std::panic::take_hook();
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// drop(rt.spawn(async { panic!("lost") }));
    /// while seen.load(Ordering::SeqCst) == 0 {
    ///     std::thread::yield_now();
    /// }
    /// # std::panic::set_hook(hook);
    /// ```
    pub fn on_unobserved_panic(
        mut self,
        f: impl Fn(&(dyn std::any::Any + Send)) + Send + Sync + 'static,
    ) -> Self {
        self.config.on_unobserved_panic = Some(Arc::new(f));
        self
    }

    /// How long a graceful shutdown lets cancelled tasks run their
    /// (shielded) cleanup before the rest are dropped: the grace of
    /// [`run`](crate::run), and [`Runtime::shutdown_grace`]. Default 5 s.
    ///
    /// [`Runtime::shutdown_grace`]: crate::Runtime::shutdown_grace
    pub fn shutdown_grace(mut self, grace: std::time::Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Runs `f` with every error returned by a task spawned with
    /// [`spawn_detached`](crate::spawn_detached) (which no `JoinHandle`
    /// receives), instead of the default report on stderr: the error-side
    /// twin of [`on_unobserved_panic`](Self::on_unobserved_panic). A
    /// returned cancellation of the root itself (shutdown) is no error and
    /// is not reported. Runs on the worker that polled the task; it must not
    /// block. Such errors are counted in
    /// [`RuntimeMetrics::unobserved_errors`](crate::RuntimeMetrics) either
    /// way, and under [`RootFailure::CancelRoot`] they fail the root group.
    ///
    /// A separate hook rather than the panic hook's payload, so that each
    /// hook gets a type it can use as it is: a panic payload to downcast, or
    /// a [`DetachedTaskError`](crate::DetachedTaskError) to display (it
    /// names where the task was spawned) or downcast to the task's error.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let sink = log.clone();
    /// let rt = canopy_runtime::Runtime::builder()
    ///     .workers(1)
    ///     .on_unobserved_error(move |error| {
    ///         let io = error.downcast_ref::<std::io::Error>().expect("the task's own error type");
    ///         sink.lock().unwrap().push(io.kind());
    ///     })
    ///     .build()
    ///     .unwrap();
    /// rt.spawn_detached(async {
    ///     Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
    /// });
    /// while log.lock().unwrap().is_empty() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(log.lock().unwrap()[..], [std::io::ErrorKind::ConnectionReset]);
    /// ```
    pub fn on_unobserved_error(
        mut self,
        f: impl Fn(&crate::DetachedTaskError) + Send + Sync + 'static,
    ) -> Self {
        self.config.on_unobserved_error = Some(Arc::new(f));
        self
    }

    /// What a root task's unobserved failure does; see [`RootFailure`].
    pub fn root_failure(mut self, policy: RootFailure) -> Self {
        self.config.root_failure = policy;
        self
    }

    /// Handle SIGINT and SIGTERM (DESIGN §2.11): the first one cancels the
    /// runtime's root scope with reason [`Signal`](canopy_scope::CancelReason),
    /// so every task — and the future given to `block_on` — sees
    /// `Cancelled` at its next checkpoint and may run shielded cleanup; a
    /// `main` that propagates it with `?` returns that error ("...received a
    /// termination signal"). A second signal exits the process at once with
    /// code 130. Default off (see [`signal`](crate::signal) for handling
    /// signals yourself).
    ///
    /// Catching starts as [`build`](Self::build) begins: a signal that
    /// arrives while it runs is applied to the runtime it returns (which is
    /// then already shutting down, [`Runtime::was_interrupted`] is `true`),
    /// never lost. One that arrived before `build` began is not applied: if
    /// nothing caught signals yet it killed the process, as SIGINT does by
    /// default; otherwise it went to whoever caught it then (an earlier
    /// runtime, a [`signal::ctrl_c`] future).
    ///
    /// [`Runtime::was_interrupted`]: crate::Runtime::was_interrupted
    /// [`signal::ctrl_c`]: crate::signal::ctrl_c
    pub fn handle_signals(mut self, handle: bool) -> Self {
        self.config.handle_signals = handle;
        self
    }

    /// At most this many checkpoints complete in one poll of a task before
    /// it yields to the scheduler (DESIGN §2.8): the last one yields first,
    /// then completes when the task runs again. Default 128, tokio's coop
    /// budget; `1` gives Trio's strict mode, where every checkpoint (a ready
    /// wait, a cancelled `checkpoint()`) is a schedule point.
    /// `checkpoint_if_cancelled()` is a cancel point only: it spends the
    /// budget only when it finds the scope cancelled. `0` makes `build` fail.
    pub fn checkpoint_budget(mut self, budget: u32) -> Self {
        self.config.checkpoint_budget = budget;
        self
    }

    /// Fixes how many ticks a worker runs from its local queue between looks
    /// at the global queue (where tasks spawned from outside the runtime
    /// wait). By default the interval adapts to how long tasks take to poll,
    /// so that the global queue is looked at about every 200 µs (between 2 and
    /// 127 ticks), as tokio does. `0` makes `build` fail.
    pub fn global_queue_interval(mut self, ticks: u32) -> Self {
        self.config.global_queue_interval = Some(ticks);
        self
    }

    /// Whether a task woken by the running task runs next on the same worker
    /// (default `true`; see the scheduler docs). Turning it off trades
    /// message-passing latency for strict FIFO order.
    pub fn lifo_slot(mut self, enabled: bool) -> Self {
        self.config.lifo_slot = enabled;
        self
    }

    /// How long one poll of a task may keep its worker before the runtime
    /// reports it as stuck (default 100 ms; `None` turns the report off).
    /// A stuck poll is counted in
    /// [`WorkerMetrics::stuck_polls`](crate::WorkerMetrics::stuck_polls)
    /// and reported to [`on_stuck_poll`](Self::on_stuck_poll). Either way,
    /// tasks queued behind a stuck worker move to the others within about a
    /// millisecond, and timers keep firing (see the `monitor` docs in the
    /// source: a small thread that looks at the workers' poll counters,
    /// so a poll pays nothing for it).
    pub fn stuck_poll_threshold(mut self, threshold: Option<std::time::Duration>) -> Self {
        self.config.stuck_poll_threshold = threshold;
        self
    }

    /// Called (on the monitor thread) once for each poll that ran longer
    /// than [`stuck_poll_threshold`](Self::stuck_poll_threshold), with the
    /// task's spawn location. The default writes one line to stderr, at
    /// most one every 10 seconds. A panic of the hook is contained.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// let stuck = Arc::new(Mutex::new(Vec::new()));
    /// let log = stuck.clone();
    /// let rt = canopy_runtime::Runtime::builder()
    ///     .workers(2)
    ///     .stuck_poll_threshold(Some(Duration::from_millis(20)))
    ///     .on_stuck_poll(move |poll| log.lock().unwrap().push(poll.spawned_at.line()))
    ///     .build()
    ///     .unwrap();
    /// let line = line!() + 1;
    /// let handle = rt.spawn(async { std::thread::sleep(Duration::from_millis(200)) });
    /// rt.block_on(handle).unwrap();
    /// assert_eq!(stuck.lock().unwrap()[..], [line]);
    /// ```
    pub fn on_stuck_poll(
        mut self,
        hook: impl Fn(&crate::StuckPoll) + Send + Sync + 'static,
    ) -> Self {
        self.config.on_stuck_poll = Some(Arc::new(hook));
        self
    }

    /// The most threads the blocking pool ([`crate::blocking`]) runs at once
    /// (default 512, as tokio); closures beyond wait in its queue. `0`
    /// makes `build` fail.
    pub fn max_blocking_threads(mut self, threads: usize) -> Self {
        self.config.blocking.max_threads = threads;
        self
    }

    /// How long a blocking-pool thread with nothing to do waits for work
    /// before it exits (default 10 s, as tokio).
    pub fn blocking_keep_alive(mut self, keep_alive: std::time::Duration) -> Self {
        self.config.blocking.keep_alive = keep_alive;
        self
    }

    /// Starts the runtime's clock paused (for tests): time then moves only by
    /// `canopy::time::advance`, or jumps to the next timer deadline whenever
    /// every worker and every `block_on` thread is idle, so a test that sleeps
    /// an hour finishes at once, deterministically (like Trio's
    /// `MockClock(autojump_threshold=0)`). `Instant`s read through
    /// `canopy::time::now()` follow the paused clock.
    pub fn start_paused(mut self, paused: bool) -> Self {
        self.config.start_paused = paused;
        self
    }

    /// Checks the configuration and starts the worker threads; returns once
    /// each has run the [`on_thread_start`](Self::on_thread_start) hook, if
    /// one is set.
    pub fn build(&self) -> Result<Runtime, BuildError> {
        let workers = match self.workers {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if workers == 0 {
            return Err(BuildError::new(ErrorKind::ZeroWorkers));
        }
        if workers > MAX_WORKERS {
            return Err(BuildError::new(ErrorKind::TooManyWorkers(workers)));
        }
        if self.config.checkpoint_budget == 0 {
            return Err(BuildError::new(ErrorKind::ZeroBudget));
        }
        if self.config.global_queue_interval == Some(0) {
            return Err(BuildError::new(ErrorKind::ZeroGlobalQueueInterval));
        }
        if self.config.thread_stack_size == Some(0) {
            return Err(BuildError::new(ErrorKind::ZeroStackSize));
        }
        if self.config.blocking.max_threads == 0 {
            return Err(BuildError::new(ErrorKind::ZeroBlockingThreads));
        }
        let mut config = self.config.clone();
        config.workers = workers;
        Runtime::start(config)
    }
}

/// Why [`Builder::build`] failed: a setting out of range, a worker thread
/// that could not be started, or a hook that panicked (then the error carries
/// the panic: [`panic_message`](Self::panic_message),
/// [`try_into_panic`](Self::try_into_panic)).
#[derive(Debug)]
pub struct BuildError {
    kind: ErrorKind,
}

/// The user hooks `build` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailedHook {
    /// `thread_name` / `thread_name_fn`.
    ThreadName,
    /// `on_thread_start`.
    ThreadStart,
}

#[derive(Debug)]
enum ErrorKind {
    ZeroWorkers,
    TooManyWorkers(usize),
    ZeroBudget,
    ZeroGlobalQueueInterval,
    ZeroStackSize,
    ZeroBlockingThreads,
    SpawnThread(std::io::Error),
    /// The I/O reactor (an epoll/kqueue instance) could not be created.
    Reactor(std::io::Error),
    /// The payload sits in a `Mutex` only so that `BuildError` is `Sync`,
    /// as in `JoinError`; it is never locked concurrently.
    HookPanicked {
        hook: FailedHook,
        worker: usize,
        message: Option<String>,
        payload: std::sync::Mutex<Box<dyn std::any::Any + Send + 'static>>,
    },
}

impl BuildError {
    fn new(kind: ErrorKind) -> Self {
        BuildError { kind }
    }

    pub(crate) fn spawn_thread(error: std::io::Error) -> Self {
        BuildError::new(ErrorKind::SpawnThread(error))
    }

    pub(crate) fn reactor(error: std::io::Error) -> Self {
        BuildError::new(ErrorKind::Reactor(error))
    }

    /// `hook` panicked with `payload` for worker `worker`.
    pub(crate) fn hook_panicked(
        hook: FailedHook,
        worker: usize,
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> Self {
        let message = crate::task::join::payload_message(payload.as_ref()).map(str::to_owned);
        BuildError::new(ErrorKind::HookPanicked {
            hook,
            worker,
            message,
            payload: std::sync::Mutex::new(payload),
        })
    }

    /// The message of the hook's panic, when `build` failed because a hook
    /// ([`on_thread_start`](Builder::on_thread_start) or the thread naming
    /// function) panicked and the payload is a string (as with `panic!`).
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::HookPanicked { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// The payload of the hook's panic, to resume it with
    /// [`std::panic::resume_unwind`], or `self` if no hook panicked.
    pub fn try_into_panic(self) -> Result<Box<dyn std::any::Any + Send + 'static>, BuildError> {
        match self.kind {
            ErrorKind::HookPanicked { payload, .. } => {
                Ok(payload.into_inner().unwrap_or_else(|e| e.into_inner()))
            }
            kind => Err(BuildError { kind }),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::ZeroWorkers => f.write_str(
                "a runtime needs at least one worker thread: pass workers(n) with n >= 1, \
                 or leave it unset to use one per core",
            ),
            ErrorKind::TooManyWorkers(n) => write!(
                f,
                "{n} worker threads requested, but a runtime supports at most {MAX_WORKERS}"
            ),
            ErrorKind::ZeroBudget => f.write_str(
                "checkpoint_budget(0) would make every task yield before its first wait \
                 completes: use 1 for strict yielding or leave the default of 128",
            ),
            ErrorKind::ZeroGlobalQueueInterval => {
                f.write_str("global_queue_interval must be at least 1 (or left unset to adapt)")
            }
            ErrorKind::ZeroStackSize => f.write_str(
                "thread_stack_size(0) is not a usable stack; leave it unset for the default",
            ),
            ErrorKind::ZeroBlockingThreads => f.write_str(
                "max_blocking_threads(0) leaves no thread to run blocking closures; use at \
                 least 1 (default 512)",
            ),
            ErrorKind::SpawnThread(e) => write!(f, "could not start a worker thread: {e}"),
            ErrorKind::Reactor(e) => write!(
                f,
                "could not create the I/O reactor (the process may be out of file \
                 descriptors): {e}"
            ),
            ErrorKind::HookPanicked {
                hook,
                worker,
                message,
                ..
            } => {
                let message = message.as_deref().unwrap_or("<non-string payload>");
                match hook {
                    FailedHook::ThreadName => write!(
                        f,
                        "the thread naming function panicked for worker {worker} ({message}), \
                         so no worker was started; make it return a name for every index \
                         below the number of workers"
                    ),
                    FailedHook::ThreadStart => write!(
                        f,
                        "the on_thread_start hook panicked on worker {worker} ({message}), so \
                         the runtime was shut down before it ran any task; fix the hook, or \
                         handle the failure inside it if a worker can run without it"
                    ),
                }
            }
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::SpawnThread(e) => Some(e),
            _ => None,
        }
    }
}
