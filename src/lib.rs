//! canopy: a multi-threaded, work-stealing async runtime for servers, built for
//! Trio-style structured cancellation.
//!
//! ```
//! let rt = canopy::Runtime::builder().workers(2).build()?;
//! let greeting = rt.block_on(async {
//!     let task = canopy::spawn(async { "hello from a worker" });
//!     task.await.expect("the task does not panic")
//! });
//! assert_eq!(greeting, "hello from a worker");
//! # Ok::<(), canopy::runtime::BuildError>(())
//! ```
//!
//! Cancellation is structured and level-triggered, as in Trio: wrap work in a
//! [`CancelScope`] (or a timeout), and once the scope is cancelled every
//! checkpoint inside it — `sleep`, `yield_now`, awaiting a `JoinHandle`,
//! [`checkpoint`] — returns [`Cancelled`] until control leaves the scope:
//!
//! ```
//! use canopy::{Cancelled, move_on_after, time::sleep};
//! use std::time::Duration;
//!
//! let rt = canopy::Runtime::builder().workers(2).start_paused(true).build()?;
//! let out = rt.block_on(move_on_after(Duration::from_secs(1), async {
//!     loop {
//!         sleep(Duration::from_millis(300)).await?; // Cancelled after 1 s
//!     }
//!     #[allow(unreachable_code)]
//!     Ok::<(), Cancelled>(())
//! }));
//! assert_eq!(out, Ok(None)); // the timeout's own scope caught it
//! # Ok::<(), canopy::runtime::BuildError>(())
//! ```
//!
//! # Tasks nobody awaits
//!
//! [`spawn`] hands back a [`JoinHandle`](task::JoinHandle); await it to get
//! the task's output, its panic, or its error. A task you will not await is
//! spawned with [`spawn_detached`] instead: it returns `()` or a `Result`,
//! and an `Err` is never dropped unseen (DESIGN §2.10) — it is counted in
//! [`RuntimeMetrics::unobserved_errors`](runtime::RuntimeMetrics::unobserved_errors),
//! reported to [`Builder::on_unobserved_error`](runtime::Builder::on_unobserved_error)
//! (or stderr), and under
//! [`RootFailure::CancelRoot`](runtime::RootFailure::CancelRoot) it cancels
//! every task and surfaces from `block_on`:
//!
//! ```
//! use canopy::runtime::RootFailure;
//! use canopy::scope::CancelReason;
//! use canopy::{Runtime, spawn_detached, time::sleep};
//! use std::time::Duration;
//!
//! let rt = Runtime::builder()
//!     .workers(2)
//!     .start_paused(true)
//!     .root_failure(RootFailure::CancelRoot)
//!     .on_unobserved_error(|error| eprintln!("{error}"))
//!     .build()?;
//! let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
//!     rt.block_on(async {
//!         spawn_detached(async {
//!             sleep(Duration::from_secs(1)).await?;
//!             Err::<(), std::io::Error>(std::io::Error::other("the backup target is full"))
//!         });
//!         // The failure cancels the root group, this future included.
//!         let cancelled = sleep(Duration::from_secs(3600)).await.unwrap_err();
//!         assert_eq!(cancelled.reason(), CancelReason::GroupFailed);
//!     })
//! }));
//! // ...and block_on then panics with the error's report.
//! let payload = outcome.unwrap_err();
//! let message = payload.downcast_ref::<String>().unwrap();
//! assert!(message.contains("returned an error: the backup target is full"));
//! assert_eq!(rt.metrics().unobserved_errors, 1);
//! # Ok::<(), canopy::runtime::BuildError>(())
//! ```
//!
//! # Where things are
//!
//! At the root, what a program writes daily: [`Runtime`], [`run`],
//! [`spawn`], [`spawn_detached`], [`task_group`], [`CancelScope`],
//! [`Cancelled`], [`checkpoint`], the timeouts ([`move_on_after`],
//! [`move_on_at`], [`fail_after`], [`fail_at`]), and the [`main`] and
//! [`test`] attributes. The rest is in a module named for its area, as in
//! tokio:
//!
//! | module | what is in it |
//! |---|---|
//! | [`task`] | [`JoinHandle`](task::JoinHandle) and [`JoinError`](task::JoinError), [`TaskGroup`](task::TaskGroup) with `start` and its errors, detached tasks' outputs, [`yield_now`](task::yield_now) |
//! | [`scope`] | [`CancelReason`](scope::CancelReason), [`CancelError`](scope::CancelError), [`TimedOut`](scope::TimedOut), the other checkpoints, [`cancellable`](scope::cancellable), [`current_effective_deadline`](scope::current_effective_deadline), deadline propagation between services in [`scope::deadline`], the futures scopes return |
//! | [`runtime`] | [`Builder`](runtime::Builder), [`Handle`](runtime::Handle) for other threads, [`RuntimeMetrics`](runtime::RuntimeMetrics), [`RootFailure`](runtime::RootFailure), [`BuildError`](runtime::BuildError) |
//! | [`time`] | `sleep`, intervals, the (pausable) clock |
//! | [`sync`] | channels, `Mutex`, `Semaphore`, `Event`, ... every wait a checkpoint |
//! | [`net`] | TCP, UDP and Unix sockets |
//! | [`blocking`] | synchronous work on a thread pool |
//! | [`signal`] | SIGINT/SIGTERM: graceful shutdown, `ctrl_c` |
//! | `hyper` | hyper and axum on canopy ([feature `hyper`](crate#features)) |
//! | [`guide`] | the guide: cancellation in canopy, and coming from tokio |
//!
//! # Features
//!
//! - `hyper`: hyper 1.x on canopy — `hyper::Executor` (into a task
//!   group), `hyper::Timer` (resettable sleeps), and `hyper::rt::Read`/
//!   `Write` on the streams. hyper-util's connection builders and axum's
//!   `Router` (through `TowerToHyperService`) run on these.
//! - `tokio-io`: tokio's `AsyncRead`/`AsyncWrite` on canopy's streams, for
//!   crates written against tokio's traits (tokio-rustls, tokio-util's
//!   codecs). No tokio runtime is started. What still needs one: tokio's
//!   own sockets, timers and `spawn`, and so `axum::serve` (it accepts on a
//!   `tokio::net::TcpListener`). The canopy way: accept on
//!   [`net::TcpListener`], serve each connection with hyper-util's
//!   `auto::Builder` and `hyper::Executor` (`examples/axum.rs`).
//! - `mimalloc`: benchmarks only; runs the comparison benches under mimalloc.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

pub mod blocking;
pub mod guide;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod net;
pub mod runtime;
pub mod scope;
pub mod signal;
pub mod sync;
pub mod task;
pub mod time;

pub use canopy_macros::{main, test};
pub use canopy_runtime::{Runtime, run, spawn, spawn_detached, task_group};
pub use canopy_scope::{
    CancelScope, Cancelled, checkpoint, fail_after, fail_at, move_on_after, move_on_at,
};

/// What `#[canopy::main]` and `#[canopy::test]` expand to. Not public API.
#[doc(hidden)]
pub mod __private {
    use std::future::Future;

    /// `#[canopy::main]`: a runtime with signal handling; a graceful
    /// shutdown when `main` returns; exit code 130 if a signal interrupted it.
    pub fn run_main<F: Future>(main: F) -> F::Output {
        let rt = crate::Runtime::builder()
            .handle_signals(true)
            .build()
            .unwrap_or_else(|error| panic!("#[canopy::main] could not start a runtime: {error}"));
        let output = rt.block_on(main);
        let interrupted = rt.was_interrupted();
        let grace = rt.shutdown_grace();
        rt.shutdown_reporting_overrun(grace);
        if interrupted {
            std::process::exit(crate::signal::INTERRUPTED_EXIT_CODE);
        }
        output
    }

    /// `#[canopy::test]`: a fresh runtime per test. A detached task's
    /// panic, or a `spawn_detached` task's error, fails the test
    /// (`RootFailure::CancelRoot`), rather than being printed and missed.
    pub fn run_test<F: Future>(start_paused: bool, workers: usize, test: F) -> F::Output {
        let rt = crate::Runtime::builder()
            .workers(workers)
            .start_paused(start_paused)
            .root_failure(crate::runtime::RootFailure::CancelRoot)
            .build()
            .unwrap_or_else(|error| panic!("#[canopy::test] could not start a runtime: {error}"));
        rt.block_on(test)
    }
}

/// The README's examples, compiled and run as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
