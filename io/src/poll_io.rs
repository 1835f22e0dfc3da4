//! The poll-based I/O traits on canopy's streams and their owned halves,
//! written once for all three families: `futures-io` (always), tokio's
//! (feature `tokio-io`, `tokio_io.rs`) and hyper's (feature `hyper`,
//! `hyper_io.rs`). The write side is the same for all three but for the
//! trait's name and its close method; each read side fills its own buffer
//! type, so each family brings its read macro and [`for_each_stream`] stamps
//! both out on every stream type.
//!
//! Each poll is one operation of the loop in `registered.rs`: a checkpoint.
//! In a cancelled scope it returns an `io::Error` carrying
//! [`Cancelled`](canopy_scope::Cancelled), and a cancelled read consumed no
//! byte. Nothing is buffered here: every write is one `send(2)`, so flushing
//! has nothing to do.

/// `$trait` (a poll-based write trait whose close method is `$close`) for
/// `$ty`, with the registered socket in `io`, the write state in `$state`,
/// and `$shutdown` to close the write direction.
macro_rules! impl_poll_write {
    ($trait:path, $close:ident: $ty:ty, $state:ident, $shutdown:expr) => {
        impl $trait for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let this = self.get_mut();
                crate::stream::poll_write(&this.io, cx, &mut this.$state, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn $close(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let shutdown: fn(&Self) -> std::io::Result<()> = $shutdown;
                std::task::Poll::Ready(shutdown(&self))
            }
        }
    };
}
pub(crate) use impl_poll_write;

/// `$read!(type, read state field)` on every stream type and read half, and
/// [`impl_poll_write`] of `$write` (close method `$close`) on every stream
/// type and write half.
macro_rules! for_each_stream {
    ($read:ident, $write:path, $close:ident) => {
        $read!(crate::TcpStream, read_state);
        $read!(crate::UnixStream, read_state);
        $read!(crate::tcp::OwnedReadHalf, state);
        $read!(crate::unix::OwnedReadHalf, state);
        crate::poll_io::impl_poll_write!($write, $close: crate::TcpStream, write_state, |s| {
            s.shutdown(std::net::Shutdown::Write)
        });
        crate::poll_io::impl_poll_write!($write, $close: crate::UnixStream, write_state, |s| {
            s.shutdown(std::net::Shutdown::Write)
        });
        crate::poll_io::impl_poll_write!($write, $close: crate::tcp::OwnedWriteHalf, state, |s| {
            s.shutdown()
        });
        crate::poll_io::impl_poll_write!($write, $close: crate::unix::OwnedWriteHalf, state, |s| {
            s.shutdown()
        });
    };
}
// For the other families (this file uses it in place).
#[cfg(any(feature = "hyper", feature = "tokio-io"))]
pub(crate) use for_each_stream;

/// `futures_io::AsyncRead`: reads into an initialised slice.
macro_rules! impl_futures_read {
    ($ty:ty, $state:ident) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let this = self.get_mut();
                crate::stream::poll_read(&this.io, cx, &mut this.$state, buf)
            }
        }
    };
}

for_each_stream!(impl_futures_read, futures_io::AsyncWrite, poll_close);
