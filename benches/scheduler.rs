//! The scheduler workloads of tokio's `benches/rt_multi_threaded.rs`
//! (canopy-bench's area `scheduler`), on canopy, tokio (multi-thread, `enable_all` as in
//! tokio's bench) and async-executor, same worker count (2 by default;
//! `CANOPY_BENCH_WORKERS=n`). The bodies and their descriptions are in
//! `bench/src/workloads/` (`cargo run -p canopy-bench -- --list`).
//!
//! `cargo bench --bench scheduler` runs it under the system allocator;
//! `cargo bench --bench scheduler --features mimalloc` under mimalloc.

// The harness's runtimes, kits and workloads (see harness/mod.rs).
mod harness;
#[allow(dead_code)]
#[path = "../bench/src/kits.rs"]
mod kits;
#[allow(dead_code)]
#[path = "../bench/src/runtimes.rs"]
mod runtimes;
#[allow(dead_code)]
#[path = "../bench/src/workloads/mod.rs"]
mod workloads;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

fn scheduler(c: &mut Criterion) {
    harness::bench_area(c, "scheduler");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = scheduler
}
criterion_main!(benches);
