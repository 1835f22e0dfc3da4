//! canopy's channels and sync primitives. Every method that can wait is a
//! checkpoint (DESIGN §2.8) with exact rules for what a cancelled operation
//! did (DESIGN §2.13): nothing is lost, duplicated or swallowed.
//!
//! Applications use this through the `canopy` facade, as `canopy::sync`.
//!
//! ```
//! use canopy_scope::{CancelScope, Cancelled};
//! use canopy_sync::channel::{self, SendError};
//!
//! let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
//! rt.block_on(async {
//!     let (tx, rx) = channel::channel(1);
//!     tx.send(1).await.unwrap();
//!     // The channel is full: this send waits, and its scope is cancelled.
//!     let scope = CancelScope::new();
//!     scope.cancel();
//!     let out = scope.run(async {
//!         match tx.send(2).await {
//!             // Nothing was delivered; the value comes back.
//!             Err(SendError::Cancelled(value, cancelled)) => {
//!                 assert_eq!(value, 2);
//!                 Err(cancelled)
//!             }
//!             other => panic!("{other:?}"),
//!         }
//!     });
//!     assert_eq!(out.await, Ok::<Option<()>, Cancelled>(None));
//!     assert_eq!(rx.recv().await?, Some(1));
//!     assert!(rx.try_recv().is_err(), "2 was never sent");
//!     Ok::<_, Cancelled>(())
//! })
//! .unwrap();
//! ```
//!
//! # What is here
//!
//! | | waits (checkpoints) | never waits |
//! |---|---|---|
//! | [`channel::channel`], [`channel::unbounded`] (MPMC; capacity 0 = rendezvous) | `send`, `recv`, `Stream` | `try_send`, `try_recv`, `close` |
//! | [`oneshot::oneshot`] | awaiting the receiver | `send`, `try_recv` |
//! | [`watch::watch`] (latest value) | `changed` | `send`, `borrow` |
//! | [`broadcast::broadcast`] (every receiver, every value) | `recv` | `send`, `try_recv` |
//! | [`Mutex`] (fair, FIFO hand-off), [`RwLock`] (fair) | `lock`, `read`, `write` | `try_*`, dropping a guard |
//! | [`Semaphore`] (FIFO, owned permits), [`CapacityLimiter`] (knows its borrowers) | `acquire*` | `try_acquire*`, releasing |
//! | [`Event`], [`Notify`], [`Condition`], [`Barrier`] | `wait`, `notified`, `wait`, `wait` | `set`, `notify_*` |
//!
//! # The rules, for every primitive here
//!
//! - **Called in a cancelled scope**, a waiting operation returns
//!   `Cancelled` and does nothing — no item taken or sent, no permit or lock
//!   acquired — even if it could have completed at once.
//! - **Cancelled while waiting**, it did nothing: a `send` hands its value
//!   back, a `recv` took nothing, an `acquire` holds no permit.
//! - **Handed its outcome first** (an item, a permit, the lock), it completes
//!   normally even if its scope was cancelled meanwhile; the next checkpoint
//!   reports the cancellation.
//! - **Dropped while waiting**, it passes on whatever it had been handed, so
//!   no other waiter misses its wake-up.
//! - Releasing, setting, sending without waiting (`try_*`) and notifying are
//!   not checkpoints; every method that can wait is one. One that completes
//!   without waiting spends the task's checkpoint budget (a schedule point
//!   once per budget).
//!
//! # How they work
//!
//! Each primitive keeps its waiters in a FIFO list (`wait_list.rs`) under its
//! own short lock (no global lock), and wakes a waiter only by *handing* it
//! its outcome, written into its node. That makes the cancellation rules
//! above simple to keep: a waiter that leaves finds out under the lock
//! whether it was handed something.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod barrier;
pub mod broadcast;
mod capacity_limiter;
pub mod channel;
mod condition;
mod event;
mod loom;
#[cfg(all(test, loom))]
mod loom_models;
mod mutex;
mod mutex_owned;
mod notify;
pub mod oneshot;
mod rwlock;
mod semaphore;
mod wait_list;
mod wake_list;
pub mod watch;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use capacity_limiter::{CapacityLimiter, CapacityToken, LimiterError};
pub use condition::{CondWait, Condition};
pub use event::{Event, EventWait};
pub use mutex::{Lock, Mutex, MutexGuard, TryLockError};
pub use mutex_owned::{LockOwned, OwnedMutexGuard};
pub use notify::{Notified, Notify};
pub use rwlock::{Read, RwLock, RwLockReadGuard, RwLockWriteGuard, Write};
pub use semaphore::{
    Acquire, AcquireOwned, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
