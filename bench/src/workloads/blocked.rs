//! Work that blocks: a worker stuck in one long poll, and the blocking pool.
//!
//! `blocked_worker` is DESIGN §4's first scheduler promise: no task waits
//! behind a worker stuck in a long poll while another worker is idle.
//! canopy's monitor (runtime/src/monitor.rs) moves a stuck worker's LIFO
//! slot to the global queue; tokio's LIFO slot cannot be stolen.
//! `spawn_blocking_many` and `blocking_sequential` hand small closures to
//! the blocking pool, all at once or one after the other.

use super::{Size, Workload, generic, on_all};
use crate::runtimes::Runtime;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

const SHORT_TASKS: usize = 1_000;
/// How long the blocking task holds its worker.
const BLOCK: Duration = Duration::from_millis(5);
const CALLS: usize = 1_000;

/// A task spawns the short tasks (onto its own worker's queues), then
/// blocks that worker; the time until every short task has run.
fn blocked_worker<R: Runtime>(rt: &R, size: Size) -> Duration {
    let n = size.n(SHORT_TASKS);
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let spawner = rt.spawner();
    let inner = spawner.clone();
    let start = Instant::now();
    let blocker = R::spawn(&spawner, async move {
        let rem = Arc::new(AtomicUsize::new(n));
        for i in 0..n {
            let (rem, done_tx) = (rem.clone(), done_tx.clone());
            R::spawn_detached(&inner, async move {
                black_box(i);
                if rem.fetch_sub(1, Relaxed) == 1 {
                    done_tx.send(()).unwrap();
                }
            });
        }
        std::thread::sleep(BLOCK);
    });
    done_rx.recv().unwrap();
    let elapsed = start.elapsed();
    rt.block_on(blocker);
    elapsed
}

/// A closure's work: small, so the workload measures the pool.
fn work(i: usize) -> usize {
    (0..64).fold(i, |acc, x| black_box(acc.wrapping_mul(31).wrapping_add(x)))
}

fn spawn_blocking_many<R: Runtime>(rt: &R, size: Size) -> Duration {
    let n = size.n(CALLS);
    let start = Instant::now();
    rt.block_on(R::spawn(&rt.spawner(), async move {
        let calls: Vec<_> = (0..n).map(|i| R::spawn_blocking(move || work(i))).collect();
        for call in calls {
            black_box(call.await);
        }
    }));
    start.elapsed()
}

/// One task awaits the closures one after the other: the round trip of
/// one blocking call.
fn blocking_sequential<R: Runtime>(rt: &R, size: Size) -> Duration {
    let n = size.n(CALLS);
    let start = Instant::now();
    rt.block_on(R::spawn(&rt.spawner(), async move {
        for i in 0..n {
            black_box(R::spawn_blocking(move || work(i)).await);
        }
    }));
    start.elapsed()
}

/// The blocking workloads.
pub fn workloads() -> Vec<Workload> {
    let area = "blocking";
    vec![
        generic(
            "blocked_worker",
            area,
            "A task spawns 1,000 short tasks, then blocks its worker 5 ms in std::thread::sleep: time until all short tasks have run.",
            |s| s.n(SHORT_TASKS),
            on_all!(blocked_worker),
        ),
        generic(
            "spawn_blocking_many",
            area,
            "A task starts 1,000 small closures on the blocking pool and awaits them (canopy::blocking::spawn, spawn_blocking, blocking::unblock).",
            |s| s.n(CALLS),
            on_all!(spawn_blocking_many),
        ),
        generic(
            "blocking_sequential",
            area,
            "A task awaits 1,000 small closures on the blocking pool one after the other: the round trip of one call.",
            |s| s.n(CALLS),
            on_all!(blocking_sequential),
        ),
    ]
}
