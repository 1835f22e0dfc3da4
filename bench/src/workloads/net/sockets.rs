//! What the socket workloads need from a runtime beyond [`Runtime`]: a TCP
//! listener and stream, their accept, connect, `read_exact` and `write_all`,
//! and the stream as hyper's I/O. Each runtime's own sockets: `canopy::net`,
//! `tokio::net` (hyper through hyper-util's `TokioIo`), async-io's
//! `Async<TcpStream>` (hyper through [`FuturesIo`]).

use super::futures_hyper::FuturesIo;
use crate::runtimes::{AsyncExecutor, Canopy, Runtime, Tokio};
use async_io::Async;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;

/// A runtime's TCP sockets.
pub trait Net: Runtime {
    /// A listening socket.
    type Listener: Send + Sync + 'static;
    /// A connected stream.
    type Stream: AsFd + Send + 'static;
    /// The stream as hyper's `rt::Read` + `rt::Write`.
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static;

    /// Takes over a bound, non-blocking std listener (inside `block_on`:
    /// tokio registers it with the runtime it runs in).
    fn listen(listener: std::net::TcpListener) -> Self::Listener;
    /// The address it listens on.
    fn local_addr(listener: &Self::Listener) -> SocketAddr;
    /// The next connection.
    fn accept(listener: &Self::Listener) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// Connects to `addr`.
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// Fills `buf`.
    fn read_exact<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    /// Writes all of `buf`.
    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    /// The stream for hyper.
    fn hyper_io(stream: Self::Stream) -> Self::Io;
}

impl Net for Canopy {
    type Listener = canopy::net::TcpListener;
    type Stream = canopy::net::TcpStream;
    type Io = canopy::net::TcpStream;

    fn listen(listener: std::net::TcpListener) -> Self::Listener {
        canopy::net::TcpListener::from_std(listener).unwrap()
    }
    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener.local_addr().unwrap()
    }
    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        Ok(listener.accept().await?.0)
    }
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        canopy::net::TcpStream::connect(addr)
    }
    fn read_exact<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        stream.read_exact(buf)
    }
    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        stream.write_all(buf)
    }
    fn hyper_io(stream: Self::Stream) -> Self::Io {
        // canopy's streams are hyper I/O themselves (feature `hyper`).
        stream
    }
}

impl Net for Tokio {
    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;
    type Io = hyper_util::rt::TokioIo<tokio::net::TcpStream>;

    fn listen(listener: std::net::TcpListener) -> Self::Listener {
        tokio::net::TcpListener::from_std(listener).unwrap()
    }
    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener.local_addr().unwrap()
    }
    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        Ok(listener.accept().await?.0)
    }
    async fn connect(addr: SocketAddr) -> io::Result<Self::Stream> {
        tokio::net::TcpStream::connect(addr).await
    }
    async fn read_exact<'a>(stream: &'a mut Self::Stream, buf: &'a mut [u8]) -> io::Result<()> {
        tokio::io::AsyncReadExt::read_exact(stream, buf).await?;
        Ok(())
    }
    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        tokio::io::AsyncWriteExt::write_all(stream, buf)
    }
    fn hyper_io(stream: Self::Stream) -> Self::Io {
        hyper_util::rt::TokioIo::new(stream)
    }
}

impl Net for AsyncExecutor {
    type Listener = Async<std::net::TcpListener>;
    type Stream = Async<std::net::TcpStream>;
    type Io = FuturesIo<Async<std::net::TcpStream>>;

    fn listen(listener: std::net::TcpListener) -> Self::Listener {
        Async::new(listener).unwrap()
    }
    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener.get_ref().local_addr().unwrap()
    }
    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        Ok(listener.accept().await?.0)
    }
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        Async::<std::net::TcpStream>::connect(addr)
    }
    fn read_exact<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncReadExt::read_exact(stream, buf)
    }
    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncWriteExt::write_all(stream, buf)
    }
    fn hyper_io(stream: Self::Stream) -> Self::Io {
        FuturesIo(stream)
    }
}
