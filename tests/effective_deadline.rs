//! `current_effective_deadline` (DESIGN §2.6): `Cancelled` exactly when a
//! checkpoint here would return `Cancelled`, otherwise the earliest deadline
//! up to the nearest shield — told apart without reading the clock.

mod common;

use canopy::time::{self, sleep};
use canopy::{
    CancelScope, Cancelled, checkpoint, move_on_after,
    scope::deadline,
    scope::{EffectiveDeadline, current_effective_deadline},
    task_group,
};
use common::{paused, real_clock};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn cancelled_before_the_first_wait_is_cancelled_not_its_deadline() {
    paused().block_on(async {
        let t0 = time::now();
        let scope = CancelScope::new().with_deadline(t0 + HOUR);
        scope.cancel();
        let out = scope
            .run(async {
                let d = current_effective_deadline();
                assert_eq!(d, EffectiveDeadline::Cancelled);
                assert!(d.is_cancelled());
                assert_eq!(d.remaining(), Some(Duration::ZERO));
                assert!(d.instant().unwrap() <= t0, "its instant is in the past");
                checkpoint().await // agrees: Cancelled, caught by the scope
            })
            .await;
        assert_eq!(out, Ok(None));
        assert_eq!(current_effective_deadline(), EffectiveDeadline::None);
    });
}

#[test]
fn a_cancel_from_another_os_thread_is_seen_within_the_same_poll() {
    real_clock().block_on(async {
        let scope = CancelScope::new().with_deadline(std::time::Instant::now() + HOUR);
        let out = scope
            .run(async {
                assert!(matches!(
                    current_effective_deadline(),
                    EffectiveDeadline::At(_)
                ));
                let remote = scope.clone();
                std::thread::spawn(move || remote.cancel()).join().unwrap();
                // No await in between: the check itself is live.
                assert_eq!(current_effective_deadline(), EffectiveDeadline::Cancelled);
                checkpoint().await
            })
            .await;
        assert_eq!(out, Ok(None));
    });
}

#[test]
fn a_shield_inside_a_cancelled_scope_reports_its_own_deadline() {
    paused().block_on(async {
        let t0 = time::now();
        let outer = CancelScope::new().with_deadline(t0 + SEC);
        outer.cancel();
        outer
            .run(async {
                assert_eq!(current_effective_deadline(), EffectiveDeadline::Cancelled);
                let shielded = CancelScope::new()
                    .with_shield(true)
                    .with_deadline(t0 + 20 * SEC);
                shielded
                    .run(async {
                        assert_eq!(
                            current_effective_deadline(),
                            EffectiveDeadline::At(t0 + 20 * SEC)
                        );
                        assert_eq!(current_effective_deadline().remaining(), Some(20 * SEC));
                        sleep(SEC).await?; // the shield holds: no Cancelled
                        Ok::<_, Cancelled>(())
                    })
                    .await?;
                let bare_shield = CancelScope::new().with_shield(true);
                bare_shield
                    .run(async {
                        assert_eq!(current_effective_deadline(), EffectiveDeadline::None);
                        Ok::<_, Cancelled>(())
                    })
                    .await?;
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
    });
}

#[test]
fn a_passed_deadline_is_cancelled_before_its_timer_fires() {
    paused().block_on(async {
        let out = move_on_after(SEC, async {
            // The scope has not waited yet, so its timer is not armed: the
            // clock moving past the deadline fires nothing.
            time::advance(2 * SEC);
            assert_eq!(current_effective_deadline(), EffectiveDeadline::Cancelled);
            checkpoint().await // agrees: Cancelled, caught by the scope
        })
        .await;
        assert_eq!(out, Ok(None));
    });
}

#[test]
fn a_passed_deadline_of_a_group_is_cancelled_in_its_children() {
    paused().block_on(async {
        let t0 = time::now();
        let scope = CancelScope::new().with_deadline(t0 + SEC);
        let out = scope
            .run(task_group(|tg| async move {
                tg.spawn(async move {
                    assert_eq!(
                        current_effective_deadline(),
                        EffectiveDeadline::At(t0 + SEC)
                    );
                    time::advance(2 * SEC);
                    assert_eq!(current_effective_deadline(), EffectiveDeadline::Cancelled);
                    checkpoint().await
                });
                Ok::<_, Cancelled>(())
            }))
            .await;
        assert!(matches!(out, Ok(None)), "{out:?}");
    });
}

#[test]
fn nested_deadlines_report_the_earliest_and_its_time_left() {
    paused().block_on(async {
        let t0 = time::now();
        move_on_after(10 * SEC, async {
            assert_eq!(
                current_effective_deadline(),
                EffectiveDeadline::At(t0 + 10 * SEC)
            );
            move_on_after(HOUR, async {
                // A later inner deadline changes nothing.
                assert_eq!(
                    current_effective_deadline(),
                    EffectiveDeadline::At(t0 + 10 * SEC)
                );
                move_on_after(3 * SEC, async {
                    sleep(SEC).await?;
                    let d = current_effective_deadline();
                    assert_eq!(d, EffectiveDeadline::At(t0 + 3 * SEC));
                    assert_eq!(d.remaining(), Some(2 * SEC));
                    Ok::<_, Cancelled>(())
                })
                .await?;
                // The inner one exited: back to the outer deadline.
                assert_eq!(current_effective_deadline().remaining(), Some(9 * SEC));
                Ok::<_, Cancelled>(())
            })
            .await
        })
        .await
        .unwrap();
    });
}

#[test]
fn a_cancelled_caller_propagates_no_time_left() {
    paused().block_on(async {
        assert_eq!(deadline::grpc_timeout_header(), None);
        let scope = CancelScope::new().with_deadline(time::now() + HOUR);
        scope.cancel();
        let header = scope
            .run(async { Ok::<_, Cancelled>(deadline::grpc_timeout_header()) })
            .await;
        assert_eq!(header, Ok(Some(Some("0n".to_owned()))));
    });
}
