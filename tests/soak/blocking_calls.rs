//! `blocking::to_thread` calls in scopes the cancellers cut, half of them
//! `abandon_on_cancel` (those return at once and leave the closure to
//! finish alone: the driver then waits for it to be counted out).
//!
//! Checked: a call that returned a value returned its closure's; a call
//! that waits for its closure and returned `Cancelled` never ran the
//! closure, then or later (its effects are never lost, DESIGN §2.13).

use super::progress::{BLOCKING, Stats};
use super::{BoxError, Rng, Shared};
use canopy::{CancelScope, blocking, task_group};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::time::{Duration, Instant};

const CALLS: u64 = 16;

/// A call's closure: not run yet, ran, or must never run.
const UNRUN: u8 = 0;
const RAN: u8 = 1;
const FORBIDDEN: u8 = 2;

pub async fn run(shared: Arc<Shared>, seed: u64) -> Result<(), BoxError> {
    shared.progress.stage(BLOCKING, "calling");
    let progress = shared.clone();
    task_group(|tg| async move {
        for i in 0..CALLS {
            let shared = shared.clone();
            let mut rng = Rng::new(seed ^ (i + 1) << 28);
            tg.spawn(async move {
                let state = Arc::new(AtomicU8::new(UNRUN));
                let late = Arc::new(AtomicU8::new(0));
                let (closure_state, closure_late) = (state.clone(), late.clone());
                let work = rng.micros(2_000);
                let call = blocking::to_thread(move || {
                    if closure_state.compare_exchange(UNRUN, RAN, SeqCst, SeqCst).is_err() {
                        closure_late.store(1, SeqCst);
                    }
                    std::thread::sleep(work);
                    i * 2
                });
                let abandon = i % 2 == 0;
                let call = if abandon { call.abandon_on_cancel() } else { call };
                let scope = CancelScope::new();
                if rng.below(2) == 0 {
                    scope.set_deadline(Some(Instant::now() + rng.micros(2_000)));
                }
                shared.slots.offer(&mut rng, &scope);
                Stats::add(&shared.stats.blocking_calls, 1);
                match scope.run(call).await? {
                    Some(value) if value == i * 2 => {}
                    Some(value) => {
                        return Err(shared.violated(format!("to_thread gave {value}, not {}", i * 2)));
                    }
                    None => {
                        Stats::add(&shared.stats.blocking_cancelled, 1);
                        if !abandon && state.swap(FORBIDDEN, SeqCst) == RAN {
                            return Err(shared.violated(
                                "a to_thread that waits for its closure returned Cancelled after running it",
                            ));
                        }
                    }
                }
                // A closure forbidden above that starts anyway would say so
                // here; give a queued one the time it would take to start.
                if !abandon && state.load(SeqCst) == FORBIDDEN {
                    canopy::time::sleep(Duration::from_millis(1)).await?;
                    if late.load(SeqCst) != 0 {
                        return Err(shared.violated("a cancelled to_thread ran its closure later"));
                    }
                }
                Ok::<(), BoxError>(())
            });
        }
        Ok::<(), BoxError>(())
    })
    .await
    .map_err(|error| BoxError::from(error.to_string()))?;
    progress.progress.stage(BLOCKING, "done");
    Ok(())
}
