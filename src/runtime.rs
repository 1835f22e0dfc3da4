//! The runtime itself: configuring it ([`Builder`]), reaching it from
//! other threads ([`Handle`]), and watching it ([`RuntimeMetrics`]).
//!
//! A [`Runtime`] is built once and outlives any one `block_on`. What the
//! builder decides: worker count, a paused clock for tests, signal handling,
//! what a failing detached task does ([`RootFailure`]), the blocking pool, the
//! stuck-poll monitor ([`StuckPoll`]).
//!
//! ```
//! use canopy::runtime::{Builder, Handle, RootFailure};
//!
//! let rt = Builder::new()
//!     .workers(2)
//!     .root_failure(RootFailure::CancelRoot)
//!     .build()?;
//! let handle: Handle = rt.handle().clone();
//! let from_a_thread = std::thread::spawn(move || handle.block_on(async { 1 + 1 }));
//! assert_eq!(from_a_thread.join().unwrap(), 2);
//! assert_eq!(rt.metrics().workers.len(), 2);
//! # Ok::<(), canopy::runtime::BuildError>(())
//! ```

pub use canopy_runtime::{
    BuildError, Builder, Handle, OutsideRuntime, RootFailure, Runtime, RuntimeMetrics, StuckPoll,
    WorkerMetrics,
};
