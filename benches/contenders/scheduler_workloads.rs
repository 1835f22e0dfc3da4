//! The workloads of `benches/scheduler.rs` (tokio's `rt_multi_threaded`
//! benches, and canopy's `blocked_worker`), written once against
//! `Contender`: the criterion bench times them, `examples/spawn_profile.rs`
//! runs them under callgrind for instruction counts.

// Each user runs a subset.
#![allow(dead_code)]

use crate::contenders::Contender;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

pub const NUM_SPAWN: usize = 10_000;
pub const NUM_PINGS: usize = 1_000;
pub const YIELD_TASKS: usize = 200;
pub const NUM_YIELD: usize = 1_000;
pub const CHAIN: usize = 1_000;
/// How long each busy task in `spawn_many_remote_busy` computes between
/// yields (tokio's value).
pub const STALL: Duration = Duration::from_micros(10);

/// Spawns `NUM_SPAWN` empty-ish tasks; the last one to run signals on `tx`.
pub fn spawn_counted<R: Contender>(
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
pub fn spawn_many_local_in_task<R: Contender>(
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
pub fn spawn_many_from_block_on<R: Contender>(
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
pub fn spawn_many_remote<R: Contender>(rt: &R, handles: &mut Vec<R::Join<()>>) {
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

pub fn stall() {
    let start = Instant::now();
    while start.elapsed() < STALL {
        std::thread::yield_now();
    }
}

pub fn ping_pong<R: Contender>(
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

pub fn yield_many<R: Contender>(rt: &R, tx: &mpsc::SyncSender<()>, rx: &mpsc::Receiver<()>) {
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

pub fn chained_spawn<R: Contender>(
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
pub const BLOCK: Duration = Duration::from_millis(5);
/// Short tasks spawned behind it.
pub const BEHIND: usize = 1_000;

/// A task spawns `BEHIND` short tasks, then blocks its worker for `BLOCK`
/// (`std::thread::sleep`, standing in for a slow synchronous call): the
/// time until every short task has run. They sit in the blocked worker's
/// queue and LIFO slot; the other worker is idle.
pub fn blocked_worker<R: Contender>(
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
