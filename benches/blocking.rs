//! Blocking work (canopy-bench's area `blocking`), canopy next to tokio and
//! smol's `blocking` crate (what async-executor programs use), 2 workers
//! each (`CANOPY_BENCH_WORKERS=n`): `blocked_worker` (a worker stuck in a
//! long poll), `spawn_blocking_many` (1,000 closures handed to the pool at
//! once) and `blocking_sequential` (one after the other). The bodies are in
//! `bench/src/workloads/blocked.rs`. `cargo bench --bench blocking`.

// The harness's runtimes, kits and workloads at this crate's root, where
// their `crate::` paths look for them.
use harness::{kits, runtimes, workloads};
mod harness;

use criterion::{Criterion, criterion_group, criterion_main};

fn blocking(c: &mut Criterion) {
    harness::bench_area(c, "blocking");
}

criterion_group!(benches, blocking);
criterion_main!(benches);
