//! `TcpListener`: bind and accept.

use super::TcpStream;
use crate::error::{OutOfDescriptors, context, is_out_of_descriptors};
use crate::readiness::Direction;
use crate::registered::{Registered, checkpoint};
use crate::resolve::{ToSocketAddrs, first_ok};
use socket2::{Domain, Protocol, Socket, Type};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::Location;

/// How many connections may wait in the backlog: the kernel caps it at
/// `net.core.somaxconn` (4096 on current Linux); std's fixed 128 drops SYNs
/// under a burst of connects, which clients see as one-second stalls.
const BACKLOG: i32 = 1024;

/// A TCP socket listening for connections.
///
/// ```
/// use canopy_io::{TcpListener, TcpStream};
///
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let client = canopy_runtime::spawn(async move {
///         let stream = TcpStream::connect(addr).await?;
///         stream.write_all(b"hello").await
///     });
///     let (stream, _peer) = listener.accept().await?;
///     let mut buf = [0; 5];
///     stream.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hello");
///     client.await.unwrap()
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: Registered<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (with `SO_REUSEADDR`, so a restarted server can bind
    /// while old connections linger in `TIME_WAIT`) and listens. Tries each
    /// address `addr` resolves to, in order. Port 0 lets the system choose.
    ///
    /// A checkpoint. A host name (`"localhost:0"`) is looked up on the
    /// runtime's blocking pool, never on the worker.
    ///
    /// # Errors
    ///
    /// `AddrInUse` when another socket listens there, `Cancelled` (inside an
    /// `io::Error`), an error outside a runtime, and the system's others;
    /// each message names the address.
    #[track_caller]
    pub fn bind<A: ToSocketAddrs>(addr: A) -> impl Future<Output = io::Result<TcpListener>> + Send {
        let location = Location::caller();
        let lookup = addr.to_lookup();
        async move {
            checkpoint(location).await?;
            first_ok(lookup, |addr| std::future::ready(bind_one(addr))).await
        }
    }

    /// Waits for a connection and accepts it. A checkpoint: a cancelled
    /// accept returns `Cancelled` and took no connection from the backlog.
    /// Several tasks may accept on one listener at once.
    ///
    /// # Errors
    ///
    /// When the process is out of file descriptors the error says so
    /// ([`is_out_of_descriptors`](crate::is_out_of_descriptors) recognises
    /// it); the connection stays in the backlog. An accept loop should
    /// report it, wait a little (say 10-100 ms, with `canopy::time::sleep`)
    /// and accept again, rather than stop serving.
    #[track_caller]
    pub fn accept(&self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send + '_ {
        let location = Location::caller();
        async move {
            let (stream, peer) = self
                .io
                .op(Direction::Read, location, |l: &std::net::TcpListener| {
                    l.accept()
                })
                .await
                .map_err(accept_error)?;
            stream.set_nonblocking(true)?;
            let io = Registered::with_reactor(stream, self.io.reactor().clone())?;
            Ok((TcpStream::from_registered(io), peer))
        }
    }

    /// The address the listener is bound to (with the port the system
    /// chose, if bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Takes over a listening std socket (made non-blocking here).
    ///
    /// # Errors
    ///
    /// Outside a runtime, or when the socket cannot be registered.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: Registered::new(listener)?,
        })
    }

    /// Hands the socket back as a std listener (still non-blocking).
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(self.io.into_inner())
    }
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let bound = (|| {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        Ok(socket)
    })()
    .map_err(|e| context(e, format_args!("could not listen on {addr}")))?;
    Ok(TcpListener {
        io: Registered::new(std::net::TcpListener::from(bound))?,
    })
}

fn accept_error(error: io::Error) -> io::Error {
    if is_out_of_descriptors(&error) {
        let message = context(error, "accept failed").to_string();
        return io::Error::other(OutOfDescriptors(message));
    }
    context(error, "accept failed")
}

crate::registered::impl_as_fd!(TcpListener);
