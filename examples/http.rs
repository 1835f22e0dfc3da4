//! An HTTP/1 + HTTP/2 server: hyper on canopy, through hyper-util's auto
//! connection builder, with a deadline per request and a graceful shutdown.
//!
//! ```sh
//! cargo run --release --features hyper --example http -- 127.0.0.1:8080
//! curl http://127.0.0.1:8080/                  # hello, world
//! curl http://127.0.0.1:8080/sleep/200         # answers after 200 ms
//! curl -H 'grpc-timeout: 50m' http://127.0.0.1:8080/sleep/200   # 504
//! ```
//!
//! It prints `listening on ADDR` once ready. Each request runs under
//! `fail_after(REQUEST_TIMEOUT_MS)` (default 10,000): a handler still busy
//! then is cancelled and the client gets `504 Gateway Timeout`. A request
//! carrying a `grpc-timeout` header (`250m`, `5S`) runs in a scope with that
//! deadline (`CancelScope::from_grpc_timeout`), which nests inside the
//! per-request one, so whichever is earlier wins; outgoing calls would pass
//! on what is left with `canopy::scope::deadline::grpc_timeout_header()`.
//!
//! On the first SIGINT or SIGTERM it stops accepting, asks every connection
//! to shut down gracefully (requests in flight are answered, then the
//! connection closes), cancels what is still open after `GRACE_MS`
//! (default 5,000), and exits 0.
//!
//! Each connection is a task group of its own: its HTTP/2 streams are
//! spawned into it by `canopy::hyper::Executor`, so they live under the
//! connection's scope.

use canopy::hyper::{Executor, Timer};
use canopy::net::{TcpListener, TcpStream, is_out_of_descriptors};
use canopy::sync::Event;
use canopy::time::sleep;
use canopy::{CancelScope, Cancelled, Runtime, fail_after, task_group};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::poll_fn;
use std::io::{self, Write};
use std::pin::pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_ms(name: &str, default: u64) -> Duration {
    let ms = std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Duration::from_millis(ms)
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

/// What a request asks for: `/` says hello, `/sleep/MS` answers after MS
/// milliseconds (a stand-in for a slow backend), anything else is 404.
async fn route(path: &str) -> io::Result<Response<Full<Bytes>>> {
    if path == "/" {
        return Ok(respond(StatusCode::OK, "hello, world\n"));
    }
    if let Some(ms) = path.strip_prefix("/sleep/").and_then(|ms| ms.parse().ok()) {
        sleep(Duration::from_millis(ms)).await?;
        return Ok(respond(StatusCode::OK, format!("slept {ms} ms\n")));
    }
    Ok(respond(StatusCode::NOT_FOUND, "not found\n"))
}

/// One request under its deadlines: the server's per-request one
/// (`fail_after`), and the client's `grpc-timeout`, if it sent one.
async fn handle(
    request: Request<Incoming>,
    timeout: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let client_deadline = match request.headers().get("grpc-timeout") {
        None => None,
        Some(value) => match value.to_str().map(CancelScope::from_grpc_timeout) {
            Ok(Ok(scope)) => Some(scope),
            _ => {
                return Ok(respond(
                    StatusCode::BAD_REQUEST,
                    "grpc-timeout must be 1-8 digits and a unit (n u m S M H), like 250m\n",
                ));
            }
        },
    };
    let work = fail_after(timeout, async {
        match &client_deadline {
            // `Ok(None)`: the client's deadline passed; its scope caught it.
            Some(scope) => scope.run(route(&path)).await,
            None => route(&path).await.map(Some),
        }
    });
    Ok(match work.await {
        Ok(Some(response)) => response,
        Ok(None) => respond(
            StatusCode::GATEWAY_TIMEOUT,
            "the deadline in grpc-timeout passed\n",
        ),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => respond(
            StatusCode::GATEWAY_TIMEOUT,
            format!("the request took longer than {timeout:?}\n"),
        ),
        // The server is being cancelled: the connection goes down with it.
        Err(e) if Cancelled::find_in_io(&e).is_some() => {
            respond(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
        }
        Err(e) => respond(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    })
}

/// Serves one connection (HTTP/1 or HTTP/2, as the client speaks) until it
/// closes; once `draining` is set, finishes what is in flight and closes.
async fn serve(stream: TcpStream, draining: Arc<Event>, timeout: Duration) -> Result<(), BoxError> {
    stream.set_nodelay(true)?;
    task_group(|streams| async move {
        let mut builder = auto::Builder::new(Executor::new(streams));
        builder.http1().timer(Timer);
        builder.http2().timer(Timer);
        let service = hyper::service::service_fn(move |request| handle(request, timeout));
        let mut connection = pin!(builder.serve_connection(stream, service));
        let mut drain = pin!(draining.wait());
        let mut asked_to_close = false;
        let served = poll_fn(|cx| {
            if !asked_to_close && drain.as_mut().poll(cx).is_ready() {
                asked_to_close = true;
                connection.as_mut().graceful_shutdown();
            }
            connection.as_mut().poll(cx)
        })
        .await;
        // Cancelled (the grace period ran out): say so, not "I/O error".
        canopy::hyper::or_cancelled(served).await
    })
    .await
    .map_err(|e| e.to_string().into())
}

/// Accepts until cancelled, each connection a child of `connections`.
async fn accept_loop(
    listener: TcpListener,
    connections: canopy::task::TaskGroup<BoxError>,
    live: Arc<AtomicUsize>,
    draining: Arc<Event>,
    timeout: Duration,
) -> Result<(), BoxError> {
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if is_out_of_descriptors(&e) => {
                eprintln!("http: {e}");
                sleep(Duration::from_millis(100)).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        live.fetch_add(1, SeqCst);
        let (live, draining) = (live.clone(), draining.clone());
        connections.spawn(async move {
            // A connection that fails (a client that resets, a protocol
            // error) is that client's problem, not the server's.
            if let Err(e) = serve(stream, draining, timeout).await {
                if std::env::var_os("HTTP_LOG_ERRORS").is_some() {
                    eprintln!("http: connection: {e}");
                }
            }
            live.fetch_sub(1, SeqCst);
        });
    }
}

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let grace = env_ms("GRACE_MS", 5_000);
    let timeout = env_ms("REQUEST_TIMEOUT_MS", 10_000);
    let rt = match Runtime::builder().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("http: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        say(&format!("listening on {}", listener.local_addr()?));
        let live = Arc::new(AtomicUsize::new(0));
        let draining = Arc::new(Event::new());
        task_group(|connections| async move {
            let accepting = CancelScope::new();
            let stop = accepting.clone();
            connections.spawn(async move {
                // The first SIGINT or SIGTERM.
                canopy::signal::signals().recv().await?;
                stop.cancel();
                Ok(())
            });
            accepting
                .run(accept_loop(
                    listener,
                    connections.clone(),
                    live.clone(),
                    draining.clone(),
                    timeout,
                ))
                .await?;
            say(&format!(
                "stopping: no new connections; {} open, grace period {grace:?}",
                live.load(SeqCst)
            ));
            draining.set();
            let until = Instant::now() + grace;
            while live.load(SeqCst) > 0 && Instant::now() < until {
                sleep(Duration::from_millis(10)).await?;
            }
            let left = live.load(SeqCst);
            if left > 0 {
                say(&format!("grace period over: cancelling {left} connections"));
                connections.cancel_scope().cancel();
            }
            Ok::<(), BoxError>(())
        })
        .await
        .map_err(|e| io::Error::other(e.to_string()))
    });
    match result {
        Ok(()) => {
            say("stopped");
            ExitCode::SUCCESS
        }
        Err(e) if Cancelled::find_in_io(&e).is_some() => {
            say("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("http: {e}");
            ExitCode::FAILURE
        }
    }
}
