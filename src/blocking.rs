//! Blocking work: synchronous code (file I/O, a C library, CPU-heavy
//! parsing) on a pool of threads beside the workers, so it does not stall
//! the tasks a worker runs.
//!
//! [`to_thread`] runs a closure and waits for it (a checkpoint: in a
//! cancelled scope it runs nothing); [`spawn`] starts one and returns its
//! [`JoinHandle`](crate::task::JoinHandle) (tokio's `spawn_blocking`). Inside
//! the closure, [`is_cancelled`] tells long work its caller gave up, and
//! [`block_on`] runs async code back on the runtime.
//!
//! ```
//! use canopy::blocking;
//!
//! let rt = canopy::Runtime::builder().workers(2).build()?;
//! let sum = rt.block_on(async {
//!     blocking::to_thread(|| (1..=100u64).sum::<u64>()).await
//! });
//! assert_eq!(sum.unwrap(), 5050);
//! # Ok::<(), canopy::runtime::BuildError>(())
//! ```

pub use canopy_runtime::blocking::*;
