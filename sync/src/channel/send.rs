//! The future of [`Sender::send`](super::Sender::send).

use super::core::{Chan, SendSlot, update_waker};
use super::error::{SendError, TrySendError};
use crate::loom::lock;
use canopy_scope::{poll_budget, poll_cancelled};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The future of [`Sender::send`](super::Sender::send): delivers one value,
/// waiting for room (or, at capacity 0, for a receiver).
///
/// A checkpoint. Its outcome, exactly:
/// - `Ok(())`: the value is in the buffer or in a receiver's hands.
/// - `Err(SendError::Cancelled(value, _))`: the scope was cancelled before
///   the first poll, or while waiting and before a receiver took the value.
///   Nothing was delivered; the value is handed back.
/// - `Err(SendError::Closed(value))`: the channel is (or became) closed.
///
/// If a receiver took the value before the cancellation was seen, the send
/// succeeds and the next checkpoint reports the cancellation. Dropping the
/// future while it waits withdraws the value (and drops it).
#[must_use = "futures do nothing unless awaited"]
pub struct Send<'a, T> {
    chan: &'a Chan<T>,
    value: Option<T>,
    /// The sender's node in the channel's queue, while waiting.
    key: Option<usize>,
    location: &'static Location<'static>,
}

// The value is moved in and out by value, never pinned.
impl<T> Unpin for Send<'_, T> {}

impl<'a, T> Send<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>, value: T, location: &'static Location<'static>) -> Self {
        Send {
            chan,
            value: Some(value),
            key: None,
            location,
        }
    }
}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cancelled = ready!(poll_cancelled(cx, this.location));
        this.poll_decided(cx, cancelled)
            .map(|outcome| match outcome {
                Ok(()) => Ok(()),
                Err(SendFailed::Closed(value)) => Err(SendError::Closed(value)),
                Err(SendFailed::Cancelled(value, cancelled)) => {
                    Err(SendError::Cancelled(value, cancelled))
                }
            })
    }
}

/// A failed send, generic over the cancellation (so the loom models can
/// drive the cancelled path without a runtime).
pub(super) enum SendFailed<T, C> {
    Closed(T),
    Cancelled(T, C),
}

impl<T> Send<'_, T> {
    /// `poll` once the cancel check has been made.
    pub(super) fn poll_decided<C>(
        &mut self,
        cx: &mut Context<'_>,
        cancelled: Result<(), C>,
    ) -> Poll<Result<(), SendFailed<T, C>>> {
        if let Some(key) = self.key {
            let mut state = lock(&self.chan.state);
            if let SendSlot::Waiting(waker, _) = state.senders.get_mut(key) {
                if let Err(cancelled) = cancelled {
                    // Still queued: no receiver took the value.
                    self.key = None;
                    let SendSlot::Waiting(_, value) = state.senders.remove(key) else {
                        unreachable!()
                    };
                    return Poll::Ready(Err(SendFailed::Cancelled(value, cancelled)));
                }
                update_waker(waker, cx.waker());
                return Poll::Pending;
            }
            // Handed its outcome: it stands, cancelled or not (§2.13).
            self.key = None;
            return Poll::Ready(match state.senders.remove(key) {
                SendSlot::Sent => Ok(()),
                SendSlot::Closed(value) => Err(SendFailed::Closed(value)),
                SendSlot::Waiting(..) => unreachable!(),
            });
        }
        let value = self.value.take().expect("`Send` polled after completion");
        if let Err(cancelled) = cancelled {
            return Poll::Ready(Err(SendFailed::Cancelled(value, cancelled)));
        }
        if poll_budget(cx).is_pending() {
            self.value = Some(value);
            return Poll::Pending;
        }
        let mut state = lock(&self.chan.state);
        match self.chan.try_send_locked(&mut state, value) {
            Ok(woken) => {
                drop(state);
                if let Some(waker) = woken {
                    waker.wake();
                }
                Poll::Ready(Ok(()))
            }
            Err(TrySendError::Closed(value)) => Poll::Ready(Err(SendFailed::Closed(value))),
            Err(TrySendError::Full(value)) => {
                let key = state
                    .senders
                    .push_back(SendSlot::Waiting(cx.waker().clone(), value));
                self.key = Some(key);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Withdraw; whatever value comes back is dropped after the lock.
            let slot = lock(&self.chan.state).senders.remove(key);
            drop(slot);
        }
    }
}

impl<T> fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
