//! An axum `Router` served on canopy through hyper-util
//! (`TowerToHyperService` + the auto builder + canopy's executor, timer and
//! sockets), in process: routing, extractors, canopy timers and deadlines in
//! handlers, and HTTP/2.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use canopy::hyper::{BoxError, Executor, Timer};
use canopy::net::{TcpListener, TcpStream};
use canopy::{CancelScope, Runtime, fail_after, task_group};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;

fn app() -> Router {
    Router::new()
        .route(
            "/hello/{name}",
            get(|Path(name): Path<String>| async move { format!("hello, {name}") }),
        )
        .route(
            "/deadline",
            get(|| async {
                // A canopy deadline inside an axum handler.
                let slept = fail_after(Duration::from_millis(20), async {
                    canopy::time::sleep(Duration::from_secs(3600)).await?;
                    Ok::<(), std::io::Error>(())
                })
                .await;
                match slept {
                    Ok(()) => (StatusCode::OK, "slept"),
                    Err(_) => (StatusCode::GATEWAY_TIMEOUT, "deadline"),
                }
            }),
        )
}

/// A group's error as one `BoxError`, keeping a cancellation it passes on
/// (so the scope that was cancelled catches it, and no group counts it as a
/// failure).
fn flatten(error: canopy::task::GroupError<BoxError>) -> BoxError {
    match error.cancelled() {
        Some(&cancelled) if error.failures().is_empty() => cancelled.into(),
        _ => error.to_string().into(),
    }
}

async fn serve(
    listener: TcpListener,
    tg: canopy::task::TaskGroup<BoxError>,
) -> Result<(), BoxError> {
    let app = app();
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(app.clone());
        tg.spawn(async move {
            task_group(|streams| async move {
                let mut builder = auto::Builder::new(Executor::new(streams));
                builder.http1().timer(Timer);
                let served = builder.serve_connection(stream, service).await;
                canopy::hyper::or_cancelled(served).await
            })
            .await
            .map_err(flatten)
        });
    }
}

#[test]
fn an_axum_router_serves_http1_and_http2_on_canopy() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    rt.block_on(task_group(|tg| async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = CancelScope::new();
        let serving = server.clone();
        let server_tg = tg.clone();
        tg.spawn(async move {
            serving
                .run(task_group(|conns| serve(listener, conns)))
                .await
                .map_err(flatten)?;
            drop(server_tg);
            Ok::<(), BoxError>(())
        });

        let stream = TcpStream::connect(addr).await?;
        let (mut h1, connection) = hyper::client::conn::http1::handshake(stream).await?;
        tg.spawn(async move {
            let _ = connection.await;
        });
        for (path, status, body) in [
            ("/hello/canopy", StatusCode::OK, "hello, canopy"),
            ("/deadline", StatusCode::GATEWAY_TIMEOUT, "deadline"),
            ("/missing", StatusCode::NOT_FOUND, ""),
        ] {
            h1.ready().await?;
            let response = h1
                .send_request(Request::get(path).body(Empty::<Bytes>::new())?)
                .await?;
            assert_eq!(response.status(), status, "{path}");
            let got = response.into_body().collect().await?.to_bytes();
            assert_eq!(got, body, "{path}");
        }

        let stream = TcpStream::connect(addr).await?;
        let (mut h2, connection) =
            hyper::client::conn::http2::handshake(Executor::new(tg.clone()), stream).await?;
        tg.spawn(async move {
            let _ = connection.await;
        });
        let response = h2
            .send_request(
                Request::get(format!("http://{addr}/hello/h2")).body(Empty::<Bytes>::new())?,
            )
            .await?;
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        assert_eq!(
            response.into_body().collect().await?.to_bytes(),
            "hello, h2"
        );
        drop((h1, h2));
        server.cancel();
        Ok::<(), BoxError>(())
    }))
    .unwrap();
}
