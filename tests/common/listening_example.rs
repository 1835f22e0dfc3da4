//! An example server run as a child process: started on `127.0.0.1:0`, its
//! address read from its first stdout line (`listening on <addr>`), its
//! further lines kept for the test, signalled and awaited with a bound,
//! killed if the test fails first. Include it with
//! `#[path = "common/listening_example.rs"] mod listening_example;`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a child may take to start, answer or exit.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The running example, its address, and its stdout lines after the first.
pub struct ListeningExample {
    pub child: Child,
    pub addr: SocketAddr,
    pub lines: mpsc::Receiver<String>,
}

impl ListeningExample {
    /// Starts `binary` on `127.0.0.1:0` with `envs`, and waits for its
    /// address.
    pub fn start(binary: &Path, envs: &[(&str, &str)]) -> ListeningExample {
        let mut child = Command::new(binary)
            .arg("127.0.0.1:0")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let first = lines.recv_timeout(PATIENCE).expect("the example started");
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .parse()
            .unwrap();
        ListeningExample { child, addr, lines }
    }

    /// Sends `signal` to the child.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill only sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Waits for the child to exit, at most `PATIENCE`.
    pub fn wait(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < PATIENCE, "the example did not exit");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ListeningExample {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
