//! Cancels from outside the code they cut: a plain OS thread (for the whole
//! soak) and a task of each round pick scopes the parts registered in
//! [`Slots`] and cancel them or move their deadlines — earlier, into the
//! past, or a little later, never away, so every part still ends.

use super::{Rng, Shared, progress::Stats};
use canopy::time::sleep;
use canopy::{CancelScope, Cancelled};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const SLOTS: usize = 64;

/// Scopes the parts are in (or were, or are about to enter: a cancel
/// before the scope is entered, or after it exited, is part of the test).
pub struct Slots(Vec<Mutex<Option<CancelScope>>>);

impl Slots {
    pub fn new() -> Slots {
        Slots((0..SLOTS).map(|_| Mutex::new(None)).collect())
    }

    /// Offers `scope` to the cancellers, in a slot chosen by `rng`.
    pub fn offer(&self, rng: &mut Rng, scope: &CancelScope) {
        *self.0[rng.below(SLOTS as u64) as usize].lock().unwrap() = Some(scope.clone());
    }

    /// Does something to a random scope, from wherever this runs.
    fn strike(&self, rng: &mut Rng, shared: &Shared) {
        let slot = self.0[rng.below(SLOTS as u64) as usize].lock().unwrap();
        let Some(scope) = &*slot else { return };
        match rng.below(4) {
            0 | 1 => {
                scope.cancel();
                Stats::add(&shared.stats.cancels, 1);
            }
            2 => {
                scope.set_deadline(Some(Instant::now() - Duration::from_millis(1)));
                Stats::add(&shared.stats.deadlines_moved, 1);
            }
            _ => {
                scope.set_deadline(Some(Instant::now() + rng.micros(3_000)));
                Stats::add(&shared.stats.deadlines_moved, 1);
            }
        }
    }
}

/// The OS thread: strikes every few hundred microseconds until `done`.
pub fn spawn_thread(shared: Arc<Shared>, done: Arc<AtomicBool>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut rng = Rng::new(0x5eed);
        while !done.load(SeqCst) {
            shared.slots.strike(&mut rng, &shared);
            thread::sleep(rng.micros(400));
        }
    })
}

/// The round's task: strikes until `stop` is cancelled.
pub async fn task(
    shared: Arc<Shared>,
    stop: CancelScope,
    seed: u64,
) -> Result<(), super::BoxError> {
    let mut rng = Rng::new(seed ^ 0xc0ffee);
    stop.run(async {
        loop {
            shared.slots.strike(&mut rng, &shared);
            sleep(rng.micros(500)).await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), Cancelled>(())
    })
    .await?;
    Ok(())
}
