//! The byte-stream operations TCP and Unix streams share: `read`, `write`,
//! `write_all`, `read_exact`, and their poll forms for the `futures-io`
//! traits. Writes go through `send(2)` with `MSG_NOSIGNAL`, so writing to a
//! closed peer is an `io::Error` (`BrokenPipe`), never a `SIGPIPE` that
//! kills the process.

use crate::error::CancelledMidway;
use crate::readiness::Direction;
use crate::registered::{OpState, Registered};
use canopy_scope::Cancelled;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::panic::Location;
use std::task::{Context, Poll};

/// `send(2)` with `MSG_NOSIGNAL` where the platform has it.
pub(crate) fn send(fd: &impl AsFd, buf: &[u8]) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    const FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
    // Elsewhere (macOS) the socket is created with SO_NOSIGPIPE instead.
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    const FLAGS: libc::c_int = 0;
    // SAFETY: the fd is open for the duration of the call (borrowed from its
    // owner), and the pointer and length describe the live slice `buf`.
    let sent = unsafe {
        libc::send(
            fd.as_fd().as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            FLAGS,
        )
    };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

/// A stream socket type: readable through a shared reference.
pub(crate) trait StreamSocket: AsFd {
    fn read_shared(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl StreamSocket for std::net::TcpStream {
    fn read_shared(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl StreamSocket for std::os::unix::net::UnixStream {
    fn read_shared(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

pub(crate) async fn read<T: StreamSocket>(
    io: &Registered<T>,
    buf: &mut [u8],
    location: &'static Location<'static>,
) -> io::Result<usize> {
    io.op(Direction::Read, location, |s: &T| s.read_shared(buf))
        .await
}

pub(crate) async fn write<T: StreamSocket>(
    io: &Registered<T>,
    buf: &[u8],
    location: &'static Location<'static>,
) -> io::Result<usize> {
    io.op(Direction::Write, location, |s: &T| send(s, buf))
        .await
}

pub(crate) async fn write_all<T: StreamSocket>(
    io: &Registered<T>,
    mut buf: &[u8],
    location: &'static Location<'static>,
) -> io::Result<()> {
    let mut done = 0;
    while !buf.is_empty() {
        match write(io, buf, location).await {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("the socket accepted no more bytes after {done}"),
                ));
            }
            Ok(n) => {
                done += n;
                buf = &buf[n..];
            }
            Err(e) => return Err(midway(e, done)),
        }
    }
    Ok(())
}

pub(crate) async fn read_exact<T: StreamSocket>(
    io: &Registered<T>,
    buf: &mut [u8],
    location: &'static Location<'static>,
) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match read(io, &mut buf[done..], location).await {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the peer closed the stream after {done} of the {} bytes read_exact \
                         needed",
                        buf.len()
                    ),
                ));
            }
            Ok(n) => done += n,
            Err(e) => return Err(midway(e, done)),
        }
    }
    Ok(())
}

/// A cancellation after `done` bytes becomes a `CancelledMidway`.
fn midway(error: io::Error, done: usize) -> io::Error {
    match Cancelled::find_in_io(&error) {
        Some(&cancelled) if done > 0 => CancelledMidway::into_io(done, cancelled),
        _ => error,
    }
}

/// `AsyncRead::poll_read`.
pub(crate) fn poll_read<T: StreamSocket>(
    io: &Registered<T>,
    cx: &mut Context<'_>,
    state: &mut OpState,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    io.poll_io(cx, Direction::Read, Location::caller(), state, |s| {
        s.read_shared(buf)
    })
}

/// `AsyncWrite::poll_write`.
pub(crate) fn poll_write<T: StreamSocket>(
    io: &Registered<T>,
    cx: &mut Context<'_>,
    state: &mut OpState,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    io.poll_io(cx, Direction::Write, Location::caller(), state, |s| {
        send(s, buf)
    })
}
