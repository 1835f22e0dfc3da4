//! Trio's own cancellation, timeout, nursery and sync tests, in our words.
//!
//! Each test names the Trio test it mirrors (`trio/_core/_tests/test_run.py`,
//! `trio/_tests/test_timeouts.py`, `trio/_tests/test_sync.py`) and checks
//! the same behaviour through canopy's API. Where canopy deliberately
//! differs (the table at the end of `docs/guide/cancellation.md`), the test
//! says so under "Difference:" and checks canopy's side of it.
//!
//! All run on a paused clock (time moves only when every task waits), so
//! virtual times are exact.

mod common;

use canopy::sync::{CapacityLimiter, Condition, Event, Mutex, Semaphore};
use canopy::time::{now, sleep, sleep_until};
use canopy::{
    CancelScope, Cancelled, checkpoint, fail_after, fail_at, move_on_after, move_on_at,
    scope::{
        CancelReason, EffectiveDeadline, TimedOut, cancel_shielded_checkpoint,
        checkpoint_if_cancelled, current_effective_deadline,
    },
    task::{Failure, StartError, TaskStatus},
    task_group,
};
use common::paused;
use std::io;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SEC: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------- test_run.py

/// `test_cancel_points`: in a cancelled scope `checkpoint_if_cancelled` and
/// `checkpoint` raise, every time (level-triggered), and a
/// `cancel_shielded_checkpoint` does not.
/// Difference: cancellation is the value `Err(Cancelled)`, not an exception.
#[test]
fn cancel_points() {
    paused().block_on(async {
        let scope = CancelScope::new();
        scope.cancel();
        let seen = scope
            .run(async {
                let mut errors = 0;
                for _ in 0..3 {
                    errors += usize::from(checkpoint_if_cancelled().await.is_err());
                    errors += usize::from(checkpoint().await.is_err());
                    cancel_shielded_checkpoint().await;
                }
                Ok::<_, Cancelled>(errors)
            })
            .await;
        assert_eq!(seen, Ok(Some(6)));
        assert!(scope.cancel_called());
        assert!(!scope.cancelled_caught(), "the body ended with Ok");
    });
}

/// `test_cancel_edge_cases`: a scope cancelled before it is entered raises
/// at its first checkpoint and catches it; leaving a cancelled scope without
/// reaching a checkpoint catches nothing.
#[test]
fn cancel_before_entry_and_a_body_without_checkpoints() {
    paused().block_on(async {
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope
            .run(async {
                sleep(SEC).await?;
                Ok::<_, Cancelled>(())
            })
            .await;
        assert_eq!(out, Ok(None));
        assert!(scope.cancelled_caught());

        let quiet = CancelScope::new();
        let inner = quiet.clone();
        let out = quiet
            .run(async move {
                inner.cancel();
                Ok::<_, Cancelled>(42) // no checkpoint after the cancel
            })
            .await;
        assert_eq!(out, Ok(Some(42)));
        assert!(quiet.cancel_called());
        assert!(!quiet.cancelled_caught());
    });
}

/// `test_cancel_shielding`: a shield keeps an outer cancellation out; once
/// lowered, the next checkpoint raises and the outer scope catches it.
#[test]
fn cancel_shielding() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let shield = CancelScope::new().with_shield(true);
        let (o, s) = (outer.clone(), shield.clone());
        let out = outer
            .run(async move {
                o.cancel();
                let inner = s
                    .run(async {
                        checkpoint().await?; // shielded: passes
                        s.set_shield(false);
                        checkpoint().await // now raises, for the outer scope
                    })
                    .await;
                let c = inner.unwrap_err();
                assert_eq!(c.scope(), o.id());
                Err::<(), _>(c)
            })
            .await;
        assert_eq!(out, Ok(None));
        assert!(outer.cancelled_caught());
        assert!(!shield.cancelled_caught());
        assert!(!shield.cancel_called());
    });
}

/// `test_cancel_shield_abort`: a task sleeping in a shielded scope sleeps on
/// through an outer cancellation, and is woken at the moment the shield is
/// lowered.
#[test]
fn lowering_a_shield_wakes_a_sleeper_at_once() {
    paused().block_on(async {
        let start = now();
        let outer = CancelScope::new();
        let shield = CancelScope::new().with_shield(true);
        let (o, s) = (outer.clone(), shield.clone());
        canopy::spawn_detached(async move {
            sleep(SEC).await?;
            o.cancel();
            sleep(SEC).await?;
            s.set_shield(false);
            Ok::<_, Cancelled>(())
        });
        let shield2 = shield.clone();
        let out = outer
            .run(async move { shield2.run(sleep(3600 * SEC)).await })
            .await;
        assert_eq!(out, Ok(None), "the outer scope caught it");
        assert_eq!(now() - start, 2 * SEC, "woken when the shield went down");
    });
}

/// `test_cancel_inheritance` / `test_nested_cancel`: inside a cancelled
/// scope, a fresh nested scope is cancelled too, and it is the outer scope
/// (the outermost cancelled one) that catches.
#[test]
fn nested_scopes_inherit_and_the_outermost_cancelled_catches() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let (o, i) = (outer.clone(), inner.clone());
        let out = outer
            .run(async move {
                o.cancel();
                i.cancel();
                let r = i.run(checkpoint()).await;
                let c = r.unwrap_err();
                assert_eq!(c.scope(), o.id(), "Cancelled names the catching scope");
                Err::<(), _>(c)
            })
            .await;
        assert_eq!(out, Ok(None));
        assert!(outer.cancelled_caught());
        assert!(inner.cancel_called());
        assert!(
            !inner.cancelled_caught(),
            "its parent's cancellation was visible"
        );
    });
}

/// `test_cancel_scope_nesting`: an inner scope catches its own cancellation
/// and the outer goes on untouched.
#[test]
fn an_inner_scope_catches_its_own_cancellation() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let out = outer
            .run(async {
                let inner = CancelScope::new();
                let i = inner.clone();
                let r = inner
                    .run(async move {
                        i.cancel();
                        checkpoint().await
                    })
                    .await;
                assert_eq!(r, Ok(None));
                assert!(inner.cancelled_caught());
                checkpoint().await?; // the outer scope is not cancelled
                Ok::<_, Cancelled>("went on")
            })
            .await;
        assert_eq!(out, Ok(Some("went on")));
        assert!(!outer.cancel_called());
    });
}

/// `test_cancel_unbound`: `cancel()` after exit does nothing but set
/// `cancel_called`; a scope is entered once.
/// Difference: entering a scope twice panics at the second `run`'s first
/// poll (Trio raises `RuntimeError`).
#[test]
fn cancel_after_exit_and_entering_twice() {
    let rt = paused();
    let scope = CancelScope::new();
    rt.block_on(async {
        assert_eq!(scope.run(checkpoint()).await, Ok(Some(())));
        scope.cancel();
        assert!(scope.cancel_called());
        assert!(!scope.cancelled_caught());
    });
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(scope.run(checkpoint()))
    }));
    assert!(again.is_err(), "a scope is entered once");
}

/// `test_basic_timeout`: a deadline cancels a sleeper when it passes;
/// moving it earlier while sleeping wakes the sleeper at the new deadline;
/// moving it back later afterwards does not undo `cancel_called`.
#[test]
fn deadlines_moved_while_waiting() {
    paused().block_on(async {
        let start = now();
        let scope = CancelScope::new().with_deadline(start + 10 * SEC);
        let mover = scope.clone();
        canopy::spawn_detached(async move {
            sleep(2 * SEC).await?;
            mover.set_deadline(Some(start + 5 * SEC));
            Ok::<_, Cancelled>(())
        });
        let out = scope.run(sleep(3600 * SEC)).await;
        assert_eq!(out, Ok(None));
        assert_eq!(now() - start, 5 * SEC);
        scope.set_deadline(Some(start + 3600 * SEC));
        assert!(scope.cancel_called(), "once true it stays true");
        assert!(scope.cancelled_caught());
    });
}

/// `test_basic_timeout` (the deadline-in-the-past part): setting a deadline
/// in the past cancels at once; removing the deadline keeps the scope
/// cancelled.
#[test]
fn a_deadline_moved_into_the_past_cancels_at_once() {
    paused().block_on(async {
        let start = now();
        let scope = CancelScope::new();
        let s = scope.clone();
        let out = scope
            .run(async move {
                sleep(SEC).await?;
                s.set_deadline(Some(start));
                let first = checkpoint_if_cancelled().await;
                assert_eq!(first.unwrap_err().reason(), CancelReason::Deadline);
                s.set_deadline(None);
                checkpoint().await // still cancelled
            })
            .await;
        assert_eq!(out, Ok(None));
    });
}

/// `test_current_effective_deadline` (and `test_cancel_scope_deadline`):
/// the earliest deadline up to the nearest shield; `None` when there is
/// none; an already cancelled scope reports that it is cancelled.
/// Difference: Trio reports `inf`/`-inf`, canopy `None`/`Cancelled` (whose
/// `instant()` is in the past).
#[test]
fn current_effective_deadline_nests_and_stops_at_shields() {
    paused().block_on(async {
        let start = now();
        assert_eq!(current_effective_deadline(), EffectiveDeadline::None);
        move_on_after(5 * SEC, async {
            assert_eq!(
                current_effective_deadline(),
                EffectiveDeadline::At(start + 5 * SEC)
            );
            move_on_after(60 * SEC, async {
                assert_eq!(
                    current_effective_deadline(),
                    EffectiveDeadline::At(start + 5 * SEC)
                );
                Ok::<_, Cancelled>(())
            })
            .await?;
            let shield = CancelScope::new().with_shield(true);
            shield
                .run(async {
                    assert_eq!(current_effective_deadline(), EffectiveDeadline::None);
                    Ok::<_, Cancelled>(())
                })
                .await?;
            let cancelled = CancelScope::new();
            cancelled.cancel();
            cancelled
                .run(async {
                    let d = current_effective_deadline();
                    assert_eq!(d, EffectiveDeadline::Cancelled);
                    assert!(d.instant().unwrap() <= now(), "its instant is past");
                    Ok::<_, Cancelled>(())
                })
                .await?;
            Ok::<_, Cancelled>(())
        })
        .await
        .unwrap();
    });
}

/// `test_cancel_scope_deadline_duplicates`: scopes sharing one deadline all
/// fire; the outermost of them catches.
#[test]
fn scopes_sharing_a_deadline_all_fire() {
    paused().block_on(async {
        let at = now() + SEC;
        let scopes: Vec<CancelScope> = (0..3)
            .map(|_| CancelScope::new().with_deadline(at))
            .collect();
        let (a, b, c) = (scopes[0].clone(), scopes[1].clone(), scopes[2].clone());
        let out = a
            .run(async move { b.run(async move { c.run(sleep(3600 * SEC)).await }).await })
            .await;
        assert_eq!(out, Ok(None));
        assert!(scopes.iter().all(CancelScope::cancel_called));
        let caught: Vec<bool> = scopes.iter().map(CancelScope::cancelled_caught).collect();
        assert_eq!(caught, [true, false, false]);
        assert_eq!(now(), at);
    });
}

/// `test_yield_briefly_checks_for_timeout`: a checkpoint sees a deadline
/// that passed on the clock even before its timer fired.
#[test]
fn a_checkpoint_sees_a_passed_deadline_at_once() {
    paused().block_on(async {
        let scope = CancelScope::new().with_deadline(now() + SEC);
        let s = scope.clone();
        let out = scope
            .run(async move {
                // A CPU loop that never waits, while the clock moves on.
                canopy::time::advance(2 * SEC);
                assert!(s.cancel_called(), "true as soon as the deadline passed");
                let r = checkpoint_if_cancelled().await;
                assert_eq!(r.map_err(|c| c.reason()), Err(CancelReason::Deadline));
                r
            })
            .await;
        assert_eq!(out, Ok(None));
    });
}

/// `test_precancelled_task`: a task started inside an already cancelled
/// scope runs until its first checkpoint, which raises.
#[test]
fn a_task_spawned_into_a_cancelled_group_runs_to_its_first_checkpoint() {
    paused().block_on(async {
        let ran = Arc::new(StdMutex::new(Vec::new()));
        let log = ran.clone();
        let out = task_group(|tg| async move {
            tg.cancel_scope().cancel();
            tg.spawn(async move {
                log.lock().unwrap().push("ran");
                let r = checkpoint().await;
                log.lock()
                    .unwrap()
                    .push(if r.is_err() { "cancelled" } else { "passed" });
                r
            });
            Ok::<(), Cancelled>(())
        })
        .await;
        assert!(out.is_ok(), "the group caught its own cancellation");
        assert_eq!(*ran.lock().unwrap(), ["ran", "cancelled"]);
    });
}

/// `test_nursery_cancel` / `test_nursery_exception_chaining`: the first
/// failure cancels the siblings; every failure is reported.
/// Difference: failures come back as a `GroupError` listing each (Trio: an
/// `ExceptionGroup`).
#[test]
fn a_failing_child_cancels_its_siblings_and_all_failures_are_kept() {
    paused().block_on(async {
        let start = now();
        let error = task_group(|tg| async move {
            tg.spawn(async {
                sleep(3600 * SEC).await?;
                Ok::<(), BoxError>(())
            });
            tg.spawn(async {
                sleep(SEC).await?;
                Err::<(), BoxError>("one".into())
            });
            tg.spawn(async {
                sleep(SEC).await?;
                Err::<(), BoxError>("two".into())
            });
            Ok(())
        })
        .await
        .unwrap_err();
        assert_eq!(now() - start, SEC);
        let mut texts: Vec<String> = error
            .failures()
            .iter()
            .map(|f| match f {
                Failure::Error(e) => e.to_string(),
                Failure::Panic(p) => format!("{p}"),
            })
            .collect();
        texts.sort();
        assert_eq!(texts, ["one", "two"]);
    });
}

/// `test_cancel_scope_multierror_filtering`: an outer scope's cancellation
/// passes through a group as a cancellation (not a failure) and is caught
/// by that scope.
#[test]
fn an_outer_cancellation_passes_through_a_group() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let out = outer
            .run(async move {
                task_group(|tg| async move {
                    tg.spawn(sleep(3600 * SEC));
                    sleep(SEC).await?;
                    o.cancel();
                    sleep(3600 * SEC).await
                })
                .await
            })
            .await;
        assert!(matches!(out, Ok(None)), "{out:?}");
        assert!(outer.cancelled_caught());
    });
}

/// `test_nursery_start`: `start` returns the value passed to `started`, and
/// the child goes on in the group after the caller's scope has exited.
#[test]
fn start_returns_the_started_value_and_the_child_outlives_the_callers_scope() {
    paused().block_on(async {
        let start = now();
        let finished = Arc::new(StdMutex::new(None));
        let f = finished.clone();
        task_group(|tg| async move {
            let scope = CancelScope::new();
            let value = scope
                .run(async {
                    tg.start(|status: TaskStatus<u16>| async move {
                        sleep(SEC).await?;
                        status.started(8080);
                        sleep(SEC).await?;
                        *f.lock().unwrap() = Some(now());
                        Ok::<(), Cancelled>(())
                    })
                    .await
                    .map_err(|e| match e {
                        StartError::Cancelled(c) => c,
                        other => panic!("{other}"),
                    })
                })
                .await;
            assert_eq!(value, Ok(Some(8080)));
            assert_eq!(now() - start, SEC);
            scope.cancel(); // after exit: must not reach the started child
            Ok::<(), Cancelled>(())
        })
        .await
        .unwrap();
        assert_eq!(*finished.lock().unwrap(), Some(start + 2 * SEC));
    });
}

/// `test_nursery_start` (the error cases): a child that fails before
/// `started` fails `start` (not the group); one that returns without
/// calling it is an error.
#[test]
fn start_reports_a_child_that_failed_or_never_started() {
    paused().block_on(async {
        task_group(|tg| async move {
            let failed = tg
                .start(|_status: TaskStatus<()>| async {
                    sleep(SEC).await?;
                    Err::<(), BoxError>("not ready".into())
                })
                .await;
            match failed {
                Err(StartError::Failed(Failure::Error(e))) => {
                    assert_eq!(e.to_string(), "not ready")
                }
                other => panic!("{other:?}"),
            }
            let silent = tg
                .start(|_status: TaskStatus<()>| async { Ok::<(), BoxError>(()) })
                .await;
            assert!(matches!(silent, Err(StartError::NotStarted)), "{silent:?}");
            Ok(())
        })
        .await
        .expect("neither counts as a failure of the group");
    });
}

/// `test_nursery_start` (cancellation while starting): the child runs in
/// the caller's scope until `started`, so cancelling that scope cancels
/// it.
/// Difference: Trio's `start` waits for the child to finish its cancelled
/// start-up; canopy's returns `StartError::Cancelled` at once and the child
/// ends in the group.
#[test]
fn cancelling_the_caller_while_it_starts_a_child() {
    paused().block_on(async {
        let start = now();
        let child_saw = Arc::new(StdMutex::new(None));
        let saw = child_saw.clone();
        task_group(|tg| async move {
            let caller = CancelScope::new();
            let c = caller.clone();
            canopy::spawn_detached(async move {
                sleep(SEC).await?;
                c.cancel();
                Ok::<_, Cancelled>(())
            });
            let out = caller
                .run(async {
                    tg.start(|status: TaskStatus<()>| async move {
                        let r = sleep(3600 * SEC).await;
                        *saw.lock().unwrap() = Some(r.map_err(|c| c.reason()));
                        r?;
                        status.started(());
                        Ok::<(), Cancelled>(())
                    })
                    .await
                    // Either `StartError::Cancelled` (the caller saw it
                    // first) or the child's own `Cancelled` (it ended first).
                    .map_err(|e| {
                        *canopy::scope::CancelError::as_cancelled(&e).expect("a cancellation")
                    })
                })
                .await;
            assert_eq!(out, Ok(None), "the caller's scope caught it");
            assert_eq!(now() - start, SEC);
            Ok::<(), Cancelled>(())
        })
        .await
        .expect("the child's cancellation belongs to the caller's scope");
        assert_eq!(
            *child_saw.lock().unwrap(),
            Some(Err(CancelReason::Explicit))
        );
    });
}

/// `test_nursery_start_with_cancelled_nursery`: a child whose own children
/// sleep calls `started` and so moves into a group that is already
/// cancelled (cancelled just before, or just after, `started`): the sleeping
/// grandchildren are woken and cancelled, so everything ends. (Bounded by a
/// watchdog: a lost wake-up ends at t=1000 s instead of hanging.)
#[test]
fn start_moves_sleeping_children_into_a_cancelled_group() {
    for cancel_before_started in [true, false] {
        paused().block_on(async move {
            let begin = now();
            let out = move_on_after(1000 * SEC, async move {
                task_group(|outer| async move {
                    // A task holding a group open, handing its handle out.
                    let target = outer
                        .start(
                            |status: TaskStatus<canopy::task::TaskGroup<Cancelled>>| async move {
                                task_group(|tg| async move {
                                    status.started(tg.clone());
                                    sleep(3600 * 3600 * SEC).await
                                })
                                .await
                                .map_err(|e| *e.cancelled().expect("only cancellations"))
                            },
                        )
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    let t = target.clone();
                    target
                        .start(move |status: TaskStatus<()>| async move {
                            task_group(|kids| async move {
                                kids.spawn(sleep(3600 * 3600 * SEC));
                                kids.spawn(sleep(3600 * 3600 * SEC));
                                sleep(SEC).await?; // both children asleep
                                if cancel_before_started {
                                    t.cancel_scope().cancel();
                                }
                                status.started(());
                                Ok(())
                            })
                            .await
                            .map_err(|e| *e.cancelled().expect("only cancellations"))
                        })
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    if !cancel_before_started {
                        target.cancel_scope().cancel();
                    }
                    Ok::<(), Cancelled>(())
                })
                .await
                .map_err(|e| *e.cancelled().expect("only cancellations"))
            })
            .await;
            assert_eq!(out, Ok(Some(())));
            assert_eq!(
                now() - begin,
                SEC,
                "cancel_before_started = {cancel_before_started}"
            );
        });
    }
}

/// `test_timekeeping`: sleeping moves the (virtual) clock by exactly the
/// time slept.
#[test]
fn timekeeping() {
    paused().block_on(async {
        let start = now();
        sleep(SEC).await.unwrap();
        assert_eq!(now() - start, SEC);
        sleep_until(start + 5 * SEC).await.unwrap();
        assert_eq!(now() - start, 5 * SEC);
    });
}

// ------------------------------------------------------------ test_timeouts.py

/// `test_sleep`: a zero sleep and a sleep until a past instant return at
/// once, yet are checkpoints.
#[test]
fn zero_and_past_sleeps_are_checkpoints() {
    paused().block_on(async {
        let start = now();
        sleep(Duration::ZERO).await.unwrap();
        sleep_until(start).await.unwrap();
        assert_eq!(now(), start);
        let scope = CancelScope::new();
        scope.cancel();
        scope
            .run(async {
                assert!(sleep(Duration::ZERO).await.is_err());
                assert!(sleep_until(start).await.is_err());
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
    });
}

/// `test_move_on_after`: `Ok(None)` when its own deadline cut the body
/// short, `Ok(Some)` when the body finished first.
/// Difference: the result says it (Trio: check `cancelled_caught`).
#[test]
fn move_on_after_and_at() {
    paused().block_on(async {
        let start = now();
        let cut = move_on_after(SEC, async {
            sleep(5 * SEC).await?;
            Ok::<_, Cancelled>("slept")
        })
        .await;
        assert_eq!(cut, Ok(None));
        assert_eq!(now() - start, SEC);
        let done = move_on_at(now() + 5 * SEC, async {
            sleep(SEC).await?;
            Ok::<_, Cancelled>("slept")
        })
        .await;
        assert_eq!(done, Ok(Some("slept")));
    });
}

/// `test_fail`: `fail_after`/`fail_at` turn their own expiry into an error.
/// Difference: the error is `TimedOut` (an `io::ErrorKind::TimedOut` in
/// `io::Error`), Trio's `TooSlowError`.
#[test]
fn fail_after_and_fail_at() {
    paused().block_on(async {
        let out: io::Result<()> = fail_after(SEC, async {
            sleep(5 * SEC).await?;
            Ok(())
        })
        .await;
        assert_eq!(out.unwrap_err().kind(), io::ErrorKind::TimedOut);
        let out: io::Result<u8> = fail_at(now() + 5 * SEC, async {
            sleep(SEC).await?;
            Ok(1)
        })
        .await;
        assert_eq!(out.unwrap(), 1);
        let _: Option<TimedOut> = None; // the type behind the io error
    });
}

/// `test_fail` (outer cancellation): a cancellation from an outer scope
/// passes through `fail_after` unchanged, to be caught by its owner.
#[test]
fn an_outer_cancellation_passes_through_fail_after() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let out = outer
            .run(async move {
                let r: io::Result<()> = fail_after(3600 * SEC, async {
                    o.cancel();
                    checkpoint().await?;
                    Ok(())
                })
                .await;
                let e = r.unwrap_err();
                assert_ne!(e.kind(), io::ErrorKind::TimedOut);
                assert!(Cancelled::find_in_io(&e).is_some());
                Err::<(), io::Error>(e)
            })
            .await;
        assert!(matches!(out, Ok(None)), "{out:?}");
    });
}

/// `test_timeouts_raise_value_error`: Trio rejects negative and NaN
/// timeouts.
/// Difference: `Duration` cannot be negative; a zero timeout or a deadline
/// already past is allowed and cancels at the first checkpoint.
#[test]
fn zero_and_past_timeouts_cancel_at_the_first_checkpoint() {
    paused().block_on(async {
        let zero = move_on_after(Duration::ZERO, checkpoint()).await;
        assert_eq!(zero, Ok(None));
        let past = move_on_at(now() - SEC, checkpoint()).await;
        assert_eq!(past, Ok(None));
        let no_checkpoint = move_on_after(Duration::ZERO, async { Ok::<_, Cancelled>(1) }).await;
        assert_eq!(no_checkpoint, Ok(Some(1)));
    });
}

/// `test_timeout_deadline_on_entry`: a relative timeout counts from when
/// it is entered, not from when it was made.
/// Difference: "entered" is the first poll of the future.
#[test]
fn a_relative_timeout_counts_from_entry() {
    paused().block_on(async {
        let start = now();
        let timeout = move_on_after(2 * SEC, sleep(3600 * SEC));
        sleep(5 * SEC).await.unwrap();
        assert_eq!(timeout.await, Ok(None));
        assert_eq!(now() - start, 7 * SEC);
    });
}

// --------------------------------------------------------------- test_sync.py

/// `test_Event`: waiting on a set event returns at once; `set` wakes every
/// waiter; a wait is a cancel point.
#[test]
fn event() {
    paused().block_on(async {
        let event = Arc::new(Event::new());
        assert!(!event.is_set());
        let woken = Arc::new(StdMutex::new(0));
        let (event2, woken2) = (event.clone(), woken.clone());
        task_group(|tg| async move {
            for _ in 0..3 {
                let (e, w) = (event2.clone(), woken2.clone());
                tg.spawn(async move {
                    e.wait().await?;
                    *w.lock().unwrap() += 1;
                    Ok::<(), Cancelled>(())
                });
            }
            sleep(SEC).await?;
            assert_eq!(*woken2.lock().unwrap(), 0);
            event2.set();
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(*woken.lock().unwrap(), 3);
        event.wait().await.unwrap();
        let waiting = Event::new();
        assert_eq!(move_on_after(SEC, waiting.wait()).await, Ok(None));
    });
}

/// `test_Semaphore`: permits are counted; `try_acquire` fails when none is
/// left; a waiter gets the permit released to it.
#[test]
fn semaphore() {
    paused().block_on(async {
        let sem = Semaphore::new(2);
        let a = sem.acquire().await.unwrap();
        let _b = sem.try_acquire().unwrap();
        assert_eq!(sem.available_permits(), 0);
        assert!(sem.try_acquire().is_err());
        assert_eq!(
            move_on_after(SEC, sem.acquire()).await.map(|p| p.is_some()),
            Ok(false)
        );
        drop(a);
        assert_eq!(sem.available_permits(), 1);
        let _c = sem.acquire().await.unwrap();
    });
}

/// `test_CapacityLimiter`: tokens per borrower, a borrower holds at most
/// one, and raising the total lets a waiter in.
#[test]
fn capacity_limiter() {
    paused().block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(1));
        let t1 = limiter.acquire_on_behalf_of("a").await.unwrap();
        assert_eq!(limiter.borrowed_tokens(), 1);
        assert_eq!(limiter.available_tokens(), 0);
        assert!(
            limiter.acquire_on_behalf_of("a").await.is_err(),
            "one per borrower"
        );
        let l = limiter.clone();
        let waiter = canopy::spawn(async move {
            let token = l.acquire_on_behalf_of("b").await.map_err(|_| ())?;
            Ok::<_, ()>(*token.borrower())
        });
        sleep(SEC).await.unwrap();
        limiter.set_total_tokens(2);
        assert_eq!(waiter.await.unwrap(), Ok("b"));
        assert_eq!(limiter.total_tokens(), 2);
        drop(t1);
        assert_eq!(limiter.borrowed_tokens(), 0);
    });
}

/// `test_generic_lock_fifo_fairness` (Lock): waiters get the lock in the
/// order they queued.
#[test]
fn lock_fifo_fairness() {
    paused().block_on(async {
        let lock = Arc::new(Mutex::new(Vec::new()));
        let guard = lock.lock().await.unwrap();
        let mut handles = Vec::new();
        for i in 0..5 {
            let l = lock.clone();
            handles.push(canopy::spawn(async move {
                sleep(i * SEC).await?; // queue in order 0, 1, 2...
                l.lock().await?.push(i);
                Ok::<_, Cancelled>(())
            }));
        }
        sleep(10 * SEC).await.unwrap();
        drop(guard);
        for h in handles {
            h.await.unwrap().unwrap();
        }
        assert_eq!(*lock.lock().await.unwrap(), [0, 1, 2, 3, 4]);
        assert!(lock.try_lock().is_ok());
    });
}

/// `test_Lock_and_StrictFIFOLock` (the exclusion part): while one task
/// holds the lock, another's `try_lock` fails and its `lock` waits, and a
/// cancelled `lock` takes nothing.
/// Difference: no "release by a non-owner" error: the guard is the
/// ownership.
#[test]
fn lock_excludes_and_a_cancelled_lock_takes_nothing() {
    paused().block_on(async {
        let lock = Arc::new(Mutex::new(0));
        let held = lock.lock().await.unwrap();
        let l = lock.clone();
        let other = canopy::spawn(async move {
            assert!(l.try_lock().is_err());
            assert_eq!(
                move_on_after(SEC, l.lock()).await.map(|g| g.is_some()),
                Ok(false)
            );
            let mut g = l.lock().await?;
            *g += 1;
            Ok::<_, Cancelled>(())
        });
        sleep(5 * SEC).await.unwrap();
        drop(held);
        other.await.unwrap().unwrap();
        assert_eq!(*lock.lock().await.unwrap(), 1);
    });
}

/// `test_Condition`: `notify_one` wakes one waiter, `notify_all` the rest;
/// a waiter holds the lock again when its wait returns, even a cancelled
/// one.
#[test]
fn condition() {
    paused().block_on(async {
        let state = Arc::new((Mutex::new(0u32), Condition::new()));
        let mut handles = Vec::new();
        for _ in 0..3 {
            let s = state.clone();
            handles.push(canopy::spawn(async move {
                let guard = s.0.lock().await?;
                let (mut guard, r) = s.1.wait(guard).await;
                r?;
                *guard += 1;
                Ok::<_, Cancelled>(())
            }));
        }
        sleep(SEC).await.unwrap();
        state.1.notify_one();
        sleep(SEC).await.unwrap();
        assert_eq!(*state.0.lock().await.unwrap(), 1);
        state.1.notify_all();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        assert_eq!(*state.0.lock().await.unwrap(), 3);

        let relocked = move_on_after(SEC, async {
            let guard = state.0.lock().await?;
            let (guard, r) = state.1.wait(guard).await;
            assert!(r.is_err(), "cancelled by the timeout");
            assert_eq!(*guard, 3, "yet it holds the lock");
            r
        })
        .await;
        assert_eq!(relocked, Ok(None));
    });
}
