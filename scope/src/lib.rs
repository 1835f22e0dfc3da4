//! canopy's cancel scopes: Trio-style structured, level-triggered
//! cancellation for Rust futures, on a lock-free scope tree.
//!
//! Applications use this through the `canopy` facade, which re-exports it at
//! its root. It knows no executor and no timer: it reaches tasks through
//! `std::task::Waker` and deadlines through the [`DeadlineDriver`] hook the
//! runtime installs.
//!
//! ```
//! use canopy_scope::{Cancelled, move_on_after};
//! use std::time::Duration;
//!
//! let rt = canopy_runtime::Runtime::builder().workers(2).start_paused(true).build().unwrap();
//! rt.block_on(async {
//!     let answer = move_on_after(Duration::from_millis(100), async {
//!         canopy_timer::sleep(Duration::from_millis(10)).await?;
//!         Ok::<_, Cancelled>(42)
//!     })
//!     .await?;
//!     assert_eq!(answer, Some(42));
//!     Ok::<_, Cancelled>(())
//! })
//! .unwrap();
//! ```
//!
//! # The model (DESIGN §2)
//!
//! - **Cancelled is a value**: every waiting primitive returns
//!   `Result<_, Cancelled>`; code propagates it with `?`.
//! - **Level-triggered**: once a scope is cancelled, *every* checkpoint
//!   inside it returns `Cancelled`, until control leaves the scope.
//! - **Shields** block cancellation from outside (not the scope's own).
//! - **The cancelled scope catches**: at its exit, the outermost cancelled
//!   scope visible to the body turns the `Cancelled` into `Ok(None)`.
//! - **Deadlines nest**: [`current_effective_deadline`] is the earliest one
//!   up to the nearest shield.
//!
//! # Where canopy differs from Trio, and why
//!
//! - Scopes are entered by wrapping a future (`scope.run(fut)`), so they
//!   always nest properly; there is no manual enter/exit to get wrong.
//! - A `Cancelled` records the source line of the checkpoint that delivered
//!   it (`#[track_caller]`), and the scope and reason: Trio's `Cancelled`
//!   carries neither (trio#285).
//! - `fail_after` exits quietly on an explicit `cancel()` of its scope (as
//!   AnyIO does); Trio raises `TooSlowError` there (trio#698).
//! - `*_after` clocks start when the future is first polled (Trio ≥ 0.25's
//!   relative deadlines do the same at `__enter__`).
//! - Code that is not a canopy primitive is not a checkpoint; a foreign
//!   future becomes one with [`cancellable`], which drops it on cancellation.
//! - A cancelled scope's effective deadline is "a point in the past", not
//!   `-inf` (an `Instant` has no `-inf`).
//! - A checkpoint that finds its scope cancelled returns at once, as in
//!   Trio, but spends the task's checkpoint budget: once per budget (128) it
//!   first yields to the scheduler. A loop whose checkpoints keep failing
//!   (say, around its own expired timeout) cannot hog a worker, and sees a
//!   later cancellation of an outer scope.
//! - A wait whose outcome was decided before the cancellation was seen (a
//!   sleep whose timer fired, a task that finished) completes normally; the
//!   next checkpoint reports the cancellation (DESIGN §2.13).
//! - `CancelScope::with_deadline`/`with_shield` are builder methods on a new
//!   scope (`CancelScope::new().with_deadline(t).with_shield(true)`) rather
//!   than constructors, so they compose.
//! - Cancellation is observed per poll: a poll of a task reads the scope
//!   states once, on entering each scope; a cancel made by another thread
//!   during that poll is seen at the task's next poll (the canceller wakes
//!   it). A cancel made by the polling code itself is seen at once.
//!
//! # How it stays cheap
//!
//! See `context.rs` (the thread-local frame: a cancel check is a TLS read)
//! and `node.rs` (the lock-free tree: link, cancel walk, safe unlinking).
//! A scope whose body finishes in its first poll never touches the tree, the
//! timer wheel or the allocator.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod cancellable;
mod cancelled;
mod checkpoint;
mod context;
mod deadline;
mod driver;
mod host_waker;
mod loom;
mod node;
mod run;
mod scope;
mod task;
mod timeout;

#[cfg(all(test, loom))]
mod loom_models;

pub use cancellable::{Cancellable, cancellable};
pub use cancelled::{CancelError, CancelReason, Cancelled, ScopeId, TimedOut};
pub use checkpoint::{
    CancelShieldedCheckpoint, Checkpoint, CheckpointIfCancelled, cancel_shielded_checkpoint,
    check_cancelled, checkpoint, checkpoint_if_cancelled, poll_cancelled,
};
pub use context::{RootGuard, enter_root, poll_budget, reset_budget};
pub use deadline::{
    InvalidTimeout, current_effective_deadline, encode_grpc_timeout, grpc_timeout_header,
    parse_grpc_timeout,
};
pub use driver::{DeadlineDriver, DriverGuard, TimerHandle, enter_driver};
pub use scope::{CancelScope, Run, RunOrFail};
pub use task::TaskScope;
pub use timeout::{FailAt, fail_after, fail_at, move_on_after, move_on_at};
