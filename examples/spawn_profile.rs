//! `spawn_many_local` as a plain program, for instruction counts that do
//! not depend on the machine's load: one runtime (`canopy`, `tokio` or
//! `async-executor`, the same contenders as `benches/scheduler.rs`) spawns
//! `ROUNDS` × 10,000 trivial detached tasks from inside a task, each
//! counting itself down. Run it under callgrind:
//!
//! ```text
//! cargo build --release --example spawn_profile [--features mimalloc]
//! valgrind --tool=callgrind --dump-instr=no \
//!     target/release/examples/spawn_profile canopy 20
//! ```
//!
//! and subtract a run with 0 rounds (start-up and shutdown) to get the
//! instructions per spawn: (total(20) − total(0)) / 200,000.

#[path = "../benches/contenders/mod.rs"]
mod contenders;

use contenders::{AsyncExecutor, Canopy, Contender, Tokio, workers};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, mpsc};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NUM_SPAWN: usize = 10_000;

/// One round: a task spawns `NUM_SPAWN` tasks; the last to run signals.
fn round<R: Contender>(rt: &R) {
    let (tx, rx) = mpsc::sync_channel(1);
    let rem = Arc::new(AtomicUsize::new(NUM_SPAWN));
    let spawner = rt.spawner();
    rt.block_on(async move {
        let inner = spawner.clone();
        R::spawn_detached(&spawner, async move {
            for _ in 0..NUM_SPAWN {
                let (tx, rem) = (tx.clone(), rem.clone());
                R::spawn_detached(&inner, async move {
                    if rem.fetch_sub(1, Relaxed) == 1 {
                        tx.send(()).unwrap();
                    }
                });
            }
        });
        rx.recv().unwrap();
    });
}

fn run<R: Contender>(rounds: usize) {
    let rt = R::start(workers());
    for _ in 0..rounds {
        round(&rt);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = args.next().unwrap_or_else(|| "canopy".into());
    let rounds = args.next().map_or(20, |n| n.parse().expect("rounds: a number"));
    match runtime.as_str() {
        "canopy" => run::<Canopy>(rounds),
        "tokio" => run::<Tokio>(rounds),
        "async-executor" => run::<AsyncExecutor>(rounds),
        other => panic!("unknown runtime {other}: canopy, tokio or async-executor"),
    }
}
