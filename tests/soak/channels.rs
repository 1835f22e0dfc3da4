//! A bounded MPMC channel, small enough that senders wait, with producers
//! and consumers whose scopes the cancellers cut mid-wait, and a consumer
//! whose every receive has a short timeout.
//!
//! Checked (no lost message, DESIGN §2.13): a cancelled send hands back the
//! very value it was sending (the producer sends it again), and every
//! message is received exactly once.

use super::progress::{CHANNELS, Stats};
use super::{BoxError, Rng, Shared};
use canopy::sync::channel::{self, SendError};
use canopy::{CancelScope, Cancelled, move_on_after, scope::CancelError, task_group};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::time::Instant;

const PRODUCERS: usize = 3;
const CONSUMERS: usize = 3;
const PER_PRODUCER: usize = 1_000;
const CAPACITY: usize = 2;

pub async fn run(shared: Arc<Shared>, seed: u64) -> Result<(), BoxError> {
    let total = PRODUCERS * PER_PRODUCER;
    let seen: Arc<Vec<AtomicU8>> = Arc::new((0..total).map(|_| AtomicU8::new(0)).collect());
    shared.progress.stage(CHANNELS, "sending and receiving");
    let counted = seen.clone();
    let progress = shared.clone();
    task_group(|tg| async move {
        let (tx, rx) = channel::channel::<usize>(CAPACITY);
        for p in 0..PRODUCERS {
            let (tx, shared) = (tx.clone(), shared.clone());
            let mut rng = Rng::new(seed ^ (p as u64 + 1) << 20);
            tg.spawn(async move {
                for message in p * PER_PRODUCER..(p + 1) * PER_PRODUCER {
                    send(&shared, &mut rng, &tx, message).await?;
                }
                Ok::<(), BoxError>(())
            });
        }
        drop(tx);
        for c in 0..CONSUMERS {
            let (rx, shared, seen) = (rx.clone(), shared.clone(), seen.clone());
            let mut rng = Rng::new(seed ^ (c as u64 + 1) << 24);
            tg.spawn(async move {
                loop {
                    let got = if c == 0 {
                        // Gives up after a moment: a receive dropped by its timeout.
                        match move_on_after(rng.micros(300), rx.recv()).await? {
                            Some(got) => got,
                            None => {
                                Stats::add(&shared.stats.recvs_cancelled, 1);
                                continue;
                            }
                        }
                    } else {
                        let scope = CancelScope::new();
                        shared.slots.offer(&mut rng, &scope);
                        match scope.run(rx.recv()).await? {
                            Some(got) => got,
                            None => {
                                Stats::add(&shared.stats.recvs_cancelled, 1);
                                continue;
                            }
                        }
                    };
                    let Some(message) = got else {
                        return Ok::<(), BoxError>(());
                    };
                    seen[message].fetch_add(1, SeqCst);
                }
            });
        }
        Ok(())
    })
    .await
    .map_err(|error| BoxError::from(error.to_string()))?;
    progress.progress.stage(CHANNELS, "counting messages");
    let wrong: Vec<(usize, u8)> = (0..total)
        .map(|m| (m, counted[m].load(SeqCst)))
        .filter(|&(_, times)| times != 1)
        .take(10)
        .collect();
    if !wrong.is_empty() {
        return Err(progress.violated(format!(
            "messages not received exactly once, (message, times): {wrong:?}"
        )));
    }
    Stats::add(&progress.stats.messages, total as u64);
    progress.progress.stage(CHANNELS, "done");
    Ok(())
}

/// Sends `message`, again and again while the cancellers cut the send.
async fn send(
    shared: &Shared,
    rng: &mut Rng,
    tx: &channel::Sender<usize>,
    message: usize,
) -> Result<(), BoxError> {
    loop {
        let scope = CancelScope::new();
        if rng.below(4) == 0 {
            scope.set_deadline(Some(Instant::now() + rng.micros(300)));
        }
        shared.slots.offer(rng, &scope);
        match scope
            .run(async { tx.send(message).await.map_err(Refused) })
            .await
        {
            Ok(Some(())) => return Ok(()),
            Ok(None) => {
                return Err(shared.violated("a send's scope caught a cancel but gave nothing back"));
            }
            Err(Refused(SendError::Cancelled(back, _))) => {
                if back != message {
                    return Err(shared.violated(format!("sent {message}, {back} came back")));
                }
                Stats::add(&shared.stats.given_back, 1);
            }
            Err(Refused(SendError::Closed(_))) => {
                return Err(shared.violated("the channel closed while a sender was alive"));
            }
        }
    }
}

/// A refused send as an error a scope knows: its cancellation is the
/// scope's to catch, but then the value would be lost to the caller, so
/// [`send`] matches the error itself.
#[derive(Debug)]
struct Refused(SendError<usize>);

impl CancelError for Refused {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        None
    }
}
