//! Socket faults, each a clear `io::Error` (issue 11, item 6): an address
//! in use, a refused connection, a peer that resets mid-read, a socket used
//! outside any runtime or after its runtime shut down. (Writing to a closed
//! peer and running out of descriptors change process-wide state, so they
//! have suites of their own: `net_sigpipe.rs`, `net_fd_limit.rs`.)

#[allow(dead_code)] // not every helper is used here
mod common;
#[allow(dead_code)]
#[path = "common/net.rs"]
mod netutil;

use canopy::net::{TcpListener, TcpStream, UdpSocket};
use common::real_clock;
use netutil::{LIMIT, after_first_poll, within};
use std::io;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

#[test]
fn binding_an_address_in_use_says_so_and_what_to_do() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let first = TcpListener::bind("127.0.0.1:0").await?;
            let addr = first.local_addr()?;
            let err = TcpListener::bind(addr).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
            let text = err.to_string();
            assert!(text.contains(&addr.to_string()), "{text}");
            assert!(text.contains("pick another port"), "{text}");
            let udp = UdpSocket::bind("127.0.0.1:0").await?;
            let err = UdpSocket::bind(udp.local_addr()?)
                .await
                .map(drop)
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn connecting_where_nothing_listens_is_refused() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let addr = TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
            // The listener is closed: nothing listens at `addr` now.
            let err = TcpStream::connect(addr).await.map(drop).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
            let text = err.to_string();
            assert!(text.contains(&addr.to_string()), "{text}");
            assert!(text.contains("nothing listens"), "{text}");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_peer_reset_mid_read_is_a_connection_reset() {
    let rt = real_clock();
    within(LIMIT, move || {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let peer = std::net::TcpStream::connect(listener.local_addr()?)?;
            let (server, _) = listener.accept().await?;
            let mut buf = [0; 16];
            // The read waits; then the peer aborts the connection (linger 0:
            // close sends RST).
            let err = after_first_poll(server.read(&mut buf), move || {
                socket2::SockRef::from(&peer)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(peer);
            })
            .await
            .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn a_socket_used_outside_a_runtime_says_so() {
    within(LIMIT, || {
        let err = futures::executor::block_on(TcpListener::bind("127.0.0.1:0"))
            .map(drop)
            .unwrap_err();
        assert!(
            err.to_string().contains("outside a canopy runtime"),
            "{err}"
        );
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = TcpListener::from_std(std_listener).map(drop).unwrap_err();
        assert!(
            err.to_string().contains("inside Runtime::block_on"),
            "{err}"
        );
    });
}

#[test]
fn a_socket_used_after_its_runtime_shut_down_fails_instead_of_hanging() {
    within(LIMIT, || {
        let rt = real_clock();
        let (client, server) = rt
            .block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let client = TcpStream::connect(listener.local_addr()?).await?;
                let (server, _) = listener.accept().await?;
                io::Result::Ok((client, server))
            })
            .unwrap();
        // A read waits in a block_on call on another thread while the
        // runtime shuts down under it.
        let handle = rt.handle().clone();
        let (waiting_tx, waiting_rx) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut buf = [0; 8];
            let out = handle.block_on(after_first_poll(server.read(&mut buf), move || {
                let _ = waiting_tx.send(());
            }));
            (out.map(drop), server)
        });
        waiting_rx.recv().unwrap();
        drop(rt);
        let (out, server) = reader.join().unwrap();
        let err = out.unwrap_err();
        assert!(err.to_string().contains("has shut down"), "{err}");
        // And later uses fail at once, on any executor.
        let err = futures::executor::block_on(client.write(b"x")).unwrap_err();
        assert!(err.to_string().contains("has shut down"), "{err}");
        let mut buf = [0; 1];
        let err = futures::executor::block_on(server.read(&mut buf)).unwrap_err();
        assert!(err.to_string().contains("has shut down"), "{err}");
    });
}
