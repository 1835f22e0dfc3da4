//! The scheduler workloads of tokio's `benches/rt_multi_threaded.rs`
//! (canopy-bench's area `scheduler`), on canopy, tokio (multi-thread, `enable_all` as in
//! tokio's bench) and async-executor, same worker count (2 by default;
//! `CANOPY_BENCH_WORKERS=n`). The bodies and their descriptions are in
//! `bench/src/workloads/` (`cargo run -p canopy-bench -- --list`).
//!
//! `cargo bench --bench scheduler` runs it under the system allocator;
//! `cargo bench --bench scheduler --features mimalloc` under mimalloc.

// The harness's runtimes, kits and workloads at this crate's root, where
// their `crate::` paths look for them.
use harness::{kits, runtimes, workloads};
mod harness;

use criterion::{Criterion, criterion_group, criterion_main};

fn scheduler(c: &mut Criterion) {
    harness::bench_area(c, "scheduler");
}

criterion_group! {
    name = benches;
    config = harness::config(30, 3);
    targets = scheduler
}
criterion_main!(benches);
