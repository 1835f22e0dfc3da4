//! Timers (canopy-bench's area `timers`): `timer_many` (100,000 tasks, each
//! sleeping a random 0–10 ms) and `timeout_churn_ready` /
//! `timeout_churn_pending_once` (1,000,000 timeouts that never fire, around a
//! ready future or one pending once), on canopy, tokio and async-io (on
//! async-executor); bodies in `bench/src/workloads/timers.rs`. Then
//! `sleep_lateness`, printed after the criterion groups: p50/p99 of how
//! late 1,000 sleeps of 10 ms end on an idle runtime.
//! `cargo bench --bench timers`.

// The harness's runtimes, kits and workloads at this crate's root, where
// their `crate::` paths look for them.
use harness::{kits, runtimes, workloads};
mod harness;
use criterion::{Criterion, criterion_group};
use runtimes::{AsyncExecutor, Canopy, Runtime, Tokio};
use std::time::{Duration, Instant};

fn timers(c: &mut Criterion) {
    harness::bench_area(c, "timers");
}

/// 100 tasks, each sleeping 10 ms ten times, started 0.1 ms apart; returns
/// the lateness of every sleep, sorted.
fn lateness<R: Runtime>() -> Vec<Duration> {
    let rt = R::start(harness::workers());
    let spawner = rt.spawner();
    rt.block_on(async {
        let handles: Vec<_> = (0..100u64)
            .map(|i| {
                R::spawn(&spawner, async move {
                    R::sleep(Duration::from_micros(100 * i)).await;
                    let mut late = Vec::with_capacity(10);
                    for _ in 0..10 {
                        let asked = Instant::now();
                        R::sleep(Duration::from_millis(10)).await;
                        late.push(asked.elapsed().saturating_sub(Duration::from_millis(10)));
                    }
                    late
                })
            })
            .collect();
        let mut all = Vec::with_capacity(1_000);
        for handle in handles {
            all.extend(handle.await);
        }
        all.sort_unstable();
        all
    })
}

fn report_lateness<R: Runtime>() {
    let late = lateness::<R>();
    let pct = |p: usize| late[(late.len() * p / 100).min(late.len() - 1)];
    println!(
        "sleep_lateness/{:<16} p50 {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}",
        R::NAME,
        pct(50),
        pct(99),
        late[late.len() - 1]
    );
}

criterion_group! {
    name = benches;
    config = harness::config(10, 5);
    targets = timers
}

fn main() {
    benches();
    report_lateness::<Canopy>();
    report_lateness::<Tokio>();
    report_lateness::<AsyncExecutor>();
    Criterion::default().configure_from_args().final_summary();
}
