//! `http_hello`, written once over [`Net`]: a hyper 1.x HTTP/1.1 server
//! (one task per connection, each request answered under the runtime's
//! timeout, as `examples/http.rs` answers under `fail_after`) and keep-alive
//! hyper clients, on loopback. `benches/http.rs` drives the same server with
//! the same clients on a runtime of their own.

use super::sockets::Net;
use super::{listener_1024, nodelay};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Keep-alive connections.
pub const CONNECTIONS: usize = 50;
/// Requests per iteration, over all connections.
pub const REQUESTS: usize = 20_000;
/// Each request's deadline: never reached, but armed as a real server's is.
const DEADLINE: Duration = Duration::from_secs(10);
/// The answer's body.
const HELLO: &[u8] = b"hello, world\n";

/// A loopback listener for [`serve`], bound now; its address.
pub fn bind() -> (std::net::TcpListener, SocketAddr) {
    let listener = listener_1024();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Serves `connections` connections on `listener` until each closes.
pub async fn serve<R: Net>(
    spawner: R::Spawner,
    listener: std::net::TcpListener,
    connections: usize,
) {
    let listener = R::listen(listener);
    let mut served = Vec::with_capacity(connections);
    for _ in 0..connections {
        let stream = R::accept(&listener).await.unwrap();
        nodelay(&stream);
        served.push(R::spawn(&spawner, async move {
            let service = hyper::service::service_fn(|_: Request<Incoming>| async {
                let answer = R::timeout(DEADLINE, async { hello() }).await;
                Ok::<_, Infallible>(answer.unwrap_or_else(hello))
            });
            hyper::server::conn::http1::Builder::new()
                .serve_connection(R::hyper_io(stream), service)
                .await
                .unwrap();
        }));
    }
    for connection in served {
        connection.await;
    }
}

fn hello() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(HELLO)))
}

/// One keep-alive client: takes requests from `left` until none is left,
/// sending each after the last answer; returns each request's latency.
pub async fn client<R: Net>(
    spawner: R::Spawner,
    addr: SocketAddr,
    left: Arc<AtomicUsize>,
) -> Vec<Duration> {
    let stream = R::connect(addr).await.unwrap();
    nodelay(&stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(R::hyper_io(stream))
        .await
        .unwrap();
    let connection = R::spawn(&spawner, connection);
    let mut latencies = Vec::new();
    while left
        .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        let sent = Instant::now();
        sender.ready().await.unwrap();
        let request = Request::get("/").body(Empty::<Bytes>::new()).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, HELLO);
        latencies.push(sent.elapsed());
    }
    // Dropping the sender closes the connection.
    drop(sender);
    connection.await.unwrap();
    latencies
}

/// `connections` clients send `requests` requests in all; every latency.
pub async fn load<R: Net>(
    spawner: R::Spawner,
    addr: SocketAddr,
    connections: usize,
    requests: usize,
) -> Vec<Duration> {
    let left = Arc::new(AtomicUsize::new(requests));
    let clients: Vec<_> = (0..connections)
        .map(|_| R::spawn(&spawner, client::<R>(spawner.clone(), addr, left.clone())))
        .collect();
    let mut latencies = Vec::with_capacity(requests);
    for client in clients {
        latencies.extend(client.await);
    }
    latencies
}

/// The server and its clients on the same runtime.
pub fn hello_world<R: Net>(rt: &R, requests: usize) -> Duration {
    let spawner = rt.spawner();
    let start = Instant::now();
    rt.block_on(async move {
        let (listener, addr) = bind();
        let server = R::spawn(&spawner, serve::<R>(spawner.clone(), listener, CONNECTIONS));
        load::<R>(spawner, addr, CONNECTIONS, requests).await;
        server.await;
    });
    start.elapsed()
}
