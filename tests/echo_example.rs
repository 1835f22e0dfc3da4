//! `examples/echo.rs` as a child process, driven by clients here: it
//! echoes, stops accepting on SIGINT while open connections go on, cancels
//! them after the grace period, and exits 0; every echo a client got back
//! during the shutdown was complete.
#![cfg(unix)]

#[path = "common/examples.rs"]
mod examples;
#[path = "common/listening_example.rs"]
mod listening_example;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use listening_example::{ListeningExample, PATIENCE};

/// The example binary (see `common/examples.rs`).
fn example() -> PathBuf {
    examples::example_binary("echo", &[])
}

#[test]
fn the_echo_example_serves_and_shuts_down_gracefully_on_sigint() {
    let mut server = ListeningExample::start(&example(), &[("GRACE_MS", "500")]);
    let addr = server.addr;
    // Clients echo messages in a loop until the server closes on them.
    let clients: Vec<_> = (0..8)
        .map(|id| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(PATIENCE)).unwrap();
            thread::spawn(move || {
                let mut echoed = 0u64;
                for round in 0u64.. {
                    let msg = format!("client {id} round {round:>8}\n");
                    if stream.write_all(msg.as_bytes()).is_err() {
                        break;
                    }
                    let mut back = vec![0; msg.len()];
                    match stream.read_exact(&mut back) {
                        Ok(()) => assert_eq!(back, msg.as_bytes(), "a whole echo"),
                        Err(_) => break, // closed by the shutdown
                    }
                    echoed += 1;
                }
                echoed
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGINT);
    let stopping = server.lines.recv_timeout(PATIENCE).unwrap();
    assert!(
        stopping.starts_with("stopping: no new connections"),
        "{stopping}"
    );
    // New connections are refused while the open ones still echo.
    let refused = TcpStream::connect(addr);
    assert!(refused.is_err(), "the listener was closed");
    let status = server.wait();
    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = server.lines.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.starts_with("grace period over")),
        "{rest:?}"
    );
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
    for client in clients {
        assert!(client.join().unwrap() > 0, "every client got echoes");
    }
}
