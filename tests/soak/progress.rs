//! What the soak is doing now and what it has done: the stage of each part
//! of the running round, for the watchdog to report a hang with, and the
//! counters for the summaries. Nothing here allocates after startup, so the
//! bookkeeping does not disturb the live-heap measurement.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

pub const SCOPES: usize = 0;
pub const CHANNELS: usize = 1;
pub const BLOCKING: usize = 2;
pub const SOCKETS: usize = 3;
pub const ROUND: usize = 4;
const NAMES: [&str; 5] = ["scopes", "channel", "blocking", "sockets", "round"];

/// The running round and the stage each of its parts has reached.
#[derive(Default)]
pub struct Progress {
    round: AtomicU64,
    began: Mutex<Option<Instant>>,
    stages: [Mutex<&'static str>; 5],
}

impl Progress {
    pub fn begin(&self, round: u64) {
        for stage in &self.stages {
            *stage.lock().unwrap() = "not started";
        }
        self.stage(ROUND, "running its parts");
        self.round.store(round, SeqCst);
        *self.began.lock().unwrap() = Some(Instant::now());
    }

    pub fn end(&self) {
        *self.began.lock().unwrap() = None;
    }

    pub fn stage(&self, part: usize, stage: &'static str) {
        *self.stages[part].lock().unwrap() = stage;
    }

    pub fn round(&self) -> u64 {
        self.round.load(SeqCst)
    }

    /// A report if the running round has taken longer than `limit`.
    pub fn hung(&self, limit: Duration) -> Option<String> {
        let began = (*self.began.lock().unwrap())?;
        if began.elapsed() <= limit {
            return None;
        }
        let stages: Vec<String> = NAMES
            .iter()
            .zip(&self.stages)
            .map(|(name, stage)| format!("{name}: {}", stage.lock().unwrap()))
            .collect();
        Some(format!(
            "round {} hung (a lost wake-up?): still running after {:.1?}; {}",
            self.round(),
            began.elapsed(),
            stages.join("; ")
        ))
    }
}

/// Counters of what the soak did, added to by the parts.
#[derive(Default)]
pub struct Stats {
    pub tasks: AtomicU64,
    pub scopes_caught: AtomicU64,
    pub messages: AtomicU64,
    pub given_back: AtomicU64,
    pub recvs_cancelled: AtomicU64,
    pub blocking_calls: AtomicU64,
    pub blocking_cancelled: AtomicU64,
    pub echoes: AtomicU64,
    pub reads_cancelled: AtomicU64,
    pub cancels: AtomicU64,
    pub deadlines_moved: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, SeqCst);
    }

    pub fn counts(&self) -> Counts {
        let get = |c: &AtomicU64| c.load(SeqCst);
        Counts {
            tasks: get(&self.tasks),
            scopes_caught: get(&self.scopes_caught),
            messages: get(&self.messages),
            given_back: get(&self.given_back),
            recvs_cancelled: get(&self.recvs_cancelled),
            blocking_calls: get(&self.blocking_calls),
            blocking_cancelled: get(&self.blocking_cancelled),
            echoes: get(&self.echoes),
            reads_cancelled: get(&self.reads_cancelled),
            cancels: get(&self.cancels),
            deadlines_moved: get(&self.deadlines_moved),
        }
    }
}

/// A snapshot of [`Stats`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub tasks: u64,
    pub scopes_caught: u64,
    pub messages: u64,
    pub given_back: u64,
    pub recvs_cancelled: u64,
    pub blocking_calls: u64,
    pub blocking_cancelled: u64,
    pub echoes: u64,
    pub reads_cancelled: u64,
    pub cancels: u64,
    pub deadlines_moved: u64,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tasks ({} scopes caught their cancel), {} messages ({} sends given back, \
             {} recvs cancelled), {} blocking calls ({} cancelled), {} echoes ({} reads \
             cancelled), {} cancels and {} deadline moves from outside",
            self.tasks,
            self.scopes_caught,
            self.messages,
            self.given_back,
            self.recvs_cancelled,
            self.blocking_calls,
            self.blocking_cancelled,
            self.echoes,
            self.reads_cancelled,
            self.cancels,
            self.deadlines_moved
        )
    }
}
