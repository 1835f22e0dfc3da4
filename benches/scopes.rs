//! Cancel-scope benchmarks (issue 4), canopy next to tokio where tokio has an
//! equivalent, in one run, 2 workers each (`CANOPY_BENCH_WORKERS=n`):
//!
//! - `poll_check_overhead/canopy_{0,1,8,32}`: tokio's `yield_many` (200
//!   tasks x 1,000 `yield_now`) with every task inside 0, 1, 8 or 32 nested
//!   cancel scopes. Every `yield_now` is a checkpoint, so each poll passes
//!   through every scope and checks for cancellation. (`tokio` is the same
//!   workload on tokio, for scale; `tokio_8` runs it inside 8 nested
//!   `tokio::time::timeout`s, tokio's closest equivalent of 8 scopes.)
//! - `cancel_check/canopy_8`: the cost of one `checkpoint_if_cancelled()`
//!   inside 8 nested scopes (the cancel check a primitive does), per check.
//! - `cancel_storm`: 100,000 tasks blocked in an hour-long sleep under one
//!   scope; the time from `cancel()` until all have returned. canopy: a task
//!   group in a scope; tokio: `CancellationToken` child tokens + `select!`
//!   in a `JoinSet`.
//! - `timeout_churn_ready` / `timeout_churn_pending_once`: 1,000,000
//!   `move_on_after` vs `tokio::time::timeout` around a ready future, and
//!   around one that is pending once (so the deadline timer is armed).
//! - `deadline_reschedule`: 1,000,000 deadline moves on 1,000 live, waiting
//!   scopes (`set_deadline` from another task) vs tokio's `Sleep::reset` on
//!   1,000 live sleeps (tokio can only move a sleep it owns).

#[path = "contenders/mod.rs"]
mod contenders;

use canopy::time::sleep;
use canopy::{CancelScope, Cancelled, move_on_after, scope::checkpoint_if_cancelled, task_group};
use contenders::workers;
use criterion::{Criterion, criterion_group};
use std::future::{Future, poll_fn};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::task::Poll;
use std::time::{Duration, Instant};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const YIELD_TASKS: usize = 200;
const NUM_YIELD: usize = 1_000;
const STORM: usize = 100_000;
const CHURN: usize = 1_000_000;
const LIVE_SCOPES: usize = 1_000;
const MOVES: usize = 1_000_000;
const HOUR: Duration = Duration::from_secs(3600);
const TIMEOUT: Duration = Duration::from_secs(1);

fn canopy_rt() -> canopy::Runtime {
    contenders::canopy_runtime(workers())
}

fn tokio_rt() -> tokio::runtime::Runtime {
    contenders::tokio_runtime(workers())
}

/// `body` inside one nested cancel scope per token.
macro_rules! nest {
    ($body:expr ;) => { $body };
    ($body:expr ; $level:tt $($rest:tt)*) => {
        CancelScope::new().run(nest!($body ; $($rest)*))
    };
}

async fn yield_loop() -> Result<(), Cancelled> {
    for _ in 0..NUM_YIELD {
        canopy::task::yield_now().await?;
    }
    Ok(())
}

/// `yield_many` on canopy, each task running `task()`.
fn yield_many_canopy<F>(rt: &canopy::Runtime, task: fn() -> F)
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    let (tx, rx) = mpsc::sync_channel(YIELD_TASKS);
    for _ in 0..YIELD_TASKS {
        let tx = tx.clone();
        drop(rt.spawn(async move {
            let _ = task().await;
            tx.send(()).unwrap();
        }));
    }
    for _ in 0..YIELD_TASKS {
        rx.recv().unwrap();
    }
}

async fn yield_loop_tokio() {
    for _ in 0..NUM_YIELD {
        tokio::task::yield_now().await;
    }
}

/// `body` inside one nested `tokio::time::timeout` (an hour) per token.
macro_rules! nest_tokio {
    ($body:expr ;) => { async { $body.await; } };
    ($body:expr ; $level:tt $($rest:tt)*) => {
        async { let _ = tokio::time::timeout(HOUR, nest_tokio!($body ; $($rest)*)).await; }
    };
}

/// `yield_many` on tokio, each task running `task()`.
fn yield_many_tokio<F>(rt: &tokio::runtime::Runtime, task: fn() -> F)
where
    F: Future + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(YIELD_TASKS);
    for _ in 0..YIELD_TASKS {
        let tx = tx.clone();
        rt.spawn(async move {
            task().await;
            tx.send(()).unwrap();
        });
    }
    for _ in 0..YIELD_TASKS {
        rx.recv().unwrap();
    }
}

fn poll_check_overhead(c: &mut Criterion) {
    let rt = canopy_rt();
    let mut group = c.benchmark_group("poll_check_overhead");
    group.bench_function("canopy_0", |b| {
        b.iter(|| yield_many_canopy(&rt, yield_loop))
    });
    group.bench_function("canopy_1", |b| {
        b.iter(|| yield_many_canopy(&rt, || nest!(yield_loop(); x)))
    });
    group.bench_function("canopy_8", |b| {
        b.iter(|| yield_many_canopy(&rt, || nest!(yield_loop(); x x x x x x x x)))
    });
    group.bench_function("canopy_32", |b| {
        b.iter(|| {
            yield_many_canopy(&rt, || {
                nest!(yield_loop();
                    x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x)
            })
        })
    });
    let tokio = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter(|| yield_many_tokio(&tokio, yield_loop_tokio))
    });
    group.bench_function("tokio_8", |b| {
        b.iter(|| yield_many_tokio(&tokio, || nest_tokio!(yield_loop_tokio(); x x x x x x x x)))
    });
    group.finish();

    c.benchmark_group("cancel_check")
        .bench_function("canopy_8", |b| {
            b.iter_custom(|iters| {
                let timed = async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        checkpoint_if_cancelled().await?;
                        black_box(());
                    }
                    Ok::<_, Cancelled>(start.elapsed())
                };
                let out = rt.block_on(nest!(timed; x x x x x x x x));
                // Unwrap the eight `Some`s of the nested scopes.
                let out = out.unwrap().unwrap().unwrap().unwrap();
                out.unwrap().unwrap().unwrap().unwrap().unwrap()
            })
        });
}

/// Spawns `STORM` sleepers under one scope, cancels it once all are blocked,
/// and returns the time from the cancel until the group has returned.
async fn storm_canopy() -> Duration {
    let scope = CancelScope::new();
    let remote = scope.clone();
    let blocked = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Mutex::new(None));
    let (watch, mark) = (blocked.clone(), started.clone());
    let canceller = canopy::spawn(async move {
        while watch.load(SeqCst) < STORM {
            canopy::task::yield_now().await.unwrap();
        }
        *mark.lock().unwrap() = Some(Instant::now());
        remote.cancel();
    });
    scope
        .run(task_group(|tg| async move {
            for _ in 0..STORM {
                let blocked = blocked.clone();
                tg.spawn(async move {
                    let sleeping = sleep(HOUR);
                    blocked.fetch_add(1, SeqCst);
                    sleeping.await
                });
            }
            Ok::<(), Cancelled>(())
        }))
        .await
        .unwrap();
    let elapsed = started
        .lock()
        .unwrap()
        .expect("the canceller ran")
        .elapsed();
    canceller.await.unwrap();
    elapsed
}

async fn storm_tokio() -> Duration {
    let token = tokio_util::sync::CancellationToken::new();
    let blocked = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..STORM {
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
    while blocked.load(SeqCst) < STORM {
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    token.cancel();
    while set.join_next().await.is_some() {}
    started.elapsed()
}

fn cancel_storm(c: &mut Criterion) {
    let mut group = c.benchmark_group("cancel_storm");
    group.sample_size(10);
    let rt = canopy_rt();
    group.bench_function("canopy", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(storm_canopy())).sum())
    });
    drop(rt);
    let rt = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(storm_tokio())).sum())
    });
    group.finish();
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

fn timeout_churn(c: &mut Criterion) {
    let canopy = canopy_rt();
    let tokio = tokio_rt();
    for armed in [false, true] {
        let name = if armed {
            "timeout_churn_pending_once"
        } else {
            "timeout_churn_ready"
        };
        let mut group = c.benchmark_group(name);
        group.bench_function("canopy", |b| {
            b.iter(|| {
                canopy.block_on(canopy.spawn(async move {
                    for _ in 0..CHURN {
                        let out = move_on_after(TIMEOUT, async {
                            if armed {
                                pending_once().await;
                            }
                            Ok::<_, Cancelled>(())
                        })
                        .await;
                        assert_eq!(out, Ok(Some(())));
                    }
                }))
            })
        });
        group.bench_function("tokio", |b| {
            b.iter(|| {
                tokio.block_on(tokio.spawn(async move {
                    for _ in 0..CHURN {
                        let out = tokio::time::timeout(TIMEOUT, async {
                            if armed {
                                pending_once().await;
                            }
                        })
                        .await;
                        assert!(out.is_ok());
                    }
                }))
            })
        });
        group.finish();
    }
}

/// 1,000 scopes each waiting in a sleep; their deadlines moved `MOVES` times
/// in total from another task. Returns the time the moves took.
async fn reschedule_canopy() -> Duration {
    let scopes: Vec<CancelScope> = (0..LIVE_SCOPES).map(|_| CancelScope::new()).collect();
    let waiting = Arc::new(AtomicUsize::new(0));
    let members = scopes.clone();
    let count = waiting.clone();
    let group = canopy::spawn(task_group(move |tg| async move {
        for scope in members {
            let count = count.clone();
            tg.spawn(async move {
                let waiting = scope.run(async {
                    count.fetch_add(1, SeqCst);
                    sleep(HOUR).await
                });
                waiting.await.map(drop)
            });
        }
        Ok::<(), Cancelled>(())
    }));
    while waiting.load(SeqCst) < LIVE_SCOPES {
        canopy::task::yield_now().await.unwrap();
    }
    let base = canopy::time::now() + HOUR;
    let start = Instant::now();
    for i in 0..MOVES {
        let scope = &scopes[i % LIVE_SCOPES];
        // Alternate between two deadlines far apart, so the timer moves.
        let at = base + Duration::from_millis(((i / LIVE_SCOPES) % 2 * 500) as u64);
        scope.set_deadline(Some(at));
    }
    let elapsed = start.elapsed();
    for scope in &scopes {
        scope.cancel();
    }
    group.await.unwrap().unwrap();
    elapsed
}

async fn reschedule_tokio() -> Duration {
    let mut sleeps: Vec<_> = (0..LIVE_SCOPES)
        .map(|_| Box::pin(tokio::time::sleep(HOUR)))
        .collect();
    // Register every sleep with the timer, as a waiting one would be.
    poll_fn(|cx| {
        for sleep in &mut sleeps {
            let _ = sleep.as_mut().poll(cx);
        }
        Poll::Ready(())
    })
    .await;
    let base = tokio::time::Instant::now() + HOUR;
    let start = Instant::now();
    for i in 0..MOVES {
        let at = base + Duration::from_millis(((i / LIVE_SCOPES) % 2 * 500) as u64);
        sleeps[i % LIVE_SCOPES].as_mut().reset(at);
    }
    start.elapsed()
}

fn deadline_reschedule(c: &mut Criterion) {
    let mut group = c.benchmark_group("deadline_reschedule");
    group.sample_size(10);
    let rt = canopy_rt();
    group.bench_function("canopy", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(reschedule_canopy())).sum())
    });
    let rt = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(reschedule_tokio())).sum())
    });
    group.finish();
}

criterion_group!(
    benches,
    poll_check_overhead,
    cancel_storm,
    timeout_churn,
    deadline_reschedule
);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
