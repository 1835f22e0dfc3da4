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
//! # Ok::<(), canopy::BuildError>(())
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
//! # Ok::<(), canopy::BuildError>(())
//! ```
//!
//! # Tasks nobody awaits
//!
//! [`spawn`] hands back a [`JoinHandle`]; await it to get the task's output,
//! its panic, or its error. A task you will not await is spawned with
//! [`spawn_detached`] instead: it returns `()` or a `Result`, and an `Err` is
//! never dropped unseen (DESIGN §2.10) — it is counted in
//! [`RuntimeMetrics::unobserved_errors`], reported to
//! [`Builder::on_unobserved_error`] (or stderr), and under
//! [`RootFailure::CancelRoot`] it cancels every task and surfaces from
//! `block_on`:
//!
//! ```
//! use canopy::{RootFailure, Runtime, spawn_detached, time::sleep};
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
//!         assert_eq!(cancelled.reason(), canopy::CancelReason::GroupFailed);
//!     })
//! }));
//! // ...and block_on then panics with the error's report.
//! let payload = outcome.unwrap_err();
//! let message = payload.downcast_ref::<String>().unwrap();
//! assert!(message.contains("returned an error: the backup target is full"));
//! assert_eq!(rt.metrics().unobserved_errors, 1);
//! # Ok::<(), canopy::BuildError>(())
//! ```
//!
//! # What is here today
//!
//! The scheduler: [`Runtime`] and its [`Builder`], [`spawn`],
//! [`spawn_detached`], [`JoinHandle`],
//! [`Handle`] for other threads, [`yield_now`], and [`RuntimeMetrics`].
//! Timers in [`time`]. Cancel scopes: [`CancelScope`], [`move_on_after`],
//! [`fail_after`], [`checkpoint`], [`current_effective_deadline`],
//! [`cancellable`], deadline propagation in [`deadline`]. Task groups:
//! [`task_group`], [`TaskGroup::start`]. The root group and graceful
//! shutdown: [`Runtime::shutdown`], [`run`], [`RootFailure`]; signals:
//! [`Builder::handle_signals`], [`signal`]; [`main`] and [`test`]. Channels and
//! sync primitives in [`sync`]; sockets in [`net`]; hyper and axum on canopy
//! with the `hyper` feature ([`hyper`](crate#features)).
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

pub mod guide;

/// Time: sleeping, intervals, and the runtime's (possibly paused) clock.
///
/// ```
/// use std::time::Duration;
/// let rt = canopy::Runtime::builder().workers(2).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = canopy::time::now();
///     canopy::time::sleep(Duration::from_secs(60)).await?;
///     assert_eq!(canopy::time::now() - start, Duration::from_secs(60));
///     Ok::<_, canopy::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub mod time {
    pub use canopy_timer::{
        Instant, Interval, MissedTicks, Sleep, SleepForever, advance, interval, interval_at, now,
        sleep, sleep_forever, sleep_until,
    };
}

/// Sockets: TCP, UDP and Unix, every operation a checkpoint (see
/// `canopy-io`).
///
/// ```
/// use canopy::net::{TcpListener, TcpStream};
///
/// let rt = canopy::Runtime::builder().workers(2).build()?;
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     client.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod net {
    pub use canopy_io::{
        CancelledMidway, TcpListener, TcpStream, ToSocketAddrs, UdpSocket, UnixDatagram,
        UnixListener, UnixStream, is_out_of_descriptors, tcp, udp, unix,
    };
}

pub use canopy_runtime::{
    BuildError, Builder, ChildOutput, DetachedOutput, DetachedTaskError, Failure, GroupClosed,
    GroupError, Handle, JoinError, JoinHandle, OutsideRuntime, RootFailure, Runtime,
    RuntimeMetrics, StartError, StuckPoll, TaskGroup, TaskStatus, WorkerMetrics, YieldNow, run,
    spawn, spawn_detached, task_group, yield_now,
};

pub use canopy_scope::{
    CancelError, CancelReason, CancelScope, CancelShieldedCheckpoint, Cancellable, Cancelled,
    Checkpoint, CheckpointIfCancelled, EffectiveDeadline, FailAt, Run, RunOrFail, ScopeId,
    TimedOut, cancel_shielded_checkpoint, cancellable, checkpoint, checkpoint_if_cancelled,
    current_effective_deadline, fail_after, fail_at, move_on_after, move_on_at,
};

/// Channels and sync primitives whose every wait is a checkpoint, with
/// exact rules for what a cancelled operation did (nothing is lost).
///
/// ```
/// let rt = canopy::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let (tx, rx) = canopy::sync::channel::channel(8);
///     tx.send(1).await.unwrap();
///     assert_eq!(rx.recv().await?, Some(1));
///     Ok::<_, canopy::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub mod sync {
    pub use canopy_sync::*;
}

pub use canopy_runtime::{blocking, signal};

#[cfg(feature = "hyper")]
pub mod hyper;

pub use canopy_macros::{main, test};

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
            .root_failure(crate::RootFailure::CancelRoot)
            .build()
            .unwrap_or_else(|error| panic!("#[canopy::test] could not start a runtime: {error}"));
        rt.block_on(test)
    }
}

/// Deadline propagation between services: encode what is left of
/// [`current_effective_deadline`] as a gRPC-style `grpc-timeout` value for an
/// outgoing request, and open a scope from an incoming one
/// ([`CancelScope::from_grpc_timeout`]).
pub mod deadline {
    pub use canopy_scope::{
        InvalidTimeout, encode_grpc_timeout, grpc_timeout_header, parse_grpc_timeout,
    };
}

/// The README's examples, compiled and run as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
