//! Runs the workloads fairly: runtimes interleaved in short blocks, one
//! runtime alive at a time, each block guarded by a watchdog.
//!
//! # A block
//!
//! On a thread of its own: build the runtime, run one warm-up iteration
//! (thread start-up, first allocations), then the timed iterations, then
//! drop the runtime. The runner waits for the block's result at most
//! `--timeout`; a block that outlives it (a hang, a lost wake-up) fails
//! with a timeout, and its thread is left behind — Rust cannot kill a
//! thread — so that runtime runs no more blocks of that workload. A panic
//! anywhere in the block (a workload's assertion, a join that reports a
//! panic) fails it with the panic's message.
//!
//! # The order
//!
//! Repetition `r` runs the runtimes starting from the `r`-th (a rotation),
//! so none is always first after another's teardown, and slow drift of a
//! shared machine spreads over all of them.

use crate::report::{Outcome, Row};
use crate::runtimes::{AsyncExecutor, Canopy, Runtime, Tokio};
use crate::stats::Summary;
use crate::workloads::{Entry, Size, Workload};
use indicatif::ProgressBar;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// How to run the workloads.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Workers per runtime.
    pub workers: usize,
    /// Blocks per runtime per workload.
    pub reps: usize,
    /// Timed iterations per block.
    pub iters: usize,
    /// The workloads' size.
    pub size: Size,
    /// The watchdog's bound per block.
    pub timeout: Duration,
    /// The runtimes, by name, in table order.
    pub runtimes: Vec<&'static str>,
}

/// What one block of one runtime came to.
enum Block {
    Samples(Vec<Duration>),
    Failed(String),
    NotAvailable(&'static str),
}

/// A panic's message.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_string());
    format!("panicked: {text}")
}

/// One block of `entry` on runtime `R`, on its own thread, under the watchdog.
fn block<R: Runtime>(entry: Entry<R>, plan: &Plan) -> Block {
    let body = match entry {
        Entry::Run(body) => body,
        Entry::NotAvailable(reason) => return Block::NotAvailable(reason),
    };
    let (workers, iters, size) = (plan.workers, plan.iters, plan.size);
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("block-{}", R::NAME))
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| {
                let rt = R::start(workers);
                body(&rt, size);
                let samples: Vec<Duration> = (0..iters).map(|_| body(&rt, size)).collect();
                drop(rt);
                samples
            }));
            let _ = tx.send(result.map_err(|p| panic_message(&*p)));
        });
    if let Err(error) = spawned {
        return Block::Failed(format!("could not start the block's thread: {error}"));
    }
    match rx.recv_timeout(plan.timeout) {
        Ok(Ok(samples)) => Block::Samples(samples),
        Ok(Err(panic)) => Block::Failed(panic),
        Err(RecvTimeoutError::Timeout) => Block::Failed(format!(
            "timed out: a block ({} iterations and a warm-up) took over {} s",
            iters,
            plan.timeout.as_secs()
        )),
        Err(RecvTimeoutError::Disconnected) => Block::Failed("the block's thread died".into()),
    }
}

fn run_block(workload: &Workload, runtime: &str, plan: &Plan) -> Block {
    match runtime {
        Canopy::NAME => block(workload.canopy, plan),
        Tokio::NAME => block(workload.tokio, plan),
        AsyncExecutor::NAME => block(workload.async_executor, plan),
        other => Block::Failed(format!("unknown runtime {other}")),
    }
}

/// Runs every workload on every runtime of `plan`, ticking `bar` once per
/// block, and returns one row per workload.
pub fn run(workloads: &[Workload], plan: &Plan, bar: &ProgressBar) -> Vec<Row> {
    crate::runtimes::set_workers(plan.workers);
    let n = plan.runtimes.len();
    workloads
        .iter()
        .map(|workload| {
            // Per runtime: its samples so far, or why it has none.
            let mut cells: Vec<Result<Vec<Duration>, Outcome>> = vec![Ok(Vec::new()); n];
            for rep in 0..plan.reps {
                for k in 0..n {
                    let i = (k + rep) % n;
                    let runtime = plan.runtimes[i];
                    bar.set_message(format!(
                        "{} on {runtime} ({}/{})",
                        workload.name,
                        rep + 1,
                        plan.reps
                    ));
                    if let Ok(samples) = &mut cells[i] {
                        match run_block(workload, runtime, plan) {
                            Block::Samples(more) => samples.extend(more),
                            Block::Failed(error) => cells[i] = Err(Outcome::Failed(error)),
                            Block::NotAvailable(reason) => {
                                cells[i] = Err(Outcome::NotAvailable(reason.to_string()))
                            }
                        }
                    }
                    bar.inc(1);
                }
            }
            let cells = plan
                .runtimes
                .iter()
                .zip(cells)
                .map(|(runtime, cell)| {
                    let outcome = match cell {
                        Ok(samples) => Summary::of(&samples).map_or_else(
                            || Outcome::Failed("no samples".into()),
                            Outcome::Measured,
                        ),
                        Err(outcome) => outcome,
                    };
                    (*runtime, outcome)
                })
                .collect();
            Row {
                name: workload.name,
                area: workload.area,
                about: workload.about,
                ops: (workload.ops)(plan.size),
                cells,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::Workload;

    fn plan() -> Plan {
        Plan {
            workers: 1,
            reps: 2,
            iters: 1,
            size: Size::FULL,
            timeout: Duration::from_secs(5),
            runtimes: vec![Canopy::NAME],
        }
    }

    fn workload(canopy: Entry<Canopy>) -> Workload {
        Workload {
            name: "test",
            area: "test",
            about: "",
            ops: |_| 1,
            canopy,
            tokio: Entry::NotAvailable("unused"),
            async_executor: Entry::NotAvailable("unused"),
        }
    }

    #[test]
    fn a_panicking_workload_shows_its_panic() {
        let w = workload(Entry::Run(|_, _| panic!("boom")));
        let rows = run(&[w], &plan(), &ProgressBar::hidden());
        assert_eq!(rows[0].cells[0].1, Outcome::Failed("panicked: boom".into()));
    }

    #[test]
    fn a_hanging_workload_times_out() {
        let mut plan = plan();
        plan.timeout = Duration::from_millis(200);
        let w = workload(Entry::Run(|_, _| {
            std::thread::sleep(Duration::from_secs(2));
            Duration::ZERO
        }));
        let rows = run(&[w], &plan, &ProgressBar::hidden());
        assert!(matches!(&rows[0].cells[0].1, Outcome::Failed(e) if e.starts_with("timed out")));
    }

    #[test]
    fn samples_from_every_rep() {
        let w = workload(Entry::Run(|_, _| Duration::from_millis(1)));
        let rows = run(&[w], &plan(), &ProgressBar::hidden());
        let Outcome::Measured(s) = rows[0].cells[0].1 else {
            panic!()
        };
        assert_eq!(s.samples, 2);
        assert_eq!(s.median, Duration::from_millis(1));
    }
}
