//! Cancel scopes (canopy-bench's area `cancellation`), canopy next to tokio
//! (and async-executor) where they have an equivalent, 2 workers each
//! (`CANOPY_BENCH_WORKERS=n`): `poll_check_overhead_{0,1,8}` (tokio's
//! `yield_many` inside 0, 1 or 8 nested scopes; tokio: hour-long timeouts),
//! `cancel_storm` (one cancel reaching 100,000 sleepers), `cancel_check_8`
//! (one check inside 8 scopes) and `deadline_reschedule` (deadline moves on
//! waiting scopes; tokio: `Sleep::reset`). The bodies are in
//! `bench/src/workloads/{cancellation,deadlines}.rs`; the timeout churn is
//! in `benches/timers.rs`. `cargo bench --bench scopes`.

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

fn scopes(c: &mut Criterion) {
    harness::bench_area(c, "cancellation");
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = scopes
}
criterion_main!(benches);
