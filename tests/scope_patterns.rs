//! Cancel scopes in the patterns servers use (DESIGN §2.2–2.9): groups opened
//! in a scope that was cancelled before (or while) their body first ran,
//! shielded cleanup groups during shutdown, CPU loops that never yield,
//! primitives polled through combinators that give each child its own
//! waker, deadlines that are already past, the stickiness of
//! `cancel_called`, what a group's scope reports it caught, the checkpoint
//! budget, and a host waker that panics.
//!
//! Paused clock unless another OS thread has to act in real time. Every test
//! that could hang on a broken runtime has a bound (a give-up time, a grace
//! period, or [`within`]) so that it fails instead.

mod common;

use canopy::time::{self, sleep};
use canopy::{
    CancelScope, Cancelled, Runtime, checkpoint, fail_after, move_on_after, move_on_at,
    scope::{CancelReason, TimedOut, cancel_shielded_checkpoint, checkpoint_if_cancelled},
    task_group,
};
use common::{Gate, paused, real_clock};
use futures::StreamExt;
use futures::stream::{self, FuturesUnordered};
use std::future::{Future, poll_fn};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);
const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

/// How long a test waits for something another thread or worker does
/// before it calls it a failure (a bug must fail, not hang).
const LIMIT: Duration = Duration::from_secs(10);

/// Runs `f` on its own thread and fails the test if it has not returned
/// within `limit` (the thread is then left behind, wedged).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => resume_unwind(panic),
        Err(_) => panic!("hung: still running after {limit:?}"),
    }
}

/// Calls `f` after the first poll of `fut` returned `Pending` (the future is
/// then waiting, with its wakers registered).
struct AfterFirstPoll<F, G> {
    fut: Pin<Box<F>>,
    then: Option<G>,
}

fn after_first_poll<F: Future, G: FnOnce()>(fut: F, then: G) -> AfterFirstPoll<F, G> {
    AfterFirstPoll {
        fut: Box::pin(fut),
        then: Some(then),
    }
}

impl<F: Future, G: FnOnce() + Unpin> Future for AfterFirstPoll<F, G> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = self.fut.as_mut().poll(cx);
        if out.is_pending() {
            if let Some(then) = self.then.take() {
                then();
            }
        }
        out
    }
}

/// Counts how many times `fut` is polled; outputs `(output, polls)`.
struct CountPolls<F> {
    fut: Pin<Box<F>>,
    polls: usize,
}

fn count_polls<F: Future>(fut: F) -> CountPolls<F> {
    CountPolls {
        fut: Box::pin(fut),
        polls: 0,
    }
}

impl<F: Future> Future for CountPolls<F> {
    type Output = (F::Output, usize);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls += 1;
        let polls = self.polls;
        self.fut.as_mut().poll(cx).map(|out| (out, polls))
    }
}

// ---- item: a group's children see the cancellation of the scope around
// ---- the group even before the group's body first returned `Pending`

/// Trio: a nursery opened inside a cancelled scope starts its children in
/// that cancelled scope; their first checkpoint raises `Cancelled`.
#[test]
fn a_child_of_a_group_opened_in_a_pre_cancelled_scope_is_cancelled_at_its_first_check() {
    let rt = real_clock();
    let outer = CancelScope::new();
    outer.cancel();
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let out = rt.block_on(outer.run(task_group(|tg| async move {
        let (tx, rx) = mpsc::channel();
        tg.spawn(async move {
            let first = checkpoint_if_cancelled().await;
            let _ = tx.send(first);
            first
        });
        // Stay in the body's first poll until the child, running on a
        // worker meanwhile, has made its first check.
        *record.lock().unwrap() = Some(rx.recv_timeout(LIMIT));
        Ok::<(), Cancelled>(())
    })));
    let first = seen
        .lock()
        .unwrap()
        .take()
        .unwrap()
        .expect("the child ran while the body was in its first poll");
    assert!(
        first.is_err(),
        "the child's first checkpoint_if_cancelled in a pre-cancelled scope returned {first:?}"
    );
    assert_eq!(out.unwrap(), None, "the pre-cancelled outer scope catches");
    assert!(outer.cancelled_caught());
}

#[test]
fn a_child_spawned_after_another_thread_cancelled_during_the_bodys_first_poll_is_cancelled() {
    let rt = real_clock();
    let outer = CancelScope::new();
    let remote = outer.clone();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let canceller = thread::spawn(move || {
        go_rx.recv_timeout(LIMIT).unwrap();
        remote.cancel();
        done_tx.send(()).unwrap();
    });
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let out = rt.block_on(outer.run(task_group(|tg| async move {
        // The cancel lands while this first poll is still running...
        go_tx.send(()).unwrap();
        done_rx
            .recv_timeout(LIMIT)
            .expect("the canceller thread cancelled");
        // ...and the child is spawned after it.
        let (tx, rx) = mpsc::channel();
        tg.spawn(async move {
            let first = checkpoint_if_cancelled().await;
            let _ = tx.send(first);
            first
        });
        *record.lock().unwrap() = Some(rx.recv_timeout(LIMIT));
        Ok::<(), Cancelled>(())
    })));
    canceller.join().unwrap();
    let first = seen
        .lock()
        .unwrap()
        .take()
        .unwrap()
        .expect("the child ran while the body was in its first poll");
    assert!(
        first.is_err(),
        "the child's first check after the outer cancel returned {first:?}"
    );
    assert_eq!(out.unwrap(), None, "the outer scope catches");
}

#[test]
fn a_running_child_sees_a_cancel_made_by_another_thread_during_the_bodys_first_poll() {
    let rt = real_clock();
    let outer = CancelScope::new();
    let remote = outer.clone();
    let gate = Gate::default();
    let opener = gate.clone();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let canceller = thread::spawn(move || {
        go_rx.recv_timeout(LIMIT).unwrap();
        remote.cancel();
        opener.open(); // only now may the child make its check
    });
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let out = rt.block_on(outer.run(task_group(|tg| async move {
        let (waiting_tx, waiting_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        tg.spawn(async move {
            let _ = waiting_tx.send(());
            gate.passed().await; // not a checkpoint
            let first = checkpoint_if_cancelled().await;
            let _ = tx.send(first);
            first
        });
        // The child is running (parked at the gate) before the cancel.
        waiting_rx
            .recv_timeout(LIMIT)
            .expect("the child started while the body was in its first poll");
        go_tx.send(()).unwrap();
        *record.lock().unwrap() = Some(rx.recv_timeout(LIMIT));
        Ok::<(), Cancelled>(())
    })));
    canceller.join().unwrap();
    let first = seen
        .lock()
        .unwrap()
        .take()
        .unwrap()
        .expect("the child made its check while the body was in its first poll");
    assert!(
        first.is_err(),
        "the child's first check after the outer cancel returned {first:?}"
    );
    assert_eq!(out.unwrap(), None, "the outer scope catches");
}

/// Shielded parallel cleanup (DESIGN §2.11): as in Trio, a nursery opened
/// inside `CancelScope(shield=True)` during shutdown runs its children
/// unaffected by the cancellation outside the shield.
#[test]
fn during_shutdown_a_group_inside_a_shielded_scope_runs_its_children_unaffected() {
    const CHILDREN: usize = 4;
    type ChildSeen = (
        Result<(), Cancelled>,
        Result<(), Cancelled>,
        Result<(), Cancelled>,
    );
    #[derive(Debug, Default)]
    struct Seen {
        stopped: Option<Result<(), Cancelled>>,
        polled_in_first_poll: usize,
        children: Vec<ChildSeen>,
        cleanup: Option<Result<Option<()>, canopy::task::GroupError<Cancelled>>>,
    }
    let rt = real_clock();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    drop(rt.spawn(async move {
        let stopped = after_first_poll(sleep(HOUR), move || {
            let _ = ready_tx.send(());
        })
        .await;
        record.lock().unwrap().stopped = Some(stopped);
        let inner = record.clone();
        let cleanup = CancelScope::new()
            .with_shield(true)
            .run(task_group(|tg| async move {
                let (tx, rx) = mpsc::channel();
                for _ in 0..CHILDREN {
                    let tx = tx.clone();
                    let inner = inner.clone();
                    tg.spawn(async move {
                        let first = checkpoint_if_cancelled().await;
                        let _ = tx.send(());
                        let slept = sleep(Duration::from_millis(50)).await;
                        let after = checkpoint_if_cancelled().await;
                        inner.lock().unwrap().children.push((first, slept, after));
                        first?;
                        slept?;
                        after
                    });
                }
                // Stay in the body's first poll while the children are
                // polled on the other worker (at least one of them; a child
                // left behind this worker's poll runs once it returns).
                let mut polled = 0;
                if rx.recv_timeout(LIMIT).is_ok() {
                    polled += 1;
                    while polled < CHILDREN && rx.recv_timeout(SEC / 2).is_ok() {
                        polled += 1;
                    }
                }
                inner.lock().unwrap().polled_in_first_poll = polled;
                Ok::<(), Cancelled>(())
            }))
            .await;
        record.lock().unwrap().cleanup = Some(cleanup);
    }));
    ready_rx
        .recv_timeout(LIMIT)
        .expect("the task started waiting");
    let finished = rt.shutdown(Duration::from_secs(20));
    let seen = seen.lock().unwrap();
    let stopped = seen.stopped.expect("the task saw the shutdown");
    assert_eq!(
        stopped.map_err(|c| c.reason()),
        Err(CancelReason::Shutdown),
        "the task's own sleep is cancelled by the shutdown"
    );
    assert_eq!(seen.children.len(), CHILDREN, "{seen:?}");
    for child in &seen.children {
        assert_eq!(
            *child,
            (Ok(()), Ok(()), Ok(())),
            "a child of the shielded group saw the shutdown: {seen:?}"
        );
    }
    assert!(
        seen.polled_in_first_poll > 0,
        "some child was polled while the body was in its first poll: {seen:?}"
    );
    assert!(
        matches!(seen.cleanup, Some(Ok(Some(())))),
        "the shielded cleanup group succeeded: {seen:?}"
    );
    assert!(finished, "the task finished within the grace period");
}

// ---- item: a cancel check reads the live state, even in a poll that
// ---- never yields

/// A runtime whose budget never makes a checkpoint yield, so a CPU loop of
/// `checkpoint_if_cancelled` stays in one poll: what it sees is read live.
fn spinning_runtime() -> Runtime {
    Runtime::builder()
        .workers(2)
        .checkpoint_budget(u32::MAX)
        .build()
        .unwrap()
}

const GAVE_UP: &str = "the loop gave up after 10 s without seeing a cancellation";

/// A CPU-bound loop that checks for cancellation between slices of work and
/// never awaits anything that is pending. Gives up after [`LIMIT`].
async fn cpu_loop(started: Arc<AtomicBool>) -> Result<&'static str, Cancelled> {
    let give_up = Instant::now() + LIMIT;
    loop {
        checkpoint_if_cancelled().await?;
        started.store(true, SeqCst);
        let mut x = 0u64;
        for i in 0..2_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        std::hint::black_box(x);
        if Instant::now() > give_up {
            return Ok(GAVE_UP);
        }
    }
}

/// Cancels `scope` from a plain OS thread once the loop is spinning.
fn cancel_once_spinning(started: Arc<AtomicBool>, scope: CancelScope) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let until = Instant::now() + LIMIT;
        while !started.load(SeqCst) {
            assert!(Instant::now() < until, "the loop never started");
            thread::sleep(MS);
        }
        thread::sleep(Duration::from_millis(20)); // well inside the loop
        scope.cancel();
    })
}

/// Runs `fut` as a task on a worker and returns its output and poll count.
fn on_a_worker<F>(rt: &Runtime, fut: F) -> (F::Output, usize)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async move { canopy::spawn(count_polls(fut)).await.unwrap() })
}

#[test]
fn a_cpu_loop_sees_a_cancel_from_another_os_thread_at_its_next_check() {
    let rt = spinning_runtime();
    let scope = CancelScope::new();
    let started = Arc::new(AtomicBool::new(false));
    let canceller = cancel_once_spinning(started.clone(), scope.clone());
    let inside = scope.clone();
    let (out, polls) = on_a_worker(&rt, async move { inside.run(cpu_loop(started)).await });
    canceller.join().unwrap();
    assert_eq!(out, Ok(None), "the loop ended at the cancel");
    assert_eq!(polls, 1, "the loop never yielded");
    assert!(scope.cancelled_caught());
}

#[test]
fn a_cpu_loop_sees_its_move_on_after_deadline_pass() {
    let rt = spinning_runtime();
    let started = Arc::new(AtomicBool::new(false));
    let begun = Instant::now();
    let (out, polls) = on_a_worker(&rt, async move {
        move_on_after(Duration::from_millis(50), cpu_loop(started)).await
    });
    assert_eq!(out, Ok(None), "the timeout's own scope caught it");
    assert_eq!(polls, 1, "the loop never yielded");
    assert!(begun.elapsed() >= Duration::from_millis(50));
}

#[test]
fn a_cpu_loop_sees_its_scope_deadline_pass() {
    let rt = spinning_runtime();
    let started = Arc::new(AtomicBool::new(false));
    let scope = CancelScope::new().with_deadline(Instant::now() + Duration::from_millis(50));
    let inside = scope.clone();
    let (out, polls) = on_a_worker(&rt, async move { inside.run(cpu_loop(started)).await });
    assert_eq!(out, Ok(None));
    assert_eq!(polls, 1, "the loop never yielded");
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Deadline));
}

/// Three scopes around the loop; the outermost is cancelled, and catches.
async fn nested_cpu_loop(
    outer: CancelScope,
    started: Arc<AtomicBool>,
) -> Result<Option<&'static str>, Cancelled> {
    outer
        .run(async {
            let middle = CancelScope::new()
                .run(async {
                    let inner = move_on_after(HOUR, cpu_loop(started)).await?;
                    Ok::<_, Cancelled>(inner.unwrap_or("the inner timeout caught it"))
                })
                .await?;
            Ok::<_, Cancelled>(middle.unwrap_or("the middle scope caught it"))
        })
        .await
}

#[test]
fn a_cpu_loop_in_nested_scopes_sees_an_outer_cancel_from_another_os_thread() {
    let rt = spinning_runtime();
    let outer = CancelScope::new();
    let started = Arc::new(AtomicBool::new(false));
    let canceller = cancel_once_spinning(started.clone(), outer.clone());
    let (out, polls) = on_a_worker(&rt, nested_cpu_loop(outer.clone(), started));
    canceller.join().unwrap();
    assert_eq!(out, Ok(None), "the outer scope caught it");
    assert_eq!(polls, 1, "the loop never yielded");
    assert!(outer.cancelled_caught());
}

#[test]
fn a_cpu_loop_in_nested_scopes_sees_an_outer_deadline_pass() {
    let rt = spinning_runtime();
    let outer = CancelScope::new().with_deadline(Instant::now() + Duration::from_millis(50));
    let started = Arc::new(AtomicBool::new(false));
    let (out, polls) = on_a_worker(&rt, nested_cpu_loop(outer.clone(), started));
    assert_eq!(out, Ok(None), "the outer scope caught it");
    assert_eq!(polls, 1, "the loop never yielded");
    assert_eq!(outer.cancel_reason(), Some(CancelReason::Deadline));
}

#[test]
fn a_cpu_loop_sees_the_runtime_shutdown() {
    let rt = spinning_runtime();
    let started = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let flag = started.clone();
    drop(rt.spawn(async move {
        let out = count_polls(cpu_loop(flag)).await;
        *record.lock().unwrap() = Some(out);
    }));
    let until = Instant::now() + LIMIT;
    while !started.load(SeqCst) {
        assert!(Instant::now() < until, "the loop never started");
        thread::sleep(MS);
    }
    thread::sleep(Duration::from_millis(20));
    let finished = rt.shutdown(Duration::from_secs(30));
    let (out, polls) = seen.lock().unwrap().take().expect("the task finished");
    assert_eq!(
        out.map_err(|c| c.reason()),
        Err(CancelReason::Shutdown),
        "the loop ended at the shutdown"
    );
    assert_eq!(polls, 1, "the loop never yielded");
    assert!(finished);
}

// ---- item: cancellation reaches the waiting leaf through combinators that
// ---- give each child its own waker

/// Polls its inner future only when the inner future's *own* waker was
/// woken (as `FuturesUnordered` does for each child); a wake of the task
/// alone does not re-poll it.
struct OnlyWhenWoken<F> {
    inner: Pin<Box<F>>,
    leaf: Arc<LeafWaker>,
}

struct LeafWaker {
    woken: AtomicBool,
    parent: Mutex<Option<Waker>>,
}

impl Wake for LeafWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, SeqCst);
        let parent = self.parent.lock().unwrap().clone();
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

fn only_when_woken<F: Future>(inner: F) -> OnlyWhenWoken<F> {
    OnlyWhenWoken {
        inner: Box::pin(inner),
        leaf: Arc::new(LeafWaker {
            woken: AtomicBool::new(true), // polled once at the start
            parent: Mutex::new(None),
        }),
    }
}

impl<F: Future> Future for OnlyWhenWoken<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        *self.leaf.parent.lock().unwrap() = Some(cx.waker().clone());
        if !self.leaf.woken.swap(false, SeqCst) {
            return Poll::Pending;
        }
        let waker = Waker::from(self.leaf.clone());
        self.inner.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

type Waiting = Pin<Box<dyn Future<Output = Result<(), Cancelled>> + Send>>;

fn through_futures_unordered(wait: Duration) -> Waiting {
    Box::pin(async move {
        let mut set = FuturesUnordered::new();
        set.push(sleep(wait));
        set.push(sleep(2 * wait));
        while let Some(out) = set.next().await {
            out?;
        }
        Ok(())
    })
}

fn through_buffer_unordered(wait: Duration) -> Waiting {
    Box::pin(async move {
        let mut sleeps = stream::iter([wait, 2 * wait])
            .map(sleep)
            .buffer_unordered(2);
        while let Some(out) = sleeps.next().await {
            out?;
        }
        Ok(())
    })
}

fn through_select_all(wait: Duration) -> Waiting {
    Box::pin(async move {
        let (first, _, _) =
            futures::future::select_all([Box::pin(sleep(wait)), Box::pin(sleep(2 * wait))]).await;
        first
    })
}

fn through_only_when_woken(wait: Duration) -> Waiting {
    Box::pin(only_when_woken(sleep(wait)))
}

type Combinator = (&'static str, fn(Duration) -> Waiting);

const COMBINATORS: [Combinator; 4] = [
    ("FuturesUnordered", through_futures_unordered),
    ("buffer_unordered", through_buffer_unordered),
    ("select_all", through_select_all),
    ("only_when_woken", through_only_when_woken),
];

fn assert_no_failures(failures: &[String]) {
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_timeout_reaches_a_sleep_polled_through_a_combinator_with_its_own_wakers() {
    let rt = paused();
    let mut failures = Vec::new();
    for (name, combinator) in COMBINATORS {
        let (out, took) = rt.block_on(async move {
            let start = time::now();
            let out = move_on_after(Duration::from_millis(100), combinator(HOUR)).await;
            (out, time::now() - start)
        });
        if out != Ok(None) || took != Duration::from_millis(100) {
            failures.push(format!(
                "{name}: move_on_after(100ms) gave {out:?} after {took:?}, \
                 expected Ok(None) after 100ms"
            ));
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn a_timeout_reaches_a_join_polled_through_a_combinator_with_its_own_waker() {
    paused().block_on(async {
        let task = canopy::spawn(sleep(HOUR));
        let start = time::now();
        let out = move_on_after(Duration::from_millis(100), async {
            let own: Result<(), Cancelled> = only_when_woken(task).await?;
            own.expect("the task itself was not cancelled");
            Ok::<(), canopy::task::JoinError>(())
        })
        .await;
        assert_eq!(out.map_err(|e| e.to_string()), Ok(None));
        assert_eq!(time::now() - start, Duration::from_millis(100));
    });
}

#[test]
fn a_cancel_from_another_os_thread_reaches_a_sleep_polled_through_a_combinator() {
    let rt = real_clock();
    let mut failures = Vec::new();
    for (name, combinator) in COMBINATORS {
        let scope = CancelScope::new();
        let remote = scope.clone();
        let (waiting_tx, waiting_rx) = mpsc::channel::<()>();
        let canceller = thread::spawn(move || {
            waiting_rx.recv_timeout(LIMIT).unwrap();
            remote.cancel();
        });
        let begun = Instant::now();
        // Waits for real: 10 s unless the cancel reaches the sleeps.
        let out = rt.block_on(scope.run(after_first_poll(combinator(LIMIT), move || {
            let _ = waiting_tx.send(());
        })));
        let took = begun.elapsed();
        canceller.join().unwrap();
        if out != Ok(None) || took >= LIMIT / 2 {
            failures.push(format!(
                "{name}: gave {out:?} after {took:?}, expected Ok(None) at the cancel"
            ));
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn a_shutdown_reaches_a_sleep_polled_through_a_combinator() {
    let mut failures = Vec::new();
    for (name, combinator) in COMBINATORS {
        let rt = real_clock();
        let seen = Arc::new(Mutex::new(None));
        let record = seen.clone();
        let (waiting_tx, waiting_rx) = mpsc::channel::<()>();
        drop(rt.spawn(async move {
            let out = after_first_poll(combinator(HOUR), move || {
                let _ = waiting_tx.send(());
            })
            .await;
            *record.lock().unwrap() = Some(out);
        }));
        waiting_rx
            .recv_timeout(LIMIT)
            .expect("the task started waiting");
        let finished = rt.shutdown(Duration::from_secs(5));
        let out = seen.lock().unwrap().take();
        let reason = out.map(|o| o.map_err(|c| c.reason()));
        if !finished || reason != Some(Err(CancelReason::Shutdown)) {
            failures.push(format!(
                "{name}: the task {} within the 5 s grace period (output {reason:?})",
                if finished {
                    "finished"
                } else {
                    "did not finish"
                }
            ));
        }
    }
    assert_no_failures(&failures);
}

// ---- item: a deadline already past cancels at once
//
// Whether an instant is past must not depend on what else the process did
// before (today the deadline encoding takes its base from the real time at
// the first use of a deadline in the process, so a paused clock started
// before that sees past deadlines in its future). Each test of this part
// runs its body twice: here, after whatever ran before it in this process,
// and in a fresh process where it is the first code to use a deadline.

const FRESH_PROCESS: &str = "CANOPY_SCOPE_PATTERNS_FRESH_PROCESS";

/// Runs `body` here, then once more in a fresh process: this test binary
/// re-run for the test `name` alone.
fn here_and_in_a_fresh_process(name: &str, body: impl FnOnce()) {
    body();
    if std::env::var_os(FRESH_PROCESS).is_some() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(FRESH_PROCESS, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "in a fresh process, where it is the first to use a deadline:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_deadline_moved_into_the_past_in_the_first_poll_cancels_every_following_check() {
    here_and_in_a_fresh_process(
        "a_deadline_moved_into_the_past_in_the_first_poll_cancels_every_following_check",
        || {
            paused().block_on(async {
                let scope = CancelScope::new();
                let mut checks = Vec::new();
                let out = scope
                    .run(async {
                        scope.set_deadline(Some(time::now() - MS));
                        for _ in 0..3 {
                            checks.push(checkpoint_if_cancelled().await.is_err());
                        }
                        checkpoint_if_cancelled().await
                    })
                    .await;
                assert_eq!(checks, [true; 3], "every check after the move is cancelled");
                assert_eq!(out, Ok(None), "the scope caught its own deadline");
                assert_eq!(scope.cancel_reason(), Some(CancelReason::Deadline));
            });
        },
    );
}

#[test]
fn a_scope_entered_with_a_past_deadline_is_cancelled_at_its_first_check() {
    here_and_in_a_fresh_process(
        "a_scope_entered_with_a_past_deadline_is_cancelled_at_its_first_check",
        || {
            paused().block_on(async {
                let scope = CancelScope::new().with_deadline(time::now() - MS);
                let mut checks = Vec::new();
                let out = scope
                    .run(async {
                        for _ in 0..3 {
                            checks.push(checkpoint_if_cancelled().await.is_err());
                        }
                        Ok::<_, Cancelled>(())
                    })
                    .await;
                assert_eq!(checks, [true; 3]);
                assert_eq!(out, Ok(Some(())), "the body swallowed the Cancelled itself");
                assert!(scope.cancel_called());
            });
        },
    );
}

/// Trio cancels a scope once `current_time() >= deadline`: a deadline equal
/// to now has passed.
#[test]
fn a_deadline_equal_to_now_has_passed() {
    here_and_in_a_fresh_process("a_deadline_equal_to_now_has_passed", || {
        paused().block_on(async {
            let scope = CancelScope::new().with_deadline(time::now());
            assert!(scope.cancel_called());
            let out = scope.run(checkpoint_if_cancelled()).await;
            assert_eq!(out, Ok(None));
            assert_eq!(scope.cancel_reason(), Some(CancelReason::Deadline));
        });
    });
}

#[test]
fn a_zero_timeout_cancels_the_first_check() {
    here_and_in_a_fresh_process("a_zero_timeout_cancels_the_first_check", || {
        paused().block_on(async {
            let out = move_on_after(Duration::ZERO, async {
                checkpoint_if_cancelled().await?;
                Ok::<_, Cancelled>("ran past its first check")
            })
            .await;
            assert_eq!(out, Ok(None), "move_on_after(0)");
            let out = move_on_at(time::now(), async {
                checkpoint_if_cancelled().await?;
                Ok::<_, Cancelled>("ran past its first check")
            })
            .await;
            assert_eq!(out, Ok(None), "move_on_at(now)");
            let out = fail_after(Duration::ZERO, async {
                checkpoint_if_cancelled().await?;
                Ok::<_, io::Error>("ran past its first check")
            })
            .await;
            let err = out.expect_err("fail_after(0)");
            assert!(err.get_ref().is_some_and(|e| e.is::<TimedOut>()), "{err}");
        });
    });
}

#[test]
fn an_instant_from_before_the_runtime_stays_past_on_a_paused_clock_advanced_far() {
    here_and_in_a_fresh_process(
        "an_instant_from_before_the_runtime_stays_past_on_a_paused_clock_advanced_far",
        || {
            let early = Instant::now();
            let rt = paused();
            rt.block_on(async move {
                time::advance(10 * HOUR);
                let scope = CancelScope::new().with_deadline(early);
                assert!(scope.cancel_called());
                assert_eq!(scope.run(checkpoint_if_cancelled()).await, Ok(None));
                assert_eq!(
                    move_on_at(early, checkpoint_if_cancelled()).await,
                    Ok(None),
                    "move_on_at(an instant 10 h before now)"
                );
                // And a deadline in the future of the advanced clock is not past.
                let later = CancelScope::new().with_deadline(time::now() + SEC);
                assert!(!later.cancel_called());
                assert_eq!(later.run(checkpoint_if_cancelled()).await, Ok(Some(())));
            });
        },
    );
}

/// A paused clock lagging real time (in the fresh process: started before
/// the process first used a deadline): its past is still past, its future
/// still future.
#[test]
fn past_and_future_deadlines_keep_their_place_on_a_paused_clock_behind_real_time() {
    here_and_in_a_fresh_process(
        "past_and_future_deadlines_keep_their_place_on_a_paused_clock_behind_real_time",
        || {
            let rt = paused();
            thread::sleep(Duration::from_millis(50)); // real time moves on, the paused clock does not
            rt.block_on(async {
                let past = CancelScope::new().with_deadline(time::now() - MS);
                assert!(past.cancel_called(), "a deadline 1 ms ago has passed");
                assert_eq!(past.run(checkpoint_if_cancelled()).await, Ok(None));
                let future = CancelScope::new().with_deadline(time::now() + 10 * MS);
                assert!(
                    !future.cancel_called(),
                    "a deadline 10 ms ahead has not passed"
                );
                let start = time::now();
                assert_eq!(future.run(sleep(HOUR)).await, Ok(None));
                assert_eq!(time::now() - start, 10 * MS, "it fired at its deadline");
            });
        },
    );
}

// ---- item: cancel_called is sticky, as in Trio

#[test]
fn cancel_called_stays_true_when_the_passed_deadline_of_an_unentered_scope_moves_later() {
    paused().block_on(async {
        let scope = CancelScope::new().with_deadline(time::now() + SEC);
        time::advance(SEC);
        assert!(scope.cancel_called(), "the deadline has passed");
        // Trio: reading cancel_called after the deadline cancels the scope.
        scope.set_deadline(Some(time::now() + HOUR));
        assert!(
            scope.cancel_called(),
            "still true after the deadline moved later"
        );
        let ran = AtomicBool::new(false);
        let out = scope
            .run(async {
                ran.store(true, SeqCst);
                checkpoint_if_cancelled().await
            })
            .await;
        assert!(ran.load(SeqCst));
        assert_eq!(out, Ok(None), "entered, the body runs cancelled");
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn cancel_called_stays_true_when_the_passed_deadline_of_an_entered_scope_moves_later() {
    paused().block_on(async {
        let scope = CancelScope::new().with_deadline(time::now() + SEC);
        let mut seen = Vec::new();
        let out = scope
            .run(async {
                time::advance(SEC);
                seen.push(scope.cancel_called());
                scope.set_deadline(Some(time::now() + HOUR));
                seen.push(scope.cancel_called());
                seen.push(checkpoint_if_cancelled().await.is_err());
                sleep(SEC).await
            })
            .await;
        assert_eq!(
            seen,
            [true, true, true],
            "[cancel_called at the deadline, after moving it later, the next check is cancelled]"
        );
        assert_eq!(out, Ok(None));
    });
}

/// Trio: once a scope has exited, its deadline no longer cancels it.
#[test]
fn a_deadline_that_passes_after_the_scope_exited_leaves_cancel_called_false() {
    paused().block_on(async {
        // Exited in its first poll...
        let quick = CancelScope::new().with_deadline(time::now() + SEC);
        assert_eq!(quick.run(checkpoint_if_cancelled()).await, Ok(Some(())));
        // ...and after waiting inside.
        let waited = CancelScope::new().with_deadline(time::now() + SEC);
        assert_eq!(waited.run(sleep(SEC / 2)).await, Ok(Some(())));
        sleep(HOUR).await.unwrap();
        for scope in [&quick, &waited] {
            assert!(scope.has_exited());
            assert!(!scope.cancel_called(), "cancel_called after exit");
            assert_eq!(scope.cancel_reason(), None);
            assert!(!scope.cancelled_caught());
        }
    });
}

// ---- item: a group's scope reports what it caught

/// Runs a group, handing out its scope; returns the group's result and the
/// scope, so `cancelled_caught` can be read after the group returned.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn group_scope_after<F, Fut>(
    body: F,
) -> (Result<(), canopy::task::GroupError<BoxError>>, CancelScope)
where
    F: FnOnce(canopy::task::TaskGroup<BoxError>) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let slot = Mutex::new(None);
    let out = task_group(|tg| {
        *slot.lock().unwrap() = Some(tg.cancel_scope());
        body(tg)
    })
    .await;
    (out, slot.into_inner().unwrap().unwrap())
}

/// A Trio nursery's `cancel_scope.cancelled_caught` is true after the
/// nursery caught the `Cancelled` its own cancellation raised in its
/// children.
#[test]
fn a_group_that_cancelled_itself_reports_cancelled_caught() {
    paused().block_on(async {
        let (out, scope) = group_scope_after(|tg| async move {
            tg.spawn(async { Ok::<(), BoxError>(sleep(HOUR).await?) });
            sleep(SEC).await?;
            tg.cancel_scope().cancel();
            Ok(())
        })
        .await;
        assert!(out.is_ok(), "{out:?}");
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn a_group_cancelled_by_a_failing_member_reports_cancelled_caught() {
    paused().block_on(async {
        let (out, scope) = group_scope_after(|tg| async move {
            tg.spawn(async { Ok::<(), BoxError>(sleep(HOUR).await?) });
            tg.spawn(async {
                sleep(SEC).await?;
                Err::<(), BoxError>("member failed".into())
            });
            Ok(())
        })
        .await;
        assert_eq!(out.unwrap_err().failures().len(), 1);
        assert_eq!(scope.cancel_reason(), Some(CancelReason::GroupFailed));
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn a_group_cancelled_by_its_deadline_reports_cancelled_caught() {
    paused().block_on(async {
        let (out, scope) = group_scope_after(|tg| async move {
            tg.cancel_scope().set_deadline(Some(time::now() + SEC));
            tg.spawn(async { Ok::<(), BoxError>(sleep(HOUR).await?) });
            Ok(())
        })
        .await;
        assert!(out.is_ok(), "{out:?}");
        assert_eq!(scope.cancel_reason(), Some(CancelReason::Deadline));
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn a_group_that_nothing_cancelled_reports_no_cancelled_caught() {
    paused().block_on(async {
        let (out, scope) = group_scope_after(|tg| async move {
            tg.spawn(async { Ok::<(), BoxError>(sleep(SEC).await?) });
            Ok(())
        })
        .await;
        assert!(out.is_ok(), "{out:?}");
        assert!(!scope.cancel_called());
        assert!(!scope.cancelled_caught());
    });
}

/// Trio: only the outermost cancelled scope catches; a nursery an outer
/// cancellation went through reports `cancelled_caught == False`.
#[test]
fn a_group_an_outer_cancellation_went_through_reports_no_cancelled_caught() {
    paused().block_on(async {
        let outer = CancelScope::new();
        let remote = outer.clone();
        let mut group_scope = None;
        let out = outer
            .run(async {
                let (out, scope) = group_scope_after(|tg| async move {
                    tg.spawn(async { Ok::<(), BoxError>(sleep(HOUR).await?) });
                    sleep(SEC).await?;
                    remote.cancel();
                    Ok(())
                })
                .await;
                group_scope = Some(scope);
                out
            })
            .await;
        assert!(matches!(out, Ok(None)), "the outer scope catches: {out:?}");
        assert!(outer.cancelled_caught());
        assert!(!group_scope.unwrap().cancelled_caught());
    });
}

// ---- item: the checkpoint budget

/// Task A makes `steps` checks (each `step()`), in a scope cancelled
/// beforehand if `cancelled`, and records after each how often task B has
/// run; B runs one slice per schedule. One worker: B only runs when A
/// yields. Returns B's count before A's first check and after each.
fn interleaving<F, Fut>(
    budget: Option<u32>,
    steps: usize,
    cancelled: bool,
    step: F,
) -> (usize, Vec<usize>)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Cancelled>> + Send,
{
    let mut builder = Runtime::builder().workers(1).start_paused(true);
    if let Some(budget) = budget {
        builder = builder.checkpoint_budget(budget);
    }
    let rt = builder.build().unwrap();
    rt.block_on(async move {
        let b_runs = Arc::new(AtomicUsize::new(0));
        let a_done = Arc::new(AtomicBool::new(false));
        let gate = Gate::default();
        let opener = gate.clone();
        let (runs, done) = (b_runs.clone(), a_done.clone());
        let a = canopy::spawn(async move {
            gate.passed().await; // B is running from here on
            let scope = CancelScope::new();
            if cancelled {
                scope.cancel();
            }
            let before = runs.load(SeqCst);
            let mut seen = Vec::with_capacity(steps);
            let _ = scope
                .run(async {
                    for _ in 0..steps {
                        let out = step().await;
                        assert_eq!(out.is_err(), cancelled, "{out:?}");
                        seen.push(runs.load(SeqCst));
                    }
                    Ok::<_, Cancelled>(())
                })
                .await;
            done.store(true, SeqCst);
            (before, seen)
        });
        let b = canopy::spawn(async move {
            opener.open();
            while !a_done.load(SeqCst) {
                b_runs.fetch_add(1, SeqCst);
                cancel_shielded_checkpoint().await;
            }
        });
        let out = a.await.unwrap();
        b.await.unwrap();
        out
    })
}

fn assert_each_step_yielded((before, seen): (usize, Vec<usize>)) {
    let mut last = before;
    for (i, &now) in seen.iter().enumerate() {
        assert!(
            now > last,
            "check #{} completed without yielding (B's count before A's first check \
             {before}, after each check {seen:?})",
            i + 1
        );
        last = now;
    }
}

/// Trio's strict mode: with a budget of 1, every checkpoint is a schedule
/// point, the first one of a poll included.
/// `checkpoint_if_cancelled` is a cancel point only (DESIGN §2.8, Trio's
/// `checkpoint_if_cancelled`): while nothing is cancelled it never yields,
/// even under the strictest budget — so a CPU loop can call it freely.
#[test]
fn a_ready_checkpoint_if_cancelled_is_no_schedule_point_even_with_a_budget_of_one() {
    let (before, seen) = interleaving(Some(1), 10, false, checkpoint_if_cancelled);
    assert!(seen.iter().all(|&n| n == before), "it yielded: {seen:?}");
}

#[test]
fn with_a_budget_of_one_every_ready_zero_sleep_yields() {
    assert_each_step_yielded(interleaving(Some(1), 10, false, || sleep(Duration::ZERO)));
}

#[test]
fn with_a_budget_of_one_a_cancelled_checkpoint_yields_too() {
    assert_each_step_yielded(interleaving(Some(1), 10, true, checkpoint));
}

#[test]
fn with_a_budget_of_one_a_cancelled_checkpoint_if_cancelled_yields_too() {
    assert_each_step_yielded(interleaving(Some(1), 10, true, checkpoint_if_cancelled));
}

/// tokio's coop budget: 128 ready checkpoints pass in one poll, no more.
#[test]
fn with_the_default_budget_the_129th_check_in_one_poll_yields() {
    let (before, seen) = interleaving(None, 200, false, || sleep(Duration::ZERO));
    assert!(
        seen[..127].iter().all(|&n| n == before),
        "the first 127 checks of a poll do not yield: {seen:?}"
    );
    assert!(
        seen[128] > before,
        "the task yielded by its 129th check: {seen:?}"
    );
}

// ---- item: a panicking waker wedges nothing

struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics when woken");
    }
}

/// Cancels `scope` on another OS thread; fails the test if that does not
/// return within [`LIMIT`]. Whether the cancel itself panicked (the
/// waker's panic reaching the canceller) is not judged here.
fn cancel_on_another_thread(scope: &CancelScope) {
    let scope = scope.clone();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = catch_unwind(AssertUnwindSafe(|| scope.cancel()));
        let _ = tx.send(());
    });
    rx.recv_timeout(LIMIT)
        .expect("cancel() returned (it hung instead)");
}

#[test]
fn a_scope_whose_host_waker_panicked_at_the_cancel_still_exits() {
    within(2 * LIMIT, || {
        let rt = real_clock();
        let scope = CancelScope::new();
        let out = rt.block_on(async {
            let mut run = Box::pin(scope.run(sleep(HOUR)));
            let bad = Waker::from(Arc::new(PanickingWaker));
            let first = run.as_mut().poll(&mut Context::from_waker(&bad));
            assert!(first.is_pending());
            cancel_on_another_thread(&scope); // wakes the panicking waker
            // Polled again, with a good waker: it sees the cancel and exits.
            poll_fn(|cx| run.as_mut().poll(cx)).await
        });
        assert_eq!(out, Ok(None));
        assert!(scope.cancelled_caught() && scope.has_exited());
    });
}

#[test]
fn cancelling_again_after_a_host_waker_panicked_returns() {
    within(3 * LIMIT, || {
        let rt = real_clock();
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let out = rt.block_on(outer.run(async {
            let mut run = Box::pin(inner.run(sleep(HOUR)));
            let bad = Waker::from(Arc::new(PanickingWaker));
            let first = run.as_mut().poll(&mut Context::from_waker(&bad));
            assert!(first.is_pending());
            cancel_on_another_thread(&inner); // wakes the panicking waker
            cancel_on_another_thread(&inner); // again: returns
            cancel_on_another_thread(&outer); // a cancel whose walk passes the inner scope
            poll_fn(|cx| run.as_mut().poll(cx)).await
        }));
        assert_eq!(out, Ok(None), "the outer scope catches");
        assert!(outer.cancelled_caught() && inner.has_exited());
    });
}

// ---- item: the cancel walk is iterative

type Nested = Pin<Box<dyn Future<Output = Result<(), Cancelled>> + Send>>;

/// A chain of task groups `depth` deep, each with one child that opens the
/// next; the last child sleeps. `reached` counts the levels entered.
fn chain_of_groups(depth: usize, reached: Arc<AtomicUsize>) -> Nested {
    Box::pin(async move {
        reached.fetch_add(1, SeqCst);
        if depth == 0 {
            return sleep(HOUR).await;
        }
        task_group(|tg| async move {
            tg.spawn(chain_of_groups(depth - 1, reached));
            Ok::<(), Cancelled>(())
        })
        .await
        .map_err(|error| {
            *error
                .cancelled()
                .expect("only a cancellation ends the chain")
        })
    })
}

/// Trio walks its cancel-status tree recursively; canopy's walk must not:
/// a cancel from a thread with a small stack reaches the bottom of a
/// 5,000-level chain of groups (10,000 nodes deep) and everything returns.
#[test]
fn cancelling_a_deep_tree_does_not_overflow_the_cancelling_threads_stack() {
    const DEPTH: usize = 5_000;
    let rt = real_clock();
    let scope = CancelScope::new();
    let reached = Arc::new(AtomicUsize::new(0));
    let watching = reached.clone();
    let remote = scope.clone();
    // Generous: a sanitized debug build takes over 10 s to build the chain.
    let build_limit = 12 * LIMIT;
    let canceller = thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let until = Instant::now() + build_limit;
            while watching.load(SeqCst) <= DEPTH && Instant::now() < until {
                thread::sleep(MS);
            }
            let built = watching.load(SeqCst) > DEPTH;
            thread::sleep(10 * MS); // let the bottom sleep block
            // Cancelled either way, so a slow build fails the test below
            // instead of leaving `block_on` waiting for ever.
            remote.cancel();
            built
        })
        .unwrap();
    let out = rt.block_on(scope.run(chain_of_groups(DEPTH, reached)));
    let built = canceller.join().expect("the cancelling thread survived");
    assert!(built, "the chain was not built within {build_limit:?}");
    assert_eq!(out, Ok(None), "the scope caught its own cancellation");
}

// ---- graceful shutdown reaches scopes polled under combinators

/// The root scope (shutdown) is above every task but not in the tree: a
/// task that finds it cancelled walks its own top scopes, so scopes polled
/// by a `FuturesUnordered` (their hosts are the combinator's wakers) see the
/// shutdown too.
#[test]
fn a_shutdown_reaches_scopes_polled_under_futures_unordered() {
    let rt = real_clock();
    let (tx, rx) = mpsc::channel();
    let saw = Arc::new(Mutex::new(None));
    let seen = saw.clone();
    drop(rt.spawn(async move {
        let mut children = FuturesUnordered::new();
        for _ in 0..2 {
            children.push(CancelScope::new().run(sleep(HOUR)));
        }
        let mut tx = Some(tx);
        let first = poll_fn(|cx| {
            let polled = children.poll_next_unpin(cx);
            if let Some(tx) = tx.take() {
                tx.send(()).unwrap();
            }
            polled
        })
        .await;
        *seen.lock().unwrap() =
            Some(matches!(first, Some(Err(c)) if c.reason() == CancelReason::Shutdown));
    }));
    rx.recv_timeout(LIMIT).unwrap();
    thread::sleep(100 * MS);
    assert!(
        rt.shutdown(5 * SEC),
        "the task waiting under FuturesUnordered never saw the shutdown"
    );
    assert_eq!(*saw.lock().unwrap(), Some(true));
}

// ---- a waker's panic never kills a worker

struct PanicsWhenWoken;

impl Wake for PanicsWhenWoken {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics when woken");
    }
}

/// A scope hosted by a waker that panics, whose deadline fires on the
/// runtime's timer: the panic is contained (reported on stderr), and the
/// worker that ran the timer goes on running tasks.
#[test]
fn a_waker_panicking_as_its_scopes_deadline_fires_kills_no_worker() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = mpsc::channel();
    let held = Arc::new(Mutex::new(None));
    let keep = held.clone();
    drop(rt.spawn(async move {
        let mut scoped = Box::pin(move_on_after(
            20 * MS,
            std::future::pending::<Result<(), Cancelled>>(),
        ));
        let waker = Waker::from(Arc::new(PanicsWhenWoken));
        assert!(
            scoped
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        // Keep the scope (its timer armed) alive beyond this task.
        *keep.lock().unwrap() = Some(scoped);
        tx.send(()).unwrap();
    }));
    rx.recv_timeout(LIMIT).unwrap();
    thread::sleep(300 * MS); // the deadline fires on the only worker
    let (ran_tx, ran_rx) = mpsc::channel();
    drop(rt.spawn(async move { ran_tx.send(()).unwrap() }));
    assert!(
        ran_rx.recv_timeout(LIMIT).is_ok(),
        "the worker no longer runs tasks after a waker panicked at a deadline"
    );
    drop(held.lock().unwrap().take());
}
