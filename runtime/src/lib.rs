//! canopy's multi-threaded, work-stealing scheduler.
//!
//! Most users depend on the `canopy` facade, which re-exports this crate.
//!
//! ```
//! use canopy_runtime::{Runtime, spawn};
//!
//! let rt = Runtime::builder().workers(2).build().unwrap();
//! let total = rt.block_on(async {
//!     let tasks: Vec<_> = (1..=100u64).map(|n| spawn(async move { n })).collect();
//!     let mut total = 0;
//!     for task in tasks {
//!         total += task.await.unwrap();
//!     }
//!     total
//! });
//! assert_eq!(total, 5050);
//! ```
//!
//! # How it schedules
//!
//! Tasks are [async-task] allocations (one per task). Each worker thread owns a
//! FIFO run queue from [crossbeam-deque] plus a LIFO slot for the task the
//! running task just woke; tasks spawned from outside go to a global injector
//! queue. Idle workers steal half of a busy worker's queue; at most half the
//! workers search at once and then park. See `worker.rs` for the loop,
//! `idle.rs` for the wake-up protocol and `park.rs` for the parker; each opens
//! with the protocol it implements.
//!
//! Timers come from `canopy-timer`: the runtime owns its driver, busy workers
//! fire due timers at each global-queue check, and one parked worker (the
//! timer sentinel) sleeps until the next deadline. With
//! [`Builder::start_paused`] the clock only moves by `advance` or by jumping
//! to the next deadline when everything is idle. Shutdown (`shared/shutdown.rs`) drops
//! every unfinished task's future exactly once.
//!
//! [async-task]: https://docs.rs/async-task
//! [crossbeam-deque]: https://docs.rs/crossbeam-deque

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod block_on;
pub mod blocking;
mod builder;
mod context;
mod group;
mod handle;
mod loom;
mod metrics;
mod runtime;
mod scheduler;
mod shared;
pub mod signal;
mod startup;
mod task;

#[cfg(all(test, loom))]
mod loom_models;

pub use builder::{BuildError, Builder, RootFailure};
pub use group::start::{StartError, TaskStatus};
pub use group::{ChildOutput, Failure, GroupClosed, GroupError, TaskGroup, task_group};
pub use handle::{Handle, OutsideRuntime, spawn};
pub use metrics::{RuntimeMetrics, WorkerMetrics};
pub use runtime::{Runtime, run};
pub use scheduler::monitor::StuckPoll;
pub use task::detached::{DetachedOutput, DetachedTaskError, spawn_detached};
pub use task::join::{JoinError, JoinHandle};
pub use task::yield_now::{YieldNow, yield_now};

/// Default checkpoint budget: the same 128 that tokio's cooperative scheduling
/// uses, so the two runtimes are compared on equal terms.
pub(crate) const DEFAULT_BUDGET: u32 = 128;
