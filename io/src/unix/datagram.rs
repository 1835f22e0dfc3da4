//! `UnixDatagram`: datagrams over Unix sockets.

use crate::error::context;
use crate::readiness::Direction;
use crate::registered::Registered;
use std::future::Future;
use std::io;
use std::os::unix::net::SocketAddr;
use std::panic::Location;
use std::path::Path;

/// A Unix datagram socket. Sends and receives are checkpoints.
#[derive(Debug)]
pub struct UnixDatagram {
    io: Registered<std::os::unix::net::UnixDatagram>,
}

type Std = std::os::unix::net::UnixDatagram;

impl UnixDatagram {
    /// A socket bound to `path` (which must not exist yet).
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the path exists, outside a runtime, and the system's
    /// others.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        let socket = Std::bind(path)
            .map_err(|e| context(e, format_args!("could not bind to {}", path.display())))?;
        UnixDatagram::from_std(socket)
    }

    /// A socket bound to no address (it can send, and receive replies only
    /// once connected).
    ///
    /// # Errors
    ///
    /// Outside a runtime, or when the system has no descriptors left.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(Std::unbound()?)
    }

    /// A connected pair of sockets.
    ///
    /// # Errors
    ///
    /// Outside a runtime, or when the system has no descriptors left.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = Std::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Sets the default peer for `send` and `recv` (no waiting involved).
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        self.io
            .get()
            .connect(path)
            .map_err(|e| context(e, format_args!("could not connect to {}", path.display())))
    }

    /// Sends `buf` as one datagram to the socket at `path`.
    #[track_caller]
    pub fn send_to<'a>(
        &'a self,
        buf: &'a [u8],
        path: &'a Path,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        self.io
            .op(Direction::Write, Location::caller(), move |s: &Std| {
                s.send_to(buf, path)
            })
    }

    /// Receives one datagram, with its sender's address.
    #[track_caller]
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send + 'a {
        self.io
            .op(Direction::Read, Location::caller(), move |s: &Std| {
                s.recv_from(buf)
            })
    }

    /// Sends `buf` to the connected peer.
    #[track_caller]
    pub fn send<'a>(
        &'a self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        self.io
            .op(Direction::Write, Location::caller(), move |s: &Std| {
                s.send(buf)
            })
    }

    /// Receives one datagram from the connected peer.
    #[track_caller]
    pub fn recv<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        self.io
            .op(Direction::Read, Location::caller(), move |s: &Std| {
                s.recv(buf)
            })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Takes over a std socket (made non-blocking here).
    ///
    /// # Errors
    ///
    /// Outside a runtime, or when the socket cannot be registered.
    pub fn from_std(socket: Std) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            io: Registered::new(socket)?,
        })
    }

    /// Hands the socket back as a std socket (still non-blocking).
    pub fn into_std(self) -> io::Result<Std> {
        Ok(self.io.into_inner())
    }
}

crate::registered::impl_as_fd!(UnixDatagram);
