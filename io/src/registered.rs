//! A file descriptor registered with the reactor, and the one loop every
//! socket operation runs: cancel check, readiness, system call.
//!
//! # An operation
//!
//! Each poll of an operation (`poll_io`):
//!
//! 1. checks for cancellation (`poll_cancelled`, which also registers the
//!    waker with the scope so a leaf polled by `FuturesUnordered` is woken).
//!    A cancelled operation returns before any system call, so it consumed
//!    no byte and no connection (DESIGN §2.13);
//! 2. fails if the runtime shut down (the reactor no longer runs);
//! 3. if the direction is not ready, stores the waker and returns `Pending`;
//! 4. if it is ready and the operation has not waited, spends one unit of the
//!    checkpoint budget (DESIGN §2.8) *before* the call, so that a yield for
//!    the budget never comes after bytes were moved;
//! 5. runs the call; `WouldBlock` clears the readiness and goes back to 1.
//!
//! Readiness is cleared only on `WouldBlock`. tokio also clears it after a
//! short read (fewer bytes than asked for), saving the `WouldBlock` call;
//! that is sound only with a sticky "read closed" bit (`EPOLLRDHUP`), which
//! `polling` does not report: a FIN that arrives with the last bytes would
//! leave a reader waiting for an edge that never comes (tried; the echo test
//! hung now and then).
//!
//! A waiter that registers just as the runtime shuts down looks at the
//! shutdown flag again after registering: `Reactor::shut_down` sets the flag
//! before it wakes each source's waiters under their lock, so either the
//! wake-up finds the waiter or the waiter sees the flag.
//!
//! The outcome is decided by the system call: once it moved bytes, the
//! operation returns them even if its scope was cancelled meanwhile; the
//! next checkpoint reports the cancellation.

use crate::reactor::Reactor;
use crate::readiness::{Direction, ScheduledIo, WaiterKey};
use canopy_scope::{poll_budget, poll_cancelled};
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

/// A socket registered with its runtime's reactor; deregisters before the
/// socket is closed.
#[derive(Debug)]
pub(crate) struct Registered<T: AsFd> {
    io: Option<T>,
    reactor: Arc<Reactor>,
    source: Arc<ScheduledIo>,
    key: usize,
}

/// The state an operation keeps between polls.
#[derive(Debug, Default)]
pub(crate) struct OpState {
    key: Option<WaiterKey>,
    waited: bool,
}

impl<T: AsFd> Registered<T> {
    /// Registers `io` (already non-blocking) with the current runtime.
    pub(crate) fn new(io: T) -> io::Result<Self> {
        let reactor = crate::context::current()?;
        Self::with_reactor(io, reactor)
    }

    pub(crate) fn with_reactor(io: T, reactor: Arc<Reactor>) -> io::Result<Self> {
        // SAFETY: `Drop` and `into_inner` deregister the fd before `io` (which
        // owns it) is dropped or handed out, and nothing else closes it.
        let (key, source) = unsafe { reactor.register(io.as_fd())? };
        Ok(Registered {
            io: Some(io),
            reactor,
            source,
            key,
        })
    }

    pub(crate) fn get(&self) -> &T {
        self.io.as_ref().expect("present until dropped")
    }

    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.reactor
    }

    /// Deregisters and hands the socket out.
    pub(crate) fn into_inner(mut self) -> T {
        let io = self.io.take().expect("present until dropped");
        self.reactor.deregister(io.as_fd(), self.key);
        io
    }

    /// Keeps the registration, changing the type that owns the fd (the fd
    /// itself must stay the same).
    pub(crate) fn map<U: AsFd>(mut self, f: impl FnOnce(T) -> U) -> Registered<U> {
        let io = self.io.take().expect("present until dropped");
        let reactor = self.reactor.clone();
        let source = self.source.clone();
        let key = self.key;
        // Without its io, dropping `self` deregisters nothing.
        drop(self);
        let mapped = f(io);
        Registered {
            io: Some(mapped),
            reactor,
            source,
            key,
        }
    }

    /// Runs `call` once `direction` is ready (module docs).
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        location: &'static Location<'static>,
        state: &mut OpState,
        mut call: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            if let Err(cancelled) = ready!(poll_cancelled(cx, location)) {
                self.source.forget(direction, &mut state.key);
                state.waited = false;
                return Poll::Ready(Err(cancelled.into()));
            }
            if self.reactor.is_shut_down() {
                self.source.forget(direction, &mut state.key);
                return Poll::Ready(Err(crate::error::runtime_shut_down()));
            }
            let tick = match self
                .source
                .poll_ready(direction, cx.waker(), &mut state.key)
            {
                Poll::Ready(tick) => tick,
                Poll::Pending => {
                    if self.reactor.is_shut_down() {
                        self.source.forget(direction, &mut state.key);
                        return Poll::Ready(Err(crate::error::runtime_shut_down()));
                    }
                    state.waited = true;
                    return Poll::Pending;
                }
            };
            if !state.waited {
                ready!(poll_budget(cx));
            }
            match call(self.get()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.source.clear_ready(direction, tick);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => {
                    state.waited = false;
                    return Poll::Ready(result);
                }
            }
        }
    }

    /// Drops a waiting operation's waker (its future was dropped).
    pub(crate) fn forget(&self, direction: Direction, state: &mut OpState) {
        self.source.forget(direction, &mut state.key);
    }

    /// The future of one operation on `self`.
    pub(crate) fn op<R, F>(
        &self,
        direction: Direction,
        location: &'static Location<'static>,
        call: F,
    ) -> Op<'_, T, F>
    where
        F: FnMut(&T) -> io::Result<R> + Unpin,
    {
        Op {
            registered: self,
            direction,
            location,
            state: OpState::default(),
            call,
        }
    }
}

impl<T: AsFd> Drop for Registered<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            self.reactor.deregister(io.as_fd(), self.key);
        }
    }
}

/// One socket operation in flight; removes its waker when dropped.
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct Op<'a, T: AsFd, F> {
    registered: &'a Registered<T>,
    direction: Direction,
    location: &'static Location<'static>,
    state: OpState,
    call: F,
}

impl<T: AsFd, R, F> Future for Op<'_, T, F>
where
    F: FnMut(&T) -> io::Result<R> + Unpin,
{
    type Output = io::Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.registered.poll_io(
            cx,
            this.direction,
            this.location,
            &mut this.state,
            &mut this.call,
        )
    }
}

impl<T: AsFd, F> Drop for Op<'_, T, F> {
    fn drop(&mut self) {
        self.registered.forget(self.direction, &mut self.state);
    }
}

/// The checkpoint of an operation that does not wait on readiness (bind,
/// a Unix connect that completes at once): a cancel check that spends the
/// budget.
pub(crate) fn checkpoint(
    location: &'static Location<'static>,
) -> impl Future<Output = io::Result<()>> {
    std::future::poll_fn(move |cx| {
        ready!(poll_cancelled(cx, location))?;
        ready!(poll_budget(cx));
        Poll::Ready(Ok(()))
    })
}

/// `AsFd` and `AsRawFd` for a socket type wrapping `Registered` in `io`, so
/// `socket2::SockRef::from(&socket)` reaches every socket option.
macro_rules! impl_as_fd {
    ($($ty:ty),*) => {$(
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get().as_fd()
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.io.get())
            }
        }
    )*};
}

pub(crate) use impl_as_fd;
