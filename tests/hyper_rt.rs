//! hyper 1.x on canopy (`canopy::hyper`): HTTP/1 and HTTP/2 round trips
//! on canopy sockets, HTTP/2 stream tasks spawned into the connection's task
//! group and cancelled with it, the timer's resettable sleeps, and
//! cancellation through the poll-based `hyper::rt::Read` and
//! `tokio::io::AsyncRead` (an `io::Error` carrying `Cancelled`, no byte
//! consumed).

use canopy::hyper::{BoxError, Executor, Sleep, Timer};
use canopy::net::{TcpListener, TcpStream};
use canopy::{CancelScope, Cancelled, Runtime, task_group};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::rt::Timer as _;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("hello {}", request.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

async fn get(
    client: &mut hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    path: &str,
) -> Result<Bytes, BoxError> {
    let request = Request::get(format!("http://localhost{path}")).body(Empty::new())?;
    let response = client.send_request(request).await?;
    Ok(response.into_body().collect().await?.to_bytes())
}

#[test]
fn the_runtime_support_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Executor<BoxError>>();
    send_sync::<Executor<std::io::Error>>();
    send_sync::<Timer>();
    send_sync::<Sleep>();
}

#[test]
fn http1_round_trips_on_canopy_sockets() {
    runtime()
        .block_on(task_group(|tg| async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tg.spawn(async move {
                let (stream, _) = listener.accept().await?;
                hyper::server::conn::http1::Builder::new()
                    .timer(Timer)
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(stream, hyper::service::service_fn(hello))
                    .await?;
                Ok::<(), BoxError>(())
            });
            let stream = TcpStream::connect(addr).await?;
            let (mut client, connection) = hyper::client::conn::http1::handshake(stream).await?;
            Executor::new(tg.clone()).spawn(async move {
                let _ = connection.await;
            });
            for path in ["/a", "/b", "/c"] {
                // The connection takes the next request once the last
                // response was read in full.
                client.ready().await?;
                let request = Request::get(path).body(Empty::<Bytes>::new())?;
                let response = client.send_request(request).await?;
                let body = response.into_body().collect().await?.to_bytes();
                assert_eq!(body, format!("hello {path}"));
            }
            Ok::<(), BoxError>(())
        }))
        .unwrap();
}

#[test]
fn a_cancelled_http1_connection_ends_with_an_error_carrying_cancelled() {
    runtime()
        .block_on(task_group(|tg| async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let connection_scope = CancelScope::new();
            let cancel = connection_scope.clone();
            let in_handler = Arc::new(canopy::sync::Event::new());
            let reached = in_handler.clone();
            tg.spawn(async move {
                let (stream, _) = listener.accept().await?;
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let reached = reached.clone();
                    async move {
                        reached.set();
                        // Waits for a body that never comes in full.
                        let body = request.into_body().collect().await?.to_bytes();
                        Ok::<_, hyper::Error>(Response::new(Full::new(body)))
                    }
                });
                let served = connection_scope
                    .run(async {
                        let served = hyper::server::conn::http1::Builder::new()
                            .timer(Timer)
                            .serve_connection(stream, service)
                            .await;
                        // Mid-request, HTTP/1 keeps the socket's error: the
                        // `Cancelled` is in hyper's error's source chain.
                        // (Cancelled while idle between requests, hyper
                        // closes and returns `Ok(())`, as for a peer that
                        // went away; the next checkpoint reports it.)
                        let error = served.unwrap_err();
                        assert!(Cancelled::find_in_error(&error).is_some(), "{error:?}");
                        Err::<(), BoxError>(error.into())
                    })
                    .await;
                assert!(
                    matches!(served, Ok(None)),
                    "the scope caught it: {served:?}"
                );
                Ok::<(), BoxError>(())
            });
            let client = TcpStream::connect(addr).await?;
            client
                .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
                .await?;
            // The server is reading the rest of the body when cancelled.
            in_handler.wait().await?;
            cancel.cancel();
            drop(client);
            Ok::<(), BoxError>(())
        }))
        .unwrap();
}

/// Sets its flag when dropped: the handler holding it has ended, by
/// returning, by seeing `Cancelled`, or by being dropped with its stream.
struct Ended(Arc<AtomicBool>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

#[test]
fn http2_streams_run_in_the_connections_task_group_and_end_with_it() {
    runtime()
        .block_on(task_group(|tg| async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let connection_scope = CancelScope::new();
            let server_scope = connection_scope.clone();
            let reached = Arc::new(canopy::sync::Event::new());
            let in_handler = reached.clone();
            tg.spawn(async move {
                let (stream, _) = listener.accept().await?;
                let ended = Arc::new(AtomicBool::new(false));
                let handler_ended = ended.clone();
                // The connection's own group: its streams are spawned here.
                let served = server_scope
                    .run(task_group(|streams| async move {
                        let service = hyper::service::service_fn(move |request| {
                            let guard = Ended(handler_ended.clone());
                            let reached = reached.clone();
                            async move {
                                if request.uri().path() == "/forever" {
                                    reached.set();
                                    // Runs in a stream task, a child of the
                                    // group: cancelled with the connection
                                    // (or dropped, once h2 resets the stream).
                                    canopy::time::sleep(Duration::from_secs(3600)).await.ok();
                                }
                                drop(guard);
                                hello(request).await
                            }
                        });
                        let served =
                            hyper_util::server::conn::auto::Builder::new(Executor::new(streams))
                                .http2_only()
                                .serve_connection(stream, service)
                                .await;
                        // h2 drops the socket's `Cancelled` from its error:
                        // put it back, so the cancelled scope catches it.
                        canopy::hyper::or_cancelled(served).await
                    }))
                    .await;
                // The scope caught its own cancellation: `Ok(None)`, and
                // the group waited for the stream task.
                assert!(matches!(served, Ok(None)), "{served:?}");
                assert!(ended.load(SeqCst), "the stuck handler ended first");
                Ok::<(), BoxError>(())
            });
            let stream = TcpStream::connect(addr).await?;
            let (mut client, connection) =
                hyper::client::conn::http2::handshake(Executor::new(tg.clone()), stream).await?;
            let client_conn = CancelScope::new();
            let driver = client_conn.clone();
            tg.spawn(async move {
                let _ = driver
                    .run(async { connection.await.map_err(BoxError::from) })
                    .await;
                Ok::<(), BoxError>(())
            });
            assert_eq!(get(&mut client, "/one").await?, "hello /one");
            let mut stuck = client.clone();
            tg.spawn(async move {
                // Fails when the server goes away; either way it ends.
                let _ = get(&mut stuck, "/forever").await;
                Ok::<(), BoxError>(())
            });
            assert_eq!(get(&mut client, "/two").await?, "hello /two");
            // Once the stuck request is in its handler, cancel the server's
            // connection: its group waits for its stream tasks.
            in_handler.wait().await?;
            connection_scope.cancel();
            drop(client);
            client_conn.cancel();
            Ok::<(), BoxError>(())
        }))
        .unwrap();
}

#[test]
fn the_timer_sleeps_on_canopys_clock_and_resets_in_place() {
    let rt = Runtime::builder()
        .workers(1)
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let start = canopy::time::now();
        assert_eq!(Timer.now(), start, "hyper reads canopy's (paused) clock");
        Timer.sleep(Duration::from_secs(5)).await;
        assert_eq!(canopy::time::now() - start, Duration::from_secs(5));

        let start = canopy::time::now();
        let mut sleep = Timer.sleep(Duration::from_secs(3600));
        Timer.reset(&mut sleep, start + Duration::from_secs(2));
        assert!(sleep.is::<Sleep>(), "reset kept the same sleep");
        sleep.await;
        assert_eq!(canopy::time::now() - start, Duration::from_secs(2));
    });
}

#[test]
fn a_cancelled_sleep_ends_at_once() {
    runtime().block_on(async {
        let scope = CancelScope::new();
        scope.cancel();
        let ran = scope
            .run(async {
                Timer.sleep(Duration::from_secs(3600)).await;
                Ok::<_, Cancelled>(())
            })
            .await;
        assert_eq!(ran, Ok(Some(())));
    });
}

/// A connected pair: (client, server side).
async fn pair() -> std::io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    Ok((client, server))
}

#[test]
fn a_cancelled_hyper_read_is_an_io_error_carrying_cancelled_and_took_no_byte() {
    runtime().block_on(async {
        let (client, mut server) = pair().await.unwrap();
        client.write_all(b"kept").await.unwrap();
        let mut storage = [0u8; 16];
        let scope = CancelScope::new();
        scope.cancel();
        let error = scope
            .run(async {
                let mut buf = hyper::rt::ReadBuf::new(&mut storage);
                let read = poll_fn(|cx| {
                    hyper::rt::Read::poll_read(Pin::new(&mut server), cx, buf.unfilled())
                })
                .await;
                let error = read.unwrap_err();
                assert!(Cancelled::find_in_io(&error).is_some(), "{error}");
                Err::<(), _>(error)
            })
            .await;
        assert!(matches!(error, Ok(None)), "the scope caught it");
        let mut buf = [0; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"kept", "the cancelled read consumed nothing");
    });
}

#[test]
fn tokio_io_traits_read_write_and_cancel_without_losing_bytes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    runtime().block_on(async {
        let (mut client, mut server) = pair().await.unwrap();
        AsyncWriteExt::write_all(&mut client, b"through tokio's traits")
            .await
            .unwrap();
        AsyncWriteExt::shutdown(&mut client).await.unwrap();
        let scope = CancelScope::new();
        scope.cancel();
        let mut buf = Vec::new();
        let cancelled = scope
            .run(async { AsyncReadExt::read_to_end(&mut server, &mut buf).await })
            .await;
        assert!(matches!(cancelled, Ok(None)), "{cancelled:?}");
        assert!(buf.is_empty());
        AsyncReadExt::read_to_end(&mut server, &mut buf)
            .await
            .unwrap();
        assert_eq!(buf, b"through tokio's traits");
    });
}
