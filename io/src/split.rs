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
            crate::stream_type::read_methods!();
        }

        impl OwnedWriteHalf {
            crate::stream_type::write_methods!();

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
