//! `http_hello`: the hyper server of `examples/http.rs` (auto HTTP/1 + 2
//! builder, a task group per connection, a `fail_after` deadline per
//! request) on canopy, against the same server on tokio (`TokioIo`,
//! `TokioExecutor`, `TokioTimer`, `tokio::time::timeout`), on loopback.
//!
//! The load generator is in process, the same for both: HTTP/1 keep-alive
//! hyper clients on a one-worker tokio runtime, `CONNS` connections (default
//! 50) each sending requests back to back, `REQUESTS` in all (default
//! 100,000) per round, rounds alternating between the servers (`ROUNDS`,
//! default 3). It reports requests/s and the p50/p99 latency of each round.
//!
//! ```sh
//! cargo bench --bench http
//! HTTP_BENCH_CONNS=100 HTTP_BENCH_REQUESTS=200000 cargo bench --bench http
//! ```
//!
//! With `wrk` or `h2load` (Debian: `apt-get install wrk nghttp2-client`),
//! drive `examples/http.rs` from outside instead:
//! `cargo run --release --features hyper --example http -- 127.0.0.1:8080`,
//! then `wrk -t1 -c50 -d10s --latency http://127.0.0.1:8080/` or
//! `h2load -n100000 -c50 http://127.0.0.1:8080/`.

use canopy::hyper::{BoxError, Executor, Timer};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(10);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn hello() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(b"hello, world\n")))
}

/// The canopy server: `examples/http.rs`'s structure without the routes.
fn canopy_server() -> (SocketAddr, impl FnOnce()) {
    let rt = canopy::Runtime::builder().workers(2).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = canopy::CancelScope::new();
    let serving = stop.clone();
    let thread = std::thread::spawn(move || {
        rt.block_on(async move {
            let listener = canopy::net::TcpListener::bind("127.0.0.1:0").await?;
            tx.send(listener.local_addr()?).unwrap();
            let _ = serving
                .run(canopy::task_group(|tg| async move {
                    loop {
                        let (stream, _) = listener.accept().await?;
                        stream.set_nodelay(true)?;
                        tg.spawn(async move {
                            let _ = canopy::task_group(|streams| async move {
                                let service =
                                    hyper::service::service_fn(|_: Request<Incoming>| async {
                                        let answer = canopy::fail_after(DEADLINE, async {
                                            canopy::checkpoint().await?;
                                            Ok::<_, std::io::Error>(hello())
                                        });
                                        Ok::<_, Infallible>(
                                            answer.await.unwrap_or_else(|_| hello()),
                                        )
                                    });
                                let mut builder = hyper_util::server::conn::auto::Builder::new(
                                    Executor::new(streams),
                                );
                                builder.http1().timer(Timer);
                                let served = builder.serve_connection(stream, service).await;
                                canopy::hyper::or_cancelled(served).await
                            })
                            .await;
                        });
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), BoxError>(())
                }))
                .await;
            Ok::<(), BoxError>(())
        })
        .unwrap();
    });
    let addr = rx.recv().unwrap();
    (addr, move || {
        stop.cancel();
        thread.join().unwrap();
    })
}

/// The same server on tokio.
fn tokio_server() -> (SocketAddr, impl FnOnce()) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_: Request<Incoming>| async {
                    let answer = tokio::time::timeout(DEADLINE, async {
                        tokio::task::consume_budget().await;
                        hello()
                    });
                    Ok::<_, Infallible>(answer.await.unwrap_or_else(|_| hello()))
                });
                let mut builder =
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                builder.http1().timer(TokioTimer::new());
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, move || rt.shutdown_timeout(Duration::from_secs(1)))
}

/// `conns` keep-alive HTTP/1 clients send `requests` requests in all;
/// returns the elapsed time and every latency.
fn load(addr: SocketAddr, conns: usize, requests: usize) -> (Duration, Vec<Duration>) {
    use hyper_util::rt::TokioIo;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let left = Arc::new(AtomicUsize::new(requests));
    let started = Instant::now();
    let latencies = rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..conns {
            let left = left.clone();
            clients.push(tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut client, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                let mut latencies = Vec::new();
                while left
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let sent = Instant::now();
                    client.ready().await.unwrap();
                    let response = client
                        .send_request(Request::get("/").body(Empty::<Bytes>::new()).unwrap())
                        .await
                        .unwrap();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(body.len(), 13);
                    latencies.push(sent.elapsed());
                }
                latencies
            }));
        }
        let mut all = Vec::with_capacity(requests);
        for client in clients {
            all.extend(client.await.unwrap());
        }
        all
    });
    (started.elapsed(), latencies)
}

fn report(name: &str, elapsed: Duration, mut latencies: Vec<Duration>) -> f64 {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let rps = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "http_hello/{name:<7} {:>9.0} req/s   p50 {:>7.1?}   p99 {:>7.1?}   ({} requests in {elapsed:.2?})",
        rps,
        at(0.50),
        at(0.99),
        latencies.len()
    );
    rps
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another bench
    // skips this one.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "http_hello".contains(a.as_str())) {
        return;
    }
    let conns = env("HTTP_BENCH_CONNS", 50);
    let requests = env("HTTP_BENCH_REQUESTS", 100_000);
    let rounds = env("HTTP_BENCH_ROUNDS", 3);
    println!("http_hello: {conns} connections, {requests} requests per round, {rounds} rounds");
    let (mut canopy_total, mut tokio_total) = (0.0, 0.0);
    for _ in 0..rounds {
        let (addr, stop) = canopy_server();
        let (elapsed, latencies) = load(addr, conns, requests);
        canopy_total += report("canopy", elapsed, latencies);
        stop();
        let (addr, stop) = tokio_server();
        let (elapsed, latencies) = load(addr, conns, requests);
        tokio_total += report("tokio", elapsed, latencies);
        stop();
    }
    println!(
        "http_hello: canopy/tokio throughput ratio {:.2}",
        canopy_total / tokio_total
    );
}
