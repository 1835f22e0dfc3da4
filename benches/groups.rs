//! Task-group benchmarks (issue 5), canopy next to tokio's `JoinSet` and
//! async-executor, in one run, 2 workers each (`CANOPY_BENCH_WORKERS=n`):
//!
//! - `group_spawn_join`: 10,000 children spawned into a group (a `JoinSet`,
//!   a `Vec` of async-executor tasks) and all joined.
//! - `group_fail_fast`: 10,000 children blocked in an hour-long sleep, then
//!   one fails: the time from its failure until the group has returned
//!   (tokio: the first error makes the caller `abort_all` and drain the set).

#[path = "contenders/mod.rs"]
mod contenders;

use canopy::time::sleep;
use canopy::{Cancelled, task_group};
use contenders::{AsyncExecutor, Contender, workers};
use criterion::{Criterion, criterion_group};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHILDREN: usize = 10_000;
const HOUR: Duration = Duration::from_secs(3600);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn canopy_rt() -> canopy::Runtime {
    contenders::canopy_runtime(workers())
}

fn tokio_rt() -> tokio::runtime::Runtime {
    contenders::tokio_runtime(workers())
}

fn group_spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("group_spawn_join");
    let rt = canopy_rt();
    group.bench_function("canopy", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(task_group(|tg| async move {
                for i in 0..CHILDREN {
                    tg.spawn(async move {
                        std::hint::black_box(i);
                    });
                }
                Ok::<(), Cancelled>(())
            })))
            .unwrap()
            .unwrap()
        })
    });
    drop(rt);
    let rt = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                let mut set = tokio::task::JoinSet::new();
                for i in 0..CHILDREN {
                    set.spawn(async move {
                        std::hint::black_box(i);
                    });
                }
                set.join_all().await;
            }))
            .unwrap()
        })
    });
    drop(rt);
    let ex = AsyncExecutor::start(workers());
    let spawner = ex.spawner();
    group.bench_function("async-executor", |b| {
        b.iter(|| {
            let inner = spawner.clone();
            ex.block_on(AsyncExecutor::spawn(&spawner, async move {
                let tasks: Vec<_> = (0..CHILDREN)
                    .map(|i| {
                        AsyncExecutor::spawn(&inner, async move {
                            std::hint::black_box(i);
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await;
                }
            }))
        })
    });
    group.finish();
}

/// Returns the time from the failure until the group returned.
async fn fail_fast_canopy() -> Duration {
    let blocked = Arc::new(AtomicUsize::new(0));
    let failed_at = Arc::new(Mutex::new(None));
    let (count, mark) = (blocked.clone(), failed_at.clone());
    let error = task_group(|tg| async move {
        for _ in 0..CHILDREN {
            let count = count.clone();
            tg.spawn(async move {
                let sleeping = sleep(HOUR);
                count.fetch_add(1, SeqCst);
                Ok::<(), BoxError>(sleeping.await?)
            });
        }
        tg.spawn(async move {
            while count.load(SeqCst) < CHILDREN {
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
}

async fn fail_fast_tokio() -> Duration {
    let blocked = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..CHILDREN {
        let blocked = blocked.clone();
        set.spawn(async move {
            blocked.fetch_add(1, SeqCst);
            tokio::time::sleep(HOUR).await;
            Ok::<(), &'static str>(())
        });
    }
    let count = blocked.clone();
    let failed_at = Arc::new(Mutex::new(None));
    let mark = failed_at.clone();
    set.spawn(async move {
        while count.load(SeqCst) < CHILDREN {
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
}

fn group_fail_fast(c: &mut Criterion) {
    let mut group = c.benchmark_group("group_fail_fast");
    let rt = canopy_rt();
    group.bench_function("canopy", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(fail_fast_canopy())).sum())
    });
    drop(rt);
    let rt = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(fail_fast_tokio())).sum())
    });
    group.finish();
}

criterion_group!(benches, group_spawn_join, group_fail_fast);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
