//! Memory of long-lived task groups (DESIGN §2.9): a group reaps its finished
//! children while its body is still running, so an accept-loop-shaped body
//! that spawns a short child per connection, for hours, keeps the heap flat.
//!
//! Its own test binary: it installs a counting `#[global_allocator]` and
//! measures the live heap, which other tests running in the same process
//! would disturb. One test only, for the same reason.

use canopy::{Cancelled, Runtime, task::yield_now, task_group};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

#[path = "common/counting.rs"]
mod counting;
use counting::{Counting, live_bytes};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CHILDREN: usize = 200_000;
const WARMED_UP: usize = 10_000;
/// The most children the body lets be spawned but unfinished at a time, so
/// that what is measured is what finished children leave behind, not a
/// backlog of queued ones.
const BACKLOG: usize = 1_024;
/// "Flat": what 190,000 more finished children may add to the live heap.
const FLAT: isize = 4 << 20;

/// A server's accept loop: one short child per connection, the body going
/// on for as long as the server runs. Measured while the body still runs:
/// the live heap after 200,000 children must not have grown by more than
/// a few MB since 10,000 (today it grows by ~176 B per finished child until
/// the body returns).
#[test]
fn an_accept_loop_group_keeps_the_heap_flat_while_its_body_runs() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (at_warm_up, at_end) = rt.block_on(async {
        // Run as a task on a worker, as a server's accept loop would.
        canopy::spawn(async {
            let finished = Arc::new(AtomicUsize::new(0));
            let mut samples = (0, 0);
            let out = task_group(|tg| {
                let samples = &mut samples;
                async move {
                    for spawned in 1..=CHILDREN {
                        let done = finished.clone();
                        tg.spawn(async move {
                            let out = yield_now().await;
                            done.fetch_add(1, SeqCst);
                            out
                        });
                        // Now and then (and whenever the children fall behind),
                        // let them run.
                        while spawned % 64 == 0 && spawned - finished.load(SeqCst) > BACKLOG {
                            yield_now().await?;
                        }
                        if spawned % 64 == 0 {
                            yield_now().await?;
                        }
                        if spawned == WARMED_UP {
                            samples.0 = live_bytes();
                        }
                    }
                    samples.1 = live_bytes();
                    Ok::<(), Cancelled>(())
                }
            })
            .await;
            out.unwrap();
            samples
        })
        .await
        .unwrap()
    });
    let grown = at_end - at_warm_up;
    assert!(
        grown < FLAT,
        "the live heap grew by {grown} B ({} B per child) from child {WARMED_UP} to child \
         {CHILDREN}, while the body ran (live {at_warm_up} B -> {at_end} B)",
        grown / (CHILDREN - WARMED_UP) as isize
    );
}
