//! `UnixStream`: connect, read, write, split.

use super::split::{OwnedReadHalf, OwnedWriteHalf, split};
use crate::error::context;
use crate::readiness::Direction;
use crate::registered::{OpState, Registered, checkpoint};
use socket2::{Domain, SockAddr, Socket, Type};
use std::future::Future;
use std::io;
use std::panic::Location;
use std::path::Path;

/// A Unix stream connection, with the same operations and cancellation
/// behaviour as [`TcpStream`](crate::TcpStream).
#[derive(Debug)]
pub struct UnixStream {
    pub(crate) io: Registered<std::os::unix::net::UnixStream>,
    pub(crate) read_state: OpState,
    pub(crate) write_state: OpState,
}

crate::stream_type::stream_type!(UnixStream, std::os::unix::net::UnixStream);

impl UnixStream {
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
}
