//! The scheduler benchmarks of tokio's `benches/rt_multi_threaded.rs`, run on
//! canopy, tokio (multi-thread, `enable_all` as in tokio's bench) and
//! async-executor (one runner thread per worker) in the same run, with the
//! same worker count (2 by default; `CANOPY_BENCH_WORKERS=n` to change).
//!
//! Each workload is written once against the small `Contender` trait
//! (`contenders/scheduler_workloads.rs`, shared with `examples/spawn_profile.rs`),
//! so the three runtimes run exactly the same code. `ping_pong` uses tokio's
//! `oneshot` channel for all three (it is executor-agnostic) until canopy has
//! channels of its own.
//!
//! `blocked_worker` is canopy's own: 1,000 short tasks spawned by a task
//! that then blocks its worker for 5 ms; the time until all have run
//! (DESIGN §4: nothing waits behind a stuck worker).
//!
//! `cargo bench --bench scheduler` runs it under the system allocator;
//! `cargo bench --bench scheduler --features mimalloc` under mimalloc.

#[path = "contenders/mod.rs"]
mod contenders;
#[path = "contenders/scheduler_workloads.rs"]
mod workloads;

use contenders::{AsyncExecutor, Canopy, Contender, Tokio, workers};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use workloads::{
    NUM_SPAWN, blocked_worker, chained_spawn, ping_pong, spawn_many_from_block_on,
    spawn_many_local_in_task, spawn_many_remote, stall, yield_many,
};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs every workload for one contender, each under its own group name so
/// criterion prints the three runtimes side by side.
fn bench_contender<R: Contender>(c: &mut Criterion) {
    let n = workers();
    let (tx, rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));

    let rt = R::start(n);
    c.benchmark_group("spawn_many_local")
        .bench_function(R::NAME, |b| {
            b.iter(|| spawn_many_local_in_task(&rt, &tx, &rx, &rem))
        });
    c.benchmark_group("spawn_many_local_from_block_on")
        .bench_function(R::NAME, |b| {
            b.iter(|| spawn_many_from_block_on(&rt, &tx, &rx, &rem))
        });
    let mut handles = Vec::with_capacity(NUM_SPAWN);
    c.benchmark_group("spawn_many_remote_idle")
        .bench_function(R::NAME, |b| b.iter(|| spawn_many_remote(&rt, &mut handles)));
    c.benchmark_group("ping_pong")
        .bench_function(R::NAME, |b| b.iter(|| ping_pong(&rt, &tx, &rx, &rem)));
    c.benchmark_group("yield_many")
        .bench_function(R::NAME, |b| b.iter(|| yield_many(&rt, &tx, &rx)));
    c.benchmark_group("chained_spawn")
        .bench_function(R::NAME, |b| b.iter(|| chained_spawn(&rt, &tx, &rx)));
    c.benchmark_group("blocked_worker")
        .bench_function(R::NAME, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| blocked_worker(&rt, &tx, &rx, &rem))
                    .sum()
            })
        });
    drop(rt);

    // A runtime of its own, kept busy by 2 tasks per worker that compute and yield.
    let rt = R::start(n);
    let busy = Arc::new(AtomicBool::new(true));
    let spawner = rt.spawner();
    for _ in 0..2 * n {
        let busy = busy.clone();
        R::spawn_detached(&spawner, async move {
            while busy.load(Relaxed) {
                R::yield_now().await;
                stall();
            }
        });
    }
    c.benchmark_group("spawn_many_remote_busy")
        .bench_function(R::NAME, |b| b.iter(|| spawn_many_remote(&rt, &mut handles)));
    busy.store(false, Relaxed);
    drop(rt);
}

fn scheduler(c: &mut Criterion) {
    bench_contender::<Canopy>(c);
    bench_contender::<Tokio>(c);
    bench_contender::<AsyncExecutor>(c);
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
