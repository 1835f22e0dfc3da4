//! hyper 1.x on canopy (feature `hyper`): an [`Executor`] that spawns
//! hyper's background tasks into a task group, a [`Timer`] on canopy's
//! clock, and — from `canopy-io` — `hyper::rt::Read`/`Write` on
//! [`TcpStream`](crate::net::TcpStream), [`UnixStream`](crate::net::UnixStream)
//! and their owned halves. With the three, hyper's server and client
//! connections (and hyper-util's auto HTTP/1 + HTTP/2 builder) run on
//! canopy with no adapter and no tokio runtime.
//!
//! A connection is served in a child of a task group, and its HTTP/2
//! stream tasks are spawned into a group of its own, so they live under the
//! connection's scope: cancelling the connection (or the server, or the
//! runtime's shutdown) cancels its streams.
//!
//! # Cancellation
//!
//! hyper polls sockets through poll-based traits. In a cancelled scope a
//! socket poll returns an `io::Error` carrying [`Cancelled`](crate::Cancelled)
//! (a cancelled read consumed no byte), which hyper hands back as the
//! connection's error: `std::error::Error::source` on the `hyper::Error`
//! leads to it. A request handler is ordinary canopy code: its checkpoints
//! see the cancellation, and `fail_after` inside it gives a per-request
//! deadline (`examples/http.rs` answers 504 when it expires). To stop
//! serving gracefully, call the connection's `graceful_shutdown` rather than
//! cancelling it: in-flight requests finish, then the connection closes.
//!
//! ```
//! use canopy::hyper::{Executor, Timer};
//! use canopy::net::{TcpListener, TcpStream};
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::body::Bytes;
//! use hyper::{Request, Response, service::service_fn};
//! use std::convert::Infallible;
//!
//! type BoxError = Box<dyn std::error::Error + Send + Sync>;
//!
//! let rt = canopy::Runtime::builder().workers(2).build()?;
//! rt.block_on(canopy::task_group(|tg| async move {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server_tg = tg.clone();
//!     tg.spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         let hello = service_fn(|_req: Request<hyper::body::Incoming>| async {
//!             Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(Timer)
//!             .serve_connection(stream, hello)
//!             .await?;
//!         Ok::<(), BoxError>(())
//!     });
//!     let stream = TcpStream::connect(addr).await?;
//!     let (mut client, connection) = hyper::client::conn::http1::handshake(stream).await?;
//!     Executor::new(server_tg).spawn(async move {
//!         let _ = connection.await; // ends when `client` is dropped
//!     });
//!     let request = Request::get("/").body(Empty::<Bytes>::new())?;
//!     let response = client.send_request(request).await?;
//!     let body = response.into_body().collect().await?.to_bytes();
//!     assert_eq!(body, "hello");
//!     Ok::<(), BoxError>(())
//! }))
//! .map_err(|e| e.to_string())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod executor;
mod timer;

pub use executor::Executor;
pub use timer::{Sleep, Timer};

/// A connection's outcome with its cancellation put back: hyper reports a
/// cancelled socket as its own error, and over HTTP/2 the `Cancelled`
/// inside is lost on the way (h2 keeps only the I/O error's kind and
/// message). So when `result` is an error and the scope polling this is
/// cancelled, the error is that [`Cancelled`](crate::Cancelled) (the scope
/// then catches it, and a task group does not count it as a failure);
/// otherwise it is `result` as it was.
///
/// ```no_run
/// # async fn serve(stream: canopy::net::TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// # let service = hyper::service::service_fn(|_: hyper::Request<hyper::body::Incoming>| async {
/// #     Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Empty::<hyper::body::Bytes>::new()))
/// # });
/// let served = hyper::server::conn::http1::Builder::new()
///     .serve_connection(stream, service)
///     .await;
/// canopy::hyper::or_cancelled(served).await
/// # }
/// ```
pub async fn or_cancelled<T, E>(result: Result<T, E>) -> Result<T, BoxError>
where
    E: Into<BoxError>,
{
    match result {
        Ok(value) => Ok(value),
        Err(error) => {
            crate::scope::checkpoint_if_cancelled().await?;
            Err(error.into())
        }
    }
}

/// The error type [`or_cancelled`] returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
