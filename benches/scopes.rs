//! Cancel scopes (canopy-bench's area `cancellation`), canopy next to tokio
//! (and async-executor) where they have an equivalent, 2 workers each
//! (`CANOPY_BENCH_WORKERS=n`): `poll_check_overhead_{0,1,8}` (tokio's
//! `yield_many` inside 0, 1 or 8 nested scopes; tokio: hour-long timeouts),
//! `cancel_storm` (one cancel reaching 100,000 sleepers), `cancel_check_8`
//! (one check inside 8 scopes) and `deadline_reschedule` (deadline moves on
//! waiting scopes; tokio: `Sleep::reset`). The bodies are in
//! `bench/src/workloads/{cancellation,deadlines}.rs`; the timeout churn is
//! in `benches/timers.rs`. `cargo bench --bench scopes`.

// The harness's runtimes, kits and workloads at this crate's root, where
// their `crate::` paths look for them.
use harness::{kits, runtimes, workloads};
mod harness;
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
