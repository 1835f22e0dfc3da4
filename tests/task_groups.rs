//! Task groups (DESIGN §2.9): children run in parallel under the group's
//! scope, the group waits for all of them, the first failure cancels the
//! rest, and every failure is returned.

mod common;

use canopy::time::sleep;
use canopy::{
    CancelScope, Cancelled, Runtime, checkpoint, move_on_after, scope::CancelReason, task::Failure,
    task_group,
};
use common::{Gate, paused};
use std::collections::HashSet;
use std::future::{Future, poll_fn};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const HOUR: Duration = Duration::from_secs(3600);
const SEC: Duration = Duration::from_secs(1);

#[test]
fn the_group_waits_for_every_child_and_the_children_run_on_both_workers() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let seen = threads.clone();
    rt.block_on(task_group(|tg| async move {
        for _ in 0..64 {
            let seen = seen.clone();
            tg.spawn(async move {
                // Busy for a moment, so one worker cannot take them all.
                let until = Instant::now() + Duration::from_millis(2);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                seen.lock().unwrap().insert(std::thread::current().id());
                Ok::<(), Cancelled>(())
            });
        }
        Ok(())
    }))
    .unwrap();
    assert_eq!(
        threads.lock().unwrap().len(),
        2,
        "both workers ran children"
    );
}

#[test]
fn ten_thousand_children_are_all_joined() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let count = done.clone();
    rt.block_on(task_group(|tg| async move {
        for _ in 0..10_000 {
            let count = count.clone();
            tg.spawn(async move {
                canopy::task::yield_now().await?;
                count.fetch_add(1, SeqCst);
                Ok::<(), Cancelled>(())
            });
        }
        Ok(())
    }))
    .unwrap();
    assert_eq!(done.load(SeqCst), 10_000);
}

#[test]
fn the_first_failure_cancels_the_siblings_and_every_failure_is_reported() {
    paused().block_on(async {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let count = cancelled.clone();
        let error = task_group(|tg| async move {
            for _ in 0..10 {
                let count = count.clone();
                tg.spawn(async move {
                    let out = sleep(HOUR).await;
                    if let Err(c) = &out {
                        assert_eq!(c.reason(), CancelReason::GroupFailed);
                        count.fetch_add(1, SeqCst);
                    }
                    Ok::<(), BoxError>(out?)
                });
            }
            // Three failures at the same moment: all are reported.
            for i in 0..3 {
                tg.spawn(async move {
                    sleep(SEC).await?;
                    Err::<(), BoxError>(format!("child {i} failed").into())
                });
            }
            Ok(())
        })
        .await
        .unwrap_err();
        assert_eq!(cancelled.load(SeqCst), 10, "every sibling saw Cancelled");
        assert_eq!(error.failures().len(), 3, "{error}");
        let text = error.to_string();
        for i in 0..3 {
            assert!(text.contains(&format!("child {i} failed")), "{text}");
        }
        assert!(error.cancelled().is_none());
    });
}

#[test]
fn a_panicking_child_cancels_its_siblings_and_is_reported_with_its_payload() {
    paused().block_on(async {
        let error = task_group(|tg| async move {
            tg.spawn(async { sleep(HOUR).await });
            tg.spawn(async {
                sleep(SEC).await?;
                if true {
                    panic!("child exploded");
                }
                Ok::<(), Cancelled>(())
            });
            Ok::<(), Cancelled>(())
        })
        .await
        .unwrap_err();
        assert_eq!(error.failures().len(), 1);
        match &error.failures()[0] {
            Failure::Panic(panic) => assert_eq!(panic.panic_message(), Some("child exploded")),
            other => panic!("expected a panic, got {other:?}"),
        }
    });
}

#[test]
fn a_failing_body_cancels_the_children_and_the_single_error_helper_gives_it() {
    paused().block_on(async {
        let error = task_group(|tg| async move {
            tg.spawn(async { Ok::<(), BoxError>(sleep(HOUR).await?) });
            sleep(SEC).await?;
            Err::<(), BoxError>("body failed".into())
        })
        .await
        .unwrap_err();
        let single = error.into_single_error().unwrap();
        assert_eq!(single.to_string(), "body failed");
    });
}

#[test]
fn cancelling_the_group_scope_is_not_a_failure() {
    paused().block_on(async {
        task_group(|tg| async move {
            tg.spawn(async { sleep(HOUR).await });
            tg.spawn(async { sleep(HOUR).await });
            sleep(SEC).await?;
            tg.cancel_scope().cancel();
            Ok::<(), Cancelled>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn an_outer_cancel_goes_through_the_group_to_the_scope_that_catches_it() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let remote = outer.clone();
        let out = outer
            .run(async move {
                task_group(|tg| async move {
                    tg.spawn(async move {
                        sleep(SEC).await?;
                        remote.cancel();
                        Ok::<(), Cancelled>(())
                    });
                    tg.spawn(async { sleep(HOUR).await });
                    Ok(())
                })
                .await
            })
            .await;
        assert!(
            out.unwrap().is_none(),
            "the outer scope caught the cancellation"
        );
        assert!(outer.cancelled_caught());
    });
}

#[test]
fn nested_groups_are_cancelled_from_the_top() {
    paused().block_on(async {
        let leaves = Arc::new(AtomicUsize::new(0));
        let count = leaves.clone();
        let out = move_on_after(SEC, async move {
            task_group(|outer| async move {
                for _ in 0..3 {
                    let count = count.clone();
                    outer.spawn(async move {
                        task_group(|inner| async move {
                            for _ in 0..3 {
                                let count = count.clone();
                                inner.spawn(async move {
                                    let out = sleep(HOUR).await;
                                    count.fetch_add(out.is_err() as usize, SeqCst);
                                    out
                                });
                            }
                            Ok::<(), Cancelled>(())
                        })
                        .await
                    });
                }
                Ok(())
            })
            .await
        })
        .await;
        assert!(out.unwrap().is_none(), "the timeout caught it");
        assert_eq!(leaves.load(SeqCst), 9);
    });
}

#[test]
fn a_group_cancelled_from_another_os_thread_returns_promptly() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let scope = CancelScope::new();
    let remote = scope.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        remote.cancel();
    });
    let started = Instant::now();
    let out = rt.block_on(scope.run(task_group(|tg| async move {
        for _ in 0..100 {
            tg.spawn(async { sleep(HOUR).await });
        }
        Ok::<(), Cancelled>(())
    })));
    assert!(out.unwrap().is_none());
    assert!(started.elapsed() < Duration::from_secs(30));
    canceller.join().unwrap();
}

#[test]
fn a_child_spawned_into_a_cancelled_group_runs_and_is_cancelled_at_its_first_checkpoint() {
    paused().block_on(async {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        task_group(|tg| async move {
            tg.cancel_scope().cancel();
            tg.spawn(async move {
                flag.store(true, SeqCst);
                checkpoint().await?;
                panic!("the first checkpoint is cancelled");
                #[allow(unreachable_code)]
                Ok::<(), Cancelled>(())
            });
            Ok::<(), Cancelled>(())
        })
        .await
        .unwrap();
        assert!(ran.load(SeqCst));
    });
}

#[test]
fn spawning_after_the_group_closed_is_a_clear_error() {
    paused().block_on(async {
        let kept = Arc::new(Mutex::new(None));
        let keep = kept.clone();
        task_group(|tg| async move {
            *keep.lock().unwrap() = Some(tg.clone());
            Ok::<(), Cancelled>(())
        })
        .await
        .unwrap();
        let tg = kept.lock().unwrap().take().unwrap();
        let error = tg.try_spawn(async { Ok(()) }).unwrap_err();
        assert!(error.to_string().contains("closed"), "{error}");
    });
}

#[test]
fn children_of_a_dropped_group_future_are_cancelled() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let seen = Arc::new(AtomicBool::new(false));
    let flag = seen.clone();
    rt.block_on(async move {
        let mut group = Box::pin(task_group(|tg| async move {
            tg.spawn(async move {
                let out = sleep(HOUR).await;
                flag.store(out.is_err(), SeqCst);
                out
            });
            Ok::<(), Cancelled>(())
        }));
        // Poll it once (the child is spawned), then abandon it.
        poll_fn(|cx| {
            let _ = group.as_mut().poll(cx);
            Poll::Ready(())
        })
        .await;
        drop(group);
    });
    let until = Instant::now() + Duration::from_secs(30);
    while !seen.load(SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(seen.load(SeqCst), "the abandoned child was never cancelled");
}

#[test]
fn start_returns_the_value_the_child_passes_to_started() {
    paused().block_on(async {
        task_group(|tg| async move {
            let value = tg
                .start(
                    |status: canopy::task::TaskStatus<&'static str>| async move {
                        sleep(SEC).await?; // getting ready
                        status.started("listening");
                        sleep(SEC).await // then serving
                    },
                )
                .await
                .unwrap();
            assert_eq!(value, "listening");
            Ok::<(), Cancelled>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn a_child_failing_before_started_fails_start_not_the_group() {
    paused().block_on(async {
        task_group(|tg| async move {
            let error = tg
                .start(|_status: canopy::task::TaskStatus<()>| async move {
                    sleep(SEC).await?;
                    Err::<(), BoxError>("could not bind".into())
                })
                .await
                .unwrap_err();
            assert!(error.to_string().contains("could not bind"), "{error}");
            let error = tg
                .start(|_status: canopy::task::TaskStatus<()>| async move {
                    if true {
                        panic!("exploded while starting");
                    }
                    Ok::<(), BoxError>(())
                })
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains("exploded while starting"),
                "{error}"
            );
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn a_child_returning_without_started_is_an_error_and_failures_after_it_are_the_groups() {
    paused().block_on(async {
        let error = task_group(|tg| async move {
            let error = tg
                .start(|_status: canopy::task::TaskStatus<()>| async { Ok::<(), BoxError>(()) })
                .await
                .unwrap_err();
            assert!(
                matches!(error, canopy::task::StartError::NotStarted),
                "{error}"
            );
            tg.start(|status: canopy::task::TaskStatus<()>| async move {
                status.started(());
                sleep(SEC).await?;
                Err::<(), BoxError>("failed after starting".into())
            })
            .await
            .unwrap();
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap_err();
        assert!(
            error.to_string().contains("failed after starting"),
            "{error}"
        );
    });
}

#[test]
fn a_start_future_dropped_unpolled_leaves_the_childs_failure_to_the_group() {
    paused().block_on(async {
        let error = task_group(|tg| async move {
            drop(
                tg.start(|_status: canopy::task::TaskStatus<()>| async move {
                    sleep(SEC).await?;
                    Err::<(), BoxError>("failed before started".into())
                }),
            );
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap_err();
        assert!(
            error.to_string().contains("failed before started"),
            "{error}"
        );
    });
}

/// The other order: the child fails before `started`, handing its failure
/// to its caller, and the caller drops the `start()` future without polling
/// it again. The failure is the group's then (it was silently lost).
#[test]
fn a_start_future_dropped_after_the_child_failed_leaves_the_failure_to_the_group() {
    paused().block_on(async {
        let error = task_group(|tg| async move {
            let start = tg.start(|_status: canopy::task::TaskStatus<()>| async move {
                Err::<(), BoxError>("failed before started".into())
            });
            while tg.live_children() > 0 {
                canopy::task::yield_now().await?;
            }
            drop(start);
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap_err();
        assert!(
            error.to_string().contains("failed before started"),
            "{error}"
        );
    });
}

#[test]
fn a_start_caller_cancelled_as_the_child_fails_loses_nothing() {
    // One worker: the child cancels the caller's scope and fails in one poll.
    let rt = Runtime::builder().workers(1).build().unwrap();
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let group = rt.block_on(task_group(|tg| async move {
        let caller = CancelScope::new();
        let remote = caller.clone();
        let started = caller
            .run(async move {
                let started = tg
                    .start(move |_status: canopy::task::TaskStatus<()>| async move {
                        remote.cancel();
                        Err::<(), BoxError>("child failed".into())
                    })
                    .await;
                Ok::<_, Cancelled>(started.map_err(|e| e.to_string()))
            })
            .await;
        *record.lock().unwrap() = Some(format!("{started:?}"));
        Ok::<(), BoxError>(())
    }));
    let caller_saw = seen.lock().unwrap().take().unwrap();
    let group_saw = group.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        caller_saw.contains("child failed") || group_saw.contains("child failed"),
        "the failure was lost: caller {caller_saw}, group {group_saw:?}"
    );
}

/// Opens a group in a task of its own (so `start()` can be called from
/// outside it, as Trio's `await nursery.start(fn)` from a parent) and hands
/// back its handle; the group's body waits until `release` is sent.
type GroupTask = canopy::task::JoinHandle<Result<(), canopy::task::GroupError<Cancelled>>>;

fn open_group_elsewhere(rt: &Runtime) -> (canopy::task::TaskGroup<Cancelled>, Gate, GroupTask) {
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let release = Gate::default();
    let passed = release.passed();
    let group = rt.spawn(task_group(move |tg| async move {
        handle_tx.send(tg.clone()).unwrap();
        // Wait (not a canopy checkpoint, so not cancelled) for the release.
        passed.await;
        Ok::<(), Cancelled>(())
    }));
    (handle_rx.recv().unwrap(), release, group)
}

#[test]
fn a_starting_child_runs_under_its_callers_scope_until_it_has_started() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (tg, release, group) = open_group_elsewhere(&rt);
    let caller = CancelScope::new();
    let canceller = caller.clone();
    let child_saw = Arc::new(Mutex::new(None));
    let saw = child_saw.clone();
    let out = rt.block_on(caller.run(async {
        let start = tg.start(move |status: canopy::task::TaskStatus<()>| async move {
            // Not ready before its caller gives up.
            let waited = sleep(HOUR).await;
            *saw.lock().unwrap() = Some(waited);
            waited?;
            status.started(());
            Ok(())
        });
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            canceller.cancel(); // from another OS thread
        });
        start.await?;
        Ok::<(), canopy::task::StartError<Cancelled>>(())
    }));
    // The caller's scope caught its own cancellation (the start() error
    // carried it)...
    assert!(matches!(out, Ok(None)), "{out:?}");
    // ... which reached the starting child too (Trio: it runs in the
    // caller's scope until it has started).
    let until = Instant::now() + Duration::from_secs(30);
    let seen = loop {
        if let Some(seen) = *child_saw.lock().unwrap() {
            break seen;
        }
        assert!(
            Instant::now() < until,
            "the starting child was never cancelled"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let cancelled = seen.unwrap_err();
    assert_eq!(cancelled.scope(), caller.id());
    // The group is no party to it: no failure, no cancellation passed on.
    release.open();
    let result = rt.block_on(group).unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(!tg.cancel_scope().cancel_called());
}

#[test]
fn the_groups_cancellation_reaches_a_started_child_only_after_it_started() {
    let rt = Runtime::builder()
        .workers(2)
        .start_paused(true)
        .build()
        .unwrap();
    let (tg, release, group) = open_group_elsewhere(&rt);
    tg.cancel_scope().cancel();
    let after_started = Arc::new(Mutex::new(None));
    let after = after_started.clone();
    let start = async {
        tg.start(move |status: canopy::task::TaskStatus<u32>| async move {
            // The target group is cancelled, but the child is not in it yet.
            sleep(SEC).await?;
            checkpoint().await?;
            status.started(7);
            // Now it is: its next checkpoint sees the group's cancellation.
            let out = sleep(HOUR).await;
            *after.lock().unwrap() = Some(out);
            out
        })
        .await
    };
    let value = rt.block_on(start);
    // The group's cancellation never came back to the caller.
    assert_eq!(value.unwrap(), 7);
    release.open();
    let result = rt.block_on(group).unwrap();
    assert!(
        result.is_ok(),
        "the group caught its own cancellation: {result:?}"
    );
    let after = after_started.lock().unwrap().unwrap();
    assert_eq!(after.unwrap_err().scope(), tg.cancel_scope().id());
    assert!(tg.cancel_scope().cancelled_caught());
}

#[test]
fn try_start_on_a_closed_group_is_an_error_value() {
    paused().block_on(async {
        let mut kept = None;
        task_group(|tg| {
            kept = Some(tg.clone());
            async { Ok::<(), Cancelled>(()) }
        })
        .await
        .unwrap();
        let tg = kept.unwrap();
        assert!(tg.is_closed());
        let refused = tg.try_start(|status: canopy::task::TaskStatus<()>| async move {
            status.started(());
        });
        let error = refused
            .err()
            .expect("a closed group refuses to start a child");
        assert!(error.to_string().contains("closed"), "{error}");
    });
}

/// Dropping a group future whose children are all blocked: every child is
/// cancelled and its tree node released in O(children) in total, without
/// any thread waiting for another (measured: 20k, 40k, 80k children).
#[test]
fn dropping_a_group_with_many_blocked_children_takes_linear_time() {
    fn drop_with(children: usize) -> Duration {
        let rt = Runtime::builder().workers(2).build().unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        let finished = done.clone();
        let elapsed = rt.block_on(async move {
            let started = Arc::new(AtomicUsize::new(0));
            let counter = started.clone();
            let mut group = Box::pin(task_group(move |tg| async move {
                for _ in 0..children {
                    let counter = counter.clone();
                    let finished = finished.clone();
                    tg.spawn(async move {
                        counter.fetch_add(1, SeqCst);
                        let out = sleep(HOUR).await;
                        finished.fetch_add(1, SeqCst);
                        out
                    });
                }
                Ok::<(), Cancelled>(())
            }));
            poll_fn(|cx| {
                let _ = group.as_mut().poll(cx);
                Poll::Ready(())
            })
            .await;
            while started.load(SeqCst) < children {
                canopy::task::yield_now().await.unwrap();
            }
            let begin = Instant::now();
            drop(group);
            while done.load(SeqCst) < children {
                canopy::task::yield_now().await.unwrap();
            }
            begin.elapsed()
        });
        drop(rt);
        elapsed
    }
    let small = drop_with(20_000);
    let large = drop_with(80_000);
    // Linear: 4x the children take about 4x the time; quadratic would be
    // 16x. Generous for a noisy 2-core machine.
    assert!(
        large < small * 10 + Duration::from_millis(200),
        "20k children: {small:?}, 80k: {large:?}"
    );
}

/// A scope the starting child linked before `started` (polled under a
/// `FuturesUnordered`, so its host is the combinator's waker) stays under
/// the child's one root: once the child has joined the group, the group's
/// cancellation reaches it.
#[test]
fn a_group_cancel_reaches_a_scope_its_child_linked_before_it_started() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let saw = Arc::new(Mutex::new(None));
    let seen = saw.clone();
    let out = rt.block_on(task_group(|tg| async move {
        CancelScope::new()
            .run(async {
                tg.start(|status: canopy::task::TaskStatus<()>| async move {
                    let mut children = futures::stream::FuturesUnordered::new();
                    children.push(CancelScope::new().run(sleep(HOUR)));
                    // Polled once: the scope links, under the starting root.
                    let _ = futures::poll!(futures::StreamExt::next(&mut children));
                    status.started(());
                    let out = futures::StreamExt::next(&mut children).await;
                    *seen.lock().unwrap() = Some(matches!(out, Some(Err(_))));
                    Ok::<(), Cancelled>(())
                })
                .await
                .unwrap();
                Ok::<(), Cancelled>(())
            })
            .await?;
        sleep(Duration::from_millis(50)).await?; // the child has moved
        tg.cancel_scope().cancel();
        Ok::<(), Cancelled>(())
    }));
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(*saw.lock().unwrap(), Some(true));
}

/// A child whose `start()` future was dropped (a select went the other
/// way) joins the group, so the group's cancellation still reaches it after
/// its caller's scope ended normally (else the group would wait forever).
#[test]
fn a_child_whose_start_was_dropped_joins_the_group() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let out = rt.block_on(task_group(|tg| async move {
        CancelScope::new()
            .run(async {
                canopy::task::yield_now().await?; // linked: the child hangs below
                let starting = tg.start(|status: canopy::task::TaskStatus<()>| async move {
                    sleep(HOUR).await?;
                    status.started(());
                    Ok::<(), Cancelled>(())
                });
                drop(starting);
                Ok::<(), Cancelled>(())
            })
            .await?;
        sleep(Duration::from_millis(50)).await?;
        tg.cancel_scope().cancel();
        Ok::<(), Cancelled>(())
    }));
    assert!(
        out.is_ok(),
        "the group caught its own cancellation: {out:?}"
    );
}

#[test]
fn a_group_counts_its_live_children() {
    let rt = paused();
    rt.block_on(task_group(|tg| async move {
        assert_eq!(tg.live_children(), 0);
        for _ in 0..10 {
            tg.spawn(async { sleep(SEC).await });
        }
        assert_eq!(tg.live_children(), 10);
        sleep(2 * SEC).await?;
        assert_eq!(tg.live_children(), 0, "all finished");
        Ok::<(), Cancelled>(())
    }))
    .unwrap();
}
