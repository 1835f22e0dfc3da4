//! Cancel-scope semantics, one test (at least) per rule of DESIGN §2, on the
//! paused clock unless a test needs another OS thread to act in real time.
//!
//! Each test names the rule it checks; where canopy deliberately differs
//! from Trio the test says so.

mod common;

use canopy::time::{self, sleep};
use canopy::{
    CancelScope, Cancelled, Runtime, checkpoint, fail_after, move_on_after, move_on_at,
    scope::{
        CancelReason, EffectiveDeadline, TimedOut, cancel_shielded_checkpoint, cancellable,
        checkpoint_if_cancelled, current_effective_deadline,
    },
    task::yield_now,
};
use common::{Gate, paused, real_clock};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);
const SEC: Duration = Duration::from_secs(1);

// ---- rule 1: Cancelled is a value -----------------------------------------

#[test]
fn rule1_cancelled_composes_with_io_errors() {
    paused().block_on(async {
        let out: io::Result<Option<()>> = move_on_after(SEC, async {
            sleep(HOUR).await?; // Cancelled -> io::Error
            Ok::<(), io::Error>(())
        })
        .await;
        assert_eq!(
            out.unwrap(),
            None,
            "the timeout caught a cancellation inside io::Error"
        );
    });
}

// ---- rule 2: level-triggered ---------------------------------------------

#[test]
fn rule2_level_triggered_every_checkpoint_returns_cancelled() {
    paused().block_on(async {
        // Unfinished while the scope runs, so joining it has to wait (a
        // finished task's output would be returned: DESIGN §2.13).
        let gate = Gate::default();
        let passed = gate.passed();
        let mut other = canopy::spawn(async move {
            passed.await;
            5
        });
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                scope.cancel();
                // Right after cancel(), in the same poll, as in Trio.
                assert!(checkpoint_if_cancelled().await.is_err());
                assert!(sleep(SEC).await.is_err());
                assert!(checkpoint().await.is_err());
                assert!(yield_now().await.is_err());
                let join = (&mut other).await.unwrap_err();
                assert!(join.cancelled().is_some(), "{join}");
                // Cleanup code awaiting again: still cancelled, every time.
                for _ in 0..3 {
                    assert!(sleep(Duration::ZERO).await.is_err());
                }
                sleep(SEC).await
            })
            .await;
        assert_eq!(out, Ok(None));
        // Out of the scope, checkpoints work again.
        sleep(SEC).await.unwrap();
        gate.open();
        assert_eq!(other.await.unwrap(), 5);
    });
}

#[test]
fn rule2_a_task_blocked_in_sleep_is_woken_by_cancel() {
    let rt = paused();
    rt.block_on(async {
        let scope = CancelScope::new();
        let remote = scope.clone();
        let _helper = canopy::spawn(async move {
            sleep(SEC).await.unwrap();
            remote.cancel();
        });
        let start = time::now();
        let out = scope.run(sleep(HOUR)).await;
        assert_eq!(out, Ok(None));
        assert_eq!(
            time::now() - start,
            SEC,
            "woken at the cancel, not at the deadline"
        );
    });
}

#[test]
fn rule2_cancel_from_another_os_thread_wakes_at_once() {
    let rt = real_clock();
    let scope = CancelScope::new();
    let remote = scope.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        remote.cancel();
    });
    let started = Instant::now();
    let out = rt.block_on(scope.run(sleep(HOUR)));
    assert_eq!(out, Ok(None));
    assert!(started.elapsed() < Duration::from_secs(30));
    canceller.join().unwrap();
}

#[test]
fn rule2_cancel_propagates_into_nested_scopes_and_foreign_futures() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let remote = outer.clone();
        let _helper = canopy::spawn(async move {
            sleep(SEC).await.unwrap();
            remote.cancel();
        });
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(dropped.clone());
        let out = outer
            .run(async move {
                CancelScope::new()
                    .run(async move {
                        let _guard = guard;
                        cancellable(std::future::pending::<()>()).await
                    })
                    .await
            })
            .await;
        assert_eq!(out, Ok(None), "the outer scope catches, not the inner");
        assert!(dropped.load(SeqCst), "the foreign future was dropped");
    });
}

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

#[test]
fn rule2_a_shield_raised_in_between_lets_the_wait_go_on() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let (o, i) = (outer.clone(), inner.clone());
        let _helper = canopy::spawn(async move {
            sleep(SEC).await.unwrap();
            i.set_shield(true);
            o.cancel();
        });
        let start = time::now();
        let out = outer
            .run(async {
                inner.run(sleep(Duration::from_secs(5))).await?;
                checkpoint().await // the first checkpoint outside the shield
            })
            .await;
        assert_eq!(out, Ok(None));
        assert_eq!(
            time::now() - start,
            Duration::from_secs(5),
            "the shielded sleep finished"
        );
    });
}

// ---- rule 3: effective cancellation, shields -----------------------------

#[test]
fn rule3_shielded_scope_in_a_cancelled_one_completes_then_next_checkpoint_is_cancelled() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let out = outer
            .run(async {
                outer.cancel();
                let cleanup = CancelScope::new()
                    .with_shield(true)
                    .run(async {
                        sleep(SEC).await?;
                        checkpoint().await?;
                        Ok::<_, Cancelled>("flushed")
                    })
                    .await?;
                assert_eq!(cleanup, Some("flushed"));
                let after = checkpoint().await;
                assert!(after.is_err());
                after
            })
            .await;
        assert_eq!(out, Ok(None));
    });
}

#[test]
fn rule3_a_shielded_scope_can_be_cancelled_itself() {
    paused().block_on(async {
        let shielded = CancelScope::new().with_shield(true);
        let out = shielded
            .run(async {
                shielded.cancel();
                sleep(SEC).await
            })
            .await;
        assert_eq!(out, Ok(None));
        assert!(shielded.cancelled_caught());
        // Its own deadline too.
        let shielded = CancelScope::new()
            .with_shield(true)
            .with_deadline(time::now() + SEC);
        assert_eq!(shielded.run(sleep(HOUR)).await, Ok(None));
        assert_eq!(shielded.cancel_reason(), Some(CancelReason::Deadline));
    });
}

#[test]
fn rule3_toggling_the_shield_while_inside() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let out = outer
            .run(async {
                inner
                    .run(async {
                        outer.cancel();
                        assert!(checkpoint().await.is_err());
                        inner.set_shield(true);
                        checkpoint().await.unwrap();
                        sleep(SEC).await.unwrap();
                        inner.set_shield(false);
                        assert!(checkpoint_if_cancelled().await.is_err());
                        sleep(SEC).await
                    })
                    .await
            })
            .await;
        assert_eq!(out, Ok(None), "the outer scope catches");
        assert!(!inner.cancelled_caught());
        assert!(outer.cancelled_caught());
    });
}

#[test]
fn rule3_removing_a_shield_wakes_the_tasks_blocked_below_at_once() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let shield = CancelScope::new().with_shield(true);
        let remote = shield.clone();
        let _helper = canopy::spawn(async move {
            sleep(SEC).await.unwrap();
            remote.set_shield(false);
        });
        let start = time::now();
        let out = outer
            .run(async {
                outer.cancel();
                shield.run(sleep(HOUR)).await
            })
            .await;
        assert_eq!(out, Ok(None));
        assert_eq!(time::now() - start, SEC);
    });
}

// ---- rule 4: which scope catches -----------------------------------------

#[test]
fn rule4_the_outermost_cancelled_scope_catches() {
    paused().block_on(async {
        let (a, b, c) = (CancelScope::new(), CancelScope::new(), CancelScope::new());
        let out = a
            .run(async {
                let out_b = b
                    .run(async {
                        let out_c = c
                            .run(async {
                                c.cancel();
                                b.cancel();
                                sleep(SEC).await
                            })
                            .await;
                        assert!(out_c.is_err(), "c is cancelled but b's cancel is visible");
                        out_c
                    })
                    .await;
                assert_eq!(out_b, Ok(None), "b caught it");
                sleep(SEC).await
            })
            .await;
        assert_eq!(out, Ok(Some(())));
        assert!(c.cancel_called() && !c.cancelled_caught());
        assert!(b.cancel_called() && b.cancelled_caught());
        assert!(!a.cancel_called() && !a.cancelled_caught());
    });
}

#[test]
fn rule4_a_shield_makes_the_inner_cancelled_scope_the_catcher() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let inner = CancelScope::new().with_shield(true);
        let out = outer
            .run(async {
                outer.cancel();
                let caught = inner
                    .run(async {
                        inner.cancel();
                        sleep(SEC).await
                    })
                    .await;
                assert_eq!(caught, Ok(None));
                checkpoint().await
            })
            .await;
        assert_eq!(out, Ok(None));
        assert!(inner.cancelled_caught() && outer.cancelled_caught());
    });
}

#[test]
fn rule4_cancel_called_is_true_once_the_deadline_passed_before_any_timer_fired() {
    paused().block_on(async {
        let scope = CancelScope::new().with_deadline(time::now() + SEC);
        assert!(!scope.cancel_called());
        time::advance(SEC); // moves the clock; scope not entered, nothing armed
        assert!(scope.cancel_called());
        assert_eq!(scope.cancel_reason(), Some(CancelReason::Deadline));
        // Entered now, its first checkpoint is cancelled.
        assert_eq!(scope.run(checkpoint()).await, Ok(None));
    });
}

#[test]
fn rule4_a_scope_with_no_checkpoint_completes_normally_even_when_cancelled() {
    paused().block_on(async {
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                scope.cancel();
                Ok::<_, Cancelled>(1 + 1)
            })
            .await;
        assert_eq!(out, Ok(Some(2)));
        assert!(scope.cancel_called() && !scope.cancelled_caught());
    });
}

#[test]
fn rule4_errors_that_are_not_cancellations_always_go_through() {
    paused().block_on(async {
        let scope = CancelScope::new();
        let out: io::Result<Option<()>> = scope
            .run(async {
                scope.cancel();
                Err(io::Error::other("disk on fire"))
            })
            .await;
        assert_eq!(out.unwrap_err().to_string(), "disk on fire");
        assert!(!scope.cancelled_caught());
    });
}

// ---- rule 5: scopes are handles -------------------------------------------

#[test]
fn rule5_pre_cancel_before_entering() {
    paused().block_on(async {
        let scope = CancelScope::new();
        scope.cancel();
        let reached = AtomicBool::new(false);
        let out = scope
            .run(async {
                reached.store(true, SeqCst);
                checkpoint_if_cancelled().await?;
                unreachable!("the first checkpoint is cancelled");
            })
            .await;
        assert_eq!(out, Ok::<Option<()>, Cancelled>(None));
        assert!(
            reached.load(SeqCst),
            "the body runs up to its first checkpoint"
        );
    });
}

#[test]
fn rule5_cancel_after_exit_has_no_effect() {
    paused().block_on(async {
        let scope = CancelScope::new();
        assert_eq!(scope.run(checkpoint()).await, Ok(Some(())));
        scope.cancel();
        assert!(scope.cancel_called() && !scope.cancelled_caught() && scope.has_exited());
        checkpoint().await.unwrap();
    });
}

#[test]
#[should_panic(expected = "CancelScope entered twice")]
fn rule5_entering_a_scope_twice_is_a_clear_error() {
    paused().block_on(async {
        let scope = CancelScope::new();
        scope.run(checkpoint()).await.unwrap();
        let _ = scope.run(checkpoint()).await;
    });
}

#[test]
fn rule5_deadline_moved_later_earlier_past_and_removed_from_another_task() {
    let rt = paused();
    rt.block_on(async {
        // Later.
        let scope = CancelScope::new().with_deadline(time::now() + SEC);
        let start = time::now();
        let remote = scope.clone();
        let _helper =
            canopy::spawn(async move { remote.set_deadline(Some(time::now() + 10 * SEC)) });
        assert_eq!(scope.run(sleep(HOUR)).await, Ok(None));
        assert_eq!(time::now() - start, 10 * SEC);

        // Earlier, from inside a running scope.
        let scope = CancelScope::new().with_deadline(time::now() + HOUR);
        let start = time::now();
        let remote = scope.clone();
        let _helper = canopy::spawn(async move {
            sleep(SEC).await.unwrap();
            remote.set_deadline(Some(time::now() + SEC));
        });
        assert_eq!(scope.run(sleep(10 * HOUR)).await, Ok(None));
        assert_eq!(time::now() - start, 2 * SEC);

        // Into the past: cancels at once.
        let scope = CancelScope::new().with_deadline(time::now() + HOUR);
        let start = time::now();
        let remote = scope.clone();
        let _helper = canopy::spawn(async move {
            sleep(SEC).await.unwrap();
            remote.set_deadline(Some(start));
        });
        assert_eq!(scope.run(sleep(10 * HOUR)).await, Ok(None));
        assert_eq!(time::now() - start, SEC);

        // Removed: the body runs to completion.
        let scope = CancelScope::new().with_deadline(time::now() + SEC);
        let remote = scope.clone();
        let _helper = canopy::spawn(async move { remote.set_deadline(None) });
        let start = time::now();
        assert_eq!(scope.run(sleep(HOUR)).await, Ok(Some(())));
        assert_eq!(time::now() - start, HOUR);
        assert!(!scope.cancel_called());
    });
}

#[test]
fn rule5_deadline_moved_from_another_os_thread() {
    let rt = real_clock();
    let scope = CancelScope::new().with_deadline(Instant::now() + HOUR);
    let remote = scope.clone();
    let mover = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        remote.set_deadline(Some(Instant::now() + Duration::from_millis(10)));
    });
    let started = Instant::now();
    assert_eq!(rt.block_on(scope.run(sleep(HOUR))), Ok(None));
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Deadline));
    mover.join().unwrap();

    // Removed from another thread: the body runs to its end.
    let scope = CancelScope::new().with_deadline(Instant::now() + Duration::from_millis(30));
    let remote = scope.clone();
    thread_call(move || remote.set_deadline(None));
    let out = rt.block_on(scope.run(sleep(Duration::from_millis(60))));
    assert_eq!(out, Ok(Some(())));

    // Moved into the past from another thread: cancels at once.
    let scope = CancelScope::new().with_deadline(Instant::now() + HOUR);
    let remote = scope.clone();
    let mover = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        remote.set_deadline(Some(
            Instant::now().checked_sub(SEC).unwrap_or_else(Instant::now),
        ));
    });
    let started = Instant::now();
    assert_eq!(rt.block_on(scope.run(sleep(HOUR))), Ok(None));
    assert!(started.elapsed() < Duration::from_secs(30));
    mover.join().unwrap();
}

fn thread_call(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().unwrap();
}

// ---- rule 6: deadlines nest ------------------------------------------------

#[test]
fn rule6_current_effective_deadline_through_nesting_shields_and_cancellation() {
    paused().block_on(async {
        assert_eq!(current_effective_deadline(), EffectiveDeadline::None);
        let t0 = time::now();
        let outer = CancelScope::new().with_deadline(t0 + 10 * SEC);
        outer
            .run(async {
                assert_eq!(
                    current_effective_deadline(),
                    EffectiveDeadline::At(t0 + 10 * SEC)
                );
                move_on_after(HOUR, async {
                    assert_eq!(
                        current_effective_deadline(),
                        EffectiveDeadline::At(t0 + 10 * SEC)
                    );
                    move_on_after(SEC, async {
                        assert_eq!(
                            current_effective_deadline(),
                            EffectiveDeadline::At(t0 + SEC)
                        );
                        Ok::<_, Cancelled>(())
                    })
                    .await?;
                    let shielded = CancelScope::new()
                        .with_shield(true)
                        .with_deadline(t0 + 20 * SEC);
                    shielded
                        .run(async {
                            assert_eq!(
                                current_effective_deadline(),
                                EffectiveDeadline::At(t0 + 20 * SEC)
                            );
                            CancelScope::new()
                                .run(async {
                                    assert_eq!(
                                        current_effective_deadline(),
                                        EffectiveDeadline::At(t0 + 20 * SEC),
                                        "the shield hides the outer deadlines"
                                    );
                                    Ok::<_, Cancelled>(())
                                })
                                .await
                        })
                        .await?;
                    Ok::<_, Cancelled>(())
                })
                .await?;
                outer.cancel();
                assert_eq!(
                    current_effective_deadline(),
                    EffectiveDeadline::Cancelled,
                    "a cancelled scope reports Cancelled, not a deadline"
                );
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
    });
}

// ---- rule 7: timeouts -------------------------------------------------------

#[test]
fn rule7_move_on_gives_none_and_fail_gives_timed_out() {
    paused().block_on(async {
        let start = time::now();
        assert_eq!(move_on_after(SEC, sleep(HOUR)).await, Ok(None));
        assert_eq!(move_on_at(start + 2 * SEC, sleep(HOUR)).await, Ok(None));
        assert_eq!(time::now() - start, 2 * SEC);
        assert_eq!(
            move_on_after(HOUR, async { Ok::<_, Cancelled>(7) }).await,
            Ok(Some(7))
        );

        let err = fail_after(SEC, async {
            sleep(HOUR).await?;
            Ok::<(), io::Error>(())
        })
        .await
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.get_ref().unwrap().is::<TimedOut>());
    });
}

#[test]
fn rule7_fail_after_under_an_outer_cancel_is_not_a_timeout() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let out = outer
            .run(async {
                outer.cancel();
                let inner = fail_after(SEC, async {
                    sleep(HOUR).await?;
                    Ok::<(), io::Error>(())
                })
                .await;
                let err = inner.unwrap_err();
                assert_ne!(err.kind(), io::ErrorKind::TimedOut);
                assert!(Cancelled::find_in_io(&err).is_some());
                Err::<(), _>(err)
            })
            .await;
        assert!(out.unwrap().is_none(), "the outer scope caught it");
    });
}

#[test]
fn rule7_an_explicit_cancel_of_a_failing_scope_exits_like_move_on() {
    paused().block_on(async {
        let scope = CancelScope::new().with_deadline(time::now() + HOUR);
        let out: io::Result<Option<()>> = scope
            .run_or_fail(async {
                scope.cancel();
                sleep(SEC).await?;
                Ok(())
            })
            .await;
        assert_eq!(
            out.unwrap(),
            None,
            "no TimedOut for an explicit cancel (AnyIO, trio#698)"
        );
        let scope = CancelScope::new().with_deadline(time::now() + SEC);
        let out: io::Result<Option<()>> = scope.run_or_fail(async { Ok(sleep(HOUR).await?) }).await;
        assert_eq!(out.unwrap_err().kind(), io::ErrorKind::TimedOut);
    });
}

#[test]
fn rule7_the_clock_of_a_timeout_starts_at_its_first_poll() {
    paused().block_on(async {
        let timeout = move_on_after(10 * SEC, sleep(5 * SEC));
        sleep(HOUR).await.unwrap(); // created long before it is awaited
        assert_eq!(timeout.await, Ok(Some(())));
    });
}

#[test]
fn rule7_a_timeout_around_ready_work_arms_no_timer() {
    let rt = paused();
    rt.block_on(async {
        for _ in 0..1000 {
            let out = move_on_after(SEC, async { Ok::<_, Cancelled>(1) }).await;
            assert_eq!(out, Ok(Some(1)));
        }
    });
    assert_eq!(rt.metrics().armed_timers, 0);
    rt.block_on(async {
        let out = move_on_after(SEC, async {
            yield_now().await?; // waits once
            Ok::<_, Cancelled>(1)
        })
        .await;
        assert_eq!(out, Ok(Some(1)));
    });
    assert_eq!(rt.metrics().armed_timers, 0, "disarmed at exit");
}

// ---- rule 8: checkpoints ------------------------------------------------------

#[test]
fn rule8_cancel_shielded_checkpoint_yields_but_is_never_cancelled() {
    paused().block_on(async {
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                scope.cancel();
                cancel_shielded_checkpoint().await;
                checkpoint_if_cancelled().await
            })
            .await;
        assert_eq!(out, Ok(None));
    });
}

#[test]
fn rule8_awaiting_a_join_handle_tells_the_awaiters_cancellation_from_the_tasks() {
    paused().block_on(async {
        // The task itself cancelled: its own output.
        let task = canopy::spawn(move_on_after(SEC, sleep(HOUR)));
        assert_eq!(task.await.unwrap(), Ok(None));
        let task = canopy::spawn(async {
            let scope = CancelScope::new();
            scope.cancel();
            let mut seen = None;
            let _ = scope
                .run(async {
                    seen = checkpoint().await.err();
                    Ok::<_, Cancelled>(())
                })
                .await;
            seen
        });
        let own = task
            .await
            .expect("no JoinError: the awaiter was not cancelled");
        assert!(
            own.is_some(),
            "the task's own Cancelled comes back as its output"
        );

        // The awaiter cancelled: a JoinError, and the task runs on.
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let mut task = canopy::spawn(async move {
            sleep(10 * SEC).await.unwrap();
            flag.store(true, SeqCst);
        });
        let out = move_on_after(SEC, async { (&mut task).await }).await;
        assert!(
            out.unwrap().is_none(),
            "the timeout caught the awaiter's cancellation"
        );
        task.await.unwrap();
        assert!(finished.load(SeqCst));
    });
}

#[test]
fn rule8_a_checkpoint_yields_to_other_tasks() {
    let rt = Runtime::builder()
        .workers(1)
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let gate = Gate::default();
        let opener = gate.clone();
        let _helper = canopy::spawn(async move {
            flag.store(true, SeqCst);
            opener.open();
        });
        gate.passed().await;
        checkpoint().await.unwrap();
        assert!(ran.load(SeqCst));
    });
}

// ---- rule 12: Cancelled explains itself ---------------------------------------

#[test]
fn rule12_cancelled_tells_reason_origin_and_location() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let err = outer
            .run(async {
                CancelScope::new()
                    .run(async {
                        outer.cancel();
                        let line = line!() + 1;
                        let err = sleep(SEC).await.unwrap_err();
                        assert_eq!(err.location().line(), line);
                        assert!(err.location().file().ends_with("scope_semantics.rs"));
                        Err::<(), _>(err)
                    })
                    .await
            })
            .await;
        assert_eq!(err, Ok(None));
        let deadline = CancelScope::new().with_deadline(time::now() + SEC);
        let err = deadline
            .run(async {
                let err = sleep(HOUR).await.unwrap_err();
                assert_eq!(err.reason(), CancelReason::Deadline);
                assert_eq!(err.scope(), deadline.id());
                let text = err.to_string();
                assert!(
                    text.contains("deadline") && text.contains(&deadline.id().to_string()),
                    "{text}"
                );
                Err::<(), _>(err)
            })
            .await;
        assert_eq!(err, Ok(None));
        let explicit = CancelScope::new();
        explicit.cancel();
        let _ = explicit
            .run(async {
                let err = checkpoint().await.unwrap_err();
                assert_eq!(err.reason(), CancelReason::Explicit);
                assert_eq!(err.scope(), explicit.id());
                Err::<(), _>(err)
            })
            .await;
    });
}

#[test]
fn rule2_cancelling_one_scope_with_100k_tasks_blocked_under_it_returns_them_all() {
    const TASKS: usize = 100_000;
    let rt = paused();
    rt.block_on(async {
        let outer = CancelScope::new();
        let remote = outer.clone();
        let cancelled = Arc::new(AtomicUsize::new(0));
        let counter = cancelled.clone();
        let start = time::now();
        let out = outer
            .run(async move {
                canopy::task_group(|tg| async move {
                    for _ in 0..TASKS {
                        let counter = counter.clone();
                        tg.spawn(async move {
                            let out = sleep(HOUR).await;
                            if out.is_err() {
                                counter.fetch_add(1, SeqCst);
                            }
                            out
                        });
                    }
                    tg.spawn(async move {
                        sleep(SEC).await?;
                        remote.cancel();
                        Ok(())
                    });
                    Ok::<(), Cancelled>(())
                })
                .await
            })
            .await;
        assert!(
            out.unwrap().is_none(),
            "the outer scope caught the cancellation"
        );
        assert_eq!(cancelled.load(SeqCst), TASKS);
        assert_eq!(time::now() - start, SEC);
    });
    let metrics = rt.metrics();
    assert!(
        metrics.workers.iter().all(|w| w.polls > 0),
        "both workers ran tasks"
    );
    assert_eq!(metrics.armed_timers, 0);
}

// ---- robustness ---------------------------------------------------------------

#[test]
fn a_panic_inside_a_scope_leaves_the_tree_consistent() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let remote = outer.clone();
        let _helper = canopy::spawn(async move {
            sleep(2 * SEC).await.unwrap();
            remote.cancel();
        });
        let out = outer
            .run(async {
                // A child scope that panicked while linked (it was waiting).
                let panicked = std::panic::AssertUnwindSafe(CancelScope::new().run(async {
                    sleep(SEC).await?;
                    panic!("boom");
                    #[allow(unreachable_code)]
                    Ok::<(), Cancelled>(())
                }));
                let caught = futures_lite::FutureExt::catch_unwind(panicked).await;
                assert!(caught.is_err());
                // The tree still delivers the outer cancel to a new child.
                CancelScope::new().run(sleep(HOUR)).await
            })
            .await;
        assert_eq!(out, Ok(None));
    });
}

#[test]
fn many_scopes_entered_and_left_under_one_parent_from_many_tasks() {
    let rt = paused();
    rt.block_on(async {
        let done = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let done = done.clone();
                canopy::spawn(async move {
                    for _ in 0..50 {
                        move_on_after(
                            Duration::from_millis(i % 7),
                            sleep(Duration::from_millis(3)),
                        )
                        .await
                        .unwrap();
                    }
                    done.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        assert_eq!(done.load(SeqCst), 200);
    });
    assert_eq!(rt.metrics().armed_timers, 0);
}

#[test]
fn a_deadline_on_a_task_root_scope_fires() {
    let rt = real_clock();
    let out = rt.block_on(async {
        let parent = CancelScope::new();
        parent
            .run(async {
                let root = canopy_scope::rt::TaskScope::new(&parent);
                root.scope()
                    .set_deadline(Some(time::now() + Duration::from_millis(20)));
                let mut body = Box::pin(sleep(Duration::from_secs(30)));
                let start = Instant::now();
                let out = std::future::poll_fn(|cx| root.poll(body.as_mut(), cx)).await;
                Ok::<_, Cancelled>((out, start.elapsed()))
            })
            .await
    });
    let (out, elapsed) = out.unwrap().unwrap();
    assert_eq!(out.unwrap_err().reason(), CancelReason::Deadline);
    assert!(
        elapsed < Duration::from_secs(20),
        "deadline ignored: {elapsed:?}"
    );
}

#[test]
fn rule8_a_loop_of_failing_checkpoints_still_yields_and_sees_an_outer_cancel() {
    // One worker: the canceller can only run if the looping task yields.
    let rt = Runtime::builder().workers(1).build().unwrap();
    rt.block_on(async {
        let outer = CancelScope::new();
        let remote = outer.clone();
        let out = outer
            .run(canopy::task_group(|tg| async move {
                tg.spawn(async {
                    loop {
                        // Its own zero timeout makes every checkpoint fail at
                        // once, without waiting.
                        move_on_after(Duration::ZERO, checkpoint()).await?;
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), Cancelled>(())
                });
                tg.spawn(async move {
                    remote.cancel();
                    Ok::<(), Cancelled>(())
                });
                Ok::<(), Cancelled>(())
            }))
            .await;
        assert!(
            out.unwrap().is_none(),
            "the loop saw the outer cancel and ended"
        );
    });
}

#[test]
fn a_relative_deadline_starts_when_the_scope_is_entered() {
    let rt = paused();
    rt.block_on(async {
        let scope = CancelScope::new().with_relative_deadline(Duration::from_secs(5));
        assert_eq!(scope.deadline(), None, "no deadline before entry");
        sleep(Duration::from_secs(60)).await?;
        let entered = time::now();
        let watched = scope.clone();
        let out = scope
            .run(async move {
                assert_eq!(watched.deadline(), Some(entered + Duration::from_secs(5)));
                sleep(Duration::from_secs(3600)).await
            })
            .await;
        assert_eq!(out, Ok(None));
        assert_eq!(time::now() - entered, Duration::from_secs(5));
        // Zero: cancelled at entry; an earlier absolute deadline wins.
        let zero = CancelScope::new().with_relative_deadline(Duration::ZERO);
        assert_eq!(zero.run(checkpoint_if_cancelled()).await, Ok(None));
        let earlier = CancelScope::new()
            .with_deadline(time::now() + Duration::from_secs(1))
            .with_relative_deadline(Duration::from_secs(10));
        let start = time::now();
        assert_eq!(
            earlier.run(sleep(Duration::from_secs(3600))).await,
            Ok(None)
        );
        assert_eq!(time::now() - start, Duration::from_secs(1));
        Ok::<(), Cancelled>(())
    })
    .unwrap();
}
