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
//! # What is here today
//!
//! The scheduler: [`Runtime`] and its [`Builder`], [`spawn`], [`JoinHandle`],
//! [`Handle`] for other threads, [`yield_now`], and [`RuntimeMetrics`].
//! Timers in [`time`]. Cancel scopes, task groups, I/O and channels follow
//! (see `DESIGN.md`).
//!
//! # Features
//!
//! - `mimalloc`: benchmarks only; runs the comparison benches under mimalloc.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

/// Time: sleeping, intervals, and the runtime's (possibly paused) clock.
///
/// ```
/// use std::time::Duration;
/// let rt = canopy::Runtime::builder().workers(2).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = canopy::time::now();
///     canopy::time::sleep(Duration::from_secs(60)).await;
///     assert_eq!(canopy::time::now() - start, Duration::from_secs(60));
/// });
/// ```
pub mod time {
    pub use canopy_timer::{
        Instant, Interval, MissedTicks, Sleep, advance, interval, interval_at, now, sleep,
        sleep_until,
    };
}

pub use canopy_runtime::{
    BuildError, Builder, Handle, JoinError, JoinHandle, OutsideRuntime, Runtime, RuntimeMetrics,
    WorkerMetrics, YieldNow, spawn, yield_now,
};
