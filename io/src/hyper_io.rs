//! hyper 1.x's `rt::Read` and `rt::Write` on canopy's streams (feature
//! `hyper`), so hyper's connections (server and client) run on canopy
//! sockets without an adapter.
//!
//! Each poll is one operation of the loop in `registered.rs`: a checkpoint.
//! In a cancelled scope a poll returns an `io::Error` carrying
//! [`Cancelled`](canopy_scope::Cancelled) (hyper hands it back as the
//! connection's error; `Cancelled::find_in_io` on its source finds it),
//! and a cancelled read consumed no byte. The executor and the timer hyper
//! also needs live in the `canopy` facade (`canopy::hyper`), which knows the
//! runtime; this crate does not.
//!
//! Writes are not vectored: hyper then gathers a response's head and body
//! into one buffer and sends it with one `send(2)`.

/// `hyper::rt::Read` for a type with a registered stream socket in `io`
/// and the read operation's state in `$state` (the write side is shared,
/// in `poll_io.rs`).
macro_rules! impl_hyper_read {
    ($ty:ty, $state:ident) => {
        impl hyper::rt::Read for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                mut buf: hyper::rt::ReadBufCursor<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let this = self.get_mut();
                // SAFETY: `poll_read_uninit` only writes into the slice (never
                // de-initialises it), and `advance` is told exactly how many
                // bytes `recv` wrote at its front.
                unsafe {
                    let n = std::task::ready!(crate::stream::poll_read_uninit(
                        &this.io,
                        cx,
                        &mut this.$state,
                        buf.as_mut(),
                    ))?;
                    buf.advance(n);
                }
                std::task::Poll::Ready(Ok(()))
            }
        }
    };
}

crate::poll_io::for_each_stream!(impl_hyper_read, hyper::rt::Write, poll_shutdown);
