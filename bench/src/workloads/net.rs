//! Sockets: `tcp_echo`, as `benches/net.rs` runs it (same counts, same
//! code per runtime): 50 connections x 2,000 round trips of 64 B over
//! loopback, each iteration binding, connecting, echoing and closing
//! everything. canopy: `canopy::net`; tokio: `tokio::net`; async-executor:
//! async-io's `Async<TcpStream>`.
//!
//! The bodies differ by runtime (each its own socket types); the shape —
//! an accept loop spawning one echo task per connection, one client task
//! per connection, `TCP_NODELAY` on every stream — is the same.

use super::{Entry, Size, Workload};
use crate::runtimes::{AsyncExecutor, Canopy, Runtime, Tokio};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 50;
const ROUND_TRIPS: usize = 2_000;
const MESSAGE: usize = 64;

/// A loopback listener with a backlog of 1,024, so 50 connects at once are
/// never refused (the same for every runtime).
fn listener_1024() -> std::net::TcpListener {
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

fn canopy_echo(rt: &Canopy, size: Size) -> Duration {
    let round_trips = size.n(ROUND_TRIPS);
    let start = Instant::now();
    use canopy::net::{TcpListener, TcpStream};
    let handle = rt.spawner();
    rt.block_on(async move {
        let listener = TcpListener::from_std(listener_1024()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = handle.spawn(async move {
            for _ in 0..CONNECTIONS {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                canopy::spawn_detached(async move {
                    let mut buf = [0; MESSAGE];
                    while stream.read_exact(&mut buf).await.is_ok() {
                        stream.write_all(&buf).await?;
                    }
                    std::io::Result::Ok(())
                });
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                handle.spawn(async move {
                    let stream = TcpStream::connect(addr).await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    let mut buf = [7; MESSAGE];
                    for _ in 0..round_trips {
                        stream.write_all(&buf).await.unwrap();
                        stream.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        server.await.unwrap();
    });
    start.elapsed()
}

fn tokio_echo(rt: &Tokio, size: Size) -> Duration {
    let round_trips = size.n(ROUND_TRIPS);
    let start = Instant::now();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    rt.block_on(async move {
        let listener = TcpListener::from_std(listener_1024()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..CONNECTIONS {
                let (mut stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0; MESSAGE];
                    while stream.read_exact(&mut buf).await.is_ok() {
                        if stream.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                tokio::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    let mut buf = [7; MESSAGE];
                    for _ in 0..round_trips {
                        stream.write_all(&buf).await.unwrap();
                        stream.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        server.await.unwrap();
    });
    start.elapsed()
}

fn async_io_echo(rt: &AsyncExecutor, size: Size) -> Duration {
    let round_trips = size.n(ROUND_TRIPS);
    let start = Instant::now();
    use async_io::Async;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use std::net::TcpStream;
    let ex = rt.spawner();
    rt.block_on(async move {
        let listener = Async::new(listener_1024()).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let spawner = ex.clone();
        let server = ex.spawn(async move {
            for _ in 0..CONNECTIONS {
                let (mut stream, _) = listener.accept().await.unwrap();
                stream.get_ref().set_nodelay(true).unwrap();
                spawner
                    .spawn(async move {
                        let mut buf = [0; MESSAGE];
                        while stream.read_exact(&mut buf).await.is_ok() {
                            if stream.write_all(&buf).await.is_err() {
                                break;
                            }
                        }
                    })
                    .detach();
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                ex.spawn(async move {
                    let mut stream = Async::<TcpStream>::connect(addr).await.unwrap();
                    stream.get_ref().set_nodelay(true).unwrap();
                    let mut buf = [7; MESSAGE];
                    for _ in 0..round_trips {
                        stream.write_all(&buf).await.unwrap();
                        stream.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for client in clients {
            client.await;
        }
        server.await;
    });
    start.elapsed()
}

/// The socket workloads.
pub fn workloads() -> Vec<Workload> {
    vec![Workload {
        name: "tcp_echo",
        area: "net",
        about: "50 loopback connections x 2,000 round trips of 64 B, TCP_NODELAY; per-op is per round trip (canopy::net, tokio::net, async-io).",
        ops: |s| CONNECTIONS * s.n(ROUND_TRIPS),
        canopy: Entry::Run(canopy_echo),
        tokio: Entry::Run(tokio_echo),
        async_executor: Entry::Run(async_io_echo),
    }]
}
