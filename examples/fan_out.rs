//! Fans a computation out over many tasks and joins them: the smallest
//! complete canopy program. `cargo run --release --example fan_out`

use std::time::Instant;

fn main() -> Result<(), canopy::runtime::BuildError> {
    let rt = canopy::Runtime::builder().build()?;
    let started = Instant::now();
    let total = rt.block_on(async {
        let tasks: Vec<_> = (1..=100_000u64)
            .map(|n| canopy::spawn(async move { n * n }))
            .collect();
        let mut total = 0u64;
        for task in tasks {
            total += task.await.expect("no task panics");
        }
        total
    });
    let metrics = rt.metrics();
    println!(
        "sum of squares of 1..=100000: {total} in {:?} on {} workers",
        started.elapsed(),
        metrics.workers.len()
    );
    for (i, worker) in metrics.workers.iter().enumerate() {
        println!(
            "worker {i}: {} polls, {} steals, {} parks",
            worker.polls, worker.steals, worker.parks
        );
    }
    Ok(())
}
