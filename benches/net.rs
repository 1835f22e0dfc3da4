//! Socket benchmarks: canopy vs tokio vs async-io (on async-executor), same
//! worker count (`CANOPY_BENCH_WORKERS`, default 2), same run.
//!
//! - `tcp_echo`: 50 connections × 2,000 round trips of 64 B over loopback
//!   (each iteration binds, connects, echoes and closes everything).
//!   Goal: canopy ≤ 0.83× tokio's time.
//! - `tcp_accept`: 200 connections accepted (and closed) per iteration.
//!
//! Every listener is made the same way (`listener_1024`: backlog 1,024) and
//! handed to the runtime. Each runtime runs the same shape of code: an accept loop that spawns one
//! echo task per connection, and one client task per connection; `TCP_NODELAY`
//! on every stream.

#[path = "contenders/mod.rs"]
mod contenders;

use contenders::{AsyncExecutor, Canopy, Contender, Tokio, workers};
use criterion::{Criterion, criterion_group};
use std::time::Duration;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 50;
const ROUND_TRIPS: usize = 2_000;
const MESSAGE: usize = 64;
const ACCEPTS: usize = 200;

fn canopy_echo(rt: &Canopy) {
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
                    for _ in 0..ROUND_TRIPS {
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
}

fn tokio_echo(rt: &Tokio) {
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
                    for _ in 0..ROUND_TRIPS {
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
}

fn async_io_echo(rt: &AsyncExecutor) {
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
                    for _ in 0..ROUND_TRIPS {
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
}

fn canopy_accept(rt: &Canopy) {
    use canopy::net::{TcpListener, TcpStream};
    let handle = rt.spawner();
    rt.block_on(async move {
        let listener = TcpListener::from_std(listener_1024()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = handle.spawn(async move {
            for _ in 0..ACCEPTS {
                drop(listener.accept().await.unwrap());
            }
        });
        let clients: Vec<_> = (0..ACCEPTS)
            .map(|_| {
                handle.spawn(async move {
                    let stream = TcpStream::connect(addr).await.unwrap();
                    reset_on_close(&stream);
                    stream
                })
            })
            .collect();
        // Every connection is accepted before any client closes.
        server.await.unwrap();
        for client in clients {
            drop(client.await.unwrap());
        }
    });
}

fn tokio_accept(rt: &Tokio) {
    use tokio::net::{TcpListener, TcpStream};
    rt.block_on(async move {
        let listener = TcpListener::from_std(listener_1024()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..ACCEPTS {
                drop(listener.accept().await.unwrap());
            }
        });
        let clients: Vec<_> = (0..ACCEPTS)
            .map(|_| {
                tokio::spawn(async move {
                    let stream = TcpStream::connect(addr).await.unwrap();
                    reset_on_close(&stream);
                    stream
                })
            })
            .collect();
        // Every connection is accepted before any client closes.
        server.await.unwrap();
        for client in clients {
            drop(client.await.unwrap());
        }
    });
}

fn async_io_accept(rt: &AsyncExecutor) {
    use async_io::Async;
    use std::net::TcpStream;
    let ex = rt.spawner();
    rt.block_on(async move {
        let listener = Async::new(listener_1024()).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let server = ex.spawn(async move {
            for _ in 0..ACCEPTS {
                drop(listener.accept().await.unwrap());
            }
        });
        let clients: Vec<_> = (0..ACCEPTS)
            .map(|_| {
                ex.spawn(async move {
                    let stream = Async::<TcpStream>::connect(addr).await.unwrap();
                    reset_on_close(stream.get_ref());
                    stream
                })
            })
            .collect();
        server.await;
        for client in clients {
            drop(client.await);
        }
    });
}

/// A loopback listener with a backlog of 1,024 for every contender. tokio
/// (through mio) and std (async-io) listen with 128, canopy with 1,024;
/// with 200 connects at once a 128 backlog overflows and the dropped
/// handshakes are retried after 200 ms to 1 s, which would measure the
/// backlog, not the runtime.
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

/// Linger 0 on the client, which closes last: closing sends a reset and
/// leaves no `TIME_WAIT` socket behind,
/// so tens of thousands of accepted connections per run do not exhaust the
/// ephemeral ports for the contender that runs next.
fn reset_on_close(stream: &impl std::os::fd::AsFd) {
    socket2::SockRef::from(stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

fn net(c: &mut Criterion) {
    let n = workers();
    let canopy = Canopy::start(n);
    let tokio = Tokio::start(n);
    let async_io = AsyncExecutor::start(n);
    let mut echo = c.benchmark_group("tcp_echo");
    echo.bench_function(Canopy::NAME, |b| b.iter(|| canopy_echo(&canopy)));
    echo.bench_function(Tokio::NAME, |b| b.iter(|| tokio_echo(&tokio)));
    echo.bench_function(AsyncExecutor::NAME, |b| b.iter(|| async_io_echo(&async_io)));
    echo.finish();
    let mut accept = c.benchmark_group("tcp_accept");
    accept.bench_function(Canopy::NAME, |b| b.iter(|| canopy_accept(&canopy)));
    accept.bench_function(Tokio::NAME, |b| b.iter(|| tokio_accept(&tokio)));
    accept.bench_function(AsyncExecutor::NAME, |b| {
        b.iter(|| async_io_accept(&async_io))
    });
    accept.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = net
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
