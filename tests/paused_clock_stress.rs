//! Stress for the paused clock's auto-advance (`Shared::maybe_auto_advance`):
//! the clock must never jump while a task or the `block_on` future is
//! runnable. Fresh runtimes, so the workers' first parks (each of which may
//! jump the clock) race the `block_on` call starting; a far "watchdog"
//! timer gives a wrong jump somewhere to land; short sleeps make the
//! driver, woken by each new earlier deadline, fire timers while another
//! thread jumps the clock. Bounded to a few seconds; set
//! `CANOPY_CLOCK_STRESS_SECS` to run longer (e.g. two copies at once).

use canopy::time;
use canopy::{Cancelled, Runtime, checkpoint, move_on_after, spawn};
use std::time::{Duration, Instant};

fn budget() -> Duration {
    let secs = std::env::var("CANOPY_CLOCK_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    Duration::from_secs(secs)
}

fn paused(workers: usize) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .start_paused(true)
        .build()
        .unwrap()
}

/// One program: yields and short sleeps of the `block_on` future and of a
/// child, under a far deadline; the clock must move exactly by the sleeps.
fn one_run(workers: usize) {
    let rt = paused(workers);
    rt.block_on(async {
        let start = time::now();
        let out = move_on_after(Duration::from_secs(1000), async {
            // The very first yield: the workers may still be parking.
            let _ = checkpoint().await;
            assert_eq!(time::now(), start, "the clock jumped past a yield");
            let child = spawn(async move {
                for _ in 0..3 {
                    let _ = checkpoint().await;
                }
                time::now()
            });
            let _ = checkpoint().await;
            let at = child.await.unwrap();
            assert_eq!(at, start, "the clock jumped past a yielded child");
            for (i, ms) in [2u64, 1, 3].into_iter().enumerate() {
                let before = time::now();
                let _ = time::sleep(Duration::from_millis(ms)).await;
                assert_eq!(
                    time::now() - before,
                    Duration::from_millis(ms),
                    "sleep {i} ended late: the clock skipped a deadline"
                );
            }
            Ok::<_, Cancelled>(())
        })
        .await;
        assert_eq!(out, Ok(Some(())), "the far deadline fired");
    });
}

#[test]
fn the_paused_clock_never_jumps_while_something_is_runnable() {
    let until = Instant::now() + budget();
    let mut runs = 0u64;
    while Instant::now() < until {
        one_run(1 + (runs % 2) as usize);
        runs += 1;
    }
    eprintln!("{runs} runs");
}
