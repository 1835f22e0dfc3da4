//! The shared core of a bounded or unbounded MPMC channel: a buffer and two
//! waiter queues under one per-channel lock.
//!
//! # Protocol
//!
//! Every operation takes the channel's lock for a few instructions (no
//! allocation except when a queue grows, no waker is woken while it is
//! held). There is no global lock: two channels never contend.
//!
//! Values move by **hand-off**: a sender that finds a receiver queued writes
//! the value into that receiver's node (`RecvSlot::Got`) and unlinks it; a
//! receiver that frees a slot in a full buffer moves the first queued
//! sender's value into the buffer (or, at capacity 0, takes it directly) and
//! marks that sender `SendSlot::Sent`. The woken waiter finds its outcome in
//! its node. So a wake-up is never a hint that something *might* be there: it
//! is an outcome that belongs to that waiter alone, and no other task can
//! take it.
//!
//! A waiter whose scope is cancelled (or whose future is dropped) takes its
//! node out under the lock. If the node was still queued, nothing was handed
//! to it: a sender gets its value back, a receiver took nothing. If it had
//! been handed an item, a *cancelled* receiver returns the item anyway (the
//! outcome was decided, DESIGN §2.13) and a *dropped* one passes it on to the
//! next queued receiver, or back to the front of the buffer. A sender's
//! outcome (`Sent`) carries nothing to pass on. Hence no item is ever lost or
//! duplicated, and no wake-up is swallowed.
//!
//! # Invariants (under the lock)
//!
//! 1. Receivers are queued only while the buffer is empty and no sender is
//!    queued.
//! 2. Senders are queued only while the buffer holds `capacity` items or more
//!    (always, at capacity 0) and no receiver is queued.
//! 3. Once `closed`, no waiter is queued: closing hands every queued sender
//!    `Closed(value)` and every queued receiver `Closed` (by 1, the buffer is
//!    empty then).
//!
//! The buffer can hold more than `capacity` items only after a dropped
//! receiver put its handed item back at the front.

use super::error::{TryRecvError, TrySendError};
use crate::loom::{Mutex, atomic::AtomicUsize, lock};
use crate::wait_list::WaitList;
use crate::wake_list::WakeList;
use std::collections::VecDeque;
use std::task::Waker;

/// A queued (or handed-off) sender's node.
pub(super) enum SendSlot<T> {
    /// Queued with its value.
    Waiting(Waker, T),
    /// A receiver took the value.
    Sent,
    /// The channel closed first; the value comes back.
    Closed(T),
}

/// A queued (or handed-off) receiver's node.
pub(super) enum RecvSlot<T> {
    /// Queued, nothing yet.
    Waiting(Waker),
    /// A sender handed it this value.
    Got(T),
    /// The channel closed and drained.
    Closed,
}

pub(super) struct State<T> {
    pub(super) buffer: VecDeque<T>,
    pub(super) closed: bool,
    pub(super) senders: WaitList<SendSlot<T>>,
    pub(super) receivers: WaitList<RecvSlot<T>>,
}

pub(super) struct Chan<T> {
    pub(super) state: Mutex<State<T>>,
    /// `usize::MAX` for an unbounded channel.
    pub(super) capacity: usize,
    pub(super) sender_count: AtomicUsize,
    pub(super) receiver_count: AtomicUsize,
}

impl<T> Chan<T> {
    pub(super) fn new(capacity: usize) -> Self {
        Chan {
            state: Mutex::new(State {
                buffer: VecDeque::new(),
                closed: false,
                senders: WaitList::new(),
                receivers: WaitList::new(),
            }),
            capacity,
            sender_count: AtomicUsize::new(1),
            receiver_count: AtomicUsize::new(1),
        }
    }

    /// Delivers `value` without waiting, if it can. On `Ok`, the returned
    /// waker (if any) belongs to the receiver it was handed to and must be
    /// woken after the lock is released.
    pub(super) fn try_send_locked(
        &self,
        state: &mut State<T>,
        value: T,
    ) -> Result<Option<Waker>, TrySendError<T>> {
        if state.closed {
            return Err(TrySendError::Closed(value));
        }
        if let Some(key) = state.receivers.unlink_front() {
            let slot = std::mem::replace(state.receivers.get_mut(key), RecvSlot::Got(value));
            let RecvSlot::Waiting(waker) = slot else {
                unreachable!("a queued receiver is waiting")
            };
            return Ok(Some(waker));
        }
        if state.buffer.len() < self.capacity {
            state.buffer.push_back(value);
            return Ok(None);
        }
        Err(TrySendError::Full(value))
    }

    /// Takes a value without waiting, if there is one. The returned waker (if
    /// any) belongs to a sender whose value was taken, to be woken after the
    /// lock is released.
    pub(super) fn try_recv_locked(
        &self,
        state: &mut State<T>,
    ) -> Result<(T, Option<Waker>), TryRecvError> {
        if let Some(value) = state.buffer.pop_front() {
            // A slot came free: the first queued sender's value moves in.
            let mut woken = None;
            if state.buffer.len() < self.capacity {
                if let Some(key) = state.senders.unlink_front() {
                    let slot = std::mem::replace(state.senders.get_mut(key), SendSlot::Sent);
                    let SendSlot::Waiting(waker, moved) = slot else {
                        unreachable!("a queued sender is waiting")
                    };
                    state.buffer.push_back(moved);
                    woken = Some(waker);
                }
            }
            return Ok((value, woken));
        }
        if let Some(key) = state.senders.unlink_front() {
            // Capacity 0: take the value straight from the sender.
            let slot = std::mem::replace(state.senders.get_mut(key), SendSlot::Sent);
            let SendSlot::Waiting(waker, value) = slot else {
                unreachable!("a queued sender is waiting")
            };
            return Ok((value, Some(waker)));
        }
        if state.closed {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel (no-op if closed): queued senders get their values
    /// back, queued receivers learn the end. Returns whether this call closed
    /// it.
    pub(super) fn close(&self) -> bool {
        let mut wakers = WakeList::new();
        {
            let mut state = lock(&self.state);
            if state.closed {
                return false;
            }
            state.closed = true;
            state.senders.drain_with(|slot| {
                let SendSlot::Waiting(waker, value) = std::mem::replace(slot, SendSlot::Sent)
                else {
                    unreachable!("a queued sender is waiting")
                };
                *slot = SendSlot::Closed(value);
                wakers.push(waker);
            });
            // Invariant 1: receivers are queued only on an empty buffer.
            state.receivers.drain_with(|slot| {
                if let RecvSlot::Waiting(waker) = std::mem::replace(slot, RecvSlot::Closed) {
                    wakers.push(waker);
                }
            });
        }
        wakers.wake_all();
        true
    }

    /// Puts back an item that was handed to a receiver which can no longer
    /// take it (its future was dropped): to the next queued receiver, or to
    /// the front of the buffer, so it is the next one received.
    pub(super) fn pass_on(&self, state: &mut State<T>, value: T) -> Option<Waker> {
        if let Some(key) = state.receivers.unlink_front() {
            let slot = std::mem::replace(state.receivers.get_mut(key), RecvSlot::Got(value));
            let RecvSlot::Waiting(waker) = slot else {
                unreachable!("a queued receiver is waiting")
            };
            return Some(waker);
        }
        state.buffer.push_front(value);
        None
    }
}

/// Stores `waker` in `slot` unless it would wake the same task.
#[inline]
pub(super) fn update_waker(slot: &mut Waker, waker: &Waker) {
    if !slot.will_wake(waker) {
        slot.clone_from(waker);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::{TryRecvError, TrySendError, channel};
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_full_buffer_queues_senders_and_a_recv_moves_the_first_one_in() {
        let (tx, rx) = channel(1);
        tx.try_send(1).unwrap();
        let mut second = pin!(tx.send(2));
        let mut third = pin!(tx.send(3));
        assert!(poll_once(second.as_mut()).is_pending());
        assert!(poll_once(third.as_mut()).is_pending());
        assert_eq!(rx.try_recv(), Ok(1));
        // Invariant 2: the freed slot went to the first queued sender.
        assert_eq!(rx.len(), 1);
        assert!(matches!(poll_once(second.as_mut()), Poll::Ready(Ok(()))));
        assert!(poll_once(third.as_mut()).is_pending());
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Ok(3));
        assert!(matches!(poll_once(third.as_mut()), Poll::Ready(Ok(()))));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn a_send_hands_its_value_to_the_first_queued_receiver() {
        let (tx, rx) = channel(4);
        let mut first = pin!(rx.recv());
        let mut second = pin!(rx.recv());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        tx.try_send(1).unwrap();
        assert_eq!(rx.len(), 0, "handed over, not buffered");
        assert_eq!(poll_once(second.as_mut()), Poll::Pending);
        assert_eq!(poll_once(first.as_mut()), Poll::Ready(Ok(Some(1))));
    }

    #[test]
    fn close_empties_both_queues() {
        let (tx, rx) = channel::<u8>(0);
        let mut send = pin!(tx.send(1));
        assert!(poll_once(send.as_mut()).is_pending());
        assert!(rx.close());
        assert!(matches!(
            poll_once(send.as_mut()),
            Poll::Ready(Err(super::super::SendError::Closed(1)))
        ));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert!(matches!(tx.try_send(2), Err(TrySendError::Closed(2))));
    }

    #[test]
    fn dropping_a_queued_send_withdraws_its_value() {
        let (tx, rx) = channel(0);
        {
            let mut send = pin!(tx.send(1));
            assert!(poll_once(send.as_mut()).is_pending());
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }
}
