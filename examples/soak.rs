//! The soak: spawns, nested scopes, cancels from tasks and OS threads,
//! deadlines, task groups with `start`, channels, blocking calls and
//! loopback sockets, all at once for a set time, checking that no message
//! is lost, no wake-up is lost, every task finishes and the live heap stays
//! flat. The workload is in `tests/soak/` (shared with `tests/soak.rs`).
//!
//! ```text
//! cargo run --release --example soak -- --duration 60s --workers 2
//! cargo run --release --example soak -- --duration 1h --every 60s
//! ```
//!
//! Prints a one-line summary every `--every` (default 10 s) and a final
//! one; exits 1 if any invariant was violated, 2 on bad arguments.

#[path = "../tests/common/counting.rs"]
mod counting;
#[path = "../tests/soak/mod.rs"]
mod soak;

use counting::{Counting, live_bytes};
use std::process::ExitCode;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const USAGE: &str = "usage: soak [--duration 60s] [--workers 2] [--every 10s]";

fn main() -> ExitCode {
    let mut config = soak::Config {
        duration: Duration::from_secs(60),
        workers: 2,
        report_every: Some(Duration::from_secs(10)),
        live_bytes,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        let parsed = match (flag.as_str(), value.as_deref()) {
            ("--duration", Some(v)) => soak::parse_duration(v).map(|d| config.duration = d),
            ("--every", Some(v)) => soak::parse_duration(v).map(|d| config.report_every = Some(d)),
            ("--workers", Some(v)) => v
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .map(|n| config.workers = n),
            _ => None,
        };
        if parsed.is_none() {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    println!(
        "soak: {:?} on {} workers (invariants: no lost message, no lost wake-up, every task finished, flat live heap)",
        config.duration, config.workers
    );
    let summary = soak::run(config);
    println!("soak done: {summary}");
    if summary.passed() {
        return ExitCode::SUCCESS;
    }
    for violation in &summary.violations {
        eprintln!("soak: {violation}");
    }
    // A hung round still holds its threads: leave without joining them.
    std::process::exit(1)
}
