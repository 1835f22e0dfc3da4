//! Receiving: the future of [`Receiver::recv`](super::Receiver::recv), and
//! the wait state it shares with the receiver's `Stream` implementation.

use super::core::{Chan, RecvSlot, update_waker};
use super::error::TryRecvError;
use crate::loom::lock;
use canopy_scope::{Cancelled, poll_budget, poll_cancelled};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// One receive in progress: the receiver's node in the channel's queue.
#[derive(Debug, Default)]
pub(super) struct RecvWait {
    key: Option<usize>,
}

impl RecvWait {
    /// Polls one receive. See [`Recv`] for the outcomes.
    pub(super) fn poll<T>(
        &mut self,
        chan: &Chan<T>,
        cx: &mut Context<'_>,
        location: &'static Location<'static>,
    ) -> Poll<Result<Option<T>, Cancelled>> {
        let cancelled = ready!(poll_cancelled(cx, location));
        self.poll_decided(chan, cx, cancelled)
    }

    /// [`poll`](Self::poll) once the cancel check has been made (split out
    /// so the loom models can drive the cancelled path without a runtime).
    pub(super) fn poll_decided<T, C>(
        &mut self,
        chan: &Chan<T>,
        cx: &mut Context<'_>,
        cancelled: Result<(), C>,
    ) -> Poll<Result<Option<T>, C>> {
        if let Some(key) = self.key {
            let mut state = lock(&chan.state);
            if let RecvSlot::Waiting(waker) = state.receivers.get_mut(key) {
                if let Err(cancelled) = cancelled {
                    // Still queued: nothing was handed to it.
                    self.key = None;
                    state.receivers.remove(key);
                    return Poll::Ready(Err(cancelled));
                }
                update_waker(waker, cx.waker());
                return Poll::Pending;
            }
            // Handed its outcome: it stands, cancelled or not (§2.13).
            self.key = None;
            return Poll::Ready(Ok(match state.receivers.remove(key) {
                RecvSlot::Got(value) => Some(value),
                RecvSlot::Closed => None,
                RecvSlot::Waiting(_) => unreachable!(),
            }));
        }
        cancelled?;
        ready!(poll_budget(cx));
        let mut state = lock(&chan.state);
        match chan.try_recv_locked(&mut state) {
            Ok((value, woken)) => {
                drop(state);
                if let Some(waker) = woken {
                    waker.wake();
                }
                Poll::Ready(Ok(Some(value)))
            }
            Err(TryRecvError::Closed) => Poll::Ready(Ok(None)),
            Err(TryRecvError::Empty) => {
                let key = state
                    .receivers
                    .push_back(RecvSlot::Waiting(cx.waker().clone()));
                self.key = Some(key);
                Poll::Pending
            }
        }
    }

    /// Abandons the receive (its future or stream is dropped): an item it was
    /// handed goes on to the next receiver, or back to the buffer's front.
    pub(super) fn abandon<T>(&mut self, chan: &Chan<T>) {
        let Some(key) = self.key.take() else { return };
        let mut state = lock(&chan.state);
        if let RecvSlot::Got(value) = state.receivers.remove(key) {
            let woken = chan.pass_on(&mut state, value);
            drop(state);
            if let Some(waker) = woken {
                waker.wake();
            }
        }
    }
}

/// The future of [`Receiver::recv`](super::Receiver::recv): takes one value,
/// waiting for one if none is buffered.
///
/// A checkpoint. Its outcome, exactly:
/// - `Ok(Some(value))`: a value, taken from the buffer or from a sender.
/// - `Ok(None)`: the channel is closed and drained; nothing more will come.
/// - `Err(Cancelled)`: the scope was cancelled before the first poll, or
///   while waiting and before a value was handed to this receive. It took
///   nothing.
///
/// If a value was handed to it before the cancellation was seen, the receive
/// returns it and the next checkpoint reports the cancellation. Dropping the
/// future after it was handed a value passes that value on to the next
/// receiver (or back to the front of the buffer): nothing is lost.
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    chan: &'a Chan<T>,
    wait: RecvWait,
    location: &'static Location<'static>,
}

impl<'a, T> Recv<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>, location: &'static Location<'static>) -> Self {
        Recv {
            chan,
            wait: RecvWait::default(),
            location,
        }
    }
}

impl<T> Future for Recv<'_, T> {
    type Output = Result<Option<T>, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.wait.poll(this.chan, cx, this.location)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        self.wait.abandon(self.chan);
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv")
            .field("waiting", &self.wait.key.is_some())
            .finish_non_exhaustive()
    }
}
