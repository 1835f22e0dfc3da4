//! The soak of `examples/soak.rs`, in-process for a few seconds, so that
//! `cargo test --workspace` runs every part of canopy at once under the
//! soak's invariants (see `tests/soak/mod.rs`). CI also runs the example
//! for 60 s in release; `CANOPY_SOAK_DURATION=10m` runs this one longer.
//!
//! Its own test binary with one test: it installs the counting allocator,
//! so nothing else may allocate meanwhile.

#[path = "common/counting.rs"]
mod counting;
#[path = "soak/mod.rs"]
mod soak;

use counting::{Counting, live_bytes};
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn everything_at_once_keeps_every_invariant() {
    let duration = std::env::var("CANOPY_SOAK_DURATION")
        .ok()
        .and_then(|v| soak::parse_duration(&v))
        .unwrap_or(Duration::from_secs(5));
    let summary = soak::run(soak::Config {
        duration,
        workers: 2,
        report_every: None,
        live_bytes,
    });
    eprintln!("{summary}");
    assert!(summary.passed(), "{:#?}", summary.violations);
    assert!(
        summary.heap.is_some(),
        "too few rounds to measure the live heap: {summary}"
    );
}
