//! canopy's cancel scopes: Trio-style structured, level-triggered
//! cancellation for Rust futures, on a lock-free scope tree.
//!
//! Applications use this through the `canopy` facade, which re-exports it
//! as `canopy::scope` (the daily names also at its root). It knows no executor and no timer: it reaches tasks through
//! `std::task::Waker` and deadlines through the [`DeadlineDriver`](rt::DeadlineDriver) hook the
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
//! - A cancelled scope's effective deadline is
//!   [`EffectiveDeadline::Cancelled`], not `-inf` (an `Instant` has no
//!   `-inf`), so "cancelled" and "a deadline at `t`" are told apart without
//!   reading the clock.
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
//! - Checks are live: a cancel made by another thread, or a deadline fired on
//!   another worker, is seen by the very next check, even inside one long
//!   poll that never yields. A check that finds the world changed since the
//!   poll's scopes were read re-reads them first; so does a
//!   `checkpoint_if_cancelled` right after the task's own `cancel()` (as in
//!   Trio: it returns `Cancelled`).
//! - `checkpoint_if_cancelled` is a cancel point only: it does not spend the
//!   checkpoint budget unless it finds the scope cancelled. Every other
//!   checkpoint that completes spends it; `checkpoint_budget(1)` makes each
//!   of them yield once (Trio's strict mode).
//! - Dropping a scope's future before its body finished cancels the scope
//!   (if it ever waited), so tasks hung below it — a dropped task group's
//!   children — are cancelled rather than left unsupervised.
//! - A primitive polled by a combinator that gives each child its own waker
//!   (`FuturesUnordered`, `select_all`) is woken on cancellation too: its
//!   waker is left with its innermost scope, whose host wakes it.
//!
//! # How it stays cheap
//!
//! See `task_context.rs` (a cancel check is one thread-local read and two
//! atomic loads: the task's cancel word and the runtime root's state),
//! `frame.rs` (the scopes of a poll, on its
//! stack) and `node.rs` with `tree.rs` (the lock-free tree: link, cancel
//! walk, safe unlinking; its table says which operation takes which lock).
//! A scope whose body finishes in its first poll without a check never
//! touches the tree, the timer wheel or the allocator.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod cancellable;
mod cancelled;
mod checkpoint;
mod deadline;
mod deadline_slot;
mod driver;
mod effective_deadline;
mod frame;
mod host_waker;
mod leaves;
mod loom;
mod node;
mod retire;
mod scope;
mod scoped;
mod task_context;
mod task_root;
mod timeout;
mod tree;

#[cfg(all(test, loom))]
mod loom_models;

pub use cancellable::{Cancellable, cancellable};
pub use cancelled::{CancelError, CancelReason, Cancelled, ScopeId, TimedOut};
pub use checkpoint::{
    CancelShieldedCheckpoint, Checkpoint, CheckpointIfCancelled, cancel_shielded_checkpoint,
    check_cancelled, checkpoint, checkpoint_if_cancelled, poll_cancelled,
};
pub use deadline::{InvalidTimeout, encode_grpc_timeout, grpc_timeout_header, parse_grpc_timeout};
pub use effective_deadline::{EffectiveDeadline, current_effective_deadline};
pub use scope::{CancelScope, Run, RunOrFail};
pub use task_context::poll_budget;
pub use timeout::{FailAt, fail_after, fail_at, move_on_after, move_on_at};

/// For runtimes and timers, not applications: the plumbing by which an
/// executor gives each task its scope context and a timer drives deadlines.
#[doc(hidden)]
pub mod rt {
    pub use crate::driver::{DeadlineDriver, DriverGuard, TimerHandle, enter_driver};
    pub use crate::task_context::TaskContext;
    pub use crate::task_root::{StartedSwitch, TaskScope};
}
