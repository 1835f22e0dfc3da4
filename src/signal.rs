//! SIGINT and SIGTERM. With
//! [`Builder::handle_signals(true)`](crate::runtime::Builder::handle_signals)
//! (as under `#[canopy::main]`) the first one shuts the runtime down
//! gracefully and a second one exits with [`INTERRUPTED_EXIT_CODE`]; a
//! program with a policy of its own waits for them with [`ctrl_c`] or
//! [`signals`].
//!
//! ```
//! use canopy::{move_on_after, signal};
//! use std::time::Duration;
//!
//! let rt = canopy::Runtime::builder().workers(2).start_paused(true).build()?;
//! rt.block_on(async {
//!     // Wait for Ctrl-C, but no longer than a minute.
//!     let interrupted = move_on_after(Duration::from_secs(60), signal::ctrl_c()).await;
//!     assert_eq!(interrupted, Ok(None), "nobody pressed Ctrl-C");
//! });
//! # Ok::<(), canopy::runtime::BuildError>(())
//! ```

pub use canopy_runtime::signal::*;
