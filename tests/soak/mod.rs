//! The soak: every part of canopy at once, round after round, for a set
//! time, on a multi-worker runtime, while the invariants are checked
//! continuously. Shared by `examples/soak.rs` (CI runs 60 s, `--duration 1h`
//! on demand) and `tests/soak.rs` (a few seconds in-process), each of which
//! installs the counting allocator of `tests/common/counting.rs`.
//!
//! A round runs four parts side by side in one task group — nested scopes
//! with deadlines and shields ([`scopes`]), an MPMC channel ([`channels`]),
//! blocking calls ([`blocking_calls`]), loopback sockets ([`sockets`]) — while
//! a task of the round and a plain OS thread (alive for the whole soak)
//! cancel random scopes and move their deadlines ([`cancellers`]). The
//! parts check what they can see themselves (every message received exactly
//! once or given back, echoes byte for byte, a cancelled read took nothing,
//! each task's outer scope catches its own cancellation). Between rounds
//! the driver checks what only it can see:
//!
//! - **no lost wake-up**: a round that does not finish within [`WATCHDOG`]
//!   is reported with what each part was doing ([`progress`]);
//! - **every task finished**: `alive_tasks` is back at its baseline (given
//!   [`SETTLE`] for abandoned blocking closures to end), and no panic or
//!   error went unobserved;
//! - **a flat live heap**: the live bytes after the round that ends half
//!   way through the run (round [`HEAP_ROUND`] at the earliest) and after
//!   the last round differ by less than [`HEAP_SLACK`]. Half way, not at a
//!   fixed round: with many workers the heap keeps growing to its
//!   high-water mark for a few hundred rounds (per-worker queues and
//!   crossbeam-epoch's per-thread garbage bags; 8 workers on 2 cores:
//!   275 KB at round 10, then flat at about 530 KB from round 460 to 3,900),
//!   while a leak grows with every round, so the second half shows it.
//!
//! Every round draws its interleaving from a seed made from its number, and
//! every report names the round.

mod blocking_calls;
mod cancellers;
mod channels;
mod progress;
mod scopes;
mod sockets;

use canopy::{Runtime, task_group};
use progress::{Progress, Stats};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a round may take before it counts as hung. A round takes well
/// under a second even in a debug build on two loaded cores; a minute
/// leaves no doubt that a task waits for a wake-up that never comes.
pub const WATCHDOG: Duration = Duration::from_secs(60);
/// How long the tasks of a finished round may take to be counted out:
/// closures abandoned by a cancelled `to_thread` finish within a few
/// milliseconds.
pub const SETTLE: Duration = Duration::from_secs(10);
/// The earliest round after which the live heap is first measured (see the
/// module docs for the usual one, half way through).
pub const HEAP_ROUND: u64 = 10;
/// How far the live heap may move between the half-way round and the end: crossbeam-epoch defers freeing the queues' old buffers (a few KB,
/// see `tests/leaks.rs`) and containers keep their high-water capacity. A
/// leak of one thing per task or per message (hundreds each round) soon
/// exceeds it.
pub const HEAP_SLACK: isize = 64 << 10;

/// What to run.
pub struct Config {
    /// Rounds are started until this much time has passed.
    pub duration: Duration,
    /// Worker threads of the runtime.
    pub workers: usize,
    /// A one-line summary every this often (to stdout), if set.
    pub report_every: Option<Duration>,
    /// The live heap in bytes (the counting allocator's).
    pub live_bytes: fn() -> isize,
}

/// What a soak did and what it found.
#[derive(Debug, Default)]
pub struct Summary {
    pub elapsed: Duration,
    pub rounds: u64,
    pub stats: progress::Counts,
    /// The round the live heap was first measured after, the heap then, and
    /// at the end (`None`: too few rounds).
    pub heap: Option<(u64, isize, isize)>,
    /// Every invariant found violated (empty: all held).
    pub violations: Vec<String>,
}

impl Summary {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.0?}: {} rounds, {}",
            self.elapsed, self.rounds, self.stats
        )?;
        match self.heap {
            Some((round, at, end)) => write!(
                f,
                "; live heap {} KB after round {round}, {} KB at the end",
                at >> 10,
                end >> 10
            )?,
            None => write!(
                f,
                "; live heap not measured (fewer than {HEAP_ROUND} rounds)"
            )?,
        }
        if self.passed() {
            write!(f, "; all invariants held")
        } else {
            write!(f, "; {} VIOLATIONS", self.violations.len())
        }
    }
}

/// State shared by the driver, the rounds and the cancelling thread.
pub struct Shared {
    pub slots: cancellers::Slots,
    pub stats: Stats,
    pub progress: Progress,
    /// The round's first violation: once a part fails, its group cancels
    /// the others, whose errors then say only that.
    first: Mutex<Option<String>>,
    /// The live heap and the blocking pool's threads after the last round
    /// settled, for the periodic line (mid-round the heap holds the
    /// round's work).
    settled: Mutex<(isize, usize)>,
}

impl Shared {
    /// A violated invariant, as a task's error; the round reports the
    /// first one.
    pub fn violated(&self, message: impl Into<String>) -> BoxError {
        let message = format!("violated: {}", message.into());
        self.first
            .lock()
            .unwrap()
            .get_or_insert_with(|| message.clone());
        BoxError::from(message)
    }
}

/// Runs the soak and reports. Never hangs: a hung round is a violation,
/// returned while the round's thread stays stuck (the caller exits).
pub fn run(config: Config) -> Summary {
    let shared = Arc::new(Shared {
        slots: cancellers::Slots::new(),
        stats: Stats::default(),
        progress: Progress::default(),
        first: Mutex::new(None),
        settled: Mutex::new((0, 0)),
    });
    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let thread_canceller = cancellers::spawn_thread(shared.clone(), done.clone());
    let (tx, finished) = mpsc::channel();
    {
        let (shared, done) = (shared.clone(), done.clone());
        let (duration, workers, live_bytes) = (config.duration, config.workers, config.live_bytes);
        thread::spawn(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                drive(
                    &shared,
                    started + duration / 2,
                    started + duration,
                    workers,
                    live_bytes,
                )
            }));
            done.store(true, SeqCst);
            let _ = tx.send(out);
        });
    }
    let mut next_report = config.report_every.map(|every| started + every);
    let outcome = loop {
        match finished.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(driven)) => break Ok(driven),
            Ok(Err(panic)) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                break Err(format!("the soak panicked: {message}"));
            }
            Err(_) => {
                if let Some(hang) = shared.progress.hung(WATCHDOG) {
                    break Err(hang);
                }
                if let (Some(at), Some(every)) = (next_report, config.report_every) {
                    if Instant::now() >= at {
                        let (heap, pool) = *shared.settled.lock().unwrap();
                        println!(
                            "soak: {:>5.0?}: round {}, {}; between rounds: live heap {} KB, {pool} blocking threads",
                            started.elapsed(),
                            shared.progress.round(),
                            shared.stats.counts(),
                            heap >> 10
                        );
                        next_report = Some(at + every);
                    }
                }
            }
        }
    };
    done.store(true, SeqCst);
    let mut summary = Summary {
        elapsed: started.elapsed(),
        stats: shared.stats.counts(),
        rounds: shared.progress.round(),
        ..Summary::default()
    };
    match outcome {
        Ok((heap, violations)) => {
            thread_canceller.join().unwrap();
            summary.heap = heap;
            summary.violations = violations;
        }
        // The stuck round keeps its threads; the caller exits.
        Err(violation) => summary.violations.push(violation),
    }
    summary
}

type Driven = (Option<(u64, isize, isize)>, Vec<String>);

/// Runs rounds until `until`, checking between them; stops at the first
/// round that violated something.
fn drive(
    shared: &Arc<Shared>,
    half_way: Instant,
    until: Instant,
    workers: usize,
    live_bytes: fn() -> isize,
) -> Driven {
    let rt = Runtime::builder()
        .workers(workers)
        // A pool that neither shrinks nor grows much once warm, so the
        // heap measured between rounds is the pool's working size.
        .max_blocking_threads(8)
        .blocking_keep_alive(Duration::from_secs(24 * 3600))
        .build()
        .expect("a runtime");
    let baseline = rt.metrics().alive_tasks;
    let mut heap_at = None;
    let mut violations = Vec::new();
    let mut round = 0u64;
    while Instant::now() < until && violations.is_empty() {
        round += 1;
        shared.progress.begin(round);
        let seed = 0x9e37_79b9_7f4a_7c15 ^ round.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let ran = rt.block_on(one_round(shared.clone(), seed));
        shared
            .progress
            .stage(progress::ROUND, "counting its tasks out");
        if let Err(error) = ran {
            // The first violation, if a part found one; else the failure
            // itself (a panic, an I/O error, an escaped cancellation).
            let first = shared.first.lock().unwrap().take();
            violations.push(format!(
                "round {round}: {}",
                first.unwrap_or(error.to_string())
            ));
        }
        violations.extend(
            settle(&rt, baseline)
                .into_iter()
                .map(|v| format!("round {round}: {v}")),
        );
        *shared.settled.lock().unwrap() = (live_bytes(), rt.metrics().blocking_threads);
        shared.progress.end();
        if heap_at.is_none() && round >= HEAP_ROUND && Instant::now() >= half_way {
            heap_at = Some((round, live_bytes()));
        }
    }
    let heap = heap_at.map(|(first, at)| (first, at, live_bytes()));
    if let Some((first, at, end)) = heap {
        if end - at > HEAP_SLACK {
            violations.push(format!(
                "the live heap grew from {at} B after round {first} to {end} B after round {round} \
                 (slack {HEAP_SLACK} B): something is leaked per round"
            ));
        }
    }
    (heap, violations)
}

/// One round: the four parts side by side, and a task cancelling random
/// scopes until they are done.
async fn one_round(shared: Arc<Shared>, seed: u64) -> Result<(), BoxError> {
    task_group(|tg| async move {
        let stop = canopy::CancelScope::new();
        tg.spawn(cancellers::task(shared.clone(), stop.clone(), seed));
        let parts = task_group(|parts| async move {
            parts.spawn(scopes::run(shared.clone(), seed));
            parts.spawn(channels::run(shared.clone(), seed));
            parts.spawn(blocking_calls::run(shared.clone(), seed));
            parts.spawn(sockets::run(shared.clone(), seed));
            Ok::<(), BoxError>(())
        })
        .await;
        stop.cancel();
        parts.map_err(|error| BoxError::from(error.to_string()))
    })
    .await
    .map_err(|error| BoxError::from(error.to_string()))
}

/// Waits (bounded) until the round's tasks are all counted out, and checks
/// that nothing failed unobserved.
fn settle(rt: &Runtime, baseline: u64) -> Vec<String> {
    let until = Instant::now() + SETTLE;
    let mut metrics = rt.metrics();
    while metrics.alive_tasks != baseline && Instant::now() < until {
        thread::sleep(Duration::from_millis(1));
        metrics = rt.metrics();
    }
    let mut violations = Vec::new();
    if metrics.alive_tasks != baseline {
        violations.push(format!(
            "{} tasks alive {SETTLE:?} after the round ended (baseline {baseline}): a task never finished",
            metrics.alive_tasks
        ));
    }
    if metrics.unobserved_panics != 0 || metrics.unobserved_errors != 0 {
        violations.push(format!(
            "{} unobserved panics, {} unobserved errors",
            metrics.unobserved_panics, metrics.unobserved_errors
        ));
    }
    violations
}

/// A tiny xorshift: the soak needs no `rand`, and a round replays from its
/// seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform-ish in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A duration of up to `max_micros` microseconds.
    pub fn micros(&mut self, max_micros: u64) -> Duration {
        Duration::from_micros(self.below(max_micros + 1))
    }
}

/// Parses `90s`, `10m`, `1h`, `500ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "m" => Some(Duration::from_secs(number * 60)),
        "h" => Some(Duration::from_secs(number * 3600)),
        _ => None,
    }
}
