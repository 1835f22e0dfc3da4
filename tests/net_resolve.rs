//! Host names in `connect` and `bind` are looked up on the runtime's
//! blocking pool (through the resolver hook the runtime installs on its
//! reactor), never on a worker; IP addresses need no lookup at all.

use canopy::net::{TcpListener, TcpStream, UdpSocket};
use canopy::{CancelScope, Runtime};
use std::io;

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

#[test]
fn host_names_are_looked_up_on_the_blocking_pool() {
    let rt = runtime();
    assert_eq!(rt.metrics().blocking_threads, 0);
    rt.block_on(async {
        let listener = TcpListener::bind("localhost:0").await?;
        let addr = listener.local_addr()?;
        assert!(addr.ip().is_loopback(), "{addr}");
        let client = TcpStream::connect(format!("localhost:{}", addr.port())).await?;
        let (server, _) = listener.accept().await?;
        client.write_all(b"by name").await?;
        let mut buf = [0; 7];
        server.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"by name");
        let by_pair = TcpStream::connect(("localhost", addr.port())).await?;
        drop(by_pair);
        let udp = UdpSocket::bind("localhost:0").await?;
        assert!(udp.local_addr()?.ip().is_loopback());
        Ok::<_, io::Error>(())
    })
    .unwrap();
    assert!(
        rt.metrics().blocking_threads >= 1,
        "the lookups ran on the blocking pool"
    );
}

#[test]
fn ip_addresses_need_no_lookup() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        TcpStream::connect(addr).await?;
        TcpStream::connect(("127.0.0.1", addr.port())).await?;
        TcpStream::connect(format!("127.0.0.1:{}", addr.port())).await?;
        TcpStream::connect(&[addr][..]).await?;
        Ok::<_, io::Error>(())
    })
    .unwrap();
    assert_eq!(
        rt.metrics().blocking_threads,
        0,
        "no lookup, no pool thread"
    );
}

#[test]
fn a_malformed_address_says_how_to_write_one() {
    runtime().block_on(async {
        for bad in ["localhost", "localhost:http", "127.0.0.1:99999"] {
            let error = TcpListener::bind(bad).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad}: {error}");
            assert!(error.to_string().contains("host:port"), "{error}");
        }
    });
}

#[test]
fn a_connect_by_name_in_a_cancelled_scope_is_cancelled() {
    let rt = runtime();
    rt.block_on(async {
        let scope = CancelScope::new();
        scope.cancel();
        let connected = scope
            .run(async { TcpStream::connect("localhost:1").await.map(drop) })
            .await;
        assert!(matches!(connected, Ok(None)), "{connected:?}");
    });
    assert_eq!(rt.metrics().blocking_threads, 0, "no lookup was started");
}
