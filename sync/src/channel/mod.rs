//! Multi-producer, multi-consumer channels: [`channel`] (bounded, capacity 0
//! allowed) and [`unbounded`].
//!
//! Both ends clone, and every clone is equal: each value goes to exactly one
//! receiver. `send` and `recv` are checkpoints with exact cancellation rules
//! (DESIGN §2.13, and the protocol in `core.rs`):
//!
//! - called in a cancelled scope, they return `Cancelled` and do nothing,
//!   even when they could have completed at once;
//! - a `send` cancelled while waiting delivered nothing and hands the value
//!   back in [`SendError::Cancelled`]; a `recv` cancelled while waiting took
//!   nothing;
//! - one that was handed its outcome before the cancellation was seen
//!   completes normally; the next checkpoint reports the cancellation.
//!
//! # Closing
//!
//! [`Sender::close`] or [`Receiver::close`] closes the whole channel, and so
//! does dropping every sender or every receiver:
//!
//! - a send on a closed channel fails with [`SendError::Closed`], which hands
//!   the value back; sends waiting when it closes fail the same way;
//! - receivers drain what is buffered, then `recv` returns `Ok(None)`;
//! - when the last receiver is dropped, the buffered values are dropped.
//!
//! ```
//! use canopy_sync::channel;
//!
//! let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
//! rt.block_on(async {
//!     let (tx, rx) = channel::channel(16);
//!     let producer = canopy_runtime::spawn(async move {
//!         for i in 0..100 {
//!             tx.send(i).await?; // a `SendError` hands `i` back
//!         }
//!         Ok::<_, channel::SendError<i32>>(())
//!     }); // `tx` is dropped when the producer ends: that closes the channel.
//!     let mut sum = 0;
//!     while let Some(i) = rx.recv().await? {
//!         sum += i;
//!     }
//!     assert_eq!(sum, 4950);
//!     producer.await.unwrap().unwrap();
//!     Ok::<_, canopy_scope::Cancelled>(())
//! })
//! .unwrap();
//! ```

mod core;
mod error;
mod recv;
mod send;

#[cfg(all(test, loom))]
mod loom_models;

pub use error::{SendError, TryRecvError, TrySendError};
pub use recv::Recv;
pub use send::Send;

use crate::loom::{Arc, atomic::Ordering, lock};
use canopy_scope::Cancelled;
use core::Chan;
use recv::RecvWait;
use std::fmt;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A channel that buffers up to `capacity` values; `send` waits while it is
/// full. With `capacity == 0` it is a rendezvous channel (as in Trio): a send
/// waits until a receiver takes the value from its hands.
///
/// ```
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let (tx, rx) = canopy_sync::channel::channel(1);
///     tx.send("hello").await.unwrap();
///     assert!(tx.try_send("full").unwrap_err().is_full());
///     assert_eq!(rx.recv().await?, Some("hello"));
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    pair(capacity, Location::caller())
}

/// A channel without a bound: `send` never waits (it is still a checkpoint).
#[track_caller]
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    pair(usize::MAX, Location::caller())
}

fn pair<T>(capacity: usize, location: &'static Location<'static>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(capacity));
    (
        Sender { chan: chan.clone() },
        Receiver {
            chan,
            stream: RecvWait::default(),
            location,
        },
    )
}

/// The sending side of a channel. Clone it for more producers; when the
/// last clone is dropped, the channel closes.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room if the channel is full (for a
    /// receiver, at capacity 0). A checkpoint; see [`Send`] for exactly what
    /// each outcome means. On error the value comes back in the error.
    #[track_caller]
    pub fn send(&self, value: T) -> Send<'_, T> {
        Send::new(&self.chan, value, Location::caller())
    }

    /// Sends `value` if that needs no waiting. Not a checkpoint.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut state = lock(&self.chan.state);
        let woken = self.chan.try_send_locked(&mut state, value)?;
        drop(state);
        if let Some(waker) = woken {
            waker.wake();
        }
        Ok(())
    }

    /// Closes the channel for everyone (see the [module docs](self)).
    /// Returns `false` if it was already closed.
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed.
    pub fn is_closed(&self) -> bool {
        lock(&self.chan.state).closed
    }

    /// How many values are buffered now.
    pub fn len(&self) -> usize {
        lock(&self.chan.state).buffer.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound given to [`channel`]; `None` for [`unbounded`].
    pub fn capacity(&self) -> Option<usize> {
        (self.chan.capacity != usize::MAX).then_some(self.chan.capacity)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.sender_count.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last one sees every other clone's drop. The close
        // itself is ordered by the channel's lock.
        if self.chan.sender_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// The receiving side of a channel. Clone it for more consumers (each value
/// goes to one of them); when the last clone is dropped, the channel closes
/// and the buffered values are dropped.
///
/// It is a [`Stream`](futures_core::Stream) of `Result<T, Cancelled>`: each
/// poll is a checkpoint, a cancellation is an item (`Some(Err(_))`, which
/// took nothing), and the stream ends when the channel is closed and drained.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// The receive in progress through `Stream::poll_next`.
    stream: RecvWait,
    location: &'static Location<'static>,
}

impl<T> Receiver<T> {
    /// Receives the next value, waiting for one. `Ok(None)` once the channel
    /// is closed and drained. A checkpoint; see [`Recv`].
    #[track_caller]
    pub fn recv(&self) -> Recv<'_, T> {
        Recv::new(&self.chan, Location::caller())
    }

    /// Takes a value if one is ready. Not a checkpoint.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = lock(&self.chan.state);
        let (value, woken) = self.chan.try_recv_locked(&mut state)?;
        drop(state);
        if let Some(waker) = woken {
            waker.wake();
        }
        Ok(value)
    }

    /// Closes the channel for everyone (see the [module docs](self)):
    /// buffered values can still be received. Returns `false` if it was
    /// already closed.
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed (values may still be buffered).
    pub fn is_closed(&self) -> bool {
        lock(&self.chan.state).closed
    }

    /// How many values are buffered now.
    pub fn len(&self) -> usize {
        lock(&self.chan.state).buffer.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound given to [`channel`]; `None` for [`unbounded`].
    pub fn capacity(&self) -> Option<usize> {
        (self.chan.capacity != usize::MAX).then_some(self.chan.capacity)
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = Result<T, Cancelled>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.stream
            .poll(&this.chan, cx, this.location)
            .map(Result::transpose)
    }
}

impl<T> Clone for Receiver<T> {
    #[track_caller]
    fn clone(&self) -> Self {
        self.chan.receiver_count.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
            stream: RecvWait::default(),
            location: Location::caller(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.stream.abandon(&self.chan);
        if self.chan.receiver_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
            // Nobody can receive them now; drop them outside the lock.
            let buffered = std::mem::take(&mut lock(&self.chan.state).buffer);
            drop(buffered);
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}
