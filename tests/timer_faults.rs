//! Faults around timers and `block_on` (issue 15, DESIGN §4): a panicking
//! waker woken by a timer, timers after the workers stop, stale `block_on`
//! wakers, several `block_on` threads on a paused clock. None may kill a
//! worker or hang the runtime; each case that used to hang runs under a
//! watchdog that fails the test instead.

use canopy::time;
use canopy::{CancelScope, Runtime, runtime::Handle};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// How long a case may take before the watchdog calls it hung: far beyond
/// what any of them needs, even in debug on a loaded machine.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs `f` on its own thread and returns its result, or fails the test if
/// it has not finished within `WATCHDOG` (the hung thread is left behind).
fn within_watchdog<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match result.recv_timeout(WATCHDOG) {
        Ok(Ok(value)) => value,
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("{what}: still running after {WATCHDOG:?}, the runtime hangs"),
    }
}

/// Waits (briefly sleeping, real time) until `armed_timers` reaches `n`.
fn wait_until_armed(handle: &Handle, n: usize) {
    let start = Instant::now();
    while handle.metrics().armed_timers < n {
        assert!(start.elapsed() < WATCHDOG, "never armed {n} timers");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits (briefly sleeping, real time) until `armed_timers` is down to `n`.
fn wait_until_armed_at_most(handle: &Handle, n: usize) {
    let start = Instant::now();
    while handle.metrics().armed_timers > n {
        assert!(start.elapsed() < WATCHDOG, "timers never fired");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A waker whose `wake` panics.
struct PanicsWhenWoken;

impl Wake for PanicsWhenWoken {
    fn wake(self: Arc<Self>) {
        panic!("a waker that panics");
    }
}

/// A sleep kept armed, not to be awaited (its waker is not a task's).
struct Armed {
    _sleep: Pin<Box<time::Sleep>>,
}

/// A `sleep_until(deadline)` armed with a waker that panics when it fires.
fn armed_with_a_panicking_waker(deadline: Instant) -> Armed {
    let mut sleep = Box::pin(time::sleep_until(deadline));
    let waker = Waker::from(Arc::new(PanicsWhenWoken));
    let polled = sleep.as_mut().poll(&mut Context::from_waker(&waker));
    assert!(polled.is_pending());
    Armed { _sleep: sleep }
}

/// Counts the payloads the runtime reports as unobserved panics.
fn counting_reports(
    builder: canopy::runtime::Builder,
    seen: &Arc<AtomicUsize>,
) -> canopy::runtime::Builder {
    let seen = seen.clone();
    builder.on_unobserved_panic(move |payload| {
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"a waker that panics"));
        seen.fetch_add(1, SeqCst);
    })
}

#[test]
fn a_panicking_waker_fired_by_advance_strands_no_other_sleeper() {
    let reports = Arc::new(AtomicUsize::new(0));
    let rt = counting_reports(Runtime::builder().workers(2).start_paused(true), &reports)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    within_watchdog("20 sleepers after a panicking waker", move || {
        handle.block_on(async {
            let start = time::now();
            // Due first, so it is woken first in the batch.
            let _poisoned = armed_with_a_panicking_waker(start + Duration::from_secs(1));
            let sleepers: Vec<_> = (0..20)
                .map(|_| canopy::spawn(time::sleep_until(start + Duration::from_secs(2))))
                .collect();
            while Handle::current().metrics().armed_timers < 21 {
                canopy::task::yield_now().await.unwrap();
            }
            // Fires all 21 here, on this thread: the panic is the waker's,
            // not this caller's, and does not reach it.
            time::advance(Duration::from_secs(5));
            for sleeper in sleepers {
                sleeper.await.unwrap().unwrap();
            }
        });
    });
    assert_eq!(reports.load(SeqCst), 1);
    assert_eq!(rt.metrics().unobserved_panics, 1);
}

#[test]
fn a_worker_that_fires_a_panicking_waker_lives_on_and_shuts_down() {
    let reports = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let stops = stopped.clone();
    // One worker: if it died, nothing would run any more. On a real clock
    // only the worker fires timers (the sentinel, or between polls).
    let rt = counting_reports(Runtime::builder().workers(1), &reports)
        .on_thread_stop(move || {
            stops.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    within_watchdog(
        "sleepers after a worker fired a panicking waker",
        move || {
            let due = Instant::now() + Duration::from_millis(100);
            // Armed on the worker's shard, the sleepers on the block_on thread's:
            // at one deadline, the worker's shard comes first in the batch.
            let poisoned = handle
                .block_on(handle.spawn(async move { armed_with_a_panicking_waker(due) }))
                .unwrap();
            // Polled together, so all 20 are armed before the deadline.
            let sleeps = (0..20).map(|_| time::sleep_until(due));
            for slept in handle.block_on(futures::future::join_all(sleeps)) {
                slept.unwrap();
            }
            // Fired with them, or (had they passed their deadline before
            // they were polled) by itself soon: only then is it done with.
            wait_until_armed_at_most(&handle, 0);
            drop(poisoned);
            // The worker still runs tasks spawned from outside...
            assert_eq!(handle.block_on(handle.spawn(async { 7 })).unwrap(), 7);
            // ...and timers.
            handle
                .block_on(handle.spawn(time::sleep(Duration::from_millis(5))))
                .unwrap()
                .unwrap();
            // Dropping the runtime does not hang on the worker's queue.
            drop(rt);
        },
    );
    assert_eq!(reports.load(SeqCst), 1);
    assert_eq!(stopped.load(SeqCst), 1, "the worker stopped normally, once");
}

#[test]
fn a_block_on_after_the_runtime_is_dropped_still_sleeps() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let handle = rt.handle().clone();
    drop(rt);
    let slept = within_watchdog("a sleep after the drop", move || {
        handle.block_on(async {
            let started = Instant::now();
            time::sleep(Duration::from_millis(10)).await.unwrap();
            started.elapsed()
        })
    });
    assert!(slept >= Duration::from_millis(10));
}

#[test]
fn a_block_on_after_the_runtime_is_dropped_still_moves_a_paused_clock() {
    let rt = Runtime::builder()
        .workers(2)
        .start_paused(true)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    drop(rt);
    within_watchdog("a paused sleep after the drop", move || {
        handle.block_on(async {
            let before = time::now();
            time::sleep(Duration::from_secs(3_600)).await.unwrap();
            assert_eq!(time::now() - before, Duration::from_secs(3_600));
            // Spawned tasks are dropped at once, and do not block the clock.
            let task = canopy::spawn(time::sleep(Duration::from_secs(1)));
            assert!(task.await.unwrap_err().is_dropped());
            time::sleep(Duration::from_secs(60)).await.unwrap();
        });
    });
}

#[test]
fn a_block_on_sleeping_while_the_runtime_is_dropped_wakes_on_time() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let handle = rt.handle().clone();
    let sleeper = {
        let handle = handle.clone();
        std::thread::spawn(move || {
            handle.block_on(async {
                let started = Instant::now();
                time::sleep(Duration::from_millis(200)).await.unwrap();
                started.elapsed()
            })
        })
    };
    wait_until_armed(&handle, 1);
    drop(rt);
    let slept = within_watchdog("a sleep across the drop", move || sleeper.join().unwrap());
    assert!(slept >= Duration::from_millis(200));
}

#[test]
fn a_block_on_sleeping_on_a_paused_clock_while_the_runtime_is_dropped_wakes() {
    let rt = Runtime::builder()
        .workers(1)
        .start_paused(true)
        .build()
        .unwrap();
    // A busy task keeps the clock from jumping until the drop drops it.
    drop(rt.spawn(async {
        loop {
            canopy::task::yield_now().await.unwrap();
        }
    }));
    let handle = rt.handle().clone();
    let sleeper = {
        let handle = handle.clone();
        std::thread::spawn(move || {
            handle.block_on(async {
                let before = time::now();
                time::sleep(Duration::from_secs(3_600)).await.unwrap();
                time::now() - before
            })
        })
    };
    wait_until_armed(&handle, 1);
    drop(rt);
    let slept = within_watchdog("a paused sleep across the drop", move || {
        sleeper.join().unwrap()
    });
    assert_eq!(slept, Duration::from_secs(3_600));
}

/// A `block_on` future that sleeps until the shutdown cancels it, then
/// runs a shielded cleanup sleeping `cleanup` and sets `cleaned`; says how
/// long the cleanup took.
fn cleanup_in_block_on(
    handle: &Handle,
    cleanup: Duration,
    cleaned: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<Duration> {
    let handle = handle.clone();
    let cleaned = cleaned.clone();
    std::thread::spawn(move || {
        handle.block_on(async move {
            let stopped = time::sleep(Duration::from_secs(3_600)).await;
            assert_eq!(
                stopped.unwrap_err().reason(),
                canopy::scope::CancelReason::Shutdown
            );
            let started = Instant::now();
            CancelScope::new()
                .with_shield(true)
                .run(time::sleep(cleanup))
                .await
                .unwrap()
                .expect("shielded, so not cancelled");
            cleaned.store(true, SeqCst);
            started.elapsed()
        })
    })
}

#[test]
fn the_grace_period_covers_a_block_on_futures_shielded_cleanup() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let handle = rt.handle().clone();
    let cleaned = Arc::new(AtomicBool::new(false));
    let caller = cleanup_in_block_on(&handle, Duration::from_millis(50), &cleaned);
    wait_until_armed(&handle, 1);
    let finished = within_watchdog("shutdown with a block_on cleanup", move || {
        rt.shutdown(Duration::from_secs(30))
    });
    assert!(finished, "the cleanup fits the grace period");
    assert!(
        cleaned.load(SeqCst),
        "shutdown waited for the block_on call"
    );
    let cleanup = within_watchdog("the block_on call", move || caller.join().unwrap());
    assert!(cleanup >= Duration::from_millis(50));
}

#[test]
fn a_block_on_cleanup_outliving_the_grace_period_keeps_working_timers() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let handle = rt.handle().clone();
    let cleaned = Arc::new(AtomicBool::new(false));
    let caller = cleanup_in_block_on(&handle, Duration::from_millis(300), &cleaned);
    wait_until_armed(&handle, 1);
    let started = Instant::now();
    let finished = rt.shutdown(Duration::from_millis(20));
    assert!(!finished, "a 300 ms cleanup does not fit a 20 ms grace");
    assert!(started.elapsed() >= Duration::from_millis(20));
    // The workers are gone; the caller's thread fires its timer itself.
    let cleanup = within_watchdog("a cleanup after the shutdown", move || {
        caller.join().unwrap()
    });
    assert!(cleanup >= Duration::from_millis(300));
}

#[test]
fn a_stale_block_on_waker_does_not_stop_the_paused_clock() {
    let rt = Runtime::builder()
        .workers(1)
        .start_paused(true)
        .build()
        .unwrap();
    // Kept by the future after its call returned, and woken later (as a
    // dropped ctrl_c() future's waker could be, by a later signal).
    let stale = rt.block_on(poll_fn(|cx| Poll::Ready(cx.waker().clone())));
    stale.wake_by_ref();
    let stale_elsewhere = stale.clone();
    std::thread::spawn(move || stale_elsewhere.wake())
        .join()
        .unwrap();
    let handle = rt.handle().clone();
    within_watchdog("a paused sleep after a stale wake", move || {
        handle.block_on(async {
            let before = time::now();
            time::sleep(Duration::from_secs(1)).await.unwrap();
            assert_eq!(time::now() - before, Duration::from_secs(1));
        });
        stale.wake();
        handle
            .block_on(time::sleep(Duration::from_secs(1)))
            .unwrap();
    });
}

#[test]
fn a_paused_clock_keeps_moving_with_several_block_on_threads() {
    // The reproduction from issue 15 (4 threads x 300 rounds there; 1,000
    // take well under a second in debug). It hung once the first thread was
    // done: its last call was counted active when another thread went idle,
    // and returned without moving the clock on for it.
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 1000;
    let rt = Arc::new(
        Runtime::builder()
            .workers(2)
            .start_paused(true)
            .build()
            .unwrap(),
    );
    let callers: Vec<_> = (0..THREADS)
        .map(|t| {
            let rt = rt.clone();
            std::thread::spawn(move || {
                let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (t + 1);
                for _ in 0..ROUNDS {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let ms = seed % 5_000;
                    rt.block_on(async move {
                        let half = canopy::spawn(time::sleep(Duration::from_millis(ms / 2)));
                        time::sleep(Duration::from_millis(ms)).await?;
                        half.await.unwrap()
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    within_watchdog("4 block_on threads on a paused clock", move || {
        for caller in callers {
            caller.join().unwrap();
        }
    });
    assert_eq!(rt.metrics().alive_tasks, 0);
}
