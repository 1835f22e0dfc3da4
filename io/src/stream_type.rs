//! What `TcpStream` and `UnixStream` share, written once: a macro that
//! gives a stream type (a struct with a registered socket in `io` and the
//! two directions' operation states in `read_state` and `write_state`)
//! its reads, writes, shutdown, split and std conversions, and `AsFd` (the
//! poll traits are in `poll_io.rs`). Each type adds what only it has
//! (connect, `TCP_NODELAY`, addresses, `pair`). The owned halves of
//! `split.rs` share the read and write methods too.
//!
//! The invoking module imports `OwnedReadHalf`, `OwnedWriteHalf` and
//! `split` from its own `split` module.

/// The shared operations of `$ty`, a stream over the std socket `$std`.
macro_rules! stream_type {
    ($ty:ident, $std:ty) => {
        impl $ty {
            pub(crate) fn from_registered(io: crate::registered::Registered<$std>) -> Self {
                $ty {
                    io,
                    read_state: crate::registered::OpState::default(),
                    write_state: crate::registered::OpState::default(),
                }
            }

            crate::stream_type::read_methods!();
            crate::stream_type::write_methods!();

            /// Shuts down the read, write, or both directions (no waiting involved,
            /// so no checkpoint).
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.io.get().shutdown(how)
            }

            /// Splits the stream into halves that can move to different tasks.
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                split(self.into_registered())
            }

            fn into_registered(mut self) -> crate::registered::Registered<$std> {
                use crate::readiness::Direction;
                self.io.forget(Direction::Read, &mut self.read_state);
                self.io.forget(Direction::Write, &mut self.write_state);
                self.io
            }

            /// Takes over a std stream (made non-blocking here).
            ///
            /// # Errors
            ///
            /// Outside a runtime, or when the socket cannot be registered.
            pub fn from_std(stream: $std) -> std::io::Result<$ty> {
                stream.set_nonblocking(true)?;
                Ok($ty::from_registered(crate::registered::Registered::new(
                    stream,
                )?))
            }

            /// Hands the socket back as a std stream (still non-blocking).
            pub fn into_std(self) -> std::io::Result<$std> {
                Ok(self.into_registered().into_inner())
            }
        }

        crate::registered::impl_as_fd!($ty);
    };
}
pub(crate) use stream_type;

/// `read` and `read_exact`, in the `impl` of a type (a stream or its read
/// half) with its registered socket in `io`.
macro_rules! read_methods {
    () => {
        /// Reads into `buf`, waiting until data arrives; `Ok(0)` at end of
        /// stream. A cancelled read returns `Cancelled` and consumed no byte.
        ///
        /// # Errors
        ///
        /// `ConnectionReset` when the peer reset the connection, `Cancelled`,
        /// and the system's others.
        #[track_caller]
        pub fn read<'a>(
            &'a self,
            buf: &'a mut [u8],
        ) -> impl std::future::Future<Output = std::io::Result<usize>> + Send + 'a {
            crate::stream::read(&self.io, buf, std::panic::Location::caller())
        }

        /// Reads exactly `buf.len()` bytes.
        ///
        /// # Errors
        ///
        /// `UnexpectedEof` if the stream ends first. Cancelled before any byte
        /// was read, a plain `Cancelled`; cancelled midway, the error carries a
        /// [`CancelledMidway`](crate::CancelledMidway) whose `done()` bytes are
        /// at the front of `buf`, so nothing is lost.
        #[track_caller]
        pub fn read_exact<'a>(
            &'a self,
            buf: &'a mut [u8],
        ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'a {
            crate::stream::read_exact(&self.io, buf, std::panic::Location::caller())
        }
    };
}
pub(crate) use read_methods;

/// `write` and `write_all`, as [`read_methods`].
macro_rules! write_methods {
    () => {
        /// Writes some of `buf` (at least one byte unless it is empty), waiting
        /// until the socket accepts bytes.
        ///
        /// # Errors
        ///
        /// `BrokenPipe` or `ConnectionReset` when the peer is gone (never a
        /// `SIGPIPE`), `Cancelled` (nothing was written), and the system's others.
        #[track_caller]
        pub fn write<'a>(
            &'a self,
            buf: &'a [u8],
        ) -> impl std::future::Future<Output = std::io::Result<usize>> + Send + 'a {
            crate::stream::write(&self.io, buf, std::panic::Location::caller())
        }

        /// Writes all of `buf`.
        ///
        /// # Errors
        ///
        /// As [`write`](Self::write). Cancelled after some bytes went out, the
        /// error carries a [`CancelledMidway`](crate::CancelledMidway) whose
        /// `done()` says how many (its source is the `Cancelled`, so scopes
        /// still catch it); cancelled before any, a plain `Cancelled`.
        #[track_caller]
        pub fn write_all<'a>(
            &'a self,
            buf: &'a [u8],
        ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'a {
            crate::stream::write_all(&self.io, buf, std::panic::Location::caller())
        }
    };
}
pub(crate) use write_methods;
