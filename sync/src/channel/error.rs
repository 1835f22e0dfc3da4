//! The channel's error types. Each says what went wrong and what to do, and
//! every error of a send hands the value back.

use canopy_scope::{CancelError, Cancelled};
use std::error::Error;
use std::fmt;

/// Why [`Sender::send`](super::Sender::send) failed. Either way the value was
/// **not** delivered and comes back to you ([`SendError::into_inner`]).
#[derive(PartialEq, Eq)]
pub enum SendError<T> {
    /// The channel is closed: [`close`](super::Sender::close) was called, or
    /// every receiver is gone. No later send can succeed.
    Closed(T),
    /// The enclosing cancel scope was cancelled before the value was taken
    /// by a receiver (or before the send started). Nothing was delivered.
    Cancelled(T, Cancelled),
}

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Closed(value) | SendError::Cancelled(value, _) => value,
        }
    }

    /// The cancellation, if that is why the send failed.
    pub fn cancelled(&self) -> Option<&Cancelled> {
        match self {
            SendError::Closed(_) => None,
            SendError::Cancelled(_, cancelled) => Some(cancelled),
        }
    }

    /// Whether the send failed because the channel is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, SendError::Closed(_))
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("SendError::Closed(..)"),
            SendError::Cancelled(_, cancelled) => f
                .debug_tuple("SendError::Cancelled")
                .field(&"..")
                .field(cancelled)
                .finish(),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str(
                "send on a closed channel (closed, or every receiver is gone); \
                 the value was not delivered: take it back with `into_inner()`",
            ),
            SendError::Cancelled(_, cancelled) => write!(
                f,
                "send cancelled before a receiver took the value ({cancelled}); \
                 the value was not delivered: take it back with `into_inner()`"
            ),
        }
    }
}

impl<T> Error for SendError<T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            SendError::Closed(_) => None,
            SendError::Cancelled(_, cancelled) => Some(cancelled),
        }
    }
}

/// Why [`Sender::try_send`](super::Sender::try_send) failed; the value comes
/// back to you.
#[derive(PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The buffer is full (for a capacity-0 channel: no receiver is waiting).
    Full(T),
    /// The channel is closed, or every receiver is gone.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value) | TrySendError::Closed(value) => value,
        }
    }

    /// Whether the send failed because the channel is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }

    /// Whether the send failed because the channel is full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("TrySendError::Full(..)"),
            TrySendError::Closed(_) => f.write_str("TrySendError::Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str(
                "channel full (or, with capacity 0, no receiver waiting); \
                 await `send` to wait for room, or take the value back with `into_inner()`",
            ),
            TrySendError::Closed(_) => f.write_str(
                "send on a closed channel (closed, or every receiver is gone); \
                 take the value back with `into_inner()`",
            ),
        }
    }
}

impl<T> Error for TrySendError<T> {}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) got nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is buffered (and no sender is waiting) right now.
    Empty,
    /// The channel is closed and everything buffered has been received.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str(
                "channel empty: nothing buffered and no sender waiting; await `recv` to wait",
            ),
            TryRecvError::Closed => f.write_str(
                "channel closed (closed, or every sender is gone) and fully drained: \
                 no more values will come",
            ),
        }
    }
}

impl Error for TryRecvError {}

/// So that a send can run directly in a scope (`scope.run(async { tx.send(v).await })`):
/// the scope catches its own cancellation.
impl<T> CancelError for SendError<T> {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        self.cancelled()
    }
}
