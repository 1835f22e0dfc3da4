//! Cancellation: what a cancel scope costs on every poll, and how fast one
//! cancel reaches 100,000 waiting tasks. As in `benches/scopes.rs`.
//!
//! tokio and async-executor have no cancel scopes. For the per-poll cost
//! they run their closest equivalent, an hour-long timeout per level
//! ([`Runtime::in_scope`]). For the storm, tokio runs its idiom (child
//! `CancellationToken`s raced in `select!`, in a `JoinSet`);
//! async-executor has no broadcast cancellation and shows "n/a".

use super::scheduler::{NUM_YIELD, YIELD_TASKS, yields_in_scopes};
use super::{Entry, Size, Workload, generic, on_all};
use crate::runtimes::{Canopy, HOUR, Runtime, Tokio};
use canopy::{CancelScope, Cancelled, task_group};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STORM: usize = 100_000;

fn poll_check_overhead_0<R: Runtime>(rt: &R, size: Size) -> Duration {
    yields_in_scopes(rt, size, 0)
}

fn poll_check_overhead_1<R: Runtime>(rt: &R, size: Size) -> Duration {
    yields_in_scopes(rt, size, 1)
}

fn poll_check_overhead_8<R: Runtime>(rt: &R, size: Size) -> Duration {
    yields_in_scopes(rt, size, 8)
}

/// canopy: `n` sleepers in a task group inside one scope; the time from
/// `cancel()` until the group has returned.
fn cancel_storm_canopy(rt: &Canopy, size: Size) -> Duration {
    let n = size.n(STORM);
    rt.block_on(async move {
        let scope = CancelScope::new();
        let remote = scope.clone();
        let blocked = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(Mutex::new(None));
        let (watch, mark) = (blocked.clone(), started.clone());
        let canceller = canopy::spawn(async move {
            while watch.load(SeqCst) < n {
                canopy::task::yield_now().await.unwrap();
            }
            *mark.lock().unwrap() = Some(Instant::now());
            remote.cancel();
        });
        scope
            .run(task_group(|tg| async move {
                for _ in 0..n {
                    let blocked = blocked.clone();
                    tg.spawn(async move {
                        let sleeping = canopy::time::sleep(HOUR);
                        blocked.fetch_add(1, SeqCst);
                        sleeping.await
                    });
                }
                Ok::<(), Cancelled>(())
            }))
            .await
            .unwrap();
        let started = started.lock().unwrap().expect("the canceller ran");
        let elapsed = started.elapsed();
        canceller.await.unwrap();
        elapsed
    })
}

/// tokio: child tokens raced with the sleep in `select!`, in a `JoinSet`.
fn cancel_storm_tokio(rt: &Tokio, size: Size) -> Duration {
    let n = size.n(STORM);
    let spawner = rt.spawner();
    rt.block_on(Tokio::spawn(&spawner, async move {
        let token = tokio_util::sync::CancellationToken::new();
        let blocked = Arc::new(AtomicUsize::new(0));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let child = token.child_token();
            let blocked = blocked.clone();
            set.spawn(async move {
                blocked.fetch_add(1, SeqCst);
                tokio::select! {
                    _ = child.cancelled() => {}
                    _ = tokio::time::sleep(HOUR) => {}
                }
            });
        }
        while blocked.load(SeqCst) < n {
            tokio::task::yield_now().await;
        }
        let started = Instant::now();
        token.cancel();
        while set.join_next().await.is_some() {}
        started.elapsed()
    }))
}

/// The cancellation workloads.
pub fn workloads() -> Vec<Workload> {
    let area = "cancellation";
    let check =
        |name, about, body| generic(name, area, about, |s| s.n(YIELD_TASKS) * NUM_YIELD, body);
    vec![
        check(
            "poll_check_overhead_0",
            "yield_many (200 tasks x 1,000 yields) with no scope: the baseline for the two below.",
            on_all!(poll_check_overhead_0),
        ),
        check(
            "poll_check_overhead_1",
            "yield_many inside 1 cancel scope (tokio and async-executor: 1 hour-long timeout, their closest equivalent).",
            on_all!(poll_check_overhead_1),
        ),
        check(
            "poll_check_overhead_8",
            "yield_many inside 8 nested cancel scopes (tokio and async-executor: 8 nested hour-long timeouts).",
            on_all!(poll_check_overhead_8),
        ),
        Workload {
            name: "cancel_storm",
            area,
            about: "100,000 tasks asleep for an hour under one scope; time from cancel() until all have returned (tokio: child CancellationTokens + select! in a JoinSet).",
            ops: |s| s.n(STORM),
            canopy: Entry::Run(cancel_storm_canopy),
            tokio: Entry::Run(cancel_storm_tokio),
            async_executor: Entry::NotAvailable("no cancel scopes or tokens"),
        },
    ]
}
