//! `examples/http.rs` as a child process, driven by hyper clients running
//! on canopy in this process: HTTP/1 and HTTP/2, the per-request deadline
//! (504), `grpc-timeout` (504, and 400 when malformed), and a SIGINT during
//! traffic: every response a client got was complete, new connections are
//! refused, in-flight requests are answered, and the server exits 0.
#![cfg(unix)]

#[path = "common/examples.rs"]
mod examples;
#[path = "common/listening_example.rs"]
mod listening_example;

use canopy::hyper::{BoxError, Executor};
use canopy::net::TcpStream;
use canopy::{Runtime, task_group};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::mpsc;
use std::thread;

use listening_example::{ListeningExample as Server, PATIENCE};

/// The example binary (see `common/examples.rs`).
fn example() -> PathBuf {
    examples::example_binary("http", &["hyper"])
}

/// One HTTP/1 request on a keep-alive client: status and body.
async fn get(
    client: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, Bytes), BoxError> {
    client.ready().await?;
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client.send_request(request.body(Empty::new())?).await?;
    let status = response.status();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

async fn http1_client(
    addr: SocketAddr,
    tg: &canopy::task::TaskGroup<BoxError>,
) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (client, connection) = hyper::client::conn::http1::handshake(stream).await?;
    tg.spawn(async move {
        let _ = connection.await; // ends when the client is dropped
    });
    Ok(client)
}

#[test]
fn the_http_example_serves_http1_and_http2_with_deadlines() {
    let mut server = Server::start(&example(), &[("REQUEST_TIMEOUT_MS", "300")]);
    let addr = server.addr;
    let rt = Runtime::builder().workers(2).build().unwrap();
    rt.block_on(task_group(|tg| async move {
        let mut client = http1_client(addr, &tg).await?;
        let (status, body) = get(&mut client, "/", &[]).await?;
        assert_eq!(
            (status, &body[..]),
            (StatusCode::OK, &b"hello, world\n"[..])
        );
        let (status, body) = get(&mut client, "/sleep/10", &[]).await?;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"slept 10 ms\n"[..]));
        // Longer than REQUEST_TIMEOUT_MS: the handler is cancelled, 504.
        let (status, body) = get(&mut client, "/sleep/60000", &[]).await?;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body:?}");
        assert!(
            body.starts_with(b"the request took longer than"),
            "{body:?}"
        );
        // The client's own deadline, shorter than the server's.
        let (status, body) = get(&mut client, "/sleep/60000", &[("grpc-timeout", "20m")]).await?;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(&body[..], b"the deadline in grpc-timeout passed\n");
        let (status, _) = get(&mut client, "/", &[("grpc-timeout", "soon")]).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = get(&mut client, "/nowhere", &[]).await?;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // HTTP/2 (prior knowledge) on the same port: the auto builder.
        let stream = TcpStream::connect(addr).await?;
        let (mut h2, connection) =
            hyper::client::conn::http2::handshake(Executor::new(tg.clone()), stream).await?;
        tg.spawn(async move {
            let _ = connection.await;
        });
        let response = h2
            .send_request(Request::get(format!("http://{addr}/")).body(Empty::<Bytes>::new())?)
            .await?;
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        assert_eq!(
            response.into_body().collect().await?.to_bytes(),
            "hello, world\n"
        );
        Ok::<(), BoxError>(())
    }))
    .unwrap();
    // SIGTERM stops it as SIGINT does: gracefully, exit 0.
    server.signal(libc::SIGTERM);
    let status = server.wait();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn the_http_example_shuts_down_gracefully_on_sigint_during_traffic() {
    let mut server = Server::start(&example(), &[("GRACE_MS", "5000")]);
    let addr = server.addr;
    let answered = Arc::new(AtomicU64::new(0));
    let counted = answered.clone();
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (traffic_tx, traffic) = mpsc::channel::<()>();
    let clients = thread::spawn(move || {
        rt.block_on(task_group(|tg| async move {
            for _ in 0..8 {
                let mut client = http1_client(addr, &tg).await?;
                let (answered, traffic_tx) = (counted.clone(), traffic_tx.clone());
                tg.spawn(async move {
                    loop {
                        // Any error ends this client: the server closed the
                        // connection during the shutdown. A response that
                        // came is a whole one.
                        let Ok((status, body)) = get(&mut client, "/sleep/20", &[]).await else {
                            return Ok(());
                        };
                        assert_eq!(status, StatusCode::OK);
                        assert_eq!(&body[..], b"slept 20 ms\n");
                        answered.fetch_add(1, SeqCst);
                        let _ = traffic_tx.send(());
                    }
                });
            }
            Ok::<(), BoxError>(())
        }))
    });
    // Traffic flows; then Ctrl-C in the middle of it.
    for _ in 0..16 {
        traffic.recv_timeout(PATIENCE).expect("responses flow");
    }
    server.signal(libc::SIGINT);
    let stopping = server.lines.recv_timeout(PATIENCE).unwrap();
    assert!(
        stopping.starts_with("stopping: no new connections"),
        "{stopping}"
    );
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener was closed"
    );
    let status = server.wait();
    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = server.lines.try_iter().collect();
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
    clients.join().unwrap().unwrap();
    assert!(answered.load(SeqCst) >= 16);
}
