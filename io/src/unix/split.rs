//! The owned halves of a [`UnixStream`](super::UnixStream).

crate::split::stream_halves!(std::os::unix::net::UnixStream, "`UnixStream`");
