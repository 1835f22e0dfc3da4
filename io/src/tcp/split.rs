//! The owned halves of a [`TcpStream`](super::TcpStream).

crate::split::stream_halves!(std::net::TcpStream, "`TcpStream`");
