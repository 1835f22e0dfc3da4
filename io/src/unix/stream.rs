//! `UnixStream`: connect, read, write, split.

use super::split::{OwnedReadHalf, OwnedWriteHalf, split};
use crate::error::context;
use crate::readiness::Direction;
use crate::registered::{OpState, Registered, checkpoint};
use crate::stream;
use socket2::{Domain, SockAddr, Socket, Type};
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::panic::Location;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A Unix stream connection, with the same operations and cancellation
/// behaviour as [`TcpStream`](crate::TcpStream).
#[derive(Debug)]
pub struct UnixStream {
    io: Registered<std::os::unix::net::UnixStream>,
    read_state: OpState,
    write_state: OpState,
}

impl UnixStream {
    pub(crate) fn from_registered(io: Registered<std::os::unix::net::UnixStream>) -> Self {
        UnixStream {
            io,
            read_state: OpState::default(),
            write_state: OpState::default(),
        }
    }

    /// Connects to the socket at `path`. A checkpoint.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` when nothing listens there (or its backlog is
    /// full), `NotFound` when the path does not exist, `Cancelled`.
    #[track_caller]
    pub fn connect(
        path: impl AsRef<Path> + Send,
    ) -> impl Future<Output = io::Result<UnixStream>> + Send {
        let location = Location::caller();
        async move {
            let path = path.as_ref();
            let what = format!("could not connect to {}", path.display());
            checkpoint(location).await?;
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
            socket.set_nonblocking(true)?;
            let in_progress = match socket.connect(&SockAddr::unix(path)?) {
                Ok(()) => false,
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
                Err(e) => return Err(context(e, what)),
            };
            let io = Registered::new(socket)?;
            if in_progress {
                io.op(Direction::Write, location, |s: &Socket| {
                    match s.take_error()? {
                        Some(e) => Err(e),
                        None => Ok(()),
                    }
                })
                .await
                .map_err(|e| context(e, &what))?;
            }
            Ok(UnixStream::from_registered(io.map(|s| {
                std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(s))
            })))
        }
    }

    /// A connected pair of streams.
    ///
    /// # Errors
    ///
    /// Outside a runtime, or when the system has no descriptors left.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Reads into `buf`; `Ok(0)` at end of stream. A cancelled read
    /// consumed no byte.
    #[track_caller]
    pub fn read<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        stream::read(&self.io, buf, Location::caller())
    }

    /// Reads exactly `buf.len()` bytes; see [`TcpStream::read_exact`](crate::TcpStream::read_exact).
    #[track_caller]
    pub fn read_exact<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        stream::read_exact(&self.io, buf, Location::caller())
    }

    /// Writes some of `buf` (`BrokenPipe`, never `SIGPIPE`, if the peer is gone).
    #[track_caller]
    pub fn write<'a>(
        &'a self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        stream::write(&self.io, buf, Location::caller())
    }

    /// Writes all of `buf`; see [`TcpStream::write_all`](crate::TcpStream::write_all).
    #[track_caller]
    pub fn write_all<'a>(
        &'a self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        stream::write_all(&self.io, buf, Location::caller())
    }

    /// Shuts down the read, write, or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Splits the stream into halves that can move to different tasks.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split(self.into_registered())
    }

    fn into_registered(mut self) -> Registered<std::os::unix::net::UnixStream> {
        self.io.forget(Direction::Read, &mut self.read_state);
        self.io.forget(Direction::Write, &mut self.write_state);
        self.io
    }

    /// Takes over a std stream (made non-blocking here).
    ///
    /// # Errors
    ///
    /// Outside a runtime, or when the socket cannot be registered.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream::from_registered(Registered::new(stream)?))
    }

    /// Hands the socket back as a std stream (still non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(self.into_registered().into_inner())
    }
}

impl futures_io::AsyncRead for UnixStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        stream::poll_read(&this.io, cx, &mut this.read_state, buf)
    }
}

impl futures_io::AsyncWrite for UnixStream {
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

crate::registered::impl_as_fd!(UnixStream);
