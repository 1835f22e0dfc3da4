//! `UdpSocket`: datagrams over UDP.

use crate::error::context;
use crate::readiness::Direction;
use crate::registered::{Registered, checkpoint};
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::Location;

/// A UDP socket. Every send and receive is a checkpoint; a cancelled
/// receive took no datagram, a cancelled send sent none.
///
/// ```
/// use canopy_io::UdpSocket;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"hi", b.local_addr()?).await?;
///     let mut buf = [0; 8];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr()?));
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: Registered<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (port 0: the system chooses). A checkpoint.
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `Cancelled`, outside a runtime, and the system's others.
    #[track_caller]
    pub fn bind<A: ToSocketAddrs + Send>(
        addr: A,
    ) -> impl Future<Output = io::Result<UdpSocket>> + Send {
        let location = Location::caller();
        async move {
            checkpoint(location).await?;
            let socket = std::net::UdpSocket::bind(addr)
                .map_err(|e| context(e, "could not bind a UDP socket"))?;
            UdpSocket::from_std(socket)
        }
    }

    /// Sets the default peer for [`send`](Self::send) and
    /// [`recv`](Self::recv), and filters received datagrams to it.
    #[track_caller]
    pub fn connect<'a, A: ToSocketAddrs + Send + 'a>(
        &'a self,
        addr: A,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        let location = Location::caller();
        async move {
            checkpoint(location).await?;
            self.io
                .get()
                .connect(addr)
                .map_err(|e| context(e, "could not connect the UDP socket"))
        }
    }

    /// Sends `buf` as one datagram to `target`.
    #[track_caller]
    pub fn send_to<'a>(
        &'a self,
        buf: &'a [u8],
        target: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        self.io.op(
            Direction::Write,
            Location::caller(),
            move |s: &std::net::UdpSocket| s.send_to(buf, target),
        )
    }

    /// Receives one datagram into `buf`, with its sender; a datagram longer
    /// than `buf` is truncated.
    #[track_caller]
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send + 'a {
        self.io.op(
            Direction::Read,
            Location::caller(),
            move |s: &std::net::UdpSocket| s.recv_from(buf),
        )
    }

    /// Sends `buf` to the connected peer.
    #[track_caller]
    pub fn send<'a>(
        &'a self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        self.io.op(
            Direction::Write,
            Location::caller(),
            move |s: &std::net::UdpSocket| s.send(buf),
        )
    }

    /// Receives one datagram from the connected peer.
    #[track_caller]
    pub fn recv<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        self.io.op(
            Direction::Read,
            Location::caller(),
            move |s: &std::net::UdpSocket| s.recv(buf),
        )
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Takes over a std socket (made non-blocking here).
    ///
    /// # Errors
    ///
    /// Outside a runtime, or when the socket cannot be registered.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: Registered::new(socket)?,
        })
    }

    /// Hands the socket back as a std socket (still non-blocking).
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(self.io.into_inner())
    }
}

crate::registered::impl_as_fd!(UdpSocket);
