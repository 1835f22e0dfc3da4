//! Spawns and nested scopes: tasks (in the round's group, in the root group
//! through `canopy::spawn`, and children of `start`) each nest three scopes
//! — the middle one sometimes shielded — with deadlines soon, in the past,
//! moved by the task itself or by the cancellers, and wait in them on long
//! sleeps, checkpoints and yields. Only a cancellation can end the waits, so
//! a cancel or deadline that does not wake its task hangs the round.
//!
//! Checked: the outermost scope, which always has a deadline and nothing
//! outside it is cancelled, catches the task's cancellation (`Ok(None)`,
//! `cancelled_caught`), whatever the inner scopes caught first; once a
//! checkpoint returned `Cancelled`, the next one in the same scope does too
//! (level-triggered); `start` hands back the child's value.

use super::progress::{SCOPES, Stats};
use super::{BoxError, Rng, Shared};
use canopy::time::sleep;
use canopy::{
    CancelScope, Cancelled, checkpoint,
    scope::{CancelError, CancelReason},
    task::{TaskStatus, yield_now},
    task_group,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GROUP_TASKS: u64 = 96;
const ROOT_TASKS: u64 = 96;
const STARTED: u64 = 4;

pub async fn run(shared: Arc<Shared>, seed: u64) -> Result<(), BoxError> {
    shared.progress.stage(SCOPES, "spawning");
    let progress = shared.clone();
    task_group(|tg| async move {
        let mut handles = Vec::new();
        for i in 0..GROUP_TASKS + ROOT_TASKS {
            let task = nested(shared.clone(), Rng::new(seed ^ (i << 32)));
            if i < GROUP_TASKS {
                tg.spawn(task);
            } else {
                handles.push(canopy::spawn(task));
            }
        }
        shared.progress.stage(SCOPES, "starting children");
        for i in 0..STARTED {
            let child_shared = shared.clone();
            let value = tg
                .start(move |status: TaskStatus<u64>| async move {
                    status.started(i);
                    nested(child_shared, Rng::new(seed ^ (i << 40))).await
                })
                .await
                .map_err(|error| shared.violated(format!("start() failed: {error}")))?;
            if value != i {
                return Err(shared.violated(format!("start() gave {value}, not {i}")));
            }
        }
        shared
            .progress
            .stage(SCOPES, "awaiting root tasks' handles");
        for handle in handles {
            match handle.await {
                Ok(done) => done?,
                // Cut by the round's failure elsewhere: that one is reported.
                Err(error) if error.as_cancelled().is_some() => return Err(error.into()),
                Err(error) => return Err(shared.violated(format!("a root task failed: {error}"))),
            }
        }
        shared.progress.stage(SCOPES, "waiting for its group");
        Ok::<(), BoxError>(())
    })
    .await
    .map_err(|error| BoxError::from(error.to_string()))?;
    progress.progress.stage(SCOPES, "done");
    Ok(())
}

/// A scope as this task sets it up before entering it.
fn scope(rng: &mut Rng, shared: &Shared, must_end: bool) -> CancelScope {
    let scope = CancelScope::new();
    match rng.below(5) {
        0 => scope.set_deadline(Some(Instant::now() - Duration::from_millis(1))),
        1 | 2 => scope.set_deadline(Some(Instant::now() + rng.micros(5_000))),
        3 => {
            // Moved later before it is entered: only the later one counts.
            scope.set_deadline(Some(Instant::now()));
            scope.set_deadline(Some(Instant::now() + rng.micros(10_000)));
        }
        _ if must_end => scope.set_deadline(Some(Instant::now() + rng.micros(20_000))),
        _ => {}
    }
    if rng.below(3) == 0 {
        shared.slots.offer(rng, &scope);
    }
    scope
}

/// One task: three nested scopes, each waiting after its child scope caught.
async fn nested(shared: Arc<Shared>, mut rng: Rng) -> Result<(), BoxError> {
    Stats::add(&shared.stats.tasks, 1);
    let outer = scope(&mut rng, &shared, true);
    let shielded = rng.below(4) == 0;
    // Shielded, the middle scope must end by itself.
    let middle = scope(&mut rng, &shared, shielded);
    middle.set_shield(shielded);
    let inner = scope(&mut rng, &shared, false);
    let move_middle = (rng.below(3) == 0).then(|| middle.clone());
    let waits = rng.next();
    let out = outer
        .run(async {
            middle
                .run(async {
                    inner
                        .run(async {
                            if let Some(middle) = &move_middle {
                                // Moved from inside, earlier or into the past.
                                middle.set_deadline(Some(
                                    Instant::now() + Duration::from_micros(waits % 3_000),
                                ));
                            }
                            wait_until_cancelled(waits).await
                        })
                        .await?;
                    wait_until_cancelled(waits >> 8).await
                })
                .await?;
            wait_until_cancelled(waits >> 16).await
        })
        .await;
    match out {
        Ok(None) if outer.cancelled_caught() => {
            Stats::add(&shared.stats.scopes_caught, 1);
            Ok(())
        }
        Ok(None) => {
            Err(shared.violated("the outer scope returned Ok(None) but did not report it caught"))
        }
        Ok(Some(())) => Err(shared.violated("a wait that only a cancel can end completed")),
        // Cut by the round's failure elsewhere: that one is reported.
        Err(cancelled) if cancelled.reason() == CancelReason::GroupFailed => Err(cancelled.into()),
        Err(cancelled) => Err(shared.violated(format!(
            "a cancellation escaped the outermost cancelled scope: {cancelled}"
        ))),
    }
}

/// Waits on a mix of checkpoints until cancelled, then checks that the
/// cancellation is level-triggered.
async fn wait_until_cancelled(mut pattern: u64) -> Result<(), Cancelled> {
    loop {
        let waited = match pattern % 4 {
            0 => sleep(Duration::from_secs(3600)).await,
            1 => checkpoint().await,
            2 => yield_now().await,
            _ => sleep(Duration::from_micros(pattern % 500)).await,
        };
        pattern = pattern.rotate_right(2);
        if let Err(cancelled) = waited {
            if checkpoint().await.is_ok() {
                panic!("violated: a checkpoint after a Cancelled in the same scope passed");
            }
            return Err(cancelled);
        }
    }
}
