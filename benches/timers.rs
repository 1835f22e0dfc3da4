//! Timer benchmarks: canopy vs tokio vs async-io (on async-executor), same
//! worker count, same code for each through the `Contender` trait.
//!
//! - `timer_many`: 100,000 tasks, each sleeping a random 0–10 ms, joined.
//! - `timeout_churn_lazy`: 1,000,000 timeouts around an immediately ready
//!   future: the timer is never armed (all three arm lazily, on first poll).
//! - `timeout_churn_armed`: the same, but the inner future is pending once,
//!   so each timeout really arms and disarms its timer.
//! - `sleep_lateness` (printed after the criterion groups): p50/p99 of how
//!   late 1,000 sleeps of 10 ms end on an idle runtime.
//!
//! The timeout is one generic combinator (poll the future, then the sleep),
//! which is what `tokio::time::timeout` does, so the three runtimes differ
//! only in their sleep.

#[path = "contenders/mod.rs"]
mod contenders;

use contenders::{AsyncExecutor, Canopy, Contender, Tokio, workers};
use criterion::{Criterion, criterion_group};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MANY: usize = 100_000;
const CHURN: usize = 1_000_000;
const TIMEOUT: Duration = Duration::from_secs(1);

/// `future`, or `None` if `duration` passes first. The sleep is created with
/// the timeout (its deadline fixed then, as tokio's is) but armed only if the
/// future is pending.
async fn timeout<R: Contender, F: Future>(duration: Duration, future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut sleep = pin!(R::sleep(duration));
    poll_fn(move |cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        sleep.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Pending once (waking itself), then ready.
async fn pending_once() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

fn timer_many<R: Contender>(rt: &R) {
    let spawner = rt.spawner();
    rt.block_on(async {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let handles: Vec<_> = (0..MANY)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let delay = Duration::from_micros(seed % 10_000);
                R::spawn(&spawner, R::sleep(delay))
            })
            .collect();
        for handle in handles {
            handle.await;
        }
    });
}

fn timeout_churn<R: Contender>(rt: &R, armed: bool) {
    let spawner = rt.spawner();
    rt.block_on(R::spawn(&spawner, async move {
        for _ in 0..CHURN {
            let out = if armed {
                timeout::<R, _>(TIMEOUT, pending_once()).await
            } else {
                timeout::<R, _>(TIMEOUT, std::future::ready(())).await
            };
            assert!(out.is_some());
        }
    }));
}

fn bench_contender<R: Contender>(c: &mut Criterion) {
    let rt = R::start(workers());
    c.benchmark_group("timer_many")
        .bench_function(R::NAME, |b| b.iter(|| timer_many(&rt)));
    c.benchmark_group("timeout_churn_lazy")
        .bench_function(R::NAME, |b| b.iter(|| timeout_churn(&rt, false)));
    c.benchmark_group("timeout_churn_armed")
        .bench_function(R::NAME, |b| b.iter(|| timeout_churn(&rt, true)));
}

fn timers(c: &mut Criterion) {
    bench_contender::<Canopy>(c);
    bench_contender::<Tokio>(c);
    bench_contender::<AsyncExecutor>(c);
}

/// 100 tasks, each sleeping 10 ms ten times, started 0.1 ms apart; returns
/// the lateness of every sleep, sorted.
fn lateness<R: Contender>() -> Vec<Duration> {
    let rt = R::start(workers());
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

fn report_lateness<R: Contender>() {
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
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = timers
}

fn main() {
    benches();
    report_lateness::<Canopy>();
    report_lateness::<Tokio>();
    report_lateness::<AsyncExecutor>();
    Criterion::default().configure_from_args().final_summary();
}
