//! Task groups: spawning into a group and joining it, and how fast a group
//! stops after its first failure. As in `benches/groups.rs`.
//!
//! Each runtime runs its own idiom, so the bodies differ by runtime:
//! canopy's `task_group`, tokio's `JoinSet`, and for async-executor a `Vec`
//! of tasks awaited in turn (it has no group, nor a way to join the first
//! of many, so `group_fail_fast` is "n/a" there).

use super::{Entry, Size, Workload};
use crate::runtimes::{AsyncExecutor, Canopy, HOUR, Runtime, Tokio};
use canopy::{Cancelled, task_group};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILDREN: usize = 10_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn spawn_join_canopy(rt: &Canopy, size: Size) -> Duration {
    let n = size.n(CHILDREN);
    let start = Instant::now();
    let spawner = rt.spawner();
    rt.block_on(Canopy::spawn(
        &spawner,
        task_group(move |tg| async move {
            for i in 0..n {
                tg.spawn(async move {
                    black_box(i);
                });
            }
            Ok::<(), Cancelled>(())
        }),
    ))
    .unwrap();
    start.elapsed()
}

fn spawn_join_tokio(rt: &Tokio, size: Size) -> Duration {
    let n = size.n(CHILDREN);
    let start = Instant::now();
    rt.block_on(Tokio::spawn(&rt.spawner(), async move {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            set.spawn(async move {
                black_box(i);
            });
        }
        set.join_all().await;
    }));
    start.elapsed()
}

fn spawn_join_async_executor(rt: &AsyncExecutor, size: Size) -> Duration {
    let n = size.n(CHILDREN);
    let spawner = rt.spawner();
    let inner = spawner.clone();
    let start = Instant::now();
    rt.block_on(AsyncExecutor::spawn(&spawner, async move {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                AsyncExecutor::spawn(&inner, async move {
                    black_box(i);
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    }));
    start.elapsed()
}

/// canopy: the time from one child's failure until `task_group` returned.
fn fail_fast_canopy(rt: &Canopy, size: Size) -> Duration {
    let n = size.n(CHILDREN);
    rt.block_on(Canopy::spawn(&rt.spawner(), async move {
        let blocked = Arc::new(AtomicUsize::new(0));
        let failed_at = Arc::new(Mutex::new(None));
        let (count, mark) = (blocked.clone(), failed_at.clone());
        let error = task_group(|tg| async move {
            for _ in 0..n {
                let count = count.clone();
                tg.spawn(async move {
                    let sleeping = canopy::time::sleep(HOUR);
                    count.fetch_add(1, SeqCst);
                    Ok::<(), BoxError>(sleeping.await?)
                });
            }
            tg.spawn(async move {
                while count.load(SeqCst) < n {
                    canopy::task::yield_now().await?;
                }
                *mark.lock().unwrap() = Some(Instant::now());
                Err::<(), BoxError>("one child failed".into())
            });
            Ok(())
        })
        .await
        .unwrap_err();
        assert_eq!(error.failures().len(), 1);
        let failed_at = failed_at.lock().unwrap().expect("the failing child ran");
        failed_at.elapsed()
    }))
}

/// tokio: the first error makes the caller `abort_all` and drain the set.
fn fail_fast_tokio(rt: &Tokio, size: Size) -> Duration {
    let n = size.n(CHILDREN);
    rt.block_on(Tokio::spawn(&rt.spawner(), async move {
        let blocked = Arc::new(AtomicUsize::new(0));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let blocked = blocked.clone();
            set.spawn(async move {
                blocked.fetch_add(1, SeqCst);
                tokio::time::sleep(HOUR).await;
                Ok::<(), &'static str>(())
            });
        }
        let failed_at = Arc::new(Mutex::new(None));
        let mark = failed_at.clone();
        set.spawn(async move {
            while blocked.load(SeqCst) < n {
                tokio::task::yield_now().await;
            }
            *mark.lock().unwrap() = Some(Instant::now());
            Err("one child failed")
        });
        while let Some(joined) = set.join_next().await {
            if let Ok(Err(_)) = joined {
                set.abort_all();
            }
        }
        let failed_at = failed_at.lock().unwrap().expect("the failing child ran");
        failed_at.elapsed()
    }))
}

/// The task-group workloads.
pub fn workloads() -> Vec<Workload> {
    let area = "groups";
    vec![
        Workload {
            name: "group_spawn_join",
            area,
            about: "10,000 children spawned into a group and all joined (tokio: JoinSet; async-executor: a Vec of tasks).",
            ops: |s| s.n(CHILDREN),
            canopy: Entry::Run(spawn_join_canopy),
            tokio: Entry::Run(spawn_join_tokio),
            async_executor: Entry::Run(spawn_join_async_executor),
        },
        Workload {
            name: "group_fail_fast",
            area,
            about: "10,000 children asleep for an hour, then one fails: time from the failure until the group has returned (tokio: abort_all on the first error, then drain).",
            ops: |s| s.n(CHILDREN),
            canopy: Entry::Run(fail_fast_canopy),
            tokio: Entry::Run(fail_fast_tokio),
            async_executor: Entry::NotAvailable("no task groups, no join-first-of-many"),
        },
    ]
}
