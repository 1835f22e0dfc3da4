//! The blocking pool, canopy next to tokio and smol's `blocking` crate (what
//! async-executor programs use), in one run, 2 workers each
//! (`CANOPY_BENCH_WORKERS=n`):
//!
//! - `spawn_blocking_many`: a task starts 1,000 blocking closures (each a
//!   few hundred nanoseconds of work) and awaits them all: the hand-off to
//!   a pool thread and back. canopy: `blocking::spawn`; tokio:
//!   `spawn_blocking`; async-executor: `blocking::unblock`.
//! - `to_thread_sequential`: one task awaits 1,000 closures one after the
//!   other (canopy's `to_thread`, the structured form): the round-trip
//!   latency of one blocking call.

#[path = "contenders/mod.rs"]
mod contenders;

use contenders::{AsyncExecutor, Contender, workers};
use criterion::{Criterion, criterion_group};
use std::hint::black_box;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CALLS: usize = 1_000;

/// A closure's work: small, so the bench measures the pool.
fn work(i: usize) -> usize {
    (0..64).fold(i, |acc, x| black_box(acc.wrapping_mul(31).wrapping_add(x)))
}

fn spawn_blocking_many(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_blocking_many");
    let rt = contenders::canopy_runtime(workers());
    group.bench_function("canopy", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                let handles: Vec<_> = (0..CALLS)
                    .map(|i| canopy::blocking::spawn(move || work(i)))
                    .collect();
                for handle in handles {
                    black_box(handle.await.unwrap());
                }
            }))
            .unwrap()
        })
    });
    drop(rt);
    let rt = contenders::tokio_runtime(workers());
    group.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                let handles: Vec<_> = (0..CALLS)
                    .map(|i| tokio::task::spawn_blocking(move || work(i)))
                    .collect();
                for handle in handles {
                    black_box(handle.await.unwrap());
                }
            }))
            .unwrap()
        })
    });
    drop(rt);
    let ex = AsyncExecutor::start(workers());
    let spawner = ex.spawner();
    group.bench_function("async-executor", |b| {
        b.iter(|| {
            ex.block_on(AsyncExecutor::spawn(&spawner, async {
                let tasks: Vec<_> = (0..CALLS)
                    .map(|i| ::blocking::unblock(move || work(i)))
                    .collect();
                for task in tasks {
                    black_box(task.await);
                }
            }))
        })
    });
    group.finish();
}

fn to_thread_sequential(c: &mut Criterion) {
    let mut group = c.benchmark_group("to_thread_sequential");
    let rt = contenders::canopy_runtime(workers());
    group.bench_function("canopy", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                for i in 0..CALLS {
                    black_box(canopy::blocking::to_thread(move || work(i)).await.unwrap());
                }
            }))
            .unwrap()
        })
    });
    drop(rt);
    let rt = contenders::tokio_runtime(workers());
    group.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                for i in 0..CALLS {
                    black_box(tokio::task::spawn_blocking(move || work(i)).await.unwrap());
                }
            }))
            .unwrap()
        })
    });
    drop(rt);
    let ex = AsyncExecutor::start(workers());
    let spawner = ex.spawner();
    group.bench_function("async-executor", |b| {
        b.iter(|| {
            ex.block_on(AsyncExecutor::spawn(&spawner, async {
                for i in 0..CALLS {
                    black_box(::blocking::unblock(move || work(i)).await);
                }
            }))
        })
    });
    group.finish();
}

criterion_group!(benches, spawn_blocking_many, to_thread_sequential);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
