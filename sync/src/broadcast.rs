//! A channel whose every receiver gets every value: [`broadcast`].
//!
//! # Protocol
//!
//! One lock guards a ring of the last `capacity` values, each with its
//! sequence number, the next sequence number, the closed flag and the queue
//! of waiting receivers. A receiver remembers the next sequence number it
//! wants. `send` never waits: it appends (dropping the oldest value when the
//! ring is full — receivers that had not read it yet *lag* and are told how
//! many values they missed), then unlinks every queued receiver (an unlinked
//! node means "woken by a send or the close") and wakes them.
//!
//! `recv` is a checkpoint. Called in a cancelled scope, it returns
//! `Cancelled` and takes nothing (its position does not move). Cancelled
//! while queued, it leaves the queue and took nothing. Woken by a send before
//! the cancellation was seen, it receives (DESIGN §2.13). Nothing is taken
//! from anyone else: each receiver reads its own copy (`T: Clone`).

use crate::loom::{Arc, Mutex, lock};
use crate::wait_list::WaitList;
use crate::wake_list::WakeList;
use canopy_scope::{CancelError, Cancelled, poll_budget, poll_cancelled};
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

/// A channel that keeps the last `capacity` values (at least 1) for every
/// receiver; a receiver that falls further behind is told how many it
/// missed. Values are cloned for each receiver.
///
/// ```
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let (tx, mut a) = canopy_sync::broadcast::broadcast(8);
///     let mut b = tx.subscribe();
///     tx.send("hi").unwrap();
///     assert_eq!(a.recv().await.unwrap(), "hi");
///     assert_eq!(b.recv().await.unwrap(), "hi");
/// });
/// ```
pub fn broadcast<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(State {
        ring: VecDeque::new(),
        capacity: capacity.max(1),
        next: 0,
        closed: false,
        senders: 1,
        receivers: 1,
        waiters: WaitList::new(),
    }));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

struct State<T> {
    ring: VecDeque<T>,
    capacity: usize,
    /// The sequence number the next value sent will get.
    next: u64,
    closed: bool,
    senders: usize,
    receivers: usize,
    waiters: WaitList<Waker>,
}

impl<T> State<T> {
    fn oldest(&self) -> u64 {
        self.next - self.ring.len() as u64
    }

    fn wake_all(&mut self, wakers: &mut WakeList) {
        self.waiters.drain_with(|waker| wakers.push(waker.clone()));
    }
}

/// Why [`Receiver::recv`] returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The scope was cancelled first; nothing was received (the receiver's
    /// position did not move).
    Cancelled(Cancelled),
    /// This receiver fell behind by this many values, which are gone; the
    /// next `recv` gets the oldest value still kept.
    Lagged(u64),
    /// Every sender is gone and this receiver has read everything.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Cancelled(cancelled) => {
                write!(f, "broadcast receive cancelled ({cancelled})")
            }
            RecvError::Lagged(n) => write!(
                f,
                "this receiver fell behind and missed {n} values; receive again to go on \
                 from the oldest value kept (or give the channel more capacity)"
            ),
            RecvError::Closed => f.write_str("every sender is gone and everything was received"),
        }
    }
}

impl Error for RecvError {}

impl From<Cancelled> for RecvError {
    fn from(cancelled: Cancelled) -> Self {
        RecvError::Cancelled(cancelled)
    }
}

impl CancelError for RecvError {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        match self {
            RecvError::Cancelled(cancelled) => Some(cancelled),
            _ => None,
        }
    }
}

/// The sending side of a [`broadcast`] channel; clone it for more.
pub struct Sender<T> {
    shared: Arc<Mutex<State<T>>>,
}

impl<T: Clone> Sender<T> {
    /// Sends `value` to every receiver; never waits, not a checkpoint.
    /// Returns how many receivers there are; `Err(value)` if none.
    pub fn send(&self, value: T) -> Result<usize, T> {
        let mut wakers = WakeList::new();
        let (receivers, dropped) = {
            let mut state = lock(&self.shared);
            if state.receivers == 0 {
                return Err(value);
            }
            state.ring.push_back(value);
            state.next += 1;
            let dropped = if state.ring.len() > state.capacity {
                state.ring.pop_front()
            } else {
                None
            };
            state.wake_all(&mut wakers);
            (state.receivers, dropped)
        };
        drop(dropped);
        wakers.wake_all();
        Ok(receivers)
    }

    /// A new receiver that gets the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        let mut state = lock(&self.shared);
        state.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: state.next,
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.shared).senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut wakers = WakeList::new();
        {
            let mut state = lock(&self.shared);
            state.senders -= 1;
            if state.senders == 0 {
                state.closed = true;
                state.wake_all(&mut wakers);
            }
        }
        wakers.wake_all();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender").finish_non_exhaustive()
    }
}

/// A receiving side of a [`broadcast`] channel. Cloning it gives a receiver
/// at the same position.
pub struct Receiver<T> {
    shared: Arc<Mutex<State<T>>>,
    /// The sequence number of the next value this receiver wants.
    next: u64,
}

impl<T: Clone> Receiver<T> {
    /// Receives the next value, waiting for one. A checkpoint; see the
    /// module docs for the cancellation rules.
    #[track_caller]
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            receiver: self,
            key: None,
            location: Location::caller(),
        }
    }

    /// The next value if one is there. Not a checkpoint. `Ok(None)`: none
    /// yet.
    pub fn try_recv(&mut self) -> Result<Option<T>, RecvError> {
        let state = lock(&self.shared);
        take(&mut self.next, &state)
    }
}

/// Reads the value at position `next` (moving it on), or says why not.
fn take<T: Clone>(next: &mut u64, state: &State<T>) -> Result<Option<T>, RecvError> {
    let oldest = state.oldest();
    if *next < oldest {
        let missed = oldest - *next;
        *next = oldest;
        return Err(RecvError::Lagged(missed));
    }
    if *next < state.next {
        let value = state.ring[(*next - oldest) as usize].clone();
        *next += 1;
        return Ok(Some(value));
    }
    if state.closed {
        return Err(RecvError::Closed);
    }
    Ok(None)
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        lock(&self.shared).receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: self.next,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        lock(&self.shared).receivers -= 1;
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// The future of [`Receiver::recv`].
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
    key: Option<usize>,
    location: &'static Location<'static>,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cancelled = ready!(poll_cancelled(cx, this.location));
        if this.key.is_none() {
            cancelled?;
            ready!(poll_budget(cx));
        }
        let receiver = &mut *this.receiver;
        let mut state = lock(&receiver.shared);
        if let Some(key) = this.key {
            let woken = !state.waiters.is_linked(key);
            if !woken {
                if let Err(cancelled) = cancelled {
                    this.key = None;
                    state.waiters.remove(key);
                    return Poll::Ready(Err(RecvError::Cancelled(cancelled)));
                }
            }
            // Woken by a send (or the close) first: that stands.
            this.key = None;
            state.waiters.remove(key);
        }
        match take(&mut receiver.next, &state) {
            Ok(Some(value)) => Poll::Ready(Ok(value)),
            Err(error) => Poll::Ready(Err(error)),
            Ok(None) => {
                this.key = Some(state.waiters.push_back(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Nothing to pass on: every send wakes every receiver.
            lock(&self.receiver.shared).waiters.remove(key);
        }
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Recv")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
