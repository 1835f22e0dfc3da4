//! `TcpStream`: connect, read, write, split.

use super::split::{OwnedReadHalf, OwnedWriteHalf, split};
use crate::error::context;
use crate::readiness::Direction;
use crate::registered::{OpState, Registered, checkpoint};
use crate::resolve::{ToSocketAddrs, first_ok};
use socket2::{Domain, Protocol, Socket, Type};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::Location;

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
    pub(crate) io: Registered<std::net::TcpStream>,
    pub(crate) read_state: OpState,
    pub(crate) write_state: OpState,
}

crate::stream_type::stream_type!(TcpStream, std::net::TcpStream);

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in order.
    /// A host name (`"localhost:8080"`) is looked up on the runtime's
    /// blocking pool, never on the worker; an IP address needs no lookup.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` when nothing listens there, `Cancelled` (the
    /// attempt is abandoned and the socket closed), an error outside a
    /// runtime; each message names the address.
    #[track_caller]
    pub fn connect<A: ToSocketAddrs>(
        addr: A,
    ) -> impl Future<Output = io::Result<TcpStream>> + Send {
        let location = Location::caller();
        let lookup = addr.to_lookup();
        async move {
            checkpoint(location).await?;
            first_ok(lookup, |addr| connect_one(addr, location)).await
        }
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
