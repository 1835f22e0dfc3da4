//! One canopy-bench workload on one runtime, as a plain program, for
//! instruction counts that do not depend on the machine's load. The
//! workload bodies are the harness's own (`bench/src/workloads`, compiled
//! in by `#[path]` as the criterion benches do), so the counts are of
//! exactly what the tables time. Default: `spawn_many_local` (a task
//! spawns 10,000 empty tasks, each counting itself down), `ROUNDS` times.
//! Run it under callgrind:
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

// The harness's runtimes, kits and workloads at this crate's root, where
// their `crate::` paths look for them.
#[path = "../benches/harness/mod.rs"]
mod harness;
use harness::{kits, runtimes, workloads};

use runtimes::{AsyncExecutor, Canopy, Runtime, Tokio};
use workloads::{Entry, Size, all};

fn run<R: Runtime>(rounds: usize, entry: Entry<R>, workload: &str) {
    let Entry::Run(body) = entry else {
        panic!("{workload} does not run on {}", R::NAME);
    };
    let rt = R::start(harness::workers());
    for _ in 0..rounds {
        body(&rt, Size::FULL);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = args.next().unwrap_or_else(|| "canopy".into());
    let rounds = args
        .next()
        .map_or(10, |n| n.parse().expect("rounds: a number"));
    let name = args.next().unwrap_or_else(|| "spawn_many_local".into());
    let Some(workload) = all().into_iter().find(|w| w.name == name) else {
        let names: Vec<_> = all().iter().map(|w| w.name).collect();
        panic!("unknown workload {name}; one of {}", names.join(", "));
    };
    match runtime.as_str() {
        "canopy" => run::<Canopy>(rounds, workload.canopy, &name),
        "tokio" => run::<Tokio>(rounds, workload.tokio, &name),
        "async-executor" => run::<AsyncExecutor>(rounds, workload.async_executor, &name),
        other => panic!("unknown runtime {other}: canopy, tokio or async-executor"),
    }
}
