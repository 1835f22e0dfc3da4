//! Running out of file descriptors on accept: the accept loop gets a clear
//! error, reports it, and keeps serving once descriptors are free again.
//! Its own binary: it lowers and exhausts the process's descriptor limit.

#[allow(dead_code)] // not every helper is used here
mod common;
#[allow(dead_code)]
#[path = "common/net.rs"]
mod netutil;

use canopy::net::{TcpListener, is_out_of_descriptors};
use canopy::time::sleep;
use common::{Gate, real_clock};
use netutil::{LIMIT, within};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Opens descriptors (dups of stdin) until the process has none left.
fn exhaust_descriptors() -> Vec<OwnedFd> {
    let mut held = Vec::new();
    loop {
        // SAFETY: dup of fd 0 creates a new descriptor we own (or fails).
        let fd = unsafe { libc::dup(0) };
        if fd < 0 {
            return held;
        }
        // SAFETY: `fd` is a fresh descriptor owned by nobody else.
        held.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

#[test]
fn an_accept_loop_out_of_descriptors_reports_it_and_keeps_serving() {
    // A low limit, so exhausting it is quick.
    let limit = libc::rlimit {
        rlim_cur: 256,
        rlim_max: 256,
    };
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit only read and write the structs we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
        let low = libc::rlimit {
            rlim_cur: limit.rlim_cur.min(old.rlim_cur),
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &low), 0);
    }
    let rt = real_clock();
    let reported = Arc::new(Mutex::new(Vec::<String>::new()));
    let errors = reported.clone();
    // The loop starts accepting only once the descriptors are gone, so the
    // connection cannot be accepted before.
    let exhausted = Gate::default();
    let go = exhausted.passed();
    within(LIMIT, move || {
        let (addr, server) = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            // The accept loop as a server writes it (see TcpListener::accept).
            let server = canopy::spawn(async move {
                go.await;
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            let mut buf = [0; 5];
                            stream.read_exact(&mut buf).await?;
                            stream.write_all(&buf).await?;
                            return std::io::Result::Ok(());
                        }
                        Err(e) if is_out_of_descriptors(&e) => {
                            errors.lock().unwrap().push(e.to_string());
                            sleep(Duration::from_millis(10)).await?;
                        }
                        Err(e) => return Err(e),
                    }
                }
            });
            (addr, server)
        });
        // Connect while descriptors remain, then take the rest.
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let held = exhaust_descriptors();
        exhausted.open();
        while reported.lock().unwrap().len() < 2 {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(held);
        client.write_all(b"hello").unwrap();
        let mut buf = [0; 5];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        rt.block_on(server).unwrap().unwrap();
        let first = reported.lock().unwrap()[0].clone();
        assert!(first.contains("ran out of file descriptors"), "{first}");
        assert!(first.contains("accept again"), "{first}");
    });
}
