//! A channel for exactly one value: [`oneshot`].
//!
//! # Protocol
//!
//! One small lock guards the slot (`value`), the receiver's waker and two
//! flags (`sender_gone`, `receiver_gone`). `send` stores the value unless the
//! receiver is gone (then the value comes back), and wakes the receiver after
//! the lock. Dropping the sender without sending marks it gone and wakes the
//! receiver, which then reports `Ok(None)`.
//!
//! The receiver is a checkpoint. Called in a cancelled scope it returns
//! `Cancelled` and leaves any value in the slot (it can be awaited again,
//! e.g. under a shield). Once it has waited, a value that arrived before the
//! cancellation was seen is returned (the outcome was decided, DESIGN
//! §2.13). A value is never lost by a cancellation: until it is returned, it
//! stays in the slot.

use crate::loom::{Arc, Mutex, lock};
use canopy_scope::{Cancelled, poll_budget, poll_cancelled};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

/// A channel for one value. The [`Receiver`] is a future of
/// `Result<Option<T>, Cancelled>`: `Some(value)`, or `None` if the sender
/// was dropped without sending.
///
/// ```
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let (tx, rx) = canopy_sync::oneshot::oneshot();
///     canopy_runtime::spawn(async move { tx.send(7).unwrap() });
///     assert_eq!(rx.await?, Some(7));
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
        sender_gone: false,
        receiver_gone: false,
    }));
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver {
            inner,
            waited: false,
            location: Location::caller(),
        },
    )
}

/// Why [`Receiver::try_recv`] got no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Not sent yet; await the receiver to wait for it.
    Empty,
    /// The sender is gone without sending (or the value was taken already).
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => {
                f.write_str("no value yet: the sender has not sent; await the receiver to wait")
            }
            TryRecvError::Closed => f.write_str(
                "no value will come: the sender was dropped without sending \
                 (or the value was already received)",
            ),
        }
    }
}

impl std::error::Error for TryRecvError {}

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

/// Sends the one value ([`send`](Self::send) consumes it). Dropping it
/// unsent tells the receiver no value will come.
pub struct Sender<T> {
    /// `None` once sent.
    inner: Option<Arc<Mutex<Slot<T>>>>,
}

impl<T> Sender<T> {
    /// Sends `value`; never waits, not a checkpoint. `Err(value)` if the
    /// receiver is gone (dropped or [`close`](Receiver::close)d): nobody
    /// could ever receive it, so it comes back.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self.inner.take().expect("a sender sends once");
        let mut slot = lock(&inner);
        if slot.receiver_gone {
            return Err(value);
        }
        slot.value = Some(value);
        slot.sender_gone = true;
        let waker = slot.waker.take();
        drop(slot);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Whether the receiver is gone (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| lock(inner).receiver_gone)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let mut slot = lock(&inner);
        slot.sender_gone = true;
        let waker = slot.waker.take();
        drop(slot);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender").finish_non_exhaustive()
    }
}

/// Receives the one value: await it (a checkpoint) for
/// `Result<Option<T>, Cancelled>`. After a `Cancelled` it may be awaited
/// again; the value, if any, is still there.
#[must_use = "futures do nothing unless awaited"]
pub struct Receiver<T> {
    inner: Arc<Mutex<Slot<T>>>,
    /// Whether it has registered to wait (so an arrived value is "handed").
    waited: bool,
    location: &'static Location<'static>,
}

impl<T> Receiver<T> {
    /// Takes the value if it has arrived. Not a checkpoint.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut slot = lock(&self.inner);
        match slot.value.take() {
            Some(value) => Ok(value),
            None if slot.sender_gone => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Refuses the value from now on: a later `send` fails and hands it
    /// back. A value sent before can still be received.
    pub fn close(&mut self) {
        lock(&self.inner).receiver_gone = true;
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<Option<T>, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cancelled = ready!(poll_cancelled(cx, this.location));
        if cancelled.is_ok() && !this.waited {
            ready!(poll_budget(cx));
        }
        let mut slot = lock(&this.inner);
        if this.waited || cancelled.is_ok() {
            if let Some(value) = slot.value.take() {
                this.waited = false;
                return Poll::Ready(Ok(Some(value)));
            }
            if slot.sender_gone {
                this.waited = false;
                return Poll::Ready(Ok(None));
            }
        }
        if let Err(cancelled) = cancelled {
            this.waited = false;
            slot.waker = None;
            return Poll::Ready(Err(cancelled));
        }
        match &mut slot.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        this.waited = true;
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut slot = lock(&self.inner);
        slot.receiver_gone = true;
        let value = slot.value.take();
        drop(slot);
        drop(value);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver").finish_non_exhaustive()
    }
}
