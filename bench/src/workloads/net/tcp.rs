//! `tcp_echo` and `tcp_accept`, written once over [`Net`].

use super::sockets::Net;
use super::{listener_1024, nodelay, reset_on_close};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Echo connections of `tcp_echo`.
pub const CONNECTIONS: usize = 50;
/// Round trips per connection.
pub const ROUND_TRIPS: usize = 2_000;
/// Bytes per message.
const MESSAGE: usize = 64;
/// Connections per `tcp_accept` iteration.
pub const ACCEPTS: usize = 200;

/// An accept loop spawning one echo task per connection, one client task
/// per connection making `round_trips` round trips; binds, connects,
/// echoes and closes everything.
pub fn echo<R: Net>(rt: &R, round_trips: usize) -> Duration {
    let spawner = rt.spawner();
    let start = Instant::now();
    rt.block_on(async move {
        let listener = R::listen(listener_1024());
        let addr = R::local_addr(&listener);
        let echoes = spawner.clone();
        let server = R::spawn(&spawner, async move {
            for _ in 0..CONNECTIONS {
                let mut stream = R::accept(&listener).await.unwrap();
                nodelay(&stream);
                R::spawn_detached(&echoes, async move {
                    let mut buf = [0; MESSAGE];
                    while R::read_exact(&mut stream, &mut buf).await.is_ok() {
                        if R::write_all(&mut stream, &buf).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|_| R::spawn(&spawner, echo_client::<R>(addr, round_trips)))
            .collect();
        for client in clients {
            client.await;
        }
        server.await;
    });
    start.elapsed()
}

async fn echo_client<R: Net>(addr: SocketAddr, round_trips: usize) {
    let mut stream = R::connect(addr).await.unwrap();
    nodelay(&stream);
    let mut buf = [7; MESSAGE];
    for _ in 0..round_trips {
        R::write_all(&mut stream, &buf).await.unwrap();
        R::read_exact(&mut stream, &mut buf).await.unwrap();
    }
}

/// `accepts` clients connect at once; the server accepts and drops every
/// connection, then the clients close theirs (with a reset, see
/// [`reset_on_close`]).
pub fn accept<R: Net>(rt: &R, accepts: usize) -> Duration {
    let spawner = rt.spawner();
    let start = Instant::now();
    rt.block_on(async move {
        let listener = R::listen(listener_1024());
        let addr = R::local_addr(&listener);
        let server = R::spawn(&spawner, async move {
            for _ in 0..accepts {
                drop(R::accept(&listener).await.unwrap());
            }
        });
        let clients: Vec<_> = (0..accepts)
            .map(|_| {
                R::spawn(&spawner, async move {
                    let stream = R::connect(addr).await.unwrap();
                    reset_on_close(&stream);
                    stream
                })
            })
            .collect();
        // Every connection is accepted before any client closes.
        server.await;
        for client in clients {
            drop(client.await);
        }
    });
    start.elapsed()
}
