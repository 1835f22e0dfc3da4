//! Stress (issue 15, "Tests"): user futures, drops and wakers panic at
//! random while 10,000 tasks run; then the runtime shuts down gracefully.
//!
//! Checked afterwards:
//! - every task is accounted for: the runtime's completed, panicked and
//!   dropped counts equal what each task's kind makes it (tasks spawned by
//!   tasks included), none is left alive, and every handle kept gives the
//!   outcome its kind calls for;
//! - every panic raised is received exactly once: by a `JoinHandle`, or
//!   reported as unobserved (the hook's count, and `RuntimeMetrics`);
//! - no worker thread died: after the storm, one task per worker meet at a
//!   barrier (so each worker runs one), and a thousand more run;
//! - nothing hangs: a watchdog aborts the process, naming the phase.
//!
//! The seed is printed; `CANOPY_STORM_SEED=<n>` replays one.

use canopy::{
    Runtime, spawn,
    task::{JoinHandle, yield_now},
    time::sleep,
};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

const TASKS: usize = 10_000;
const WORKERS: usize = 2;
const PATIENCE: Duration = Duration::from_secs(60);

/// Panics raised by the test's user code, each counted just before it is.
static RAISED: AtomicUsize = AtomicUsize::new(0);
/// Panics received through a `JoinHandle` (by the test or by a task).
static DELIVERED: AtomicUsize = AtomicUsize::new(0);
/// Panics the runtime reported as unobserved (`on_unobserved_panic`).
static UNOBSERVED: AtomicUsize = AtomicUsize::new(0);
/// What the test is doing, for the watchdog's message.
static PHASE: Mutex<&str> = Mutex::new("starting");

fn raise(what: &'static str) -> ! {
    RAISED.fetch_add(1, SeqCst);
    panic!("{what}");
}

fn phase(name: &'static str) {
    *PHASE.lock().unwrap() = name;
}

/// Panics when dropped (unless already unwinding, which would abort).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            raise("dropped a guard that panics on drop");
        }
    }
}

/// What the storm's tasks return: a value, or one that panics when dropped.
enum Out {
    Value(u64),
    Loud(#[allow(dead_code)] PanicOnDrop),
}

/// A waker that wakes `real`, then panics, the first time it is woken.
struct PanickyWaker {
    real: Waker,
    armed: AtomicBool,
}

impl PanickyWaker {
    fn wrap(real: &Waker) -> Waker {
        Waker::from(Arc::new(PanickyWaker {
            real: real.clone(),
            armed: AtomicBool::new(true),
        }))
    }
}

impl Wake for PanickyWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.real.wake_by_ref();
        if self.armed.swap(false, SeqCst) {
            raise("a panicky waker was woken");
        }
    }
}

/// Ready after `polls` pending polls (waking itself), then panics when
/// dropped: after it returned, outside the poll.
struct ReadyThenPanicOnDrop {
    polls: u32,
}

impl Future for ReadyThenPanicOnDrop {
    type Output = Out;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out> {
        if self.polls == 0 {
            return Poll::Ready(Out::Value(1));
        }
        self.polls -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for ReadyThenPanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            raise("a finished future panicked when dropped");
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Finishes,
    PanicsInPoll,
    PanicsInDropAfterReady,
    SelectLoserPanicsOnDrop,
    AwaitsWithPanickyWaker,
    WakesAPanickyWaker { keep_child: bool },
    ReturnsALoudOutput,
    PendingPanicsOnDropAtShutdown,
    PendingDroppedAtShutdown,
    CancelledAtShutdown { cleanup_panics: bool },
}

/// How a task ends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Completed,
    Panicked,
    Dropped,
}

impl Kind {
    fn pick(rng: &mut Rng) -> Kind {
        match rng.below(10) {
            0 => Kind::Finishes,
            1 => Kind::PanicsInPoll,
            2 => Kind::PanicsInDropAfterReady,
            3 => Kind::SelectLoserPanicsOnDrop,
            4 => Kind::AwaitsWithPanickyWaker,
            5 => Kind::WakesAPanickyWaker {
                keep_child: rng.below(2) == 0,
            },
            6 => Kind::ReturnsALoudOutput,
            7 => Kind::PendingPanicsOnDropAtShutdown,
            8 => Kind::PendingDroppedAtShutdown,
            _ => Kind::CancelledAtShutdown {
                cleanup_panics: rng.below(2) == 0,
            },
        }
    }

    /// Runs until the shutdown.
    fn waits_for_shutdown(self) -> bool {
        matches!(
            self,
            Kind::PendingPanicsOnDropAtShutdown
                | Kind::PendingDroppedAtShutdown
                | Kind::CancelledAtShutdown { .. }
        )
    }

    /// How the task itself ends, and how the tasks it spawns do.
    fn ends(self) -> (End, Option<End>) {
        match self {
            Kind::Finishes | Kind::ReturnsALoudOutput => (End::Completed, None),
            Kind::PanicsInPoll
            | Kind::PanicsInDropAfterReady
            | Kind::SelectLoserPanicsOnDrop
            | Kind::PendingPanicsOnDropAtShutdown => (End::Panicked, None),
            Kind::AwaitsWithPanickyWaker => (End::Completed, Some(End::Completed)),
            Kind::WakesAPanickyWaker { .. } => (End::Completed, Some(End::Panicked)),
            Kind::PendingDroppedAtShutdown => (End::Dropped, None),
            Kind::CancelledAtShutdown { cleanup_panics } => (
                if cleanup_panics {
                    End::Panicked
                } else {
                    End::Completed
                },
                None,
            ),
        }
    }

    fn future(self, rng: &mut Rng) -> Pin<Box<dyn Future<Output = Out> + Send>> {
        let polls = rng.below(4) as u32;
        match self {
            Kind::Finishes => Box::pin(async move {
                yields(polls).await;
                Out::Value(0)
            }),
            Kind::PanicsInPoll => Box::pin(async move {
                yields(polls).await;
                raise("a task panicked in its poll")
            }),
            Kind::PanicsInDropAfterReady => Box::pin(ReadyThenPanicOnDrop { polls }),
            Kind::SelectLoserPanicsOnDrop => {
                let guard = PanicOnDrop;
                Box::pin(futures_lite::future::or(
                    async move {
                        yields(polls).await;
                        Out::Value(2)
                    },
                    async move {
                        let _guard = guard;
                        std::future::pending::<Out>().await
                    },
                ))
            }
            Kind::AwaitsWithPanickyWaker => Box::pin(async move {
                let mut child = spawn(async move {
                    yields(polls).await;
                    Out::Value(3)
                });
                let joined = std::future::poll_fn(|cx| {
                    let waker = PanickyWaker::wrap(cx.waker());
                    Pin::new(&mut child).poll(&mut Context::from_waker(&waker))
                })
                .await;
                match joined {
                    Ok(Out::Value(3)) => Out::Value(3),
                    _ => unreachable!("the child returns 3"),
                }
            }),
            Kind::WakesAPanickyWaker { keep_child } => Box::pin(async move {
                let slot = Arc::new(Mutex::new(None::<Waker>));
                let mut child = None;
                std::future::poll_fn(|cx| {
                    if child.is_some() && slot.lock().unwrap().is_none() {
                        return Poll::Ready(());
                    }
                    let old = slot.lock().unwrap().replace(PanickyWaker::wrap(cx.waker()));
                    drop(old);
                    if child.is_none() {
                        let slot = slot.clone();
                        let handle = spawn(async move {
                            yields(polls).await;
                            let waker = slot.lock().unwrap().take();
                            waker.expect("set before the spawn").wake();
                            Out::Value(4)
                        });
                        child = Some(keep_child.then_some(handle));
                    }
                    Poll::Pending
                })
                .await;
                if let Some(Some(child)) = child {
                    let error = child.await.err().expect("the child panicked");
                    assert!(error.is_panic(), "{error:?}");
                    DELIVERED.fetch_add(1, SeqCst);
                }
                Out::Value(5)
            }),
            Kind::ReturnsALoudOutput => Box::pin(async move {
                yields(polls).await;
                Out::Loud(PanicOnDrop)
            }),
            Kind::PendingPanicsOnDropAtShutdown => {
                let guard = PanicOnDrop;
                Box::pin(async move {
                    let _guard = guard;
                    // Ignores cancellation: dropped when the grace runs out.
                    std::future::pending::<Out>().await
                })
            }
            Kind::PendingDroppedAtShutdown => Box::pin(std::future::pending::<Out>()),
            Kind::CancelledAtShutdown { cleanup_panics } => Box::pin(async move {
                let slept = sleep(Duration::from_secs(3600)).await;
                assert!(slept.is_err(), "only the shutdown ends this sleep");
                if cleanup_panics {
                    raise("cleanup after the cancellation panicked");
                }
                Out::Value(6)
            }),
        }
    }
}

async fn yields(n: u32) {
    for _ in 0..n {
        yield_now().await.expect("not cancelled during the storm");
    }
}

/// Checks a kept handle's outcome against its kind's.
fn check(kind: Kind, outcome: Result<Out, canopy::task::JoinError>) {
    let (end, _) = kind.ends();
    match (end, outcome) {
        (End::Completed, Ok(Out::Value(_))) => {}
        (End::Completed, Ok(loud @ Out::Loud(_))) => {
            // Delivered: the test owns it now, and does not drop it.
            std::mem::forget(loud);
        }
        (End::Panicked, Err(error)) if error.is_panic() => {
            DELIVERED.fetch_add(1, SeqCst);
        }
        (End::Dropped, Err(error)) if error.is_dropped() => {}
        (end, Ok(_)) => panic!("{kind:?} should end {end:?}, but gave its output"),
        (end, Err(error)) => panic!("{kind:?} should end {end:?}, but gave {error:?}"),
    }
}

/// xorshift64*: the storm only needs to be varied and replayable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Aborts the process if `done` is not signalled within `PATIENCE`.
fn watchdog() -> mpsc::Sender<()> {
    let (done, finished) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(PATIENCE) {
            eprintln!(
                "panic storm: hung for {PATIENCE:?} while {}",
                PHASE.lock().unwrap_or_else(|e| e.into_inner())
            );
            std::process::abort();
        }
    });
    done
}

fn wait_until(what: &'static str, done: impl Fn() -> bool) {
    phase(what);
    while !done() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn panicking_futures_drops_and_wakers_neither_lose_a_task_nor_kill_a_worker() {
    let started = Instant::now();
    let seed = std::env::var("CANOPY_STORM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_CA40_0715_u64);
    println!("panic storm seed: {seed} (replay with CANOPY_STORM_SEED={seed})");
    let mut rng = Rng(seed | 1);
    // Thousands of panics: keep the output readable (and the test fast).
    std::panic::set_hook(Box::new(|_| {}));
    let watchdog = watchdog();

    let rt = Runtime::builder()
        .workers(WORKERS)
        .on_unobserved_panic(|_| {
            UNOBSERVED.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let handle = rt.handle().clone();

    // The storm: spawned from block_on, so that outputs dropped with their
    // handles here are reported to this runtime.
    phase("spawning and awaiting the storm");
    let kinds: Vec<(Kind, bool)> = (0..TASKS)
        .map(|_| (Kind::pick(&mut rng), rng.below(2) == 0))
        .collect();
    let futures: Vec<_> = kinds
        .iter()
        .map(|(kind, _)| kind.future(&mut rng))
        .collect();
    let later = rt.block_on(async {
        let mut now = Vec::new();
        let mut later = Vec::new();
        for ((kind, keep), future) in kinds.iter().zip(futures) {
            let task: JoinHandle<Out> = spawn(future);
            match (keep, kind.waits_for_shutdown()) {
                (false, _) => drop(task),
                (true, false) => now.push((*kind, task)),
                (true, true) => later.push((*kind, task)),
            }
        }
        for (kind, task) in now {
            check(kind, task.await);
        }
        later
    });
    let waiting = kinds.iter().filter(|(k, _)| k.waits_for_shutdown()).count() as u64;
    wait_until("waiting for the storm to settle", || {
        handle.metrics().alive_tasks == waiting
    });
    wait_until("waiting for every panic so far to be received", || {
        RAISED.load(SeqCst) == DELIVERED.load(SeqCst) + UNOBSERVED.load(SeqCst)
    });

    // No worker died: one task per worker meet at a barrier (a worker runs
    // at most one of them at a time), then many more run.
    phase("checking that every worker still runs tasks");
    let barrier = Arc::new(Barrier::new(WORKERS));
    let names = Arc::new(Mutex::new(HashSet::new()));
    let meet: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (barrier, names) = (barrier.clone(), names.clone());
            rt.spawn(async move {
                barrier.wait();
                let name = std::thread::current().name().map(str::to_owned);
                names.lock().unwrap().insert(name);
            })
        })
        .collect();
    let after: Vec<_> = (0..1_000u64).map(|i| rt.spawn(async move { i })).collect();
    rt.block_on(async {
        for task in meet {
            task.await.unwrap();
        }
        let mut sum = 0;
        for task in after {
            sum += task.await.unwrap();
        }
        assert_eq!(sum, 999 * 1_000 / 2);
    });
    assert_eq!(names.lock().unwrap().len(), WORKERS, "every worker ran one");

    // The graceful shutdown: cancellable tasks end (some panicking in their
    // cleanup); those that ignore cancellation are dropped after the grace
    // period (some panicking as they are).
    phase("shutting down");
    assert!(
        !rt.shutdown(Duration::from_millis(300)),
        "some tasks ignore cancellation, so the grace period runs out"
    );
    phase("checking the handles of tasks that waited for the shutdown");
    for (kind, task) in later {
        check(kind, futures_lite::future::block_on(task));
    }

    // Every task accounted for.
    let mut expected = [0u64; 3];
    let mut count = |end: End| expected[end as usize] += 1;
    for (kind, _) in &kinds {
        let (end, child) = kind.ends();
        count(end);
        if let Some(child) = child {
            count(child);
        }
    }
    let after_storm = WORKERS as u64 + 1_000;
    let metrics = handle.metrics();
    let [completed, panicked, dropped] = expected;
    assert_eq!(
        (
            metrics.spawned_tasks,
            metrics.completed_tasks,
            metrics.panicked_tasks,
            metrics.dropped_tasks,
            metrics.alive_tasks,
        ),
        (
            completed + panicked + dropped + after_storm,
            completed + after_storm,
            panicked,
            dropped,
            0
        ),
        "(spawned, completed, panicked, dropped, alive)"
    );
    // Every panic received once.
    let (raised, delivered, unobserved) = (
        RAISED.load(SeqCst),
        DELIVERED.load(SeqCst),
        UNOBSERVED.load(SeqCst),
    );
    assert_eq!(
        raised,
        delivered + unobserved,
        "(raised, delivered + unobserved)"
    );
    assert_eq!(metrics.unobserved_panics, unobserved as u64);
    assert!(
        delivered > 1_000 && unobserved > 1_000,
        "a real storm: {delivered}, {unobserved}"
    );
    let _ = watchdog.send(());
    println!(
        "{TASKS} tasks, {raised} panics ({delivered} to handles, {unobserved} unobserved) in {:?}",
        started.elapsed()
    );
}
