//! Timers through the facade: ordering, cascading of far timers, paused-clock
//! auto-jump, intervals, bad input, timers on a saturated runtime.

use canopy::Runtime;
use canopy::time::{self, MissedTicks};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn paused(workers: usize) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn a_sleep_never_ends_early_on_the_real_clock() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async {
        for ms in [0u64, 1, 3, 20] {
            let started = Instant::now();
            time::sleep(Duration::from_millis(ms)).await.unwrap();
            assert!(started.elapsed() >= Duration::from_millis(ms));
        }
    });
}

#[test]
fn many_timers_fire_in_deadline_order_at_their_exact_tick() {
    let rt = paused(2);
    let fired = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let start = time::now();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let handles: Vec<_> = (0..2_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let delay = Duration::from_millis(seed % 5_000);
                let fired = fired.clone();
                canopy::spawn(async move {
                    time::sleep(delay).await.unwrap();
                    fired.lock().unwrap().push((delay, time::now() - start));
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });
    let fired = fired.lock().unwrap();
    assert_eq!(fired.len(), 2_000);
    for &(delay, at) in fired.iter() {
        // On a paused clock time jumps exactly to each deadline.
        assert_eq!(at, delay, "a {delay:?} sleep ended at {at:?}");
    }
    assert!(fired.windows(2).all(|w| w[0].1 <= w[1].1), "out of order");
}

#[test]
fn far_timers_cascade_down_and_fire_exactly() {
    let rt = paused(2);
    rt.block_on(async {
        let start = time::now();
        for delay in [
            Duration::from_secs(1),
            Duration::from_secs(65),
            Duration::from_secs(3_600),
            Duration::from_secs(86_400 + 7),
            Duration::from_secs(40 * 86_400),
            Duration::from_secs(3 * 365 * 86_400), // beyond the wheel's ~2.2 years
        ] {
            let before = time::now();
            time::sleep(delay).await.unwrap();
            assert_eq!(time::now() - before, delay);
        }
        assert!(time::now() - start > Duration::from_secs(3 * 365 * 86_400));
    });
}

#[test]
fn an_hour_long_sleep_on_a_paused_clock_is_instant_and_exact() {
    let rt = paused(2);
    let wall = Instant::now();
    rt.block_on(async {
        let before = time::now();
        canopy::spawn(async { time::sleep(Duration::from_secs(3_600)).await.unwrap() })
            .await
            .unwrap();
        assert_eq!(time::now() - before, Duration::from_secs(3_600));
    });
    assert!(wall.elapsed() < Duration::from_secs(10));
}

#[test]
fn advance_moves_a_paused_clock_and_fires_what_is_due() {
    let rt = paused(1);
    rt.block_on(async {
        let before = time::now();
        let woke = Arc::new(AtomicBool::new(false));
        let flag = woke.clone();
        // The deadline is taken when `sleep` is called: here, not when the
        // task first runs.
        let ten_seconds = time::sleep(Duration::from_secs(10));
        let sleeper = canopy::spawn(async move {
            ten_seconds.await.unwrap();
            flag.store(true, SeqCst);
        });
        time::advance(Duration::from_secs(4));
        assert_eq!(time::now() - before, Duration::from_secs(4));
        assert!(!woke.load(SeqCst));
        sleeper.await.unwrap();
        assert!(woke.load(SeqCst));
        assert_eq!(time::now() - before, Duration::from_secs(10));
    });
}

/// Logs its label when woken, then wakes the task it stands in for.
struct LogWhenWoken {
    label: u64,
    log: Arc<Mutex<Vec<u64>>>,
    inner: std::task::Waker,
}

impl std::task::Wake for LogWhenWoken {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.label);
        self.inner.wake_by_ref();
    }
}

/// A sleep armed by `logged_sleep`.
struct Armed(std::pin::Pin<Box<time::Sleep>>);

/// A sleep of `secs` from `start`, armed (in the shard of the thread polling
/// it here) with a waker that logs `secs` when the timer fires.
fn logged_sleep(
    start: Instant,
    secs: u64,
    log: &Arc<Mutex<Vec<u64>>>,
) -> impl std::future::Future<Output = Armed> + Send + 'static {
    let log = log.clone();
    async move {
        let mut sleep = Box::pin(time::sleep_until(start + Duration::from_secs(secs)));
        std::future::poll_fn(|cx| {
            let waker = std::task::Waker::from(Arc::new(LogWhenWoken {
                label: secs,
                log: log.clone(),
                inner: cx.waker().clone(),
            }));
            let polled = sleep
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker));
            assert!(polled.is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        Armed(sleep)
    }
}

#[test]
fn advance_wakes_sleepers_in_deadline_order_whatever_shard_they_are_armed_in() {
    let rt = paused(2);
    let log = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let start = time::now();
        // The later deadlines on the workers' shards (which are fired
        // first), the earlier ones on this block_on thread's shard, and
        // some in one slot of the wheel's second level (64 ms to 4 s).
        let mut armed = Vec::new();
        for secs in [9, 3, 2] {
            armed.push(
                canopy::spawn(logged_sleep(start, secs, &log))
                    .await
                    .unwrap(),
            );
        }
        for secs in [1, 8] {
            armed.push(logged_sleep(start, secs, &log).await);
        }
        assert_eq!(canopy::runtime::Handle::current().metrics().armed_timers, 5);
        time::advance(Duration::from_secs(10));
        assert_eq!(*log.lock().unwrap(), [1, 2, 3, 8, 9]);
        for Armed(sleep) in armed {
            assert!(sleep.is_elapsed());
            sleep.await.unwrap();
        }
    });
}

#[test]
fn sleeps_across_workers_and_from_block_on() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async {
        let handles: Vec<_> = (0..100u64)
            .map(|i| canopy::spawn(async move { time::sleep(Duration::from_millis(i % 7)).await }))
            .collect();
        time::sleep(Duration::from_millis(2)).await.unwrap();
        for handle in handles {
            handle.await.unwrap().unwrap();
        }
    });
}

#[test]
fn dropping_a_pending_sleep_disarms_its_timer() {
    let rt = paused(2);
    rt.block_on(async {
        let mut sleeps: Vec<_> = (0..100)
            .map(|_| Box::pin(time::sleep(Duration::from_secs(60))))
            .collect();
        // Poll each once so it arms.
        for sleep in &mut sleeps {
            let polled = futures_lite::future::poll_once(sleep.as_mut()).await;
            assert!(polled.is_none());
        }
        assert_eq!(
            canopy::runtime::Handle::current().metrics().armed_timers,
            100
        );
        sleeps.truncate(30);
        assert_eq!(
            canopy::runtime::Handle::current().metrics().armed_timers,
            30
        );
        drop(sleeps);
        assert_eq!(canopy::runtime::Handle::current().metrics().armed_timers, 0);
    });
}

#[test]
fn a_sleep_that_completes_at_first_poll_arms_nothing() {
    let rt = paused(1);
    rt.block_on(async {
        time::sleep(Duration::ZERO).await.unwrap();
        time::sleep_until(time::now()).await.unwrap();
        assert_eq!(canopy::runtime::Handle::current().metrics().armed_timers, 0);
    });
}

#[test]
fn past_deadlines_and_instants_from_before_the_runtime_complete_at_once() {
    let long_ago = Instant::now();
    std::thread::sleep(Duration::from_millis(2));
    let rt = Runtime::builder().workers(1).build().unwrap();
    rt.block_on(async move {
        let started = Instant::now();
        time::sleep_until(long_ago).await.unwrap();
        time::sleep_until(Instant::now() - Duration::from_millis(1))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn huge_durations_do_not_overflow() {
    let rt = paused(1);
    rt.block_on(async {
        let sleep = time::sleep(Duration::MAX);
        assert!(sleep.deadline() > time::now() + Duration::from_secs(20 * 365 * 86_400));
        // A short sleep racing it wins; the far one is disarmed when dropped.
        let winner = futures_lite::future::or(
            async {
                sleep.await.unwrap();
                "max"
            },
            async {
                time::sleep(Duration::from_secs(1)).await.unwrap();
                "short"
            },
        )
        .await;
        assert_eq!(winner, "short");
        assert_eq!(canopy::runtime::Handle::current().metrics().armed_timers, 0);
    });
}

#[test]
fn sleep_reset_moves_the_deadline_both_ways() {
    let rt = paused(1);
    rt.block_on(async {
        let start = time::now();
        let mut sleep = Box::pin(time::sleep(Duration::from_secs(100)));
        assert!(
            futures_lite::future::poll_once(sleep.as_mut())
                .await
                .is_none()
        );
        sleep
            .as_mut()
            .get_mut()
            .reset(start + Duration::from_secs(5));
        sleep.as_mut().await.unwrap();
        assert_eq!(time::now() - start, Duration::from_secs(5));
        let mut later = Box::pin(time::sleep(Duration::from_secs(1)));
        assert!(
            futures_lite::future::poll_once(later.as_mut())
                .await
                .is_none()
        );
        later
            .as_mut()
            .get_mut()
            .reset(start + Duration::from_secs(50));
        later.await.unwrap();
        assert_eq!(time::now() - start, Duration::from_secs(50));
    });
}

#[test]
fn interval_ticks_on_schedule() {
    let rt = paused(1);
    rt.block_on(async {
        let start = time::now();
        let mut every = time::interval(Duration::from_secs(10));
        for n in 0..5u32 {
            let tick = every.tick().await.unwrap();
            assert_eq!(tick - start, Duration::from_secs(10) * n);
            assert_eq!(time::now(), tick);
        }
    });
}

#[test]
fn interval_missed_tick_policies() {
    let rt = paused(1);
    rt.block_on(async {
        for (policy, expected) in [
            // Late by 35 s at the 2nd tick (due at 10 s, taken at 35 s):
            (MissedTicks::Burst, [0, 10, 20, 30, 40]),
            (MissedTicks::Delay, [0, 10, 45, 55, 65]),
            (MissedTicks::Skip, [0, 10, 40, 50, 60]),
        ] {
            let start = time::now();
            let mut every = time::interval(Duration::from_secs(10));
            every.set_missed_ticks(policy);
            let mut ticks = vec![every.tick().await.unwrap()];
            time::advance(Duration::from_secs(35));
            for _ in 0..4 {
                ticks.push(every.tick().await.unwrap());
            }
            let secs: Vec<u64> = ticks.iter().map(|t| (*t - start).as_secs()).collect();
            assert_eq!(secs, expected, "{policy:?}");
        }
    });
}

#[test]
fn interval_delay_waits_a_full_period_after_any_late_tick() {
    let rt = paused(1);
    rt.block_on(async {
        let start = time::now();
        let mut every = time::interval(Duration::from_secs(10));
        every.set_missed_ticks(MissedTicks::Delay);
        let mut taken = vec![every.tick().await.unwrap()];
        // The tick due at 10 s is taken at 13 s: late by less than a period.
        time::advance(Duration::from_secs(13));
        for _ in 0..3 {
            taken.push(every.tick().await.unwrap());
            assert!(time::now() - *taken.last().unwrap() <= Duration::from_secs(3));
        }
        let secs: Vec<u64> = taken.iter().map(|t| (*t - start).as_secs()).collect();
        // Scheduled at 0 and 10; then a full period after 13 s, and on.
        assert_eq!(secs, [0, 10, 23, 33]);
        assert_eq!(time::now() - start, Duration::from_secs(33));
    });
}

#[test]
#[should_panic(expected = "period must be greater than zero")]
fn a_zero_interval_is_refused() {
    let _ = time::interval(Duration::ZERO);
}

#[test]
#[should_panic(expected = "outside a canopy runtime")]
fn a_sleep_polled_outside_a_runtime_panics_clearly() {
    futures_lite::future::block_on(time::sleep(Duration::from_millis(1))).unwrap();
}

#[test]
fn timers_fire_on_a_runtime_saturated_with_self_waking_tasks() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..8 {
        let stop = stop.clone();
        drop(rt.spawn(async move {
            while !stop.load(SeqCst) {
                canopy::task::yield_now().await.unwrap();
            }
        }));
    }
    let late = rt.block_on(rt.spawn(async {
        let started = Instant::now();
        time::sleep(Duration::from_millis(10)).await.unwrap();
        started.elapsed()
    }));
    stop.store(true, SeqCst);
    let late = late.unwrap();
    assert!(late >= Duration::from_millis(10));
    // No worker ever parks here: the busy workers fire timers themselves.
    assert!(late < Duration::from_secs(2), "a 10 ms sleep took {late:?}");
}

#[test]
fn sleep_forever_ends_only_when_its_scope_is_cancelled() {
    let rt = paused(2);
    // By a deadline, on the paused clock.
    let out = rt.block_on(canopy::move_on_after(Duration::from_secs(3600), async {
        time::sleep_forever().await?;
        Ok::<(), canopy::Cancelled>(())
    }));
    assert_eq!(out, Ok(None));
    // From another OS thread, under a combinator that gives it its own waker.
    let rt = Runtime::builder().workers(2).build().unwrap();
    let scope = canopy::CancelScope::new();
    let canceller = scope.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        canceller.cancel();
    });
    let out = rt.block_on(scope.run(async {
        use futures::stream::{FuturesUnordered, StreamExt};
        let mut forever: FuturesUnordered<_> = (0..4).map(|_| time::sleep_forever()).collect();
        let mut cancelled = 0;
        while let Some(result) = forever.next().await {
            cancelled += usize::from(result.is_err());
        }
        assert_eq!(cancelled, 4);
        Err::<(), _>(canopy::scope::checkpoint_if_cancelled().await.unwrap_err())
    }));
    thread.join().unwrap();
    assert_eq!(out, Ok(None));
    // At shutdown: it ends with the root's cancellation.
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    drop(rt.spawn(async move {
        started_tx.send(()).unwrap();
        let stop = time::sleep_forever().await.unwrap_err();
        assert_eq!(stop.reason(), canopy::scope::CancelReason::Shutdown);
        flag.store(true, SeqCst);
    }));
    started_rx.recv().unwrap();
    assert!(rt.shutdown(Duration::from_secs(10)));
    assert!(ended.load(SeqCst));
}
