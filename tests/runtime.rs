//! The scheduler's behaviour, through the `canopy` facade: spawning, joining,
//! panics, wake-ups across workers, work stealing, shutdown, bad input.

mod common;

use canopy::{Runtime, task::JoinHandle};
use common::Gate;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// Generous bound for anything that should take milliseconds: a failure here
/// is a hang, not a slow machine.
const PATIENCE: Duration = Duration::from_secs(30);

fn rt(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// Counts drops; shared by clones.
#[derive(Clone, Default)]
struct DropCounter(Arc<AtomicUsize>);

struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

impl DropCounter {
    fn guard(&self) -> DropGuard {
        DropGuard(self.0.clone())
    }

    fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

#[test]
fn many_spawns_and_joins() {
    let rt = rt(2);
    let sum = rt.block_on(async {
        let handles: Vec<JoinHandle<u64>> = (0..10_000u64)
            .map(|i| canopy::spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..10_000u64).sum::<u64>());
    let metrics = rt.metrics();
    assert_eq!(metrics.spawned_tasks, 10_000);
    assert_eq!(metrics.completed_tasks, 10_000);
    assert_eq!(metrics.alive_tasks, 0);
}

#[test]
fn nested_spawns_from_workers() {
    fn fan_out(depth: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
        Box::pin(async move {
            if depth == 0 {
                return 1;
            }
            let left = canopy::spawn(fan_out(depth - 1));
            let right = canopy::spawn(fan_out(depth - 1));
            left.await.unwrap() + right.await.unwrap()
        })
    }
    let rt = rt(2);
    let leaves = rt.block_on(async { canopy::spawn(fan_out(12)).await.unwrap() });
    assert_eq!(leaves, 1 << 12);
}

#[test]
fn a_panic_reaches_the_join_handle_with_its_payload() {
    let rt = rt(2);
    let err = rt
        .block_on(rt.spawn(async { panic!("boom at request 7") }))
        .unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_dropped());
    assert_eq!(err.panic_message(), Some("boom at request 7"));
    assert_eq!(err.to_string(), "task panicked: boom at request 7");
    let payload = err.try_into_panic().unwrap();
    assert_eq!(*payload.downcast::<&str>().unwrap(), "boom at request 7");
    assert_eq!(rt.metrics().panicked_tasks, 1);
}

#[test]
fn panics_never_take_down_a_worker() {
    let rt = rt(1);
    for i in 0..200 {
        let handle = rt.spawn(async move { panic!("task {i}") });
        assert!(rt.block_on(handle).unwrap_err().is_panic());
    }
    // The only worker is still alive and polling.
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
}

#[test]
fn a_panic_after_the_handle_was_dropped_is_reported() {
    let rt = rt(2);
    let gate = Gate::default();
    let wait = gate.passed();
    drop(rt.spawn(async move {
        wait.await;
        panic!("nobody is listening");
    }));
    gate.open();
    let deadline = Instant::now() + PATIENCE;
    while rt.metrics().unobserved_panics == 0 {
        assert!(
            Instant::now() < deadline,
            "the unobserved panic was never reported"
        );
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(rt.metrics().unobserved_panics, 1);
    assert_eq!(rt.metrics().panicked_tasks, 1);
}

#[test]
fn a_dropped_handle_does_not_cancel_its_task() {
    let rt = rt(2);
    let (tx, rx) = mpsc::channel();
    let gate = Gate::default();
    let wait = gate.passed();
    drop(rt.spawn(async move {
        wait.await;
        tx.send("still ran").unwrap();
    }));
    gate.open();
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "still ran");
}

#[test]
fn wake_ups_cross_workers_and_threads() {
    let rt = rt(2);
    // A chain of 1,000 tasks, each waiting for a signal that the next one
    // (anywhere in the pool) or a plain thread sets.
    let signals: Vec<Gate> = (0..1_000).map(|_| Gate::default()).collect();
    let mut handles = Vec::new();
    for i in 0..signals.len() {
        let wait = signals[i].passed();
        let next = signals.get(i + 1).cloned();
        handles.push(rt.spawn(async move {
            wait.await;
            if let Some(next) = next {
                next.open();
            }
        }));
    }
    let first = signals[0].clone();
    thread::spawn(move || first.open()).join().unwrap();
    rt.block_on(async {
        for handle in handles {
            handle.await.unwrap();
        }
    });
}

#[test]
fn an_idle_worker_steals_from_a_busy_one() {
    let rt = rt(2);
    let done = Arc::new(AtomicUsize::new(0));
    const CHILDREN: usize = 64;
    let counter = done.clone();
    let stolen_all = rt.block_on(rt.spawn(async move {
        for _ in 0..CHILDREN {
            let counter = counter.clone();
            drop(canopy::spawn(async move {
                counter.fetch_add(1, SeqCst);
            }));
        }
        // Block this worker without yielding: its queued children can only run
        // if the other worker steals them. (The newest child sits in the LIFO
        // slot, which is not stealable, so expect all but one.)
        let deadline = Instant::now() + PATIENCE;
        while counter.load(SeqCst) < CHILDREN - 1 {
            if Instant::now() > deadline {
                return false;
            }
            std::hint::spin_loop();
        }
        true
    }));
    assert!(
        stolen_all.unwrap(),
        "the other worker never stole the queued children"
    );
    let deadline = Instant::now() + PATIENCE;
    while done.load(SeqCst) < CHILDREN {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(1));
    }
    let steals: u64 = rt.metrics().workers.iter().map(|w| w.steals).sum();
    assert!(steals >= 1, "metrics show no steal: {:?}", rt.metrics());
}

#[test]
fn handle_spawns_and_blocks_from_a_plain_thread() {
    let rt = rt(2);
    let handle = rt.handle().clone();
    let out = thread::spawn(move || {
        let task = handle.spawn(async { canopy::spawn(async { 21 }).await.unwrap() * 2 });
        handle.block_on(task).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(out, 42);
}

#[test]
fn several_threads_block_on_at_once() {
    let rt = Arc::new(rt(2));
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            let rt = rt.clone();
            thread::spawn(move || {
                rt.block_on(async move {
                    let mut sum = 0;
                    for j in 0..100 {
                        sum += canopy::spawn(async move { i * 1000 + j }).await.unwrap();
                    }
                    sum
                })
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let i = i as u64;
        assert_eq!(
            t.join().unwrap(),
            (0..100).map(|j| i * 1000 + j).sum::<u64>()
        );
    }
}

#[test]
fn tasks_keep_running_between_block_on_calls() {
    let rt = rt(2);
    let (tx, rx) = mpsc::channel();
    let mut handle = None;
    rt.block_on(async {
        handle = Some(canopy::spawn(async move {
            tx.send(()).unwrap();
            7
        }));
    });
    let handle = handle.unwrap();
    // No block_on is running now; the workers still run the task.
    rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(rt.block_on(handle).unwrap(), 7);
}

#[test]
fn shutdown_drops_every_pending_future_exactly_once() {
    let drops = DropCounter::default();
    let polls_after_drop = Arc::new(AtomicBool::new(false));
    let external_gate = Gate::default();
    let rt = rt(2);
    let mut handles = Vec::new();
    for i in 0..1_000 {
        let guard = drops.guard();
        let wait = external_gate.passed();
        let task = async move {
            let _guard = guard;
            match i % 3 {
                // Pending with no waker kept anywhere.
                0 => std::future::pending::<()>().await,
                // Pending on a waker held outside the runtime.
                1 => wait.await,
                // Busy: keeps re-queueing itself.
                _ => loop {
                    canopy::task::yield_now().await.unwrap();
                },
            }
        };
        let handle = rt.spawn(task);
        if i % 2 == 0 {
            handles.push(handle);
        } else {
            drop(handle);
        }
    }
    // Also tasks queued but never polled.
    for _ in 0..1_000 {
        let guard = drops.guard();
        let flag = polls_after_drop.clone();
        drop(rt.spawn(async move {
            let _guard = guard;
            flag.load(SeqCst);
        }));
    }
    drop(rt);
    // Each guard is owned by one future, so the count is the number of futures
    // gone: the 1,000 pending ones (dropped by shutdown) and the 1,000 quick
    // ones (finished, or dropped unpolled from a queue).
    assert_eq!(drops.count(), 2_000);
    // The runtime is gone, the external waker still exists: waking it does
    // nothing, and nothing is dropped twice.
    external_gate.open();
    assert_eq!(drops.count(), 2_000);
    for handle in handles {
        let err = futures_lite::future::block_on(handle).unwrap_err();
        assert!(err.is_dropped(), "{err}");
        assert!(err.to_string().contains("runtime shut down"));
    }
}

#[test]
fn spawning_after_shutdown_drops_the_task_at_once() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    drop(rt);
    let drops = DropCounter::default();
    let guard = drops.guard();
    let task = handle.spawn(async move {
        let _guard = guard;
    });
    assert_eq!(drops.count(), 1);
    assert!(
        futures_lite::future::block_on(task)
            .unwrap_err()
            .is_dropped()
    );
}

#[test]
fn shutdown_timeout_gives_up_on_a_stuck_worker() {
    let rt = rt(2);
    let release = Arc::new(AtomicBool::new(false));
    let stuck = release.clone();
    let (started_tx, started_rx) = mpsc::channel();
    drop(rt.spawn(async move {
        started_tx.send(()).unwrap();
        while !stuck.load(SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
    }));
    started_rx.recv_timeout(PATIENCE).unwrap();
    let begun = Instant::now();
    assert!(!rt.shutdown_timeout(Duration::from_millis(50)));
    assert!(begun.elapsed() < PATIENCE);
    release.store(true, SeqCst);
}

#[test]
fn shutdown_timeout_returns_true_when_workers_stop() {
    let rt = rt(2);
    rt.block_on(async { canopy::spawn(async {}).await.unwrap() });
    assert!(rt.shutdown_timeout(PATIENCE));
}

#[test]
fn bad_configuration_is_an_error_not_a_hang() {
    let err = Runtime::builder().workers(0).build().unwrap_err();
    assert!(err.to_string().contains("at least one worker"), "{err}");
    let err = Runtime::builder().checkpoint_budget(0).build().unwrap_err();
    assert!(err.to_string().contains("checkpoint_budget"), "{err}");
    let err = Runtime::builder()
        .global_queue_interval(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("global_queue_interval"), "{err}");
    let err = Runtime::builder().thread_stack_size(0).build().unwrap_err();
    assert!(err.to_string().contains("stack"), "{err}");
    let err = Runtime::builder().workers(1 << 20).build().unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
    let _: &dyn std::error::Error = &err;
}

#[test]
#[should_panic(expected = "called outside a canopy runtime")]
fn spawn_outside_a_runtime_panics_with_a_clear_message() {
    drop(canopy::spawn(async {}));
}

#[test]
fn handle_try_current_outside_a_runtime_is_an_error() {
    let err = canopy::runtime::Handle::try_current().unwrap_err();
    assert!(err.to_string().contains("outside a canopy runtime"));
    let rt = rt(1);
    assert!(rt.block_on(async { canopy::runtime::Handle::try_current().is_ok() }));
    assert!(
        rt.block_on(rt.spawn(async { canopy::runtime::Handle::try_current().is_ok() }))
            .unwrap()
    );
}

#[test]
fn block_on_inside_the_runtime_panics_instead_of_deadlocking() {
    let rt = rt(2);
    let handle = rt.handle().clone();
    let inner = handle.clone();
    let err = rt
        .block_on(handle.spawn(async move { inner.block_on(async {}) }))
        .unwrap_err();
    assert!(
        err.panic_message()
            .unwrap()
            .contains("inside a canopy runtime"),
        "{err}"
    );
    // Nested block_on on a block_on thread, too.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { rt.block_on(async {}) })
    }));
    assert!(result.is_err());
    // The runtime still works afterwards.
    assert_eq!(rt.block_on(async { 3 }), 3);
}

#[test]
fn thread_names_and_start_stop_hooks() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s, t) = (started.clone(), stopped.clone());
    let rt = Runtime::builder()
        .workers(3)
        .thread_name("edge")
        .on_thread_start(move || {
            s.fetch_add(1, SeqCst);
        })
        .on_thread_stop(move || {
            t.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let name = rt
        .block_on(rt.spawn(async { thread::current().name().map(str::to_owned) }))
        .unwrap()
        .unwrap();
    assert!(name.starts_with("edge-"), "{name}");
    drop(rt);
    assert_eq!(started.load(SeqCst), 3);
    assert_eq!(stopped.load(SeqCst), 3);
}

#[test]
fn yield_now_lets_other_tasks_run() {
    let rt = rt(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    // Spawned from a worker, so both sit in that worker's local queue (a
    // yielding task goes to the back of the local queue, and the global queue
    // is only looked at every 61 ticks).
    let log_ = log.clone();
    rt.block_on(rt.spawn(async move {
        let log = log_;
        let tasks: Vec<_> = (0..2)
            .map(|id| {
                let log = log.clone();
                canopy::spawn(async move {
                    for step in 0..3 {
                        log.lock().unwrap().push((id, step));
                        canopy::task::yield_now().await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }))
    .unwrap();
    let log = log.lock().unwrap();
    // With one worker the two tasks alternate at each yield.
    let ids: Vec<_> = log.iter().map(|(id, _)| *id).collect();
    for pair in ids.windows(2) {
        assert_ne!(pair[0], pair[1], "no interleaving: {log:?}");
    }
}

/// Awaits 100 already-finished `JoinHandle`s and reports after how many awaits
/// a sibling task spawned just before got to run.
fn ready_awaits_before_sibling_runs(budget: u32) -> Option<usize> {
    let rt = Runtime::builder()
        .workers(1)
        .checkpoint_budget(budget)
        .build()
        .unwrap();
    rt.block_on(rt.spawn(async {
        let finished: Vec<_> = (0..100).map(|_| canopy::spawn(async {})).collect();
        while !finished.iter().all(JoinHandle::is_finished) {
            canopy::task::yield_now().await.unwrap();
        }
        let sibling_ran = Arc::new(AtomicBool::new(false));
        let flag = sibling_ran.clone();
        drop(canopy::spawn(async move { flag.store(true, SeqCst) }));
        for (i, handle) in finished.into_iter().enumerate() {
            handle.await.unwrap();
            if sibling_ran.load(SeqCst) {
                return Some(i + 1);
            }
        }
        None
    }))
    .unwrap()
}

#[test]
fn the_checkpoint_budget_forces_a_yield_between_ready_awaits() {
    assert_eq!(ready_awaits_before_sibling_runs(1_000), None);
    // At most 4 checkpoints complete per poll: three ready awaits spend
    // the budget of 4, the 4th yields once first (and completes when the
    // task is polled again).
    assert_eq!(ready_awaits_before_sibling_runs(4), Some(4));
    // A budget of 1: every ready await is a schedule point (Trio's strict
    // mode).
    assert_eq!(ready_awaits_before_sibling_runs(1), Some(1));
}

#[test]
fn runtime_handle_and_join_handle_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Runtime>();
    send_sync::<canopy::runtime::Handle>();
    send_sync::<JoinHandle<u32>>();
    send_sync::<canopy::task::JoinError>();
    send_sync::<canopy::runtime::BuildError>();
    send_sync::<canopy::runtime::RuntimeMetrics>();
    fn send<T: Send>() {}
    send::<JoinHandle<std::cell::Cell<u32>>>();
}

#[test]
fn metrics_count_polls_parks_and_queue_depth() {
    let rt = rt(2);
    rt.block_on(async {
        for _ in 0..100 {
            canopy::spawn(async {}).await.unwrap();
        }
    });
    let m = rt.metrics();
    assert_eq!(m.workers.len(), 2);
    let polls: u64 = m.workers.iter().map(|w| w.polls).sum();
    assert!(polls >= 100, "{m:?}");
    // Workers park when idle; wait for it rather than assume timing.
    let deadline = Instant::now() + PATIENCE;
    while rt.metrics().workers.iter().map(|w| w.parks).sum::<u64>() == 0 {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(rt.metrics().global_queue_depth, 0);
    assert!(
        rt.metrics()
            .workers
            .iter()
            .all(|w| w.local_queue_depth == 0)
    );
}

#[test]
fn a_future_that_spawns_from_its_drop_during_shutdown_is_fine() {
    /// Spawns a cleanup task when dropped, as server code sometimes does.
    struct SpawnOnDrop(Arc<AtomicUsize>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let ran = self.0.clone();
            drop(canopy::spawn(async move {
                ran.fetch_add(1, SeqCst);
            }));
            self.0.fetch_add(100, SeqCst);
        }
    }
    let count = Arc::new(AtomicUsize::new(0));
    let rt = rt(2);
    for _ in 0..10 {
        let guard = SpawnOnDrop(count.clone());
        drop(rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }));
    }
    drop(rt);
    // Every future was dropped; the cleanups spawned into the closed runtime
    // were dropped unrun instead of panicking (which would abort).
    assert_eq!(count.load(SeqCst), 1_000);
}

#[test]
fn a_panicking_unobserved_panic_hook_does_not_kill_the_worker() {
    let rt = Runtime::builder()
        .workers(1)
        .on_unobserved_panic(|_| panic!("the hook itself fails"))
        .build()
        .unwrap();
    drop(rt.spawn(async { panic!("unobserved") }));
    let deadline = Instant::now() + PATIENCE;
    while rt.metrics().unobserved_panics == 0 {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(1));
    }
    // The single worker survived the hook's panic and still runs tasks.
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
}

#[test]
fn dropping_the_runtime_from_inside_its_own_task_does_not_deadlock() {
    let rt = Arc::new(Mutex::new(Some(rt(2))));
    let (tx, rx) = mpsc::channel();
    let slot = rt.clone();
    let handle = rt.lock().unwrap().as_ref().unwrap().handle().clone();
    drop(handle.spawn(async move {
        let runtime = slot.lock().unwrap().take();
        drop(runtime);
        tx.send(()).unwrap();
    }));
    rx.recv_timeout(PATIENCE)
        .expect("dropping the runtime inside its own task hung");
}

/// Yields once (waking itself during the poll, as `yield_now` does), then
/// waits for `slot` to be opened from another thread.
struct YieldOnceThenWait {
    polls: Arc<AtomicUsize>,
    slot: Arc<Mutex<(bool, Option<std::task::Waker>)>>,
}

impl Future for YieldOnceThenWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.polls.fetch_add(1, SeqCst) == 0 {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        let mut slot = self.slot.lock().unwrap();
        if slot.0 {
            return std::task::Poll::Ready(());
        }
        slot.1 = Some(cx.waker().clone());
        std::task::Poll::Pending
    }
}

/// A wake during a `block_on` poll must not leave the thread polling in a
/// loop afterwards (found by review: it spun until the next real wake).
#[test]
fn block_on_does_not_spin_after_a_wake_during_its_poll() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let polls = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(Mutex::new((false, None::<std::task::Waker>)));
    let opener = {
        let slot = slot.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            let mut slot = slot.lock().unwrap();
            slot.0 = true;
            if let Some(waker) = slot.1.take() {
                waker.wake();
            }
        })
    };
    rt.block_on(YieldOnceThenWait {
        polls: polls.clone(),
        slot,
    });
    opener.join().unwrap();
    let polls = polls.load(SeqCst);
    assert!(
        polls <= 5,
        "block_on polled {polls} times while waiting for one wake"
    );
}
