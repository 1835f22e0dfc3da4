//! `TcpStream`: connect, read, write, split.

use super::split::{OwnedReadHalf, OwnedWriteHalf, split};
use crate::error::context;
use crate::readiness::Direction;
use crate::registered::{OpState, Registered, checkpoint};
use crate::stream;
use socket2::{Domain, Protocol, Socket, Type};
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A TCP connection.
///
/// Every operation that can wait is a checkpoint (DESIGN §2.8): inside a
/// cancelled scope it returns an `io::Error` carrying
/// [`Cancelled`](canopy_scope::Cancelled) (find it with
/// `Cancelled::find_in_io`; the scope catches it when `?` carries it out).
/// A cancelled `read` consumed no byte; see [`write_all`](Self::write_all)
/// and [`read_exact`](Self::read_exact) for cancellations midway.
///
/// The methods take `&self`: one task may read while another writes. To
/// move the two directions to different tasks, [`into_split`](Self::into_split).
#[derive(Debug)]
pub struct TcpStream {
    io: Registered<std::net::TcpStream>,
    read_state: OpState,
    write_state: OpState,
}

impl TcpStream {
    pub(crate) fn from_registered(io: Registered<std::net::TcpStream>) -> Self {
        TcpStream {
            io,
            read_state: OpState::default(),
            write_state: OpState::default(),
        }
    }

    /// Connects to `addr`, trying each address it resolves to in order.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` when nothing listens there, `Cancelled` (the
    /// attempt is abandoned and the socket closed), an error outside a
    /// runtime; each message names the address.
    #[track_caller]
    pub fn connect<A: ToSocketAddrs + Send>(
        addr: A,
    ) -> impl Future<Output = io::Result<TcpStream>> + Send {
        let location = Location::caller();
        async move {
            checkpoint(location).await?;
            let mut last = None;
            let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
            for addr in addrs {
                match connect_one(addr, location).await {
                    Ok(stream) => return Ok(stream),
                    Err(e) if canopy_scope::Cancelled::find_in_io(&e).is_some() => return Err(e),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the address resolved to nothing",
                )
            }))
        }
    }

    /// Reads into `buf`, waiting until data arrives; `Ok(0)` at end of
    /// stream. A cancelled read returns `Cancelled` and consumed no byte.
    ///
    /// # Errors
    ///
    /// `ConnectionReset` when the peer reset the connection, `Cancelled`,
    /// and the system's others.
    #[track_caller]
    pub fn read<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        stream::read(&self.io, buf, Location::caller())
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the stream ends first. Cancelled before any byte
    /// was read, a plain `Cancelled`; cancelled midway, the error carries a
    /// [`CancelledMidway`](crate::CancelledMidway) whose `done()` bytes are
    /// at the front of `buf`, so nothing is lost.
    #[track_caller]
    pub fn read_exact<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        stream::read_exact(&self.io, buf, Location::caller())
    }

    /// Reads what has arrived without removing it from the stream, waiting
    /// until something has.
    #[track_caller]
    pub fn peek<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        let location = Location::caller();
        self.io
            .op(Direction::Read, location, move |s: &std::net::TcpStream| {
                s.peek(buf)
            })
    }

    /// Writes some of `buf` (at least one byte unless it is empty), waiting
    /// until the socket accepts bytes.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` or `ConnectionReset` when the peer is gone (never a
    /// `SIGPIPE`), `Cancelled` (nothing was written), and the system's others.
    #[track_caller]
    pub fn write<'a>(
        &'a self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        stream::write(&self.io, buf, Location::caller())
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write). Cancelled after some bytes went out, the
    /// error carries a [`CancelledMidway`](crate::CancelledMidway) whose
    /// `done()` says how many (its source is the `Cancelled`, so scopes
    /// still catch it); cancelled before any, a plain `Cancelled`.
    #[track_caller]
    pub fn write_all<'a>(
        &'a self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        stream::write_all(&self.io, buf, Location::caller())
    }

    /// Shuts down the read, write, or both directions (no waiting involved,
    /// so no checkpoint).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Splits the stream into halves that can move to different tasks.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split(self.into_registered())
    }

    fn into_registered(mut self) -> Registered<std::net::TcpStream> {
        self.io.forget(Direction::Read, &mut self.read_state);
        self.io.forget(Direction::Write, &mut self.write_state);
        self.io
    }

    /// Takes over a connected std stream (made non-blocking here).
    ///
    /// # Errors
    ///
    /// Outside a runtime, or when the socket cannot be registered.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream::from_registered(Registered::new(stream)?))
    }

    /// Hands the socket back as a std stream (still non-blocking).
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(self.into_registered().into_inner())
    }
}

async fn connect_one(
    addr: SocketAddr,
    location: &'static Location<'static>,
) -> io::Result<TcpStream> {
    let what = format_args!("could not connect to {addr}").to_string();
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(context(e, what)),
    }
    let io = Registered::new(socket)?;
    io.op(Direction::Write, location, |s: &Socket| {
        if let Some(e) = s.take_error()? {
            return Err(e);
        }
        match s.peer_addr() {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(|e| context(e, what))?;
    Ok(TcpStream::from_registered(
        io.map(std::net::TcpStream::from),
    ))
}

impl futures_io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        stream::poll_read(&this.io, cx, &mut this.read_state, buf)
    }
}

impl futures_io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        stream::poll_write(&this.io, cx, &mut this.write_state, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

crate::registered::impl_as_fd!(TcpStream);
