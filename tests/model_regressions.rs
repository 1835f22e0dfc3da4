//! Programs the property tests (`tests/model_props.rs`) shrank to, kept as
//! ordinary tests. Each names the DESIGN §2 rule it checks; the ones the
//! runtime fails today are `#[ignore = "bug: ..."]` until fixed.

mod common;

use canopy::time::{now, sleep};
use canopy::{Cancelled, Runtime, task_group};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

fn paused(workers: usize) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn a_sleep_after_a_group_ends_on_time() {
    for _ in 0..200 {
        let rt = paused(2);
        let (elapsed, woke) = rt.block_on(async {
            let start = now();
            task_group(|_tg| async {
                sleep(3 * SEC).await?;
                canopy::checkpoint_if_cancelled().await
            })
            .await
            .unwrap();
            let woke = canopy::move_on_after(100 * SEC, sleep(6 * SEC)).await;
            (now() - start, woke)
        });
        assert_eq!(woke, Ok(Some(())));
        assert_eq!((elapsed + Duration::from_millis(500)).as_secs(), 9);
    }
}
