//! Owned read and write halves of a stream (`into_split`), one definition
//! for TCP and Unix streams: a macro stamps them out in each module, since
//! the two differ only in the socket type they wrap.

/// Defines `OwnedReadHalf` and `OwnedWriteHalf` over `Arc<Registered<$std>>`.
macro_rules! stream_halves {
    ($std:ty, $stream:literal) => {
        /// The read half of a
        #[doc = $stream]
        /// from `into_split`: `read`, `read_exact`, `peek`, and
        /// `futures_io::AsyncRead`. Both halves may be moved to different
        /// tasks; the socket closes when both are dropped.
        #[derive(Debug)]
        pub struct OwnedReadHalf {
            pub(crate) io: std::sync::Arc<crate::registered::Registered<$std>>,
            pub(crate) state: crate::registered::OpState,
        }

        /// The write half of a
        #[doc = $stream]
        /// from `into_split`: `write`, `write_all`, `shutdown`, and
        /// `futures_io::AsyncWrite`. Dropping it does not shut the
        /// connection down (the read half may still want replies); call
        /// [`shutdown`](Self::shutdown) to send end-of-stream.
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            pub(crate) io: std::sync::Arc<crate::registered::Registered<$std>>,
            pub(crate) state: crate::registered::OpState,
        }

        pub(crate) fn split(
            io: crate::registered::Registered<$std>,
        ) -> (OwnedReadHalf, OwnedWriteHalf) {
            let io = std::sync::Arc::new(io);
            (
                OwnedReadHalf {
                    io: io.clone(),
                    state: Default::default(),
                },
                OwnedWriteHalf {
                    io,
                    state: Default::default(),
                },
            )
        }

        impl OwnedReadHalf {
            /// Reads into `buf`, waiting until data arrives; `Ok(0)` at end of
            /// stream. A checkpoint: a cancelled read returns `Cancelled` and
            /// consumed no byte.
            #[track_caller]
            pub fn read<'a>(
                &'a self,
                buf: &'a mut [u8],
            ) -> impl std::future::Future<Output = std::io::Result<usize>> + Send + 'a {
                crate::stream::read(&self.io, buf, std::panic::Location::caller())
            }

            /// Reads exactly `buf.len()` bytes. Cancelled midway, the error
            /// carries a [`CancelledMidway`](crate::CancelledMidway) saying
            /// how many bytes are in `buf` already.
            #[track_caller]
            pub fn read_exact<'a>(
                &'a self,
                buf: &'a mut [u8],
            ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'a {
                crate::stream::read_exact(&self.io, buf, std::panic::Location::caller())
            }
        }

        impl OwnedWriteHalf {
            /// Writes some of `buf`, waiting until the socket accepts bytes.
            #[track_caller]
            pub fn write<'a>(
                &'a self,
                buf: &'a [u8],
            ) -> impl std::future::Future<Output = std::io::Result<usize>> + Send + 'a {
                crate::stream::write(&self.io, buf, std::panic::Location::caller())
            }

            /// Writes all of `buf`. Cancelled midway, the error carries a
            /// [`CancelledMidway`](crate::CancelledMidway) saying how many
            /// bytes went out.
            #[track_caller]
            pub fn write_all<'a>(
                &'a self,
                buf: &'a [u8],
            ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'a {
                crate::stream::write_all(&self.io, buf, std::panic::Location::caller())
            }

            /// Shuts the write direction down: the peer reads end-of-stream.
            pub fn shutdown(&self) -> std::io::Result<()> {
                self.io.get().shutdown(std::net::Shutdown::Write)
            }
        }

        impl Drop for OwnedReadHalf {
            fn drop(&mut self) {
                self.io
                    .forget(crate::readiness::Direction::Read, &mut self.state);
            }
        }

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                self.io
                    .forget(crate::readiness::Direction::Write, &mut self.state);
            }
        }
    };
}

pub(crate) use stream_halves;
