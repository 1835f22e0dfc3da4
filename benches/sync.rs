//! Channels and locks (canopy-bench's area `sync`), side by side in one run:
//! canopy's `canopy::sync` on the canopy runtime, `tokio::sync` on tokio,
//! smol's `async-channel` / `async-lock` on async-executor — and smol's on
//! tokio and on canopy, to tell the primitive's cost from the executor's.
//! Same worker count for all (2 by default; `CANOPY_BENCH_WORKERS=n`).
//! The workloads (`chan_mpmc`, `chan_spsc`, `oneshot_ping_pong`,
//! `request_reply`, `semaphore_contended`, `mutex_contended`) are in
//! `bench/src/workloads/sync.rs`. `cargo bench --bench sync`.

// The harness's runtimes, kits and workloads at this crate's root, where
// their `crate::` paths look for them.
use harness::{kits, runtimes, workloads};
mod harness;
use criterion::{Criterion, criterion_group, criterion_main};
use kits::{CanopyKit, Kit, SmolKit, TokioKit};
use runtimes::{AsyncExecutor, Canopy, Runtime, Tokio};
use std::time::Duration;

/// Every workload on runtime `R` with kit `K`, named `R+K` when the kit
/// is not the runtime's own.
fn bench_pair<R: Runtime, K: Kit>(c: &mut Criterion) {
    let rt = R::start(harness::workers());
    let name = if R::NAME == K::NAME {
        R::NAME.to_string()
    } else {
        format!("{}+{}", R::NAME, K::NAME)
    };
    for (workload, body) in workloads::sync::with_kit::<R, K>() {
        let mut group = c.benchmark_group(workload);
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(3));
        harness::bench_body(&mut group, &name, &rt, body);
    }
}

fn sync(c: &mut Criterion) {
    bench_pair::<Canopy, CanopyKit>(c);
    bench_pair::<Tokio, TokioKit>(c);
    bench_pair::<AsyncExecutor, SmolKit>(c);
    bench_pair::<Tokio, SmolKit>(c);
    bench_pair::<Canopy, SmolKit>(c);
}

criterion_group!(benches, sync);
criterion_main!(benches);
