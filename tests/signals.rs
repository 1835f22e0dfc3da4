//! Real signals: run `examples/graceful_shutdown` as a child process, send
//! it SIGINT/SIGTERM with `kill`, and check its output and exit code.
#![cfg(unix)]

#[path = "common/examples.rs"]
mod examples;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(60);

/// The example binary (see `common/examples.rs`).
fn example() -> PathBuf {
    examples::example_binary("graceful_shutdown", &[])
}

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(flush_ms: u64) -> Running {
        let mut child = Command::new(example())
            .env("WORKERS", "3")
            .env("FLUSH_MS", flush_ms.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`.
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("no line with {text:?}; saw {:?}", self.seen),
            }
        }
    }

    fn kill(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; returns the code and every line printed.
    fn finish(mut self) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the child did not exit; saw {:?}", self.seen);
            }
            thread::sleep(Duration::from_millis(10));
        };
        self.seen.extend(self.lines.try_iter());
        // The reader thread may still hold the last lines for a moment.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        (status.code(), self.seen)
    }
}

fn graceful(signal: &str) {
    let mut child = Running::start(50);
    child.expect("ready");
    child.kill(signal);
    let (code, lines) = child.finish();
    assert_eq!(code, Some(130), "{lines:?}");
    let flushed = lines.iter().filter(|l| l.ends_with("flushed")).count();
    assert_eq!(flushed, 3, "every worker flushed: {lines:?}");
    assert!(lines.iter().any(|l| l.contains("(signal)")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("interrupted")),
        "{lines:?}"
    );
}

#[test]
fn one_sigint_shuts_down_gracefully_after_every_worker_flushed() {
    graceful("INT");
}

#[test]
fn one_sigterm_shuts_down_gracefully_after_every_worker_flushed() {
    graceful("TERM");
}

#[test]
fn a_second_sigint_exits_at_once_without_waiting_for_the_flush() {
    // A flush of 60 s: only the second signal can end it in time.
    let mut child = Running::start(60_000);
    child.expect("ready");
    let started = Instant::now();
    child.kill("INT");
    child.expect("flushing");
    child.kill("INT");
    let (code, lines) = child.finish();
    assert_eq!(code, Some(130), "{lines:?}");
    assert!(!lines.iter().any(|l| l.ends_with("flushed")), "{lines:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// Sends `signal` to this very process (which catches it: `ctrl_c` and
/// `signals` install the handler when first used).
fn signal_self(signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn ctrl_c_and_the_signal_stream_see_signals_sent_to_the_process() {
    let rt = canopy::Runtime::builder().workers(1).build().unwrap();
    // Bounded: a lost signal fails the test instead of hanging it.
    let out = rt.block_on(canopy::move_on_after(PATIENCE, async {
        let mut stream = canopy::signal::signals();
        let ctrl_c = canopy::signal::ctrl_c();
        let sender = thread::spawn(|| {
            thread::sleep(Duration::from_millis(50));
            signal_self("TERM");
            thread::sleep(Duration::from_millis(50));
            signal_self("INT");
        });
        ctrl_c.await?; // the SIGTERM before it is not a Ctrl-C
        assert_eq!(stream.recv().await?, canopy::signal::Signal::Terminate);
        assert_eq!(stream.recv().await?, canopy::signal::Signal::Interrupt);
        sender.join().unwrap();
        Ok::<_, canopy::Cancelled>(())
    }));
    assert_eq!(
        out,
        Ok(Some(())),
        "both signals arrived within {PATIENCE:?}"
    );
}

#[test]
fn waiting_for_a_signal_is_a_checkpoint() {
    let rt = canopy::Runtime::builder()
        .workers(1)
        .start_paused(true)
        .build()
        .unwrap();
    let out = rt.block_on(canopy::move_on_after(Duration::from_secs(1), async {
        canopy::signal::ctrl_c().await
    }));
    assert_eq!(out, Ok(None), "the timeout cancelled the wait");
}
