//! Panics in a task's `Drop`, and in the waker of code awaiting a task, are
//! contained (DESIGN §4, issue 15 item 1): the process lives, the panic
//! reaches the `JoinHandle` when the task's output was not delivered yet,
//! and is reported as unobserved otherwise.
//!
//! Each of these used to abort the process (async-task drops futures and
//! outputs, and wakes the awaiter, inside an abort-on-panic guard), so each
//! test runs its body in a child process — this test binary re-run for that
//! one test — and checks the child's exit status and output.

use canopy::{Runtime, spawn, task::yield_now};
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

mod common;
use common::Gate;

/// Set in the child process that runs one test's body.
const CHILD: &str = "CANOPY_TASK_FAULTS_CHILD";

/// The line a child prints when its body returned.
const SURVIVED: &str = "the process survived";

/// Runs `body` in a child process (this binary, re-run for the test `name`
/// alone) and checks that it exited normally after the body returned. In
/// the child, runs `body`.
fn in_child_process(name: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        body();
        println!("{SURVIVED}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(SURVIVED) && stdout.contains("1 passed"),
        "the child process running {name} ended with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

/// Panics with `message` when dropped.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

/// A future that is ready at once and panics when dropped afterwards. (An
/// `async` block drops its captures inside the poll that completes it.)
struct ReadyThenPanicOnDrop(&'static str);

impl Future for ReadyThenPanicOnDrop {
    type Output = i32;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> std::task::Poll<i32> {
        std::task::Poll::Ready(7)
    }
}

impl Drop for ReadyThenPanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

/// A future that panics when polled, and again when dropped afterwards.
/// (An `async` block cannot do this: its locals are dropped while the first
/// panic unwinds, and a second panic then aborts, as Rust does anywhere.)
struct PanicsTwice;

impl Future for PanicsTwice {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> std::task::Poll<()> {
        panic!("first: the poll");
    }
}

impl Drop for PanicsTwice {
    fn drop(&mut self) {
        panic!("second: the drop");
    }
}

/// Counts the panics reported as unobserved, keeping their messages.
#[derive(Clone, Default)]
struct Unobserved(Arc<Mutex<Vec<String>>>);

impl Unobserved {
    fn runtime(&self, workers: usize) -> Runtime {
        let log = self.0.clone();
        Runtime::builder()
            .workers(workers)
            .on_unobserved_panic(move |payload| {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                log.lock().unwrap().push(message);
            })
            .build()
            .unwrap()
    }

    fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn a_panic_dropping_a_finished_future_reaches_its_join_handle() {
    in_child_process(
        "a_panic_dropping_a_finished_future_reaches_its_join_handle",
        || {
            let unobserved = Unobserved::default();
            let rt = unobserved.runtime(2);
            let error = rt
                .block_on(rt.spawn(ReadyThenPanicOnDrop("dropped after Ready")))
                .unwrap_err();
            assert!(error.is_panic(), "{error:?}");
            assert_eq!(error.panic_message(), Some("dropped after Ready"));
            let metrics = rt.metrics();
            assert_eq!(
                (metrics.completed_tasks, metrics.panicked_tasks),
                (0, 1),
                "the task counts as panicked, not completed"
            );
            assert!(unobserved.messages().is_empty());
            // Its handle dropped, the same panic is reported instead.
            drop(rt.spawn(ReadyThenPanicOnDrop("dropped after Ready, nobody waiting")));
            wait_for(|| unobserved.messages().len() == 1);
            assert_eq!(
                unobserved.messages(),
                ["dropped after Ready, nobody waiting"]
            );
            // The workers live on.
            assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
        },
    );
}

#[test]
fn a_panic_dropping_a_future_that_panicked_is_reported_beside_the_first() {
    in_child_process(
        "a_panic_dropping_a_future_that_panicked_is_reported_beside_the_first",
        || {
            let unobserved = Unobserved::default();
            let rt = unobserved.runtime(1);
            let error = rt.block_on(rt.spawn(PanicsTwice)).unwrap_err();
            assert_eq!(error.panic_message(), Some("first: the poll"));
            assert_eq!(unobserved.messages(), ["second: the drop"]);
            assert_eq!(rt.metrics().panicked_tasks, 1);
        },
    );
}

#[test]
fn a_panic_dropping_a_pending_task_at_shutdown_reaches_its_join_handle() {
    in_child_process(
        "a_panic_dropping_a_pending_task_at_shutdown_reaches_its_join_handle",
        || {
            let unobserved = Unobserved::default();
            let rt = unobserved.runtime(2);
            let handle = rt.handle().clone();
            let started = Arc::new(AtomicUsize::new(0));
            let mut tasks = ["awaited", "detached"].map(|name| {
                let guard = PanicOnDrop(name);
                let started = started.clone();
                Some(rt.spawn(async move {
                    let _guard = &guard;
                    started.fetch_add(1, SeqCst);
                    // Ignores cancellation: only the hard shutdown ends it.
                    std::future::pending::<()>().await;
                }))
            });
            wait_for(|| started.load(SeqCst) == 2);
            drop(tasks[1].take());
            drop(rt);
            let error = futures_lite::future::block_on(tasks[0].take().unwrap()).unwrap_err();
            assert!(error.is_panic(), "{error:?}");
            assert_eq!(error.panic_message(), Some("awaited"));
            assert_eq!(unobserved.messages(), ["detached"]);
            let metrics = handle.metrics();
            assert_eq!(
                (
                    metrics.panicked_tasks,
                    metrics.dropped_tasks,
                    metrics.alive_tasks
                ),
                (2, 0, 0),
                "both tasks count as panicked, neither as dropped"
            );
        },
    );
}

#[test]
fn a_panic_dropping_a_task_that_outlived_a_graceful_shutdown_reaches_its_join_handle() {
    in_child_process(
        "a_panic_dropping_a_task_that_outlived_a_graceful_shutdown_reaches_its_join_handle",
        || {
            let unobserved = Unobserved::default();
            let rt = unobserved.runtime(2);
            let started = Gate::default();
            let ready = started.clone();
            let guard = PanicOnDrop("outlived the grace period");
            let task = rt.spawn(async move {
                let _guard = &guard;
                ready.open();
                std::future::pending::<()>().await;
            });
            futures_lite::future::block_on(started.passed());
            assert!(
                !rt.shutdown(Duration::from_millis(50)),
                "the task ignores cancellation, so the grace period runs out"
            );
            let error = futures_lite::future::block_on(task).unwrap_err();
            assert_eq!(error.panic_message(), Some("outlived the grace period"));
            assert!(unobserved.messages().is_empty());
        },
    );
}

#[test]
fn a_select_whose_losing_branch_panics_on_drop_fails_its_join_handle() {
    in_child_process(
        "a_select_whose_losing_branch_panics_on_drop_fails_its_join_handle",
        || {
            let unobserved = Unobserved::default();
            let rt = unobserved.runtime(2);
            // The losing branch was never polled: dropping it drops the
            // guard it captured.
            let guard = PanicOnDrop("losing branch, never polled");
            let unpolled =
                rt.block_on(rt.spawn(futures_lite::future::or(async { 1 }, async move {
                    let _guard = guard;
                    std::future::pending::<i32>().await
                })));
            assert_eq!(
                unpolled.unwrap_err().panic_message(),
                Some("losing branch, never polled")
            );
            // The losing branch was polled and holds the guard across an
            // await.
            let polled = rt.block_on(rt.spawn(futures_lite::future::or(
                async {
                    yield_now().await.ok();
                    2
                },
                async {
                    let _guard = PanicOnDrop("losing branch, waiting");
                    std::future::pending::<i32>().await
                },
            )));
            assert_eq!(
                polled.unwrap_err().panic_message(),
                Some("losing branch, waiting")
            );
            // The same select awaited inside a task: the drop happens in
            // the task's poll, so its panic is the task's.
            let guard = PanicOnDrop("losing branch, in an await");
            let nested = rt.block_on(rt.spawn(async move {
                let winner = futures_lite::future::or(async { 3 }, async move {
                    let _guard = guard;
                    std::future::pending::<i32>().await
                })
                .await;
                winner + 1
            }));
            assert_eq!(
                nested.unwrap_err().panic_message(),
                Some("losing branch, in an await")
            );
            assert!(unobserved.messages().is_empty());
            assert_eq!(rt.metrics().panicked_tasks, 3);
        },
    );
}

/// A waker that wakes `real`, then panics (`on_wake`), or panics when
/// dropped (`on_drop`), to stand in for a buggy combinator's waker.
struct PanickyWaker {
    real: Waker,
    on_wake: bool,
    on_drop: bool,
}

impl Wake for PanickyWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.real.wake_by_ref();
        if self.on_wake {
            panic!("the awaiter's waker panicked when woken");
        }
    }
}

impl Drop for PanickyWaker {
    fn drop(&mut self) {
        if self.on_drop && !std::thread::panicking() {
            panic!("the awaiter's waker panicked when dropped");
        }
    }
}

/// Awaits a task that finishes only after the join registered a
/// `PanickyWaker`, and returns the task's output.
async fn join_with_panicky_waker(on_wake: bool, on_drop: bool) -> i32 {
    let gate = Gate::default();
    let passed = gate.passed();
    let mut task = spawn(async move {
        passed.await;
        42
    });
    let mut opened = false;
    std::future::poll_fn(move |cx| {
        // Armed only for the poll that registers it: the join keeps a
        // reference, so its last one is dropped by the runtime's side.
        let waker = Waker::from(Arc::new(PanickyWaker {
            real: cx.waker().clone(),
            on_wake,
            on_drop: on_drop && !opened,
        }));
        let polled = Pin::new(&mut task).poll(&mut Context::from_waker(&waker));
        if polled.is_pending() && !opened {
            opened = true;
            gate.open();
        }
        polled
    })
    .await
    .unwrap()
}

#[test]
fn a_panicking_awaiter_waker_is_contained_and_reported() {
    in_child_process(
        "a_panicking_awaiter_waker_is_contained_and_reported",
        || {
            let unobserved = Unobserved::default();
            let rt = unobserved.runtime(2);
            // The task's worker wakes the awaiter as the task completes.
            assert_eq!(rt.block_on(join_with_panicky_waker(true, false)), 42);
            wait_for(|| !unobserved.messages().is_empty());
            assert_eq!(
                unobserved.messages(),
                ["the awaiter's waker panicked when woken"]
            );
            // Awaited from a task, on a worker.
            assert_eq!(
                rt.block_on(rt.spawn(join_with_panicky_waker(true, false)))
                    .unwrap(),
                42
            );
            wait_for(|| unobserved.messages().len() == 2);
            assert_eq!(rt.metrics().panicked_tasks, 0, "no task failed");
            assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
        },
    );
}

#[test]
fn an_awaiter_waker_that_panics_when_dropped_is_contained_and_reported() {
    in_child_process(
        "an_awaiter_waker_that_panics_when_dropped_is_contained_and_reported",
        || {
            let unobserved = Unobserved::default();
            let rt = unobserved.runtime(2);
            // In a task: the waker is held by the join (dropped inside
            // async-task's guard when replaced or freed) and by the task's
            // scope context, which keeps the wakers of primitives polled
            // with a waker of their own (dropped with the task's future).
            assert_eq!(
                rt.block_on(rt.spawn(join_with_panicky_waker(false, true)))
                    .unwrap(),
                42
            );
            wait_for(|| !unobserved.messages().is_empty());
            assert!(
                unobserved
                    .messages()
                    .iter()
                    .all(|m| m == "the awaiter's waker panicked when dropped"),
                "{:?}",
                unobserved.messages()
            );
            assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
        },
    );
}

#[test]
fn an_output_nobody_takes_that_panics_when_dropped_is_reported() {
    in_child_process(
        "an_output_nobody_takes_that_panics_when_dropped_is_reported",
        || {
            let unobserved = Unobserved::default();
            let rt = unobserved.runtime(1);
            // Dropped by the worker as the task completes, its handle gone.
            let gate = Gate::default();
            let passed = gate.passed();
            drop(rt.spawn(async move {
                passed.await;
                PanicOnDrop("output, handle dropped first")
            }));
            gate.open();
            wait_for(|| unobserved.messages().len() == 1);
            // Dropped with the handle of a task that already completed, on a
            // thread outside the runtime: still reported to the task's own.
            let task = rt.spawn(async { PanicOnDrop("output, dropped with its handle") });
            while !task.is_finished() {
                std::thread::yield_now();
            }
            drop(task);
            assert_eq!(
                unobserved.messages(),
                [
                    "output, handle dropped first",
                    "output, dropped with its handle"
                ]
            );
            assert_eq!(rt.metrics().completed_tasks, 2);
            assert_eq!(rt.metrics().unobserved_panics, 2);
        },
    );
}

/// Waits up to ten seconds for `done`.
fn wait_for(done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
