//! Moving a waiting scope's deadline (DESIGN §2 rule 5) down the lazy path:
//! a deadline moved later than its armed timer only stores the value; the
//! timer fires early and re-arms. On the paused clock, so every instant is
//! exact.

mod common;

use canopy::scope::CancelReason;
use canopy::time::{self, sleep};
use canopy::{CancelScope, task::yield_now};
use common::paused;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);
const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);
/// 200,000 steps of 10 µs: 2 s of deadlines, moved for a few milliseconds.
const STEP: Duration = Duration::from_micros(10);

#[test]
fn a_deadline_moved_later_is_not_cancelled_at_the_old_one_and_fires_at_the_new_one() {
    paused().block_on(async {
        let start = time::now();
        let scope = CancelScope::new().with_deadline(start + SEC);
        let (mover, watcher) = (scope.clone(), scope.clone());
        // Once the scope waits (its timer armed for 1 s), move it to 10 s.
        let _move = canopy::spawn(async move {
            sleep(100 * MS).await.unwrap();
            mover.set_deadline(Some(start + 10 * SEC));
        });
        // Past the old deadline: not cancelled.
        let watch = canopy::spawn(async move {
            sleep(5 * SEC).await.unwrap();
            watcher.cancel_called()
        });
        assert_eq!(scope.run(sleep(HOUR)).await, Ok(None));
        assert_eq!(time::now() - start, 10 * SEC, "fired at the new deadline");
        assert!(!watch.await.unwrap(), "cancelled at the old deadline");
        assert_eq!(scope.cancel_reason(), Some(CancelReason::Deadline));
    });
}

#[test]
fn a_deadline_moved_later_then_earlier_fires_at_the_last_one() {
    let rt = paused();
    // (armed at, moved later to, then moved to): before the armed timer
    // (moves the timer), and between it and the later one (stays lazy).
    for (armed, later, last) in [(10, 20, 5), (10, 20, 15)] {
        rt.block_on(async {
            let start = time::now();
            let scope = CancelScope::new().with_deadline(start + armed * SEC);
            let mover = scope.clone();
            let _move = canopy::spawn(async move {
                sleep(100 * MS).await.unwrap();
                mover.set_deadline(Some(start + later * SEC));
                yield_now().await.unwrap();
                mover.set_deadline(Some(start + last * SEC));
            });
            assert_eq!(scope.run(sleep(HOUR)).await, Ok(None));
            assert_eq!(
                time::now() - start,
                last * SEC,
                "armed {armed}s, later {later}s"
            );
        });
    }
}

#[test]
fn a_deadline_moved_back_to_the_armed_one_fires_there() {
    paused().block_on(async {
        let start = time::now();
        let scope = CancelScope::new().with_deadline(start + SEC);
        let mover = scope.clone();
        let _move = canopy::spawn(async move {
            sleep(100 * MS).await.unwrap();
            mover.set_deadline(Some(start + HOUR));
            mover.set_deadline(Some(start + SEC));
        });
        assert_eq!(scope.run(sleep(HOUR)).await, Ok(None));
        assert_eq!(time::now() - start, SEC);
    });
}

#[test]
fn a_deadline_moved_later_from_another_os_thread_while_its_timer_fires_is_not_lost() {
    let rt = paused();
    let mover = rt.block_on(async {
        let start = time::now();
        let scope = CancelScope::new().with_deadline(start + 10 * SEC);
        let remote = scope.clone();
        // Ever later deadlines, while the paused clock jumps to each armed
        // timer as soon as the runtime idles: timers fire early and re-arm
        // while the moves go on.
        let mover = std::thread::spawn(move || {
            for i in 1..=200_000 {
                remote.set_deadline(Some(start + 10 * SEC + i * STEP));
            }
        });
        assert_eq!(scope.run(sleep(HOUR)).await, Ok(None));
        let at = time::now() - start;
        // Cancelled at one of the deadlines it had: never before the first,
        // never after the last.
        assert!(at >= 10 * SEC && at <= 12 * SEC, "cancelled at {at:?}");
        assert_eq!(scope.cancel_reason(), Some(CancelReason::Deadline));
        mover
    });
    mover.join().unwrap();
}
