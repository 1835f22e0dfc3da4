//! Stress tests of the wake-up and shutdown protocols on real threads: many
//! rounds of the races the loom models check in the small. A lost wake-up
//! shows as a timeout with a message, never as a hung test.

mod common;

use canopy::Runtime;
use common::Gate;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn every_remote_spawn_wakes_an_idle_worker() {
    for workers in [1, 2, 3] {
        let rt = Runtime::builder().workers(workers).build().unwrap();
        let (tx, rx) = mpsc::channel();
        for round in 0..3_000 {
            let tx = tx.clone();
            drop(rt.spawn(async move { tx.send(round).unwrap() }));
            // Between rounds every worker runs out of work and heads for park.
            assert_eq!(
                rx.recv_timeout(PATIENCE),
                Ok(round),
                "round {round} on {workers} workers: a spawn was never run (lost wake-up)"
            );
        }
    }
}

#[test]
fn wakes_from_outside_race_with_parking() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    for round in 0..2_000 {
        let gates: Vec<Gate> = (0..4).map(|_| Gate::default()).collect();
        let handles: Vec<_> = gates.iter().map(|g| rt.spawn(g.passed())).collect();
        // Four threads open the gates while the workers are parking.
        let openers: Vec<_> = gates
            .into_iter()
            .map(|g| thread::spawn(move || g.open()))
            .collect();
        for opener in openers {
            opener.join().unwrap();
        }
        let (tx, rx) = mpsc::channel();
        let handle = rt.handle().clone();
        thread::spawn(move || {
            handle.block_on(async {
                for h in handles {
                    h.await.unwrap();
                }
            });
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(PATIENCE).is_ok(),
            "round {round}: a task woken from outside never ran"
        );
    }
}

#[test]
fn ping_pong_between_a_task_and_a_thread() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (to_task, task_rx) = mpsc::channel::<Gate>();
    let (to_thread, thread_rx) = mpsc::channel::<()>();
    const ROUNDS: usize = 5_000;
    let task = rt.spawn(async move {
        for _ in 0..ROUNDS {
            let gate = Gate::default();
            to_task.send(gate.clone()).unwrap();
            gate.passed().await;
            to_thread.send(()).unwrap();
        }
    });
    for round in 0..ROUNDS {
        let gate = task_rx.recv_timeout(PATIENCE).expect("the task stopped");
        gate.open();
        assert!(
            thread_rx.recv_timeout(PATIENCE).is_ok(),
            "round {round}: the woken task never ran"
        );
    }
    rt.block_on(task).unwrap();
}

#[test]
fn shutdown_races_with_wakers_and_spawns_from_outside() {
    for round in 0..200 {
        let drops = Arc::new(AtomicUsize::new(0));
        let rt = Runtime::builder().workers(2).build().unwrap();
        let gates: Vec<Gate> = (0..20).map(|_| Gate::default()).collect();
        struct Guard(Arc<AtomicUsize>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        for gate in &gates {
            let guard = Guard(drops.clone());
            let passed = gate.passed();
            drop(rt.spawn(async move {
                let _guard = guard;
                passed.await;
                std::future::pending::<()>().await;
            }));
        }
        // Wake and spawn from another thread while the runtime shuts down.
        let handle = rt.handle().clone();
        let late = drops.clone();
        let racer = thread::spawn(move || {
            for gate in gates {
                gate.open();
                let guard = Guard(late.clone());
                drop(handle.spawn(async move {
                    let _guard = guard;
                }));
            }
        });
        drop(rt);
        racer.join().unwrap();
        assert_eq!(
            drops.load(SeqCst),
            40,
            "round {round}: a task's future was never dropped"
        );
    }
}

#[test]
fn every_panic_reaches_its_handle_or_is_reported_exactly_once() {
    // Thousands of expected panics: keep the default hook's messages out of the log.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m.starts_with("task "));
        if !expected {
            // Anything else is a real failure: let it be seen.
            eprintln!("unexpected panic: {info}");
        }
    }));
    let reported = Arc::new(AtomicUsize::new(0));
    let counter = reported.clone();
    let rt = Runtime::builder()
        .workers(2)
        .on_unobserved_panic(move |_| {
            counter.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    const TASKS: usize = 2_000;
    let gates: Vec<Gate> = (0..TASKS).map(|_| Gate::default()).collect();
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (i, gate) in gates.iter().enumerate() {
        let passed = gate.passed();
        let handle = rt.spawn(async move {
            passed.await;
            panic!("task {i}");
        });
        if i % 2 == 0 {
            kept.push(handle)
        } else {
            dropped.push(handle)
        }
    }
    // Panics land while the other half of the handles is being dropped.
    let opener = thread::spawn(move || gates.iter().for_each(Gate::open));
    drop(dropped);
    opener.join().unwrap();
    let observed = rt.block_on(async {
        let mut observed = 0;
        for handle in kept {
            observed += usize::from(handle.await.unwrap_err().is_panic());
        }
        observed
    });
    assert_eq!(observed, TASKS / 2);
    let deadline = std::time::Instant::now() + PATIENCE;
    while rt.metrics().unobserved_panics < (TASKS / 2) as u64 {
        assert!(std::time::Instant::now() < deadline, "{:?}", rt.metrics());
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(reported.load(SeqCst), TASKS / 2);
    drop(rt);
    std::panic::set_hook(default_hook);
}
