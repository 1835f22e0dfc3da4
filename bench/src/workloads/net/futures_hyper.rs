//! hyper's `rt::Read` / `rt::Write` over the `futures-io` traits, for
//! async-io's sockets: what the `smol-hyper` crate does, in the few lines
//! the workloads need.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// A `futures-io` stream as hyper I/O.
#[derive(Debug)]
pub struct FuturesIo<T>(pub T);

impl<T: futures_lite::AsyncRead + Unpin> hyper::rt::Read for FuturesIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // The cursor remembers what it has initialised, so a reused buffer
        // is zeroed once, not on every read.
        let n = ready!(Pin::new(&mut self.0).poll_read(cx, buf.initialize_unfilled()))?;
        // SAFETY: the whole unfilled part was initialised just above, and
        // `poll_read` wrote `n` bytes at its front.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: futures_lite::AsyncWrite + Unpin> hyper::rt::Write for FuturesIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
