//! `#[canopy::test]` (and, through `examples/graceful_shutdown.rs` and
//! `tests/signals.rs`, `#[canopy::main]`).

use std::time::Duration;

#[canopy::test]
async fn a_test_runs_on_a_fresh_runtime() {
    let task = canopy::spawn(async { 6 * 7 });
    assert_eq!(task.await.unwrap(), 42);
    let metrics = canopy::runtime::Handle::current().metrics();
    assert_eq!(metrics.workers.len(), 2);
}

#[canopy::test(start_paused = true)]
async fn a_paused_clock_test_sleeps_an_hour_at_once() {
    let start = std::time::Instant::now();
    canopy::time::sleep(Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[canopy::test(workers = 1, start_paused = true)]
async fn options_combine_and_results_propagate() -> Result<(), canopy::Cancelled> {
    assert_eq!(
        canopy::runtime::Handle::current().metrics().workers.len(),
        1
    );
    canopy::time::sleep(Duration::from_secs(1)).await?;
    Ok(())
}

#[canopy::test]
#[should_panic(expected = "detached task exploded")]
async fn a_detached_tasks_panic_fails_the_test() {
    drop(canopy::spawn(async {
        panic!("detached task exploded");
    }));
    // Cancelled by the failure (the root group's CancelRoot policy).
    let _ = canopy::time::sleep(Duration::from_secs(3600)).await;
}
