//! tokio's `AsyncRead` and `AsyncWrite` on canopy's streams (feature
//! `tokio-io`), for crates written against tokio's traits: TLS with
//! tokio-rustls, codecs from tokio-util, hyper-util's `TokioIo`.
//!
//! Only the traits come from tokio: no tokio runtime runs, and none is
//! needed. Each poll is one operation of the loop in `registered.rs`, a
//! checkpoint: in a cancelled scope it returns an `io::Error` carrying
//! [`Cancelled`](canopy_scope::Cancelled), and a cancelled read consumed no
//! byte. What does need a tokio runtime (tokio's own sockets and timers,
//! `axum::serve`, which accepts on a `tokio::net::TcpListener`) still does;
//! the canopy way is to accept on a canopy listener and serve each
//! connection with hyper-util's connection builder (see the facade's
//! `canopy::hyper` and `examples/axum.rs`).

/// `tokio::io::AsyncRead`, as in `hyper_io.rs` (the write side is shared,
/// in `poll_io.rs`).
macro_rules! impl_tokio_read {
    ($ty:ty, $state:ident) => {
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let this = self.get_mut();
                // SAFETY: `poll_read_uninit` only writes into the unfilled part
                // (never de-initialises it); the `n` bytes `recv` wrote at its
                // front are then marked initialised and filled.
                unsafe {
                    let n = std::task::ready!(crate::stream::poll_read_uninit(
                        &this.io,
                        cx,
                        &mut this.$state,
                        buf.unfilled_mut(),
                    ))?;
                    buf.assume_init(n);
                    buf.advance(n);
                }
                std::task::Poll::Ready(Ok(()))
            }
        }
    };
}

crate::poll_io::for_each_stream!(impl_tokio_read, tokio::io::AsyncWrite, poll_shutdown);
