//! canopy's I/O: a reactor on [`polling`] and cancellable TCP, UDP and Unix
//! sockets. Applications use it through `canopy::net`.
//!
//! ```
//! use canopy_io::{TcpListener, TcpStream};
//!
//! let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = canopy_runtime::spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         let mut buf = [0; 4];
//!         stream.read_exact(&mut buf).await?;
//!         stream.write_all(&buf).await // echo
//!     });
//!     let client = TcpStream::connect(addr).await?;
//!     client.write_all(b"ping").await?;
//!     let mut reply = [0; 4];
//!     client.read_exact(&mut reply).await?;
//!     assert_eq!(&reply, b"ping");
//!     server.await.unwrap()
//! })
//! .unwrap();
//! ```
//!
//! # Cancellation
//!
//! Every operation that can wait is a checkpoint (DESIGN §2.8) and spends
//! the checkpoint budget. Inside a cancelled scope it returns an
//! [`io::Error`](std::io::Error) carrying [`Cancelled`](canopy_scope::Cancelled)
//! ([`Cancelled::find_in_io`](canopy_scope::Cancelled::find_in_io) finds it,
//! and the scope that was cancelled catches it). Nothing is lost (DESIGN
//! §2.13): a cancelled read or accept consumed no byte and no connection;
//! `write_all` and `read_exact` cancelled midway say how far they got in a
//! [`CancelledMidway`]. A readiness event that arrives for a waiter that is
//! then cancelled is not lost to the others: every waiter of a direction is
//! woken by every event.
//!
//! # Faults
//!
//! Errors say what went wrong and what to do: an address in use, a refused
//! connection, a reset peer, a write to a closed peer (`BrokenPipe`: writes
//! use `MSG_NOSIGNAL`, so no `SIGPIPE` kills the process), running out of
//! file descriptors on accept ([`is_out_of_descriptors`]), a socket used
//! outside a runtime or after its runtime shut down.
//!
//! # Features
//!
//! - `hyper`: hyper 1.x's `rt::Read` and `rt::Write` on [`TcpStream`],
//!   [`UnixStream`] and their owned halves. The executor and timer hyper
//!   needs are in the `canopy` facade (`canopy::hyper`, same feature name).
//! - `tokio-io`: tokio's `AsyncRead` and `AsyncWrite` on the same types, for
//!   crates written against tokio's traits (tokio-rustls, tokio-util's
//!   codecs). No tokio runtime is involved; what still needs one is listed
//!   in the facade's docs.
//!
//! Both keep the cancellation rules: each poll is a checkpoint, a cancelled
//! poll returns an `io::Error` carrying `Cancelled` and consumed no byte.
//!
//! # Design
//!
//! - `reactor.rs`: the poller, registrations, and the driver interface the
//!   runtime calls (who waits in the poller, and when).
//! - `readiness.rs`: per-source, per-direction readiness and waiters.
//! - `registered.rs`: the loop every operation runs.
//! - `resolve.rs`: addresses, and host names looked up through the resolver
//!   hook the runtime installs (on its blocking pool, never on a worker).
//! - `hyper_io.rs`, `tokio_io.rs`: the `hyper` and `tokio-io` features.
//! - `tcp/`, `udp.rs`, `unix/`: the sockets.
//!
//! Unix only for now (it needs file descriptors and `MSG_NOSIGNAL`).

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod context;
mod error;
#[cfg(feature = "hyper")]
mod hyper_io;
mod loom;
mod poll_io;
mod reactor;
mod readiness;
mod registered;
mod resolve;
mod split;
mod stream;
mod stream_type;
pub mod tcp;
#[cfg(feature = "tokio-io")]
mod tokio_io;
pub mod udp;
pub mod unix;

#[cfg(all(test, loom))]
mod loom_models;

pub use context::{IoContextGuard, enter};
pub use error::{CancelledMidway, is_out_of_descriptors};
pub use reactor::Reactor;
pub use resolve::{ResolveFuture, Resolver, ToSocketAddrs};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
