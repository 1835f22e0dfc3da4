//! What every criterion bench shares: canopy-bench's workloads, run under
//! criterion. This module compiles the harness's runtimes, kits and
//! workloads (`bench/src`) by `#[path]`, and each bench imports them at its
//! root (where their `crate::` paths look), so a workload's body exists once
//! and both measure the same code, with the same counts (criterion runs the
//! full size). One criterion group
//! per workload, named as in the harness, one function per runtime; all get
//! the same worker count, 2 by default, `CANOPY_BENCH_WORKERS=n` to change.

// Each bench uses a part of them, and of this module.
#![allow(dead_code)]

#[path = "../../bench/src/kits.rs"]
pub mod kits;
#[path = "../../bench/src/runtimes.rs"]
pub mod runtimes;
#[path = "../../bench/src/workloads/mod.rs"]
pub mod workloads;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::runtimes::{AsyncExecutor, Canopy, Runtime, Tokio, set_workers};
use crate::workloads::{Body, Entry, Size, all};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use std::time::Duration;

/// The worker count of every runtime: `CANOPY_BENCH_WORKERS`, or 2.
pub fn workers() -> usize {
    let n = std::env::var("CANOPY_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    set_workers(n);
    n
}

/// Criterion taking `samples` samples over `seconds`, after a second of
/// warm-up.
pub fn config(samples: usize, seconds: u64) -> Criterion {
    Criterion::default()
        .sample_size(samples)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(seconds))
}

/// The harness's workloads of `area`, each a criterion group of its name,
/// on every runtime that runs it.
pub fn bench_area(c: &mut Criterion, area: &str) {
    let workers = workers();
    for workload in all().into_iter().filter(|w| w.area == area) {
        let mut group = c.benchmark_group(workload.name);
        bench_entry::<Canopy>(&mut group, workers, workload.canopy);
        bench_entry::<Tokio>(&mut group, workers, workload.tokio);
        bench_entry::<AsyncExecutor>(&mut group, workers, workload.async_executor);
        group.finish();
    }
}

fn bench_entry<R: Runtime>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    workers: usize,
    entry: Entry<R>,
) {
    if let Entry::Run(body) = entry {
        bench_body(group, R::NAME, &R::start(workers), body);
    }
}

/// `body` at full size as the function `name` of `group`, each iteration
/// timed by the body itself (some time only the part they are about).
pub fn bench_body<R: Runtime>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &R,
    body: Body<R>,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| body(rt, Size::FULL)).sum())
    });
}
