//! Channels and sync primitives whose every wait is a checkpoint, with
//! exact rules for what a cancelled operation did (nothing is lost: a `recv`
//! that returns `Cancelled` took no message, a `send` hands its value back).
//!
//! ```
//! let rt = canopy::Runtime::builder().workers(2).build().unwrap();
//! rt.block_on(async {
//!     let (tx, rx) = canopy::sync::channel::channel(8);
//!     tx.send(1).await.unwrap();
//!     assert_eq!(rx.recv().await?, Some(1));
//!     Ok::<_, canopy::Cancelled>(())
//! })
//! .unwrap();
//! ```

pub use canopy_sync::*;
