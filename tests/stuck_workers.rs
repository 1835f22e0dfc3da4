//! Workers stuck in one long poll (DESIGN §4): nothing waits behind them
//! while another worker is idle, timers keep firing, and the stuck poll is
//! reported with its task's spawn location. Bounds are generous: these
//! assert behaviour (the short task did not wait for the stuck poll), not
//! speed.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const BLOCK: Duration = Duration::from_millis(500);
/// Far below `BLOCK`: a task that waited for the stuck poll cannot make it.
const PROMPT: Duration = Duration::from_millis(150);

fn two_workers() -> canopy::Runtime {
    canopy::Runtime::builder().workers(2).build().unwrap()
}

/// tokio's blind spot: the short task lands in the LIFO slot of the worker
/// that then blocks; the other worker is idle and must run it.
#[test]
fn a_task_in_the_lifo_slot_of_a_stuck_worker_runs_elsewhere() {
    let rt = two_workers();
    for _ in 0..3 {
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        let blocker = rt.spawn(async move {
            let tx = tx.clone();
            drop(canopy::spawn(
                async move { tx.send(Instant::now()).unwrap() },
            ));
            std::thread::sleep(BLOCK);
        });
        let ran_at = rx.recv().unwrap();
        assert!(
            ran_at - start < PROMPT,
            "the short task waited {:?} behind the stuck worker",
            ran_at - start
        );
        rt.block_on(blocker).unwrap();
    }
}

#[test]
fn tasks_in_the_local_queue_of_a_stuck_worker_run_elsewhere() {
    let rt = two_workers();
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let blocker = rt.spawn(async move {
        for _ in 0..100 {
            let tx = tx.clone();
            drop(canopy::spawn(
                async move { tx.send(Instant::now()).unwrap() },
            ));
        }
        std::thread::sleep(BLOCK);
    });
    for _ in 0..100 {
        let ran_at = rx.recv().unwrap();
        assert!(ran_at - start < PROMPT, "waited {:?}", ran_at - start);
    }
    rt.block_on(blocker).unwrap();
}

/// Each worker in turn is blocked while a short sleep elsewhere must finish
/// on time: timers fire whichever worker is stuck.
#[test]
fn timers_fire_while_either_worker_is_stuck() {
    let rt = two_workers();
    for round in 0..4 {
        let (stuck_tx, stuck_rx) = mpsc::channel();
        let blocker = rt.spawn(async move {
            stuck_tx.send(()).unwrap();
            std::thread::sleep(BLOCK);
        });
        stuck_rx.recv().unwrap();
        let slept = rt.block_on(async {
            let start = Instant::now();
            let sleeper = canopy::spawn(async move {
                canopy::time::sleep(Duration::from_millis(10))
                    .await
                    .unwrap();
                Instant::now()
            });
            sleeper.await.unwrap() - start
        });
        assert!(
            slept >= Duration::from_millis(10) && slept < PROMPT,
            "round {round}: a 10 ms sleep took {slept:?}"
        );
        rt.block_on(blocker).unwrap();
    }
}

/// With every worker stuck, the monitor fires the timers itself: a
/// `block_on` sleeping on the runtime's clock still wakes on time.
#[test]
fn timers_fire_while_every_worker_is_stuck() {
    let rt = two_workers();
    let (stuck_tx, stuck_rx) = mpsc::channel();
    let blockers: Vec<_> = (0..2)
        .map(|_| {
            let stuck_tx = stuck_tx.clone();
            rt.spawn(async move {
                stuck_tx.send(()).unwrap();
                std::thread::sleep(BLOCK);
            })
        })
        .collect();
    stuck_rx.recv().unwrap();
    stuck_rx.recv().unwrap();
    let slept = rt.block_on(async {
        let start = Instant::now();
        canopy::time::sleep(Duration::from_millis(10))
            .await
            .unwrap();
        start.elapsed()
    });
    assert!(slept < PROMPT, "a 10 ms sleep took {slept:?}");
    for blocker in blockers {
        rt.block_on(blocker).unwrap();
    }
}

#[test]
fn a_stuck_poll_is_counted_and_reported_with_its_spawn_location() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let log = reports.clone();
    let rt = canopy::Runtime::builder()
        .workers(2)
        .stuck_poll_threshold(Some(Duration::from_millis(50)))
        .on_stuck_poll(move |stuck| log.lock().unwrap().push(stuck.clone()))
        .build()
        .unwrap();
    let line = line!() + 1;
    let blocker = rt.spawn(async { std::thread::sleep(Duration::from_millis(300)) });
    rt.block_on(blocker).unwrap();
    let reports = reports.lock().unwrap();
    assert_eq!(
        reports.len(),
        1,
        "reported once per stuck poll: {reports:?}"
    );
    let stuck = &reports[0];
    assert_eq!(stuck.spawned_at.file(), file!());
    assert_eq!(stuck.spawned_at.line(), line);
    assert!(stuck.stuck_for >= Duration::from_millis(40), "{stuck:?}");
    assert!(stuck.to_string().contains("blocking::to_thread"), "{stuck}");
    let metrics = rt.metrics();
    let counted: u64 = metrics.workers.iter().map(|w| w.stuck_polls).sum();
    assert_eq!(counted, 1);
    assert_eq!(metrics.workers[stuck.worker].stuck_polls, 1);
}

#[test]
fn short_polls_are_never_reported() {
    let reports = Arc::new(AtomicUsize::new(0));
    let count = reports.clone();
    let rt = canopy::Runtime::builder()
        .workers(2)
        .stuck_poll_threshold(Some(Duration::from_millis(50)))
        .on_stuck_poll(move |_| {
            count.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..1_000)
            .map(|_| {
                canopy::spawn(async {
                    for _ in 0..10 {
                        canopy::task::yield_now().await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        canopy::time::sleep(Duration::from_millis(100))
            .await
            .unwrap();
    });
    assert_eq!(reports.load(SeqCst), 0);
}

#[test]
fn the_report_can_be_turned_off_and_the_rescue_still_works() {
    let reports = Arc::new(AtomicUsize::new(0));
    let count = reports.clone();
    let rt = canopy::Runtime::builder()
        .workers(2)
        .stuck_poll_threshold(None)
        .on_stuck_poll(move |_| {
            count.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let blocker = rt.spawn(async move {
        drop(canopy::spawn(
            async move { tx.send(Instant::now()).unwrap() },
        ));
        std::thread::sleep(Duration::from_millis(300));
    });
    assert!(rx.recv().unwrap() - start < PROMPT);
    rt.block_on(blocker).unwrap();
    assert_eq!(reports.load(SeqCst), 0);
    assert_eq!(
        rt.metrics()
            .workers
            .iter()
            .map(|w| w.stuck_polls)
            .sum::<u64>(),
        0
    );
}

#[test]
fn a_panicking_stuck_poll_hook_is_contained() {
    let rt = canopy::Runtime::builder()
        .workers(2)
        .stuck_poll_threshold(Some(Duration::from_millis(20)))
        .on_stuck_poll(|_| panic!("hook exploded"))
        .build()
        .unwrap();
    for _ in 0..2 {
        let blocker = rt.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
        rt.block_on(blocker).unwrap();
    }
    // The runtime still works.
    assert_eq!(
        rt.block_on(async { canopy::spawn(async { 5 }).await.unwrap() }),
        5
    );
}
