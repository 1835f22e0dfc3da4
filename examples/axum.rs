//! An axum `Router` served on canopy: canopy's listener and sockets,
//! hyper-util's auto HTTP/1 + HTTP/2 builder, axum's router turned into a
//! hyper service by `TowerToHyperService`, and canopy's executor and timer.
//! No tokio runtime runs.
//!
//! ```sh
//! cargo run --features hyper --example axum -- 127.0.0.1:8081
//! curl http://127.0.0.1:8081/
//! curl http://127.0.0.1:8081/hello/you
//! ```
//!
//! `axum::serve` needs tokio (it accepts on a `tokio::net::TcpListener` and
//! spawns with `tokio::spawn`); this loop is the canopy way: accept on a
//! canopy listener, serve each connection as a child of a task group.
//! Handlers are canopy code: `canopy::time::sleep`, `fail_after` and
//! cancel scopes work in them, and cancelling the group cancels them. It
//! prints `listening on ADDR`; on Ctrl-C (or SIGTERM) it stops and exits 0 (see
//! `examples/http.rs` for a graceful drain).

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use canopy::hyper::{BoxError, Executor, Timer};
use canopy::net::TcpListener;
use canopy::{CancelScope, Runtime, task_group};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;

/// The application: plain axum.
fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "hello from axum on canopy\n" }))
        .route(
            "/hello/{name}",
            get(|Path(name): Path<String>| async move { format!("hello, {name}\n") }),
        )
        .route(
            "/slow",
            get(|| async {
                // canopy's timer, in an axum handler.
                let _ = canopy::time::sleep(Duration::from_millis(100)).await;
                "slow and steady\n"
            }),
        )
}

/// Accepts until cancelled; each connection is a child of `tg`, its HTTP/2
/// streams children of a group of its own.
async fn serve(
    listener: TcpListener,
    app: Router,
    tg: canopy::task::TaskGroup<BoxError>,
) -> Result<(), BoxError> {
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(app.clone());
        tg.spawn(async move {
            let served = task_group(|streams| async move {
                let mut builder = auto::Builder::new(Executor::new(streams));
                builder.http1().timer(Timer);
                builder.http2().timer(Timer);
                let served = builder.serve_connection(stream, service).await;
                canopy::hyper::or_cancelled(served).await
            })
            .await;
            // One client's failure is not the server's.
            drop(served);
        });
    }
}

fn main() -> Result<(), BoxError> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".to_owned());
    let rt = Runtime::builder().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("listening on {}", listener.local_addr()?);
        let serving = CancelScope::new();
        let stop = serving.clone();
        canopy::spawn_detached(async move {
            // The first SIGINT or SIGTERM.
            if canopy::signal::signals().recv().await.is_ok() {
                stop.cancel();
            }
        });
        // `Ok(None)`: Ctrl-C cancelled the scope, which caught it.
        serving
            .run(task_group(|tg| serve(listener, app(), tg)))
            .await
            .map_err(|e| e.to_string())?;
        println!("stopped");
        Ok(())
    })
}
