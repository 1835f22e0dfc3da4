//! Unix domain sockets: [`UnixListener`], [`UnixStream`] (with owned
//! halves) and [`UnixDatagram`].

mod datagram;
mod listener;
mod split;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf};
pub use stream::UnixStream;
