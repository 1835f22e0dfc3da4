//! What canopy's scopes cost beyond a poll: one cancel check deep in nested
//! scopes, and moving the deadlines of scopes that are waiting. As the
//! criterion bench `benches/scopes.rs` runs them.
//!
//! Both are canopy's own. tokio can only move a sleep it owns
//! (`Sleep::reset`), which `deadline_reschedule` times as its closest
//! equivalent; it has no cancel check, nor does async-executor, which has
//! no deadline to move either ("n/a").

use super::{Entry, Size, Workload};
use crate::runtimes::{Canopy, HOUR, Runtime, Tokio};
use canopy::scope::checkpoint_if_cancelled;
use canopy::{CancelScope, Cancelled, task_group};
use std::future::{Future, poll_fn};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::Poll;
use std::time::{Duration, Instant};

const CHECKS: usize = 1_000_000;
const LIVE_SCOPES: usize = 1_000;
const MOVES: usize = 1_000_000;

/// `checkpoint_if_cancelled()` inside 8 nested scopes, as a primitive
/// checks before it waits.
fn cancel_check_8(rt: &Canopy, size: Size) -> Duration {
    let n = size.n(CHECKS);
    let mut body: Box<dyn Future<Output = Result<Duration, Cancelled>> + Send + Unpin> =
        Box::new(Box::pin(async move {
            let start = Instant::now();
            for _ in 0..n {
                checkpoint_if_cancelled().await?;
                black_box(());
            }
            Ok(start.elapsed())
        }));
    for _ in 0..8 {
        let inner = body;
        // A scope that was not cancelled returns its body's value.
        body = Box::new(Box::pin(async move {
            Ok(CancelScope::new()
                .run(inner)
                .await?
                .expect("never cancelled"))
        }));
    }
    rt.block_on(Canopy::spawn(&rt.spawner(), body)).unwrap()
}

/// The deadline `i`-th move sets: two far apart in turn, so the timer moves.
fn moved(i: usize) -> Duration {
    Duration::from_millis(((i / LIVE_SCOPES) % 2 * 500) as u64)
}

/// 1,000 scopes each waiting in a sleep; their deadlines moved 1,000,000
/// times in all from another task. The time the moves took.
fn reschedule_canopy(rt: &Canopy, size: Size) -> Duration {
    let moves = size.n(MOVES);
    rt.block_on(Canopy::spawn(&rt.spawner(), async move {
        let scopes: Vec<CancelScope> = (0..LIVE_SCOPES).map(|_| CancelScope::new()).collect();
        let waiting = Arc::new(AtomicUsize::new(0));
        let (members, count) = (scopes.clone(), waiting.clone());
        let group = canopy::spawn(task_group(move |tg| async move {
            for scope in members {
                let count = count.clone();
                tg.spawn(async move {
                    let waiting = scope.run(async {
                        count.fetch_add(1, SeqCst);
                        canopy::time::sleep(HOUR).await
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
        for i in 0..moves {
            scopes[i % LIVE_SCOPES].set_deadline(Some(base + moved(i)));
        }
        let elapsed = start.elapsed();
        for scope in &scopes {
            scope.cancel();
        }
        group.await.unwrap().unwrap();
        elapsed
    }))
}

/// tokio: `Sleep::reset` on 1,000 live sleeps owned by the mover.
fn reschedule_tokio(rt: &Tokio, size: Size) -> Duration {
    let moves = size.n(MOVES);
    rt.block_on(Tokio::spawn(&rt.spawner(), async move {
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
        for i in 0..moves {
            sleeps[i % LIVE_SCOPES].as_mut().reset(base + moved(i));
        }
        start.elapsed()
    }))
}

/// The deadline and cancel-check workloads.
pub fn workloads() -> Vec<Workload> {
    let area = "cancellation";
    vec![
        Workload {
            name: "cancel_check_8",
            area,
            about: "1,000,000 checkpoint_if_cancelled() inside 8 nested cancel scopes (canopy only).",
            ops: |s| s.n(CHECKS),
            canopy: Entry::Run(cancel_check_8),
            tokio: Entry::NotAvailable("no cancel scopes"),
            async_executor: Entry::NotAvailable("no cancel scopes"),
        },
        Workload {
            name: "deadline_reschedule",
            area,
            about: "1,000,000 deadline moves on 1,000 waiting scopes (set_deadline from another task); tokio: Sleep::reset on 1,000 live sleeps it owns.",
            ops: |s| s.n(MOVES),
            canopy: Entry::Run(reschedule_canopy),
            tokio: Entry::Run(reschedule_tokio),
            async_executor: Entry::NotAvailable("no deadlines to move"),
        },
    ]
}
