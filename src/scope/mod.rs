//! Cancel scopes, in full: what a `Cancelled` says, checkpoints and their
//! futures, timeouts, deadlines, and making foreign futures cancellable.
//!
//! The daily names — [`CancelScope`], [`Cancelled`], [`checkpoint`], the
//! timeouts — are also at the crate root. Here besides them:
//!
//! - why a scope was cancelled: [`CancelReason`], [`ScopeId`]; errors that
//!   carry a cancellation: [`CancelError`], [`TimedOut`];
//! - the other checkpoints: [`checkpoint_if_cancelled`] (a cancel point
//!   only) and [`cancel_shielded_checkpoint`] (a schedule point only);
//! - [`cancellable`], which makes any future a cancel point (dropping it on
//!   cancellation);
//! - [`current_effective_deadline`]: the deadline the running code is under,
//!   or [`EffectiveDeadline::Cancelled`];
//! - [`deadline`]: passing that deadline on to another service;
//! - the futures these return ([`Run`], [`RunOrFail`], [`FailAt`],
//!   [`Checkpoint`], ...), named for storing them in a struct.
//!
//! ```
//! use canopy::scope::{CancelReason, CancelScope, EffectiveDeadline, current_effective_deadline};
//! use std::time::Duration;
//!
//! let rt = canopy::Runtime::builder().workers(2).start_paused(true).build()?;
//! rt.block_on(async {
//!     let request = CancelScope::new().with_relative_deadline(Duration::from_secs(2));
//!     let out = request
//!         .run(async {
//!             let left = current_effective_deadline().remaining();
//!             assert_eq!(left, Some(Duration::from_secs(2)));
//!             canopy::time::sleep(Duration::from_secs(5)).await?;
//!             Ok::<_, canopy::Cancelled>(())
//!         })
//!         .await;
//!     assert_eq!(out, Ok(None), "the scope's own deadline caught it");
//!     assert_eq!(request.cancel_reason(), Some(CancelReason::Deadline));
//!     assert_eq!(current_effective_deadline(), EffectiveDeadline::None);
//! });
//! # Ok::<(), canopy::runtime::BuildError>(())
//! ```

pub mod deadline;

pub use canopy_scope::{
    CancelError, CancelReason, CancelScope, CancelShieldedCheckpoint, Cancellable, Cancelled,
    Checkpoint, CheckpointIfCancelled, EffectiveDeadline, FailAt, Run, RunOrFail, ScopeId,
    TimedOut, cancel_shielded_checkpoint, cancellable, checkpoint, checkpoint_if_cancelled,
    current_effective_deadline, fail_after, fail_at, move_on_after, move_on_at,
};
