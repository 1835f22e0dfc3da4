//! TCP: [`TcpListener`], [`TcpStream`] and its owned halves.

mod listener;
mod split;
mod stream;

pub use listener::TcpListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf};
pub use stream::TcpStream;
