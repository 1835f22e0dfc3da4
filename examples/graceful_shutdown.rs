//! Workers in a task group doing periodic work. Ctrl-C (or SIGTERM) makes
//! each one flush its state in a shielded scope and exit; the program then
//! exits with code 130. A second Ctrl-C during the flush exits at once.
//!
//! ```sh
//! cargo run --example graceful_shutdown
//! ```
//!
//! `WORKERS` (default 4) and `FLUSH_MS` (default 200) change the number of
//! workers and how long each flush takes.

use canopy::time::{interval, sleep};
use canopy::{CancelScope, Cancelled, scope::CancelReason, task_group};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Does periodic work until cancelled, then flushes what it holds.
async fn worker(id: u64, flush: Duration) -> Result<(), Cancelled> {
    let mut done = 0u64;
    let mut every = interval(Duration::from_millis(50));
    let stopped = loop {
        match every.tick().await {
            Ok(_) => done += 1, // one unit of work
            Err(cancelled) => break cancelled,
        }
    };
    // Cancelled: every wait here would fail too, so flush under a shield.
    say(&format!(
        "worker {id}: stopping ({}); flushing {done} units",
        stopped.reason_text()
    ));
    CancelScope::new()
        .with_shield(true)
        .run(sleep(flush))
        .await?;
    say(&format!("worker {id}: flushed"));
    Err(stopped)
}

trait ReasonText {
    fn reason_text(&self) -> &'static str;
}

impl ReasonText for Cancelled {
    fn reason_text(&self) -> &'static str {
        match self.reason() {
            CancelReason::Signal => "signal",
            CancelReason::Shutdown => "shutdown",
            _ => "cancelled",
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `#[canopy::main]` turns on signal handling: the first Ctrl-C cancels
/// every task (here: the group's workers), a second one exits at once, and
/// an interrupted program exits with code 130.
#[canopy::main]
async fn main() -> ExitCode {
    let workers = env("WORKERS", 4);
    let flush = Duration::from_millis(env("FLUSH_MS", 200));
    let result = task_group(|tg| async move {
        for id in 0..workers {
            tg.spawn(worker(id, flush));
        }
        say("ready: press Ctrl-C to stop");
        Ok::<(), Cancelled>(())
    })
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.failures().is_empty() => {
            say(&format!("interrupted: {error}"));
            ExitCode::from(130)
        }
        Err(error) => {
            say(&format!("failed: {error}"));
            ExitCode::FAILURE
        }
    }
}
