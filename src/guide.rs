//! The guide: chapters on using canopy, each with programs that run (they
//! are doc tests).
//!
//! - [`cancellation`]: scopes, level-triggered cancellation, checkpoints,
//!   shields, deadlines and their propagation, task groups and `start`, the
//!   root group and shutdown, blocking work, combinators — and where canopy
//!   differs from Trio and AnyIO.
//! - [`from_tokio`]: tokio idioms and their canopy forms, side by side.

#[doc = include_str!("../docs/guide/cancellation.md")]
pub mod cancellation {}

#[doc = include_str!("../docs/guide/from-tokio.md")]
pub mod from_tokio {}
