//! The scheduler workloads of tokio's `benches/rt_multi_threaded.rs`, as
//! `benches/scheduler.rs` runs them under criterion (same counts, same code
//! shape): spawning from a task, from `block_on` and from outside, ping-pong
//! over oneshots, yielding, and a chain of spawns.

use super::{Size, Workload, generic, on_all};
use crate::runtimes::{BoxFuture, Runtime};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

const NUM_SPAWN: usize = 10_000;
const NUM_PINGS: usize = 1_000;
pub(super) const YIELD_TASKS: usize = 200;
pub(super) const NUM_YIELD: usize = 1_000;
const CHAIN: usize = 1_000;
/// How long each busy task in `spawn_many_remote_busy` computes between
/// yields (tokio's value).
const STALL: Duration = Duration::from_micros(10);

/// Spawns `n` tasks; the last one to run signals on `tx`.
fn spawn_counted<R: Runtime>(spawner: &R::Spawner, n: usize, tx: &mpsc::SyncSender<()>) {
    let rem = Arc::new(AtomicUsize::new(n));
    for _ in 0..n {
        let (tx, rem) = (tx.clone(), rem.clone());
        R::spawn_detached(spawner, async move {
            if rem.fetch_sub(1, Relaxed) == 1 {
                tx.send(()).unwrap();
            }
        });
    }
}

fn spawn_many_local<R: Runtime>(rt: &R, size: Size) -> Duration {
    let n = size.n(NUM_SPAWN);
    let (tx, rx) = mpsc::sync_channel(1);
    let spawner = rt.spawner();
    let start = Instant::now();
    rt.block_on(async move {
        let inner = spawner.clone();
        R::spawn_detached(&spawner, async move { spawn_counted::<R>(&inner, n, &tx) });
        rx.recv().unwrap();
    });
    start.elapsed()
}

fn spawn_many_from_block_on<R: Runtime>(rt: &R, size: Size) -> Duration {
    let n = size.n(NUM_SPAWN);
    let (tx, rx) = mpsc::sync_channel(1);
    let spawner = rt.spawner();
    let start = Instant::now();
    rt.block_on(async {
        spawn_counted::<R>(&spawner, n, &tx);
        rx.recv().unwrap();
    });
    start.elapsed()
}

/// Spawns from outside the runtime, then joins from `block_on`.
fn spawn_remote<R: Runtime>(rt: &R, n: usize) -> Duration {
    let spawner = rt.spawner();
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|_| R::spawn(&spawner, async {})).collect();
    rt.block_on(async {
        for handle in handles {
            handle.await;
        }
    });
    start.elapsed()
}

fn spawn_many_remote_idle<R: Runtime>(rt: &R, size: Size) -> Duration {
    spawn_remote(rt, size.n(NUM_SPAWN))
}

fn stall() {
    let start = Instant::now();
    while start.elapsed() < STALL {
        std::thread::yield_now();
    }
}

/// The remote spawns while 2 tasks per worker compute and yield.
fn spawn_many_remote_busy<R: Runtime>(rt: &R, size: Size) -> Duration {
    let busy = Arc::new(AtomicBool::new(true));
    let spawner = rt.spawner();
    let workers = crate::runtimes::workers();
    let spinners: Vec<_> = (0..2 * workers)
        .map(|_| {
            let busy = busy.clone();
            R::spawn(&spawner, async move {
                while busy.load(Relaxed) {
                    R::yield_now().await;
                    stall();
                }
            })
        })
        .collect();
    let elapsed = spawn_remote(rt, size.n(NUM_SPAWN));
    busy.store(false, Relaxed);
    rt.block_on(async {
        for spinner in spinners {
            spinner.await;
        }
    });
    elapsed
}

fn ping_pong<R: Runtime>(rt: &R, size: Size) -> Duration {
    let n = size.n(NUM_PINGS);
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let rem = Arc::new(AtomicUsize::new(n));
    let spawner = rt.spawner();
    let start = Instant::now();
    rt.block_on(async move {
        let outer = spawner.clone();
        R::spawn_detached(&outer, async move {
            for _ in 0..n {
                let (rem, done_tx, spawner) = (rem.clone(), done_tx.clone(), spawner.clone());
                R::spawn_detached(&spawner.clone(), async move {
                    // tokio's oneshot for all three, as in benches/scheduler.rs:
                    // it is executor-agnostic, so only the scheduling differs.
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
    start.elapsed()
}

/// `yield_many` with every task inside `depth` nested scopes (0: none), so
/// each yield's poll passes through all of them (and, on canopy, each yield is a
/// checkpoint that checks for cancellation).
pub(super) fn yields_in_scopes<R: Runtime>(rt: &R, size: Size, depth: usize) -> Duration {
    let tasks = size.n(YIELD_TASKS);
    let (tx, rx) = mpsc::sync_channel(tasks);
    let spawner = rt.spawner();
    let start = Instant::now();
    for _ in 0..tasks {
        let tx = tx.clone();
        let mut body: BoxFuture = Box::pin(async {
            for _ in 0..NUM_YIELD {
                R::yield_now().await;
            }
        });
        for _ in 0..depth {
            body = R::in_scope(body);
        }
        R::spawn_detached(&spawner, async move {
            body.await;
            tx.send(()).unwrap();
        });
    }
    for _ in 0..tasks {
        rx.recv().unwrap();
    }
    start.elapsed()
}

fn yield_many<R: Runtime>(rt: &R, size: Size) -> Duration {
    yields_in_scopes(rt, size, 0)
}

fn chained_spawn<R: Runtime>(rt: &R, size: Size) -> Duration {
    fn iter<R: Runtime>(spawner: R::Spawner, done_tx: mpsc::SyncSender<()>, n: usize) {
        if n == 0 {
            done_tx.send(()).unwrap();
        } else {
            let next = spawner.clone();
            R::spawn_detached(&spawner, async move { iter::<R>(next, done_tx, n - 1) });
        }
    }
    let n = size.n(CHAIN);
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let spawner = rt.spawner();
    let start = Instant::now();
    rt.block_on(async move {
        let next = spawner.clone();
        R::spawn_detached(&spawner, async move { iter::<R>(next, done_tx, n) });
        done_rx.recv().unwrap();
    });
    start.elapsed()
}

/// The scheduler workloads.
pub fn workloads() -> Vec<Workload> {
    let area = "scheduler";
    vec![
        generic(
            "spawn_many_local",
            area,
            "10,000 empty tasks spawned from inside a task; until the last has run.",
            |s| s.n(NUM_SPAWN),
            on_all!(spawn_many_local),
        ),
        generic(
            "spawn_many_from_block_on",
            area,
            "10,000 empty tasks spawned from the block_on thread (tokio's spawn_many_local).",
            |s| s.n(NUM_SPAWN),
            on_all!(spawn_many_from_block_on),
        ),
        generic(
            "spawn_many_remote_idle",
            area,
            "10,000 empty tasks spawned from outside the runtime, then joined.",
            |s| s.n(NUM_SPAWN),
            on_all!(spawn_many_remote_idle),
        ),
        generic(
            "spawn_many_remote_busy",
            area,
            "The same while 2 tasks per worker compute 10 µs and yield, in a loop.",
            |s| s.n(NUM_SPAWN),
            on_all!(spawn_many_remote_busy),
        ),
        generic(
            "ping_pong",
            area,
            "1,000 tasks, each spawning a partner and trading two oneshot messages (tokio's oneshot on all).",
            |s| s.n(NUM_PINGS),
            on_all!(ping_pong),
        ),
        generic(
            "yield_many",
            area,
            "200 tasks x 1,000 yield_now; per-op is per yield.",
            |s| s.n(YIELD_TASKS) * NUM_YIELD,
            on_all!(yield_many),
        ),
        generic(
            "chained_spawn",
            area,
            "A chain of 1,000 tasks, each spawning the next.",
            |s| s.n(CHAIN),
            on_all!(chained_spawn),
        ),
    ]
}
