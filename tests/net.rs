//! Sockets through the facade (`canopy::net`): the operations, their
//! cancellation (DESIGN §2.2, §2.13), many connections at once, and I/O
//! while a worker is stuck (DESIGN §4). 127.0.0.1 only; every test that
//! could hang on a broken runtime runs under [`within`].

#[allow(dead_code)] // not every helper is used here
mod common;
#[path = "common/net.rs"]
mod netutil;

use canopy::net::{CancelledMidway, TcpListener, TcpStream, UdpSocket};
use canopy::{CancelScope, Cancelled, Runtime, fail_after, move_on_after, spawn};
use common::real_clock;
use netutil::{LIMIT, after_first_poll, within};
use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// A connected pair: (client, server side).
async fn pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, peer) = listener.accept().await?;
    assert_eq!(peer, client.local_addr()?);
    Ok((client, server))
}

fn assert_cancelled(error: &io::Error) -> Cancelled {
    *Cancelled::find_in_io(error).unwrap_or_else(|| panic!("not a cancellation: {error}"))
}

#[test]
fn sockets_and_their_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<TcpListener>();
    send_sync::<TcpStream>();
    send_sync::<UdpSocket>();
    send_sync::<canopy::net::tcp::OwnedReadHalf>();
    send_sync::<canopy::net::tcp::OwnedWriteHalf>();
    send_sync::<canopy::net::UnixStream>();
    send_sync::<canopy::net::UnixListener>();
    send_sync::<canopy::net::UnixDatagram>();
    send_sync::<CancelledMidway>();
    send(&TcpListener::bind("127.0.0.1:0"));
    send(&TcpStream::connect("127.0.0.1:1"));
}

#[test]
fn an_echo_round_trip_with_every_stream_operation() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let (client, server) = pair().await?;
            client.set_nodelay(true)?;
            assert!(client.nodelay()?);
            assert_eq!(client.peer_addr()?, server.local_addr()?);
            let echo = spawn(async move {
                let mut buf = [0; 64];
                loop {
                    let n = server.read(&mut buf).await?;
                    if n == 0 {
                        return io::Result::Ok(());
                    }
                    server.write_all(&buf[..n]).await?;
                }
            });
            let mut peeked = [0; 5];
            client.write_all(b"hello").await?;
            let mut got = 0;
            while got < 5 {
                got = client.peek(&mut peeked).await?;
            }
            assert_eq!(&peeked, b"hello");
            let mut buf = [0; 5];
            client.read_exact(&mut buf).await?; // peek consumed nothing
            assert_eq!(&buf, b"hello");
            let (reader, writer) = client.into_split();
            let writing = spawn(async move {
                for i in 0..100u8 {
                    writer.write_all(&[i; 100]).await?;
                }
                writer.shutdown()
            });
            let mut all = Vec::new();
            let mut buf = [0; 1000];
            loop {
                let n = reader.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
            }
            assert_eq!(all.len(), 10_000);
            assert!(
                all.chunks(100)
                    .enumerate()
                    .all(|(i, c)| c.iter().all(|&b| b == i as u8))
            );
            writing.await.unwrap()?;
            echo.await.unwrap()
        })
        .unwrap();
    });
}

#[test]
fn streams_implement_the_futures_io_traits() {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let (mut client, mut server) = pair().await?;
            client.write_all(b"through futures-io").await?;
            client.close().await?; // shuts the write side down
            let mut got = String::new();
            server.read_to_string(&mut got).await?;
            assert_eq!(got, "through futures-io");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn from_std_and_into_std_hand_sockets_over() {
    let rt = real_clock();
    within(LIMIT, move || {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let std_client = std::net::TcpStream::connect(addr).unwrap();
        rt.block_on(async move {
            let listener = TcpListener::from_std(std_listener)?;
            let (server, _) = listener.accept().await?;
            let client = TcpStream::from_std(std_client)?;
            client.write_all(b"x").await?;
            let mut buf = [0; 1];
            server.read_exact(&mut buf).await?;
            let std_server = server.into_std()?;
            std_server.set_nonblocking(false)?;
            assert_eq!(std_server.local_addr()?, addr);
            listener.into_std().map(drop)
        })
        .unwrap();
    });
}

#[test]
fn udp_sends_and_receives_datagrams() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await?;
            let b = UdpSocket::bind("127.0.0.1:0").await?;
            let b_addr = b.local_addr()?;
            let receiver = spawn(async move {
                let mut buf = [0; 16];
                let (n, from) = b.recv_from(&mut buf).await?;
                assert_eq!(&buf[..n], b"one");
                b.connect(from).await?;
                b.send(b"two").await?;
                io::Result::Ok(())
            });
            a.send_to(b"one", b_addr).await?;
            a.connect(b_addr).await?;
            let mut buf = [0; 16];
            let n = a.recv(&mut buf).await?;
            assert_eq!(&buf[..n], b"two");
            assert_eq!(a.peer_addr()?, b_addr);
            receiver.await.unwrap()
        })
        .unwrap();
    });
}

#[test]
fn a_cancelled_udp_receive_took_no_datagram() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await?;
            let b = UdpSocket::bind("127.0.0.1:0").await?;
            let mut buf = [0; 16];
            let out = move_on_after(Duration::from_millis(20), b.recv_from(&mut buf)).await?;
            assert!(out.is_none());
            a.send_to(b"kept", b.local_addr()?).await?;
            let (n, _) = b.recv_from(&mut buf).await?;
            assert_eq!(&buf[..n], b"kept");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn unix_sockets_stream_and_datagram() {
    use canopy::net::{UnixDatagram, UnixListener, UnixStream};
    let rt = real_clock();
    let dir = std::env::temp_dir().join(format!("canopy-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    within(LIMIT, move || {
        rt.block_on(async {
            let listener = UnixListener::bind(&path)?;
            let client = UnixStream::connect(&path).await?;
            let (server, _) = listener.accept().await?;
            let (reader, writer) = server.into_split();
            client.write_all(b"ping").await?;
            let mut buf = [0; 4];
            reader.read_exact(&mut buf).await?;
            writer.write_all(&buf).await?;
            client.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"ping");
            // A cancelled read consumed nothing.
            let out = move_on_after(Duration::from_millis(20), client.read(&mut buf)).await?;
            assert!(out.is_none());
            writer.write_all(b"pong").await?;
            client.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"pong");
            let (a, b) = UnixDatagram::pair()?;
            a.send(b"dgram").await?;
            let mut buf = [0; 8];
            let n = b.recv(&mut buf).await?;
            assert_eq!(&buf[..n], b"dgram");
            let (x, y) = UnixStream::pair()?;
            x.write_all(b"p").await?;
            y.read_exact(&mut buf[..1]).await?;
            drop(listener.into_std()?);
            io::Result::Ok(())
        })
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

/// A read blocked with no data, cancelled by `cancel`, returns `Cancelled`
/// (caught by the scope); the bytes sent afterwards are all read next.
fn a_blocked_read_is_cancelled_by(cancel: impl FnOnce(CancelScope) + Send + 'static) {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async move {
            let (client, server) = pair().await?;
            let scope = CancelScope::new();
            let handle = scope.clone();
            let mut cancel = Some(cancel);
            let mut buf = [0; 8];
            let out = scope
                .run(after_first_poll(server.read(&mut buf), move || {
                    (cancel.take().unwrap())(handle)
                }))
                .await;
            assert!(matches!(out, Ok(None)), "{out:?}");
            assert!(scope.cancelled_caught());
            client.write_all(b"intact").await?;
            let mut buf = [0; 6];
            server.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"intact");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_blocked_read_is_cancelled_from_another_task() {
    a_blocked_read_is_cancelled_by(|scope| {
        drop(spawn(async move { scope.cancel() }));
    });
}

#[test]
fn a_blocked_read_is_cancelled_from_another_os_thread() {
    a_blocked_read_is_cancelled_by(|scope| {
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            scope.cancel();
        });
    });
}

#[test]
fn a_blocked_read_is_cancelled_by_a_deadline() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let (client, server) = pair().await?;
            let mut buf = [0; 8];
            let started = Instant::now();
            let out = move_on_after(Duration::from_millis(50), server.read(&mut buf)).await?;
            assert!(out.is_none());
            assert!(started.elapsed() >= Duration::from_millis(50));
            // `fail_after` reports its own expiry as TimedOut.
            let err = fail_after(Duration::from_millis(10), server.read(&mut buf))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            client.write_all(b"late").await?;
            server.read_exact(&mut buf[..4]).await?;
            assert_eq!(&buf[..4], b"late");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn an_operation_in_a_cancelled_scope_returns_cancelled_at_once_and_moves_nothing() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let client = TcpStream::connect(listener.local_addr()?).await?;
            client.write_all(b"queued").await?;
            let scope = CancelScope::new();
            scope.cancel();
            // Level-triggered: accept, read, write all report it, again and
            // again, though each could complete at once.
            let inner = scope
                .run(async {
                    let e = listener.accept().await.map(drop).unwrap_err();
                    assert_cancelled(&e);
                    let e = client.write(b"never").await.unwrap_err();
                    assert_cancelled(&e);
                    let e = TcpListener::bind("127.0.0.1:0")
                        .await
                        .map(drop)
                        .unwrap_err();
                    assert_cancelled(&e);
                    Err::<(), io::Error>(e)
                })
                .await;
            assert!(matches!(inner, Ok(None)), "{inner:?}");
            // The connection was not taken, the bytes not written.
            let (server, _) = listener.accept().await?;
            let mut buf = [0; 6];
            server.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"queued");
            client.shutdown(Shutdown::Write)?;
            assert_eq!(server.read(&mut buf).await?, 0);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_readiness_event_for_a_cancelled_acceptor_reaches_the_other() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await?);
            let addr = listener.local_addr()?;
            for round in 0..20 {
                let (waiting_tx, waiting_rx) = mpsc::channel();
                let scope = CancelScope::new();
                let cancelled = {
                    let (listener, scope, tx) =
                        (listener.clone(), scope.clone(), waiting_tx.clone());
                    spawn(async move {
                        scope
                            .run(after_first_poll(
                                async { listener.accept().await.map(|_| true) },
                                move || {
                                    let _ = tx.send(());
                                },
                            ))
                            .await
                    })
                };
                let other = {
                    let (listener, tx) = (listener.clone(), waiting_tx);
                    spawn(after_first_poll(
                        async move { listener.accept().await.map(|(s, _)| s) },
                        move || {
                            let _ = tx.send(());
                        },
                    ))
                };
                waiting_rx.recv().unwrap();
                waiting_rx.recv().unwrap();
                // Both wait. Cancel one as the connection arrives (in either
                // order, by round).
                let client = if round % 2 == 0 {
                    scope.cancel();
                    TcpStream::connect(addr).await?
                } else {
                    let client = TcpStream::connect(addr).await?;
                    scope.cancel();
                    client
                };
                match cancelled.await.unwrap()? {
                    // Cancelled: the other acceptor must get the connection.
                    None => {
                        let server = other.await.unwrap()?;
                        assert_eq!(server.peer_addr()?, client.local_addr()?);
                    }
                    // It accepted before it saw the cancel: fine, then the
                    // other one waits on; release it with a second client.
                    Some(_) => {
                        let _second = TcpStream::connect(addr).await?;
                        other.await.unwrap()?;
                    }
                }
            }
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn write_all_cancelled_midway_says_how_many_bytes_went_out() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let (client, server) = pair().await?;
            // Far more than the socket buffers hold, so write_all must wait
            // for a reader that does not read yet.
            let data = vec![7u8; 64 << 20];
            let scope = CancelScope::new();
            let handle = scope.clone();
            let mut done = 0;
            let out = scope
                .run(async {
                    let err = after_first_poll(client.write_all(&data), move || handle.cancel())
                        .await
                        .unwrap_err();
                    let midway = CancelledMidway::find_in_io(&err).expect("cancelled midway");
                    done = midway.done();
                    assert_eq!(midway.cancelled(), &assert_cancelled(&err));
                    Err::<(), io::Error>(err)
                })
                .await;
            // The scope caught the error as its own cancellation...
            assert!(matches!(out, Ok(None)), "{out:?}");
            assert!(done > 0 && done < data.len(), "{done}");
            // ...and the count is exact: the reader gets exactly that many.
            client.shutdown(Shutdown::Write)?;
            let mut total = 0;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = server.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                total += n;
            }
            assert_eq!(total, done);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn read_exact_cancelled_midway_keeps_what_it_read() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let (client, server) = pair().await?;
            client.write_all(b"0123456789").await?;
            let mut buf = [0; 20];
            let err = move_on_after(Duration::from_millis(50), async {
                let err = server.read_exact(&mut buf).await.unwrap_err();
                let midway = CancelledMidway::find_in_io(&err).expect("cancelled midway");
                assert_eq!(midway.done(), 10);
                Err::<(), io::Error>(err)
            })
            .await;
            assert!(matches!(err, Ok(None)), "{err:?}");
            assert_eq!(&buf[..10], b"0123456789");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn every_completed_operation_spends_the_checkpoint_budget() {
    // One worker, a budget of 4: a task whose reads never wait still lets
    // another task run every few reads.
    let rt = Runtime::builder()
        .workers(1)
        .checkpoint_budget(4)
        .build()
        .unwrap();
    within(LIMIT, move || {
        rt.block_on(async {
            let (client, server) = pair().await?;
            client.write_all(&[1; 64]).await?;
            let done = Arc::new(AtomicBool::new(false));
            let ran = Arc::new(AtomicUsize::new(0));
            let other = {
                let (done, ran) = (done.clone(), ran.clone());
                spawn(async move {
                    while !done.load(SeqCst) {
                        ran.fetch_add(1, SeqCst);
                        canopy::task::yield_now().await.unwrap();
                    }
                })
            };
            let reader = spawn(async move {
                let mut buf = [0; 1];
                let mut interleaved = 0;
                let before = ran.load(SeqCst);
                for _ in 0..40 {
                    server.peek(&mut buf).await?; // always ready: never waits
                }
                interleaved += ran.load(SeqCst) - before;
                done.store(true, SeqCst);
                io::Result::Ok(interleaved)
            });
            let interleaved = reader.await.unwrap()?;
            other.await.unwrap();
            assert!(
                interleaved >= 5,
                "the other task ran {interleaved} times in 40 reads"
            );
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_thousand_concurrent_connections_across_both_workers() {
    // Two descriptors per connection in this process, plus slack.
    let limit = fd_limit();
    let connections = 1000.min((limit.saturating_sub(100)) / 2);
    assert!(
        connections >= 100,
        "ulimit -n is {limit}: too low for this test"
    );
    let rt = real_clock();
    let metrics_rt = rt.handle().clone();
    within(Duration::from_secs(60), move || {
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = spawn(async move {
                let mut echoes = Vec::with_capacity(connections);
                for _ in 0..connections {
                    let (stream, _) = listener.accept().await?;
                    echoes.push(spawn(async move {
                        let mut buf = [0; 64];
                        stream.read_exact(&mut buf).await?;
                        stream.write_all(&buf).await
                    }));
                }
                for echo in echoes {
                    echo.await.unwrap()?;
                }
                io::Result::Ok(())
            });
            let clients: Vec<_> = (0..connections)
                .map(|i| {
                    spawn(async move {
                        let stream = TcpStream::connect(addr).await?;
                        let msg = [i as u8; 64];
                        stream.write_all(&msg).await?;
                        let mut buf = [0; 64];
                        stream.read_exact(&mut buf).await?;
                        assert_eq!(buf, msg);
                        // Held open until every client got its echo.
                        io::Result::Ok(stream)
                    })
                })
                .collect();
            let mut open = Vec::with_capacity(connections);
            for client in clients {
                open.push(client.await.unwrap()?);
            }
            assert_eq!(open.len(), connections);
            server.await.unwrap()
        })
        .unwrap();
        let metrics = metrics_rt.metrics();
        assert!(
            metrics.workers.iter().all(|w| w.polls > 0),
            "both workers served: {metrics:?}"
        );
    });
}

#[test]
fn io_completes_while_a_worker_is_stuck_in_a_long_poll() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let (client, server) = pair().await?;
            let stuck_started = Arc::new(AtomicBool::new(false));
            let stuck_done = Arc::new(AtomicBool::new(false));
            let stuck = {
                let (started, done) = (stuck_started.clone(), stuck_done.clone());
                spawn(async move {
                    started.store(true, SeqCst);
                    // A poll that blocks its worker for 2 s (a bug in user
                    // code; DESIGN §4 says I/O goes on meanwhile).
                    thread::sleep(Duration::from_secs(2));
                    done.store(true, SeqCst);
                })
            };
            while !stuck_started.load(SeqCst) {
                canopy::task::yield_now().await.unwrap();
            }
            let echo = spawn(async move {
                let mut buf = [0; 8];
                for _ in 0..20 {
                    server.read_exact(&mut buf).await?;
                    server.write_all(&buf).await?;
                }
                io::Result::Ok(())
            });
            let started = Instant::now();
            let mut buf = [0; 8];
            for i in 0..20u64 {
                client.write_all(&i.to_le_bytes()).await?;
                client.read_exact(&mut buf).await?;
                assert_eq!(u64::from_le_bytes(buf), i);
            }
            echo.await.unwrap()?;
            assert!(
                !stuck_done.load(SeqCst),
                "the echo waited for the stuck worker ({:?})",
                started.elapsed()
            );
            stuck.await.unwrap();
            io::Result::Ok(())
        })
        .unwrap();
    });
}

fn fd_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass, nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if ok { limit.rlim_cur as usize } else { 1024 }
}

#[test]
fn io_completes_while_the_worker_that_was_driving_is_stuck() {
    // The task that gets stuck is woken by I/O, so the parked worker that
    // was waiting in the poller (the driver) is often the one to run it;
    // the other worker sleeps on its parker. The driver must hand its role
    // over as it leaves, or nobody would poll for the echo below. Rounds
    // make it likely that the driver itself gets stuck at least once.
    let rt = real_clock();
    within(Duration::from_secs(60), move || {
        rt.block_on(async {
            let (client, server) = pair().await?;
            let echo = spawn(async move {
                let mut buf = [0; 8];
                loop {
                    if server.read_exact(&mut buf).await.is_err() {
                        return io::Result::Ok(());
                    }
                    server.write_all(&buf).await?;
                }
            });
            for round in 0..6u64 {
                let (trigger, triggered) = pair().await?;
                let started = Arc::new(AtomicBool::new(false));
                let done = Arc::new(AtomicBool::new(false));
                let stuck = {
                    let (started, done) = (started.clone(), done.clone());
                    spawn(async move {
                        let mut byte = [0; 1];
                        triggered.read_exact(&mut byte).await?;
                        started.store(true, SeqCst);
                        thread::sleep(Duration::from_millis(700));
                        done.store(true, SeqCst);
                        io::Result::Ok(())
                    })
                };
                // Let both workers park (a hint only: the test holds
                // whichever way this goes).
                thread::sleep(Duration::from_millis(30));
                trigger.write_all(b"!").await?;
                // Wait for the stuck task on this thread, not on a timer:
                // timers need the driver too.
                while !started.load(SeqCst) {
                    thread::yield_now();
                }
                let mut buf = [0; 8];
                for i in 0..5u64 {
                    client.write_all(&(round * 10 + i).to_le_bytes()).await?;
                    client.read_exact(&mut buf).await?;
                    assert_eq!(u64::from_le_bytes(buf), round * 10 + i);
                }
                assert!(
                    !done.load(SeqCst),
                    "round {round}: the echo waited for the stuck worker"
                );
                stuck.await.unwrap()?;
            }
            drop(client);
            echo.await.unwrap()
        })
        .unwrap();
    });
}
