//! Timers: many short sleeps, and timeouts that never fire (the common
//! case: a request answered in time). As in `benches/timers.rs` and the
//! `timeout_churn_*` groups of `benches/scopes.rs`.

use super::{Size, Workload, generic, on_all};
use crate::runtimes::Runtime;
use std::future::poll_fn;
use std::task::Poll;
use std::time::{Duration, Instant};

const MANY: usize = 100_000;
const CHURN: usize = 1_000_000;
const TIMEOUT: Duration = Duration::from_secs(1);

/// 100,000 tasks, each sleeping a pseudo-random 0–10 ms, joined.
fn timer_many<R: Runtime>(rt: &R, size: Size) -> Duration {
    let spawner = rt.spawner();
    let start = Instant::now();
    rt.block_on(async {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let handles: Vec<_> = (0..size.n(MANY))
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
    start.elapsed()
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

fn churn<R: Runtime>(rt: &R, size: Size, armed: bool) -> Duration {
    let n = size.n(CHURN);
    let spawner = rt.spawner();
    let start = Instant::now();
    rt.block_on(R::spawn(&spawner, async move {
        for _ in 0..n {
            let out = if armed {
                R::timeout(TIMEOUT, pending_once()).await
            } else {
                R::timeout(TIMEOUT, std::future::ready(())).await
            };
            assert!(out.is_some(), "a one-second timeout fired");
        }
    }));
    start.elapsed()
}

fn timeout_churn_ready<R: Runtime>(rt: &R, size: Size) -> Duration {
    churn(rt, size, false)
}

fn timeout_churn_pending_once<R: Runtime>(rt: &R, size: Size) -> Duration {
    churn(rt, size, true)
}

/// The timer workloads.
pub fn workloads() -> Vec<Workload> {
    let area = "timers";
    vec![
        generic(
            "timer_many",
            area,
            "100,000 tasks, each sleeping a pseudo-random 0-10 ms, joined (async-io Timer on async-executor).",
            |s| s.n(MANY),
            on_all!(timer_many),
        ),
        generic(
            "timeout_churn_ready",
            area,
            "1,000,000 one-second timeouts around a ready future: move_on_after vs tokio::time::timeout vs a race with an async-io Timer.",
            |s| s.n(CHURN),
            on_all!(timeout_churn_ready),
        ),
        generic(
            "timeout_churn_pending_once",
            area,
            "The same around a future pending once, so each timeout's timer is armed and disarmed.",
            |s| s.n(CHURN),
            on_all!(timeout_churn_pending_once),
        ),
    ]
}
