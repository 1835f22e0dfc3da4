//! Sockets: `tcp_echo`, `tcp_accept` and `http_hello`, each written once over
//! the small [`Net`] trait and run on each runtime's own
//! sockets (`canopy::net`, `tokio::net`, async-io's `Async<TcpStream>`).
//! `benches/net.rs` and `benches/http.rs` run the same code.
//!
//! Every listener is made the same way ([`listener_1024`]), and every
//! stream has `TCP_NODELAY`.

mod futures_hyper;
pub mod http;
pub mod sockets;
pub mod tcp;

use super::{Size, Workload, generic, on_all};
use sockets::Net;
use std::os::fd::AsFd;
use std::time::Duration;

/// A loopback listener with a backlog of 1,024 for every runtime. tokio
/// (through mio) and std (async-io) listen with 128, canopy with 1,024;
/// with 200 connects at once a 128 backlog overflows and the dropped
/// handshakes are retried after 200 ms to 1 s, which would measure the
/// backlog, not the runtime.
pub fn listener_1024() -> std::net::TcpListener {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(1024).unwrap();
    socket.set_nonblocking(true).unwrap();
    socket.into()
}

/// `TCP_NODELAY`: no Nagle delay for the small messages.
fn nodelay(stream: &impl AsFd) {
    socket2::SockRef::from(stream)
        .set_tcp_nodelay(true)
        .unwrap();
}

/// Linger 0 on the client, which closes last: closing sends a reset and
/// leaves no `TIME_WAIT` socket behind, so thousands of accepted
/// connections per run do not exhaust the ephemeral ports for the runtime
/// that runs next.
fn reset_on_close(stream: &impl AsFd) {
    socket2::SockRef::from(stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

fn tcp_echo<R: Net>(rt: &R, size: Size) -> Duration {
    tcp::echo(rt, size.n(tcp::ROUND_TRIPS))
}

fn tcp_accept<R: Net>(rt: &R, size: Size) -> Duration {
    tcp::accept(rt, size.n(tcp::ACCEPTS))
}

fn http_hello<R: Net>(rt: &R, size: Size) -> Duration {
    http::hello_world(rt, size.n(http::REQUESTS))
}

/// The socket workloads.
pub fn workloads() -> Vec<Workload> {
    let area = "net";
    vec![
        generic(
            "tcp_echo",
            area,
            "50 loopback connections x 2,000 round trips of 64 B; per-op is per round trip.",
            |s| tcp::CONNECTIONS * s.n(tcp::ROUND_TRIPS),
            on_all!(tcp_echo),
        ),
        generic(
            "tcp_accept",
            area,
            "200 clients connect at once; the server accepts and closes each, then the clients close (with a reset, no TIME_WAIT).",
            |s| s.n(tcp::ACCEPTS),
            on_all!(tcp_accept),
        ),
        generic(
            "http_hello",
            area,
            "A hyper HTTP/1.1 server (a task per connection, a timeout per request) and 50 keep-alive hyper clients on the same runtime: 20,000 GETs of 13 B (tokio: hyper-util's TokioIo; async-io: a futures-io adapter).",
            |s| s.n(http::REQUESTS),
            on_all!(http_hello),
        ),
    ]
}
