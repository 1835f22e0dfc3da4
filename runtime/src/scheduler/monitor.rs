//! The monitor: a small thread per runtime that notices workers stuck in one
//! long poll, at no cost to the polls themselves (DESIGN §4).
//!
//! # What a poll pays
//!
//! Nothing new: each poll already bumps its worker's poll counter, and stores
//! the task's spawn location in the worker's `polling` word before the poll
//! and null after (two plain stores to a line only that worker writes). The
//! monitor reads both.
//!
//! # What the monitor does
//!
//! Every `BUSY_PERIOD` (1 ms) while any worker is awake, every `IDLE_PERIOD`
//! (10 ms) while all are parked — the way Go's `sysmon` backs off — it looks
//! at each worker. A worker whose poll counter has not moved since the last
//! look and whose `polling` word is set has been inside one poll for at
//! least one period:
//!
//! 1. **Nothing waits behind it.** Its LIFO slot is taken (`lifo_slot.rs`)
//!    and the task queued on the global queue, and an idle worker is woken
//!    for that and for the worker's local queue, which any worker may steal
//!    from. So a task only that worker would have run starts within a period
//!    or two on another one, instead of after the stuck poll.
//! 2. **Timers fire and sockets are looked at.** If every worker is stuck,
//!    the monitor fires due timers and polls the reactor itself (normally
//!    the driver — a parked worker — or a busy one's periodic check does).
//! 3. **It is reported.** Once the poll has lasted
//!    `Builder::stuck_poll_threshold` (100 ms by default), the worker's
//!    `stuck_polls` metric counts it, and `Builder::on_stuck_poll` is called
//!    with the task's spawn location and how long it has been stuck so far —
//!    by default one line on stderr, at most one per `REPORT_EVERY` per
//!    runtime. Once per stuck poll.
//!
//! The monitor holds the runtime weakly and exits when it closes.

use crate::shared::Shared;
use std::fmt;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// The monitor's period while any worker is awake: a task behind a stuck
/// worker waits about this long (to twice as long) before another runs it.
const BUSY_PERIOD: Duration = Duration::from_millis(1);

/// The period while every worker is parked (nothing can be stuck).
const IDLE_PERIOD: Duration = Duration::from_millis(10);

/// The default report: at most one stderr line per this long per runtime.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Default `Builder::stuck_poll_threshold`.
pub(crate) const DEFAULT_THRESHOLD: Duration = Duration::from_millis(100);

/// A poll that has kept its worker for longer than
/// [`Builder::stuck_poll_threshold`](crate::Builder::stuck_poll_threshold),
/// as given to [`Builder::on_stuck_poll`](crate::Builder::on_stuck_poll).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StuckPoll {
    /// The worker it keeps (its index, as in `RuntimeMetrics::workers`).
    pub worker: usize,
    /// Where the task was spawned.
    pub spawned_at: &'static Location<'static>,
    /// How long the poll has been running, at least (measured by the
    /// monitor, to within a few milliseconds).
    pub stuck_for: Duration,
}

impl fmt::Display for StuckPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a task spawned at {} has kept worker {} in one poll for {:?}: it is blocking \
             (a synchronous call, a long computation or a lock) instead of awaiting; move \
             the blocking part to canopy::blocking::to_thread, or add checkpoints",
            self.spawned_at, self.worker, self.stuck_for
        )
    }
}

/// How the monitor is told to stop early (the runtime closes).
#[derive(Debug, Default)]
pub(crate) struct MonitorStop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl MonitorStop {
    pub(crate) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }

    /// Sleeps for `period`; `false` once stopped.
    fn sleep(&self, period: Duration) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, period, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        !*stopped
    }
}

/// What the monitor remembers of one worker between looks.
#[derive(Clone, Copy)]
struct Seen {
    polls: u64,
    /// When the monitor first saw this poll running.
    since: Instant,
    reported: bool,
}

/// Starts the monitor thread of `shared`.
pub(crate) fn start(shared: &Arc<Shared>) -> std::io::Result<()> {
    let weak = Arc::downgrade(shared);
    let stop = shared.monitor_stop.clone();
    std::thread::Builder::new()
        .name("canopy-monitor".into())
        .spawn(move || run(&weak, &stop))
        .map(drop)
}

fn run(weak: &Weak<Shared>, stop: &MonitorStop) {
    let mut seen: Vec<Option<Seen>> = Vec::new();
    let mut last_report: Option<Instant> = None;
    let mut period = IDLE_PERIOD;
    // Sleeps without holding the runtime: dropping it is never delayed.
    while stop.sleep(period) {
        let Some(shared) = weak.upgrade() else { return };
        if shared.is_closed() {
            return;
        }
        if seen.len() != shared.remotes.len() {
            seen = vec![None; shared.remotes.len()];
        }
        period = look(&shared, &mut seen, &mut last_report);
    }
}

/// One look at every worker; returns the period until the next.
fn look(
    shared: &Arc<Shared>,
    seen: &mut [Option<Seen>],
    last_report: &mut Option<Instant>,
) -> Duration {
    let now = Instant::now();
    let mut stuck = 0;
    for (index, remote) in shared.remotes.iter().enumerate() {
        let own = &remote.own;
        let polls = own.counters.polls.load(Relaxed);
        let polling = own.polling.load(Relaxed);
        // SAFETY: a non-null pointer is a `&'static Location` stored by the
        // worker (`WorkerLocal::poll`).
        let Some(location) = (unsafe { polling.as_ref() }) else {
            seen[index] = None;
            continue;
        };
        let entry = match &mut seen[index] {
            Some(entry) if entry.polls == polls => entry,
            slot => {
                // A poll we had not seen yet: give it one period.
                *slot = Some(Seen {
                    polls,
                    since: now,
                    reported: false,
                });
                continue;
            }
        };
        stuck += 1;
        rescue(shared, index);
        let stuck_for = now.duration_since(entry.since);
        if let Some(threshold) = shared.config.stuck_poll_threshold {
            if !entry.reported && stuck_for >= threshold {
                entry.reported = true;
                crate::metrics::bump(&own.counters.stuck_polls);
                report(
                    shared,
                    StuckPoll {
                        worker: index,
                        spawned_at: location,
                        stuck_for,
                    },
                    last_report,
                );
            }
        }
    }
    if stuck == shared.remotes.len() {
        // Nobody else can fire the timers or look at the sockets.
        let _context = crate::context::enter_detached(shared);
        shared.process_timers();
        shared.poll_io_if_no_driver();
    }
    if shared.idle.num_unparked() == 0 {
        IDLE_PERIOD
    } else {
        BUSY_PERIOD
    }
}

/// Worker `index` is stuck in a poll: what only it would run goes where any
/// worker can run it.
fn rescue(shared: &Shared, index: usize) {
    let remote = &shared.remotes[index];
    if let Some(task) = remote.own.lifo.take() {
        shared.injector.push(task);
        shared.notify_one();
    }
    if !remote.stealer.is_empty() {
        shared.notify_one();
    }
}

fn report(shared: &Shared, stuck: StuckPoll, last_report: &mut Option<Instant>) {
    if let Some(hook) = &shared.config.on_stuck_poll {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook(&stuck))) {
            shared.report_contained_panic(crate::shared::ContainedPanic::StuckPollHook, payload);
        }
        return;
    }
    let now = Instant::now();
    if last_report.is_some_and(|last| now.duration_since(last) < REPORT_EVERY) {
        return;
    }
    *last_report = Some(now);
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "canopy: {stuck}");
}
