//! Graceful shutdown (DESIGN §2.11): `Runtime::shutdown(grace)` and
//! `canopy::run` cancel the root scope above every task; tasks see
//! `Cancelled` (reason `Shutdown`) at their checkpoints, may run shielded
//! cleanup within the grace period, and the rest are dropped.

use canopy::time::sleep;
use canopy::{CancelScope, Cancelled, Runtime, scope::CancelReason, task_group};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);
const PATIENCE: Duration = Duration::from_secs(30);

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// Spawns a task that waits, then (when cancelled) flushes in a shielded
/// scope. `started` is told once it waits; `flushed` counts cleanups.
fn spawn_worker(rt: &Runtime, started: mpsc::Sender<()>, flushed: Arc<AtomicUsize>) {
    drop(rt.spawn(async move {
        let waiting = sleep(HOUR);
        started.send(()).unwrap();
        let err = waiting.await.unwrap_err();
        assert_eq!(err.reason(), CancelReason::Shutdown);
        // Level-triggered: cleanup's own waits are cancelled too...
        assert!(sleep(Duration::from_millis(1)).await.is_err());
        // ...unless shielded.
        CancelScope::new()
            .with_shield(true)
            .run(sleep(Duration::from_millis(20)))
            .await
            .unwrap();
        flushed.fetch_add(1, SeqCst);
    }));
}

#[test]
fn shutdown_cancels_every_task_and_lets_shielded_cleanup_finish() {
    let rt = runtime();
    let flushed = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for _ in 0..50 {
        spawn_worker(&rt, tx.clone(), flushed.clone());
    }
    for _ in 0..50 {
        rx.recv_timeout(PATIENCE).unwrap();
    }
    let started = Instant::now();
    assert!(
        rt.shutdown(PATIENCE),
        "every task finished within the grace"
    );
    assert_eq!(flushed.load(SeqCst), 50);
    assert!(started.elapsed() < PATIENCE);
}

#[test]
fn tasks_that_outlive_the_grace_are_dropped() {
    let rt = runtime();
    let dropped = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }
    let flag = Flag(dropped.clone());
    drop(rt.spawn(async move {
        let _flag = flag;
        tx.send(()).unwrap();
        // Ignores the shutdown: shielded forever.
        let _ = CancelScope::new().with_shield(true).run(sleep(HOUR)).await;
    }));
    rx.recv_timeout(PATIENCE).unwrap();
    let started = Instant::now();
    assert!(
        !rt.shutdown(Duration::from_millis(50)),
        "the task did not finish"
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(dropped.load(SeqCst), "dropped after the grace period");
}

#[test]
fn group_children_of_a_task_see_the_shutdown_too() {
    let rt = runtime();
    let cancelled = Arc::new(AtomicUsize::new(0));
    let count = cancelled.clone();
    let (tx, rx) = mpsc::channel();
    drop(rt.spawn(async move {
        let out = task_group(|tg| async move {
            for _ in 0..20 {
                let count = count.clone();
                let tx = tx.clone();
                tg.spawn(async move {
                    let waiting = sleep(HOUR);
                    tx.send(()).unwrap();
                    let out = waiting.await;
                    if let Err(c) = &out {
                        assert_eq!(c.reason(), CancelReason::Shutdown);
                        count.fetch_add(1, SeqCst);
                    }
                    out
                });
            }
            Ok::<(), Cancelled>(())
        })
        .await;
        // The shutdown is an outer cancellation: it goes through the group.
        assert!(out.unwrap_err().cancelled().is_some());
    }));
    for _ in 0..20 {
        rx.recv_timeout(PATIENCE).unwrap();
    }
    assert!(rt.shutdown(PATIENCE));
    assert_eq!(cancelled.load(SeqCst), 20);
}

#[test]
fn spawning_during_shutdown_gives_a_task_cancelled_at_its_first_checkpoint() {
    let rt = runtime();
    let (tx, rx) = mpsc::channel();
    let handle = rt.handle().clone();
    drop(rt.spawn(async move {
        let _ = sleep(HOUR).await;
        // Cancelled by the shutdown: spawn a late helper. (Awaiting its
        // handle here would be a checkpoint, cancelled too.)
        drop(handle.spawn(async move {
            tx.send(canopy::checkpoint().await).unwrap();
        }));
    }));
    std::thread::sleep(Duration::from_millis(20));
    assert!(rt.shutdown(PATIENCE));
    let helper = rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(helper.unwrap_err().reason(), CancelReason::Shutdown);
}

#[test]
fn run_shuts_down_gracefully_when_main_returns() {
    let flushed = Arc::new(AtomicBool::new(false));
    let flag = flushed.clone();
    let answer = canopy::run(async move {
        let (tx, rx) = std::sync::mpsc::channel();
        drop(canopy::spawn(async move {
            let waiting = sleep(HOUR);
            tx.send(()).unwrap();
            assert!(waiting.await.is_err());
            CancelScope::new()
                .with_shield(true)
                .run(sleep(Duration::from_millis(10)))
                .await
                .unwrap();
            flag.store(true, SeqCst);
        }));
        // Wait (off the runtime's threads) until the task is waiting.
        canopy::scope::cancellable(async move {
            while rx.try_recv().is_err() {
                canopy::task::yield_now().await.unwrap();
            }
        })
        .await
        .unwrap();
        42
    });
    assert_eq!(answer, 42);
    assert!(
        flushed.load(SeqCst),
        "the task's cleanup ran before run returned"
    );
}

// ---- the root group's failure policy (DESIGN §2.10) ------------------------

#[test]
fn under_cancel_root_an_unobserved_panic_cancels_everything_and_surfaces_from_block_on() {
    let rt = Runtime::builder()
        .workers(2)
        .root_failure(canopy::runtime::RootFailure::CancelRoot)
        .on_unobserved_panic(|_| {}) // keep the test output quiet
        .build()
        .unwrap();
    let sibling_cancelled = Arc::new(AtomicBool::new(false));
    let flag = sibling_cancelled.clone();
    drop(rt.spawn(async move {
        let out = sleep(HOUR).await;
        flag.store(
            out.is_err_and(|c| c.reason() == CancelReason::GroupFailed),
            SeqCst,
        );
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            drop(canopy::spawn(async {
                sleep(Duration::from_millis(10)).await.unwrap();
                panic!("root task exploded");
            }));
            // The program's main future is cancelled too.
            let err = sleep(HOUR).await.unwrap_err();
            assert_eq!(err.reason(), CancelReason::GroupFailed);
        })
    }));
    let payload = outcome.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"root task exploded"));
    let until = Instant::now() + PATIENCE;
    while !sibling_cancelled.load(SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        sibling_cancelled.load(SeqCst),
        "the other root task was cancelled"
    );
}

#[test]
fn a_held_handle_always_gets_its_tasks_panic_even_under_cancel_root() {
    let rt = Runtime::builder()
        .workers(2)
        .root_failure(canopy::runtime::RootFailure::CancelRoot)
        .build()
        .unwrap();
    rt.block_on(async {
        let task = canopy::spawn(async { panic!("mine") });
        let error = task.await.unwrap_err();
        assert_eq!(error.panic_message(), Some("mine"));
        // Nothing was cancelled: the handle received the panic.
        sleep(Duration::from_millis(1)).await.unwrap();
    });
}

#[test]
fn a_future_in_block_on_sees_the_shutdown_too() {
    let rt = runtime();
    let handle = rt.handle().clone();
    // A `block_on` future is no task: the root cancel must wake it itself.
    let waiter = std::thread::spawn(move || handle.block_on(sleep(HOUR)));
    std::thread::sleep(Duration::from_millis(50));
    assert!(rt.shutdown(PATIENCE));
    let out = waiter.join().unwrap();
    assert_eq!(out.unwrap_err().reason(), CancelReason::Shutdown);
}

#[test]
fn a_scope_change_during_shutdown_does_not_hide_the_root_cancellation() {
    let rt = runtime();
    let (tx, rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    drop(rt.spawn(async move {
        let waiting = sleep(HOUR);
        started_tx.send(()).unwrap();
        let _ = waiting.await;
        // Cleanup code entering a fresh scope, and changing another one:
        // the refresh of this poll's frames must keep the root cancelled.
        let out = canopy::move_on_after(HOUR, async {
            CancelScope::new().cancel();
            canopy::scope::checkpoint_if_cancelled().await
        })
        .await;
        tx.send(out).unwrap();
    }));
    started_rx.recv_timeout(PATIENCE).unwrap();
    assert!(rt.shutdown(PATIENCE));
    let out = rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(out.unwrap_err().reason(), CancelReason::Shutdown);
}

/// The shutdown waits on "a task finished" (not a poll loop): it returns as
/// the last of many tasks ends its shielded cleanup, well within its grace.
#[test]
fn shutdown_returns_when_the_last_task_finishes() {
    let rt = runtime();
    let (started_tx, started_rx) = mpsc::channel();
    for i in 0..100u64 {
        let started = started_tx.clone();
        drop(rt.spawn(async move {
            started.send(()).unwrap();
            let _ = sleep(Duration::from_secs(3600)).await;
            // Staggered cleanup, the last about 100 ms after the shutdown.
            CancelScope::new()
                .with_shield(true)
                .run(sleep(Duration::from_millis(i)))
                .await
                .unwrap();
        }));
    }
    for _ in 0..100 {
        started_rx.recv().unwrap();
    }
    let start = Instant::now();
    assert!(rt.shutdown(Duration::from_secs(30)), "every task finished");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(99),
        "waited for the last: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "returned once it finished: {took:?}"
    );
}
