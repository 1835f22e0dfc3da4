//! The scheduler benches' workloads (`benches/contenders/scheduler_workloads.rs`)
//! as a plain program, for instruction counts that do not depend on the
//! machine's load: one runtime (`canopy`, `tokio` or `async-executor`, the
//! contenders of `benches/scheduler.rs`) runs one workload (default
//! `spawn_many_local`: a task spawns 10,000 trivial detached tasks, each
//! counting itself down) `ROUNDS` times. Run it under callgrind:
//!
//! ```text
//! cargo build --profile bench --example spawn_profile [--features mimalloc]
//! valgrind --tool=callgrind --dump-instr=no \
//!     target/release/examples/spawn_profile canopy 10 [WORKLOAD]
//! ```
//!
//! and subtract a run with 0 rounds (start-up and shutdown) to get the
//! instructions per round; for `spawn_many_local`, per spawn:
//! (total(10) − total(0)) / 100,000. `CANOPY_BENCH_WORKERS=1` removes
//! stealing, and with it most of the run-to-run variation.

#[path = "../benches/contenders/mod.rs"]
mod contenders;
#[path = "../benches/contenders/scheduler_workloads.rs"]
mod workloads;

use contenders::{AsyncExecutor, Canopy, Contender, Tokio, workers};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, mpsc};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn run<R: Contender>(rounds: usize, workload: &str) {
    let rt = R::start(workers());
    let (tx, rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));
    for _ in 0..rounds {
        match workload {
            "spawn_many_local" => workloads::spawn_many_local_in_task(&rt, &tx, &rx, &rem),
            "ping_pong" => workloads::ping_pong(&rt, &tx, &rx, &rem),
            "yield_many" => workloads::yield_many(&rt, &tx, &rx),
            "chained_spawn" => workloads::chained_spawn(&rt, &tx, &rx),
            other => panic!(
                "unknown workload {other}: spawn_many_local, ping_pong, yield_many or chained_spawn"
            ),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = args.next().unwrap_or_else(|| "canopy".into());
    let rounds = args
        .next()
        .map_or(10, |n| n.parse().expect("rounds: a number"));
    let workload = args.next().unwrap_or_else(|| "spawn_many_local".into());
    match runtime.as_str() {
        "canopy" => run::<Canopy>(rounds, &workload),
        "tokio" => run::<Tokio>(rounds, &workload),
        "async-executor" => run::<AsyncExecutor>(rounds, &workload),
        other => panic!("unknown runtime {other}: canopy, tokio or async-executor"),
    }
}
