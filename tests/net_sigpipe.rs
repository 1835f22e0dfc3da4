//! Writing to a peer that closed is an `io::Error`, never a `SIGPIPE` that
//! kills the process: this suite restores the default `SIGPIPE` action
//! (which kills), which Rust programs normally ignore, so only
//! `MSG_NOSIGNAL` on canopy's writes keeps the test process alive. Its own
//! binary, since the signal action is process-wide.

#[allow(dead_code)] // not every helper is used here
mod common;
#[allow(dead_code)]
#[path = "common/net.rs"]
mod netutil;

use canopy::net::{TcpListener, TcpStream, UnixStream};
use common::real_clock;
use netutil::{LIMIT, within};
use std::io;

/// Writes until the write fails, which it must soon after the peer closed.
async fn write_until_error(write: impl AsyncFnMut() -> io::Result<usize>) -> io::Error {
    let mut write = write;
    for _ in 0..10_000 {
        if let Err(e) = write().await {
            return e;
        }
    }
    panic!("writes to a closed peer kept succeeding");
}

#[test]
fn writing_to_a_closed_peer_is_an_error_not_a_signal() {
    // SAFETY: setting a signal's disposition to the default is sound; no
    // handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let client = TcpStream::connect(listener.local_addr()?).await?;
            drop(listener.accept().await?);
            let err = write_until_error(async || client.write(&[0; 1024]).await).await;
            assert!(
                matches!(
                    err.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ),
                "{err}"
            );
            let (a, b) = UnixStream::pair()?;
            drop(b);
            let err = write_until_error(async || a.write(&[0; 1024]).await).await;
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
            io::Result::Ok(())
        })
        .unwrap();
    });
}
