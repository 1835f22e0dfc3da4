//! The scheduler benchmarks of tokio's `benches/rt_multi_threaded.rs`, run on
//! canopy, tokio (multi-thread, `enable_all` as in tokio's bench) and
//! async-executor (one runner thread per worker) in the same run, with the
//! same worker count (2 by default; `CANOPY_BENCH_WORKERS=n` to change).
//!
//! Each workload is written once against the small `Contender` trait below,
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

use contenders::{AsyncExecutor, Canopy, Contender, Tokio, workers};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NUM_SPAWN: usize = 10_000;
const NUM_PINGS: usize = 1_000;
const YIELD_TASKS: usize = 200;
const NUM_YIELD: usize = 1_000;
const CHAIN: usize = 1_000;
/// How long each busy task in `spawn_many_remote_busy` computes between
/// yields (tokio's value).
const STALL: Duration = Duration::from_micros(10);

/// Spawns `NUM_SPAWN` empty-ish tasks; the last one to run signals on `tx`.
fn spawn_counted<R: Contender>(
    spawner: &R::Spawner,
    tx: &mpsc::SyncSender<()>,
    rem: &Arc<AtomicUsize>,
) {
    for _ in 0..NUM_SPAWN {
        let (tx, rem) = (tx.clone(), rem.clone());
        R::spawn_detached(spawner, async move {
            if rem.fetch_sub(1, Relaxed) == 1 {
                tx.send(()).unwrap();
            }
        });
    }
}

/// 10,000 spawns from inside a task.
fn spawn_many_local_in_task<R: Contender>(
    rt: &R,
    tx: &mpsc::SyncSender<()>,
    rx: &mpsc::Receiver<()>,
    rem: &Arc<AtomicUsize>,
) {
    rem.store(NUM_SPAWN, Relaxed);
    let spawner = rt.spawner();
    let (tx, rem) = (tx.clone(), rem.clone());
    rt.block_on(async move {
        let inner = spawner.clone();
        R::spawn_detached(
            &spawner,
            async move { spawn_counted::<R>(&inner, &tx, &rem) },
        );
        rx.recv().unwrap();
    });
}

/// tokio's `spawn_many_local`: 10,000 spawns from the `block_on` thread.
fn spawn_many_from_block_on<R: Contender>(
    rt: &R,
    tx: &mpsc::SyncSender<()>,
    rx: &mpsc::Receiver<()>,
    rem: &Arc<AtomicUsize>,
) {
    rem.store(NUM_SPAWN, Relaxed);
    let spawner = rt.spawner();
    rt.block_on(async {
        spawn_counted::<R>(&spawner, tx, rem);
        rx.recv().unwrap();
    });
}

/// 10,000 spawns from outside the runtime, then joined from `block_on`.
fn spawn_many_remote<R: Contender>(rt: &R, handles: &mut Vec<R::Join<()>>) {
    let spawner = rt.spawner();
    for _ in 0..NUM_SPAWN {
        handles.push(R::spawn(&spawner, async {}));
    }
    rt.block_on(async {
        for handle in handles.drain(..) {
            handle.await;
        }
    });
}

fn stall() {
    let start = Instant::now();
    while start.elapsed() < STALL {
        std::thread::yield_now();
    }
}

fn ping_pong<R: Contender>(
    rt: &R,
    done_tx: &mpsc::SyncSender<()>,
    done_rx: &mpsc::Receiver<()>,
    rem: &Arc<AtomicUsize>,
) {
    rem.store(NUM_PINGS, Relaxed);
    let spawner = rt.spawner();
    let (done_tx, rem) = (done_tx.clone(), rem.clone());
    rt.block_on(async move {
        let outer = spawner.clone();
        R::spawn_detached(&outer, async move {
            for _ in 0..NUM_PINGS {
                let (rem, done_tx, spawner) = (rem.clone(), done_tx.clone(), spawner.clone());
                R::spawn_detached(&spawner.clone(), async move {
                    let (tx1, rx1) = tokio::sync::oneshot::channel::<()>();
                    let (tx2, rx2) = tokio::sync::oneshot::channel::<()>();
                    R::spawn_detached(&spawner, async move {
                        rx1.await.unwrap();
                        tx2.send(()).unwrap();
                    });
                    tx1.send(()).unwrap();
                    rx2.await.unwrap();
                    if rem.fetch_sub(1, Relaxed) == 1 {
                        done_tx.send(()).unwrap();
                    }
                });
            }
        });
        done_rx.recv().unwrap();
    });
}

fn yield_many<R: Contender>(rt: &R, tx: &mpsc::SyncSender<()>, rx: &mpsc::Receiver<()>) {
    let spawner = rt.spawner();
    for _ in 0..YIELD_TASKS {
        let tx = tx.clone();
        R::spawn_detached(&spawner, async move {
            for _ in 0..NUM_YIELD {
                R::yield_now().await;
            }
            tx.send(()).unwrap();
        });
    }
    for _ in 0..YIELD_TASKS {
        rx.recv().unwrap();
    }
}

fn chained_spawn<R: Contender>(
    rt: &R,
    done_tx: &mpsc::SyncSender<()>,
    done_rx: &mpsc::Receiver<()>,
) {
    fn iter<R: Contender>(spawner: R::Spawner, done_tx: mpsc::SyncSender<()>, n: usize) {
        if n == 0 {
            done_tx.send(()).unwrap();
        } else {
            let next = spawner.clone();
            R::spawn_detached(&spawner, async move { iter::<R>(next, done_tx, n - 1) });
        }
    }
    let spawner = rt.spawner();
    let done_tx = done_tx.clone();
    rt.block_on(async move {
        let next = spawner.clone();
        R::spawn_detached(&spawner, async move { iter::<R>(next, done_tx, CHAIN) });
        done_rx.recv().unwrap();
    });
}

/// How long `blocked_worker`'s blocker keeps its worker.
const BLOCK: Duration = Duration::from_millis(5);
/// Short tasks spawned behind it.
const BEHIND: usize = 1_000;

/// A task spawns `BEHIND` short tasks, then blocks its worker for `BLOCK`
/// (`std::thread::sleep`, standing in for a slow synchronous call): the
/// time until every short task has run. They sit in the blocked worker's
/// queue and LIFO slot; the other worker is idle.
fn blocked_worker<R: Contender>(
    rt: &R,
    tx: &mpsc::SyncSender<()>,
    rx: &mpsc::Receiver<()>,
    rem: &Arc<AtomicUsize>,
) -> Duration {
    rem.store(BEHIND, Relaxed);
    let spawner = rt.spawner();
    let (tx, rem) = (tx.clone(), rem.clone());
    let start = Instant::now();
    R::spawn_detached(&spawner.clone(), async move {
        for _ in 0..BEHIND {
            let (tx, rem) = (tx.clone(), rem.clone());
            R::spawn_detached(&spawner, async move {
                if rem.fetch_sub(1, Relaxed) == 1 {
                    tx.send(()).unwrap();
                }
            });
        }
        std::thread::sleep(BLOCK);
    });
    rx.recv().unwrap();
    let took = start.elapsed();
    // Let the blocker finish before the next iteration.
    std::thread::sleep(BLOCK.saturating_sub(took));
    took
}

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
