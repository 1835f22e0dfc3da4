//! The blocking pool (`canopy::blocking`): closures run beside the workers;
//! `to_thread` is a checkpoint that, by default, waits for its closure even
//! when cancelled (Trio's `to_thread.run_sync`), or abandons it on request;
//! closures follow the caller's scope live through `is_cancelled`; panics
//! reach the caller; the pool honours its limits and the runtime's shutdown.

mod common;

use canopy::{CancelScope, Cancelled, blocking, scope::checkpoint_if_cancelled, task_group};
use common::real_clock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

/// Generous bound for things that should happen "at once".
const SOON: Duration = Duration::from_secs(10);

/// Spins (sleeping briefly) until `done()` or `SOON` passes.
fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > SOON {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn to_thread_runs_the_closure_on_a_pool_thread_and_returns_its_value() {
    let rt = real_clock();
    let name = rt.block_on(async {
        blocking::to_thread(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap()
    });
    assert!(
        name.as_deref()
            .is_some_and(|n| n.starts_with("canopy-blocking-")),
        "ran on {name:?}"
    );
}

#[test]
fn to_thread_in_a_cancelled_scope_returns_cancelled_and_runs_nothing() {
    let rt = real_clock();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let out = rt.block_on(async move {
        let scope = CancelScope::new();
        scope.cancel();
        scope
            .run(async move {
                blocking::to_thread(move || flag.store(true, SeqCst)).await?;
                Ok::<_, Cancelled>(())
            })
            .await
    });
    assert_eq!(out, Ok(None));
    assert!(!ran.load(SeqCst), "the closure must not run");
    assert_eq!(rt.metrics().spawned_tasks, 0, "nothing was submitted");
}

/// The default: a cancel while the closure runs is seen by the closure
/// (live), but the call still returns the closure's value; the cancellation
/// is delivered at the next checkpoint.
#[test]
fn a_cancel_while_the_closure_runs_waits_for_it_and_returns_its_value() {
    let rt = real_clock();
    let (started_tx, started_rx) = mpsc::channel();
    let scope = CancelScope::new();
    let canceller = {
        let scope = scope.clone();
        std::thread::spawn(move || {
            started_rx.recv().unwrap();
            scope.cancel(); // from a plain OS thread
        })
    };
    let (value, next) = rt.block_on(async move {
        scope
            .run(async move {
                let value = blocking::to_thread(move || {
                    started_tx.send(()).unwrap();
                    // Cooperative: stops when the caller's scope is cancelled.
                    let mut spins = 0u64;
                    while !blocking::is_cancelled() {
                        spins += 1;
                        std::thread::yield_now();
                    }
                    spins
                })
                .await;
                let next = checkpoint_if_cancelled().await;
                Ok::<_, Cancelled>((value, next))
            })
            .await
            .unwrap()
            .expect("the body returns normally")
    });
    canceller.join().unwrap();
    assert!(value.is_ok(), "the closure's value is returned: {value:?}");
    assert!(next.is_err(), "the next checkpoint sees the cancellation");
}

#[test]
fn abandon_on_cancel_returns_at_once_and_the_closure_finishes_alone() {
    let rt = real_clock();
    let release = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (release2, finished2) = (release.clone(), finished.clone());
    let out = rt.block_on(async move {
        canopy::move_on_after(Duration::from_millis(20), async move {
            blocking::to_thread(move || {
                while !release2.load(SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                finished2.store(true, SeqCst);
            })
            .abandon_on_cancel()
            .await
        })
        .await
    });
    assert_eq!(
        out,
        Ok(None),
        "the deadline's scope caught the cancellation"
    );
    assert!(
        !finished.load(SeqCst),
        "returned before the closure finished"
    );
    release.store(true, SeqCst);
    assert!(
        wait_until(|| finished.load(SeqCst)),
        "the closure finishes alone"
    );
}

#[test]
fn an_abandoned_closure_sees_the_cancellation_and_stops() {
    let rt = real_clock();
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let scope = CancelScope::new();
    let cancel = scope.clone();
    rt.block_on(async move {
        let (tx, rx) = mpsc::channel();
        let waiting = scope.run(async move {
            blocking::to_thread(move || {
                tx.send(()).unwrap();
                while blocking::check_cancelled().is_ok() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                flag.store(true, SeqCst);
            })
            .abandon_on_cancel()
            .await
        });
        let cancelling = async move {
            canopy::blocking::to_thread(move || rx.recv().unwrap())
                .await
                .unwrap();
            cancel.cancel(); // from another task
            Ok::<_, Cancelled>(())
        };
        let (waited, _) = futures::join!(waiting, cancelling);
        assert_eq!(waited, Ok(None));
    });
    assert!(wait_until(|| stopped.load(SeqCst)), "the closure noticed");
}

#[test]
fn a_panicking_closure_panics_in_the_awaiting_task() {
    let rt = real_clock();
    let handle =
        rt.spawn(async { blocking::to_thread(|| -> u32 { panic!("closure exploded") }).await });
    let error = rt.block_on(handle).unwrap_err();
    assert_eq!(error.panic_message(), Some("closure exploded"));
}

#[test]
fn spawn_returns_a_join_handle_with_its_rules() {
    let rt = real_clock();
    // A panic reaches the handle.
    let error = rt
        .block_on(async { blocking::spawn(|| -> u8 { panic!("spawned closure exploded") }).await })
        .unwrap_err();
    assert_eq!(error.panic_message(), Some("spawned closure exploded"));
    // A decided join completes even in a cancelled scope (DESIGN §2.13).
    let out = rt.block_on(async {
        let handle = blocking::spawn(|| 7);
        while !handle.is_finished() {
            canopy::time::sleep(Duration::from_millis(1)).await.unwrap();
        }
        let scope = CancelScope::new();
        scope.cancel();
        scope.run(handle).await
    });
    assert_eq!(out.unwrap().unwrap(), 7);
    // A join that has to wait is a cancel point.
    let gate = Arc::new(AtomicBool::new(false));
    let open = gate.clone();
    let out = rt.block_on(async move {
        let handle = blocking::spawn(move || {
            while !open.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        canopy::move_on_after(Duration::from_millis(10), handle).await
    });
    assert!(matches!(out, Ok(None)), "the wait was cancelled: {out:?}");
    gate.store(true, SeqCst);
}

#[test]
fn block_on_runs_async_code_under_the_callers_scope() {
    let rt = real_clock();
    let value = rt.block_on(async {
        blocking::to_thread(|| {
            blocking::block_on(async {
                canopy::time::sleep(Duration::from_millis(1)).await?;
                Ok::<_, Cancelled>(42)
            })
        })
        .await
    });
    assert_eq!(value.unwrap().unwrap(), 42);

    // The task it starts sees the caller's cancellation.
    let scope = CancelScope::new();
    let cancel = scope.clone();
    let seen = rt.block_on(async move {
        scope
            .run(async move {
                let inner = blocking::to_thread(move || {
                    cancel.cancel();
                    blocking::block_on(async {
                        canopy::time::sleep(Duration::from_secs(3600)).await
                    })
                })
                .await;
                Ok::<_, Cancelled>(inner)
            })
            .await
    });
    let inner = seen.unwrap().expect("the body returned");
    assert!(
        matches!(inner, Ok(Err(_))),
        "the hour-long sleep was cancelled by the caller's scope: {inner:?}"
    );
}

#[test]
#[should_panic(expected = "must be called from a closure running on the blocking pool")]
fn block_on_outside_a_blocking_closure_is_a_clear_panic() {
    let rt = real_clock();
    rt.block_on(async { blocking::block_on(async {}) });
}

#[test]
#[should_panic(expected = "canopy::blocking::spawn: called outside a canopy runtime")]
fn spawn_outside_a_runtime_is_a_clear_panic() {
    drop(blocking::spawn(|| ()));
}

#[test]
fn the_pool_runs_at_most_max_blocking_threads_at_once() {
    let rt = canopy::Runtime::builder()
        .workers(2)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (running, most, release) = (running.clone(), most.clone(), release.clone());
            rt.handle().spawn(async move {
                blocking::to_thread(move || {
                    let now = running.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    while !release.load(SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    running.fetch_sub(1, SeqCst);
                })
                .await
            })
        })
        .collect();
    assert!(wait_until(|| rt.metrics().blocking_queue_depth == 4));
    assert_eq!(rt.metrics().blocking_threads, 2);
    release.store(true, SeqCst);
    rt.block_on(async {
        for handle in handles {
            handle.await.unwrap().unwrap();
        }
    });
    assert_eq!(most.load(SeqCst), 2);
}

#[test]
fn idle_threads_exit_after_the_keep_alive() {
    let rt = canopy::Runtime::builder()
        .workers(1)
        .blocking_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    rt.block_on(async {
        let calls =
            (0..4).map(|_| blocking::to_thread(|| std::thread::sleep(Duration::from_millis(5))));
        futures::future::join_all(calls).await;
    });
    assert!(rt.metrics().blocking_threads >= 1);
    assert!(
        wait_until(|| rt.metrics().blocking_threads == 0),
        "idle threads exit: {:?}",
        rt.metrics()
    );
}

#[test]
fn max_blocking_threads_zero_is_a_build_error() {
    let error = canopy::Runtime::builder()
        .max_blocking_threads(0)
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("max_blocking_threads"),
        "{error}"
    );
}

#[test]
fn a_shutdown_cancels_running_closures_and_waits_for_them_within_the_grace() {
    let rt = real_clock();
    let (started_tx, started_rx) = mpsc::channel();
    let saw_shutdown = Arc::new(AtomicBool::new(false));
    let flag = saw_shutdown.clone();
    drop(rt.spawn(async move {
        let _ = blocking::to_thread(move || {
            started_tx.send(()).unwrap();
            while !blocking::is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(20)); // cleanup
            flag.store(true, SeqCst);
        })
        .await;
    }));
    started_rx.recv().unwrap();
    assert!(rt.shutdown(SOON), "the closure finished within the grace");
    assert!(saw_shutdown.load(SeqCst));
}

#[test]
fn a_closure_that_never_returns_does_not_hang_the_shutdown() {
    let rt = real_clock();
    let (started_tx, started_rx) = mpsc::channel();
    let release = Arc::new(Barrier::new(2));
    let held = release.clone();
    drop(rt.spawn(async move {
        let _ = blocking::to_thread(move || {
            started_tx.send(()).unwrap();
            held.wait(); // ignores cancellation
        })
        .await;
    }));
    started_rx.recv().unwrap();
    let start = Instant::now();
    assert!(!rt.shutdown(Duration::from_millis(50)), "the grace ran out");
    assert!(start.elapsed() < SOON);
    release.wait(); // let the detached thread finish
}

#[test]
fn closures_waiting_under_futures_unordered_are_all_cancelled() {
    use futures::stream::{FuturesUnordered, StreamExt};
    let rt = real_clock();
    let release = Arc::new(AtomicBool::new(false));
    let open = release.clone();
    let results = rt.block_on(async move {
        let scope = CancelScope::new();
        let cancel = scope.clone();
        scope
            .run(async move {
                let mut calls: FuturesUnordered<_> = (0..16)
                    .map(|_| {
                        let open = open.clone();
                        blocking::to_thread(move || {
                            while !open.load(SeqCst) {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        })
                        .abandon_on_cancel()
                    })
                    .collect();
                canopy::time::sleep(Duration::from_millis(10)).await?;
                cancel.cancel();
                let mut cancelled = 0;
                while let Some(result) = calls.next().await {
                    cancelled += usize::from(result.is_err());
                }
                Ok::<_, Cancelled>(cancelled)
            })
            .await
    });
    release.store(true, SeqCst);
    assert_eq!(
        results,
        Ok(Some(16)),
        "every waiting call returned Cancelled"
    );
}

#[test]
fn many_calls_from_a_task_group_all_complete() {
    let rt = real_clock();
    let total = Arc::new(AtomicUsize::new(0));
    let sum = total.clone();
    rt.block_on(async move {
        task_group(|tg| async move {
            for i in 0..200usize {
                let sum = sum.clone();
                tg.spawn(async move {
                    let got = blocking::to_thread(move || i).await?;
                    sum.fetch_add(got, SeqCst);
                    Ok::<_, Cancelled>(())
                });
            }
            Ok::<_, Cancelled>(())
        })
        .await
        .unwrap();
    });
    assert_eq!(total.load(SeqCst), (0..200).sum::<usize>());
}

#[test]
fn the_public_types_are_send_and_sync_as_documented() {
    fn send<T: Send>() {}
    send::<blocking::ToThread<fn() -> u8, u8>>();
}
