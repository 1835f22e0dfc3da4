//! The timer driver: one timing wheel per shard, and the protocol by which a
//! sleeping worker learns of a deadline earlier than the one it sleeps until.
//!
//! # Shards
//!
//! Each worker arms timers in its own shard (threads outside the workers
//! share one more), so arming and disarming take a lock no other worker
//! usually wants; no lock is global. A timer stays in the shard it was armed
//! in wherever its future moves; any thread may fire any shard. Each shard
//! publishes the earliest tick it may have work at in `next` (never later
//! than the truth; it may be earlier after a disarm, which costs one extra
//! look), so firing skips idle shards without locking them.
//!
//! # Sleeping until the next deadline
//!
//! One parked worker at a time (the runtime's "timer sentinel") sleeps with a
//! timeout: [`TimerDriver::prepare_sleep`] publishes the tick it will sleep
//! until in `sleepers.until`, then re-reads every shard's `next`, retrying if
//! something earlier appeared. Arming a timer first publishes the shard's new
//! `next`, then reads `sleepers.until`, and calls the runtime's wake-up hook
//! if the new deadline is earlier. Both sides use `SeqCst`, a Dekker pair:
//! either the sentinel's re-read sees the new deadline, or the armer sees the
//! sentinel's published tick and wakes it. No deadline is slept through.
//!
//! # Watchers: sleepers besides the sentinel
//!
//! Once a runtime's workers have stopped, a `block_on` thread still waiting
//! fires the timers itself: it sleeps until the earliest deadline of every
//! shard and then calls [`TimerDriver::process`]. Several may do so at once,
//! so they do not take the sentinel's single `sleepers.until`; each counts
//! itself in `watchers` instead ([`TimerDriver::prepare_watch`]) and then
//! reads every shard's `next`. Arming reads `watchers` after publishing
//! `next` and, while anyone watches, calls the wake-up hook whatever the
//! deadline: the same Dekker pair, so a watcher either sleeps no later than
//! the new deadline or is woken to look again. The count is read only on
//! the arming path, beside `sleepers.until`, on the same cache line.
//!
//! # Firing
//!
//! [`TimerDriver::process`] takes every due entry out of every shard, then
//! wakes them outside the locks in deadline order (a slot above level 0
//! spans many ticks, and shards are visited in turn, so the order the wheels
//! hand them out in is not it). A waker is user code: each is woken under
//! `catch_unwind`, so a panicking one neither unwinds into the thread firing
//! the timers (a worker) nor keeps the rest of the batch from being woken; its
//! panic goes to the hook set with [`TimerDriver::set_on_waker_panic`].

use crate::clock::Clock;
use crate::loom::atomic::{AtomicU64, Ordering::SeqCst, fence};
use crate::loom::{Mutex, MutexGuard};
use crate::wheel::{Key, Wheel};
use crossbeam_utils::CachePadded;
use std::any::Any;
use std::fmt;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::task::Waker;
use std::time::Instant;

/// `next` value meaning "nothing armed"; as `sleepers.until`, "sleeps until
/// woken".
const NEVER: u64 = u64::MAX;
/// `sleepers.until` value meaning "nobody sleeps on the timers": no arming
/// needs to wake anyone.
const NO_SLEEPER: u64 = 0;

/// Who sleeps on the timers and must hear of an earlier deadline: read by
/// every arming, written only around sleeps, so one cache line for both.
#[derive(Debug)]
struct Sleepers {
    /// The tick the sentinel sleeps until (`NO_SLEEPER`: none sleeps).
    until: AtomicU64,
    /// Threads sleeping until the earliest deadline besides the sentinel
    /// (module docs, "Watchers").
    watchers: AtomicU64,
}

/// Receives the payload of a waker that panicked when its timer fired.
type WakerPanicHook = Box<dyn Fn(Box<dyn Any + Send>) + Send + Sync>;

/// What the wheel holds for one armed timer.
#[derive(Debug)]
struct Entry {
    /// Tells this arming apart from a later one that reuses the slab key.
    id: u64,
    waker: Waker,
}

#[derive(Debug, Default)]
struct ShardState {
    wheel: Wheel<Entry>,
    next_id: u64,
}

#[derive(Debug)]
struct Shard {
    state: Mutex<ShardState>,
    /// Earliest tick this shard may need processing at (see module docs).
    next: AtomicU64,
}

/// An armed timer: which shard, which wheel entry, which arming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Registration {
    shard: u32,
    key: Key,
    id: u64,
}

impl Registration {
    /// As the two words of a scope's `TimerHandle`.
    pub(crate) fn to_handle(self) -> canopy_scope::rt::TimerHandle {
        canopy_scope::rt::TimerHandle {
            slot: (u64::from(self.shard) << 32) | u64::from(self.key.index()),
            id: self.id,
        }
    }

    pub(crate) fn from_handle(handle: canopy_scope::rt::TimerHandle) -> Self {
        Registration {
            shard: (handle.slot >> 32) as u32,
            key: Key::from_index(handle.slot as u32),
            id: handle.id,
        }
    }
}

/// Fires timers for one runtime. The runtime creates it, installs a wake-up
/// hook, and drives it: [`process`](Self::process) from busy workers now and
/// then, and [`prepare_sleep`](Self::prepare_sleep) /
/// [`finish_sleep`](Self::finish_sleep) around the timed park of one idle
/// worker. Futures reach it through the thread's timer context
/// ([`enter`](crate::enter)).
pub struct TimerDriver {
    clock: Clock,
    shards: Box<[CachePadded<Shard>]>,
    sleepers: CachePadded<Sleepers>,
    wake_sleeper: OnceLock<Box<dyn Fn() + Send + Sync>>,
    on_waker_panic: OnceLock<WakerPanicHook>,
}

impl fmt::Debug for TimerDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerDriver")
            .field("clock", &self.clock)
            .field("shards", &self.shards.len())
            .field("sleeping_until", &self.sleepers.until.load(SeqCst))
            .field("watchers", &self.sleepers.watchers.load(SeqCst))
            .finish_non_exhaustive()
    }
}

impl TimerDriver {
    /// A driver with `shards` shards (one per worker plus one for other
    /// threads, typically), on a real clock or a paused one.
    pub fn new(shards: usize, start_paused: bool) -> Self {
        TimerDriver {
            clock: Clock::new(start_paused),
            shards: (0..shards.max(1))
                .map(|_| {
                    CachePadded::new(Shard {
                        state: Mutex::new(ShardState::default()),
                        next: AtomicU64::new(NEVER),
                    })
                })
                .collect(),
            sleepers: CachePadded::new(Sleepers {
                until: AtomicU64::new(NO_SLEEPER),
                watchers: AtomicU64::new(0),
            }),
            wake_sleeper: OnceLock::new(),
            on_waker_panic: OnceLock::new(),
        }
    }

    /// Installs the hook that wakes the worker sleeping on the timers (the
    /// one that called `prepare_sleep`) and the threads watching them
    /// (`prepare_watch`). Only the first call has an effect.
    pub fn set_wake_sleeper(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.wake_sleeper.set(Box::new(hook));
    }

    /// Installs the hook that receives the panic of a waker woken by a
    /// firing timer (the runtime reports it like an unobserved panic).
    /// Without one, a line goes to stderr. Only the first call has an effect.
    pub fn set_on_waker_panic(&self, hook: impl Fn(Box<dyn Any + Send>) + Send + Sync + 'static) {
        let _ = self.on_waker_panic.set(Box::new(hook));
    }

    /// The driver's current time (paused or real).
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Whether the clock is paused.
    pub fn is_paused(&self) -> bool {
        self.clock.is_paused()
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, ShardState> {
        self.shards[shard]
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Republishes a shard's earliest tick; called with its lock held.
    fn publish_next(&self, shard: usize, state: &ShardState) {
        let next = state.wheel.next_expiration().unwrap_or(NEVER);
        self.shards[shard].next.store(next, SeqCst);
    }

    /// Tells the sleeping worker, if it sleeps past `tick`, and the
    /// watchers, if any.
    fn wake_sleeper_before(&self, tick: u64) {
        // Orders our `next` store before these loads (the Dekker pairs with
        // `prepare_sleep` and `prepare_watch`; explicit so loom, which
        // models SeqCst accesses as acquire/release only, checks the real
        // guarantee).
        fence(SeqCst);
        if tick < self.sleepers.until.load(SeqCst) || self.sleepers.watchers.load(SeqCst) != 0 {
            if let Some(hook) = self.wake_sleeper.get() {
                hook();
            }
        }
    }

    /// Arms a timer due at `deadline` in `shard`.
    pub(crate) fn register(&self, shard: usize, deadline: Instant, waker: Waker) -> Registration {
        let shard = shard.min(self.shards.len() - 1);
        let tick = self.clock.deadline_tick(deadline);
        let registration = {
            let mut state = self.lock(shard);
            let id = state.next_id;
            state.next_id += 1;
            let key = state.wheel.insert(tick, Entry { id, waker });
            self.publish_next(shard, &state);
            Registration {
                shard: shard as u32,
                key,
                id,
            }
        };
        self.wake_sleeper_before(tick);
        registration
    }

    /// Arms a timer as `sleep` does, for the loom models of other crates
    /// (the runtime's driver-role hand-off); `register` is this crate's own.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn arm_for_loom_model(&self, shard: usize, deadline: Instant) {
        self.register(shard, deadline, Waker::noop().clone());
    }

    /// Polls an armed timer: `true` if it has fired. Otherwise stores `waker`.
    pub(crate) fn poll_registered(&self, registration: &Registration, waker: &Waker) -> bool {
        let replaced = {
            let mut state = self.lock(registration.shard as usize);
            match state.wheel.get_mut(registration.key) {
                Some(entry) if entry.id == registration.id => (!entry.waker.will_wake(waker))
                    .then(|| std::mem::replace(&mut entry.waker, waker.clone())),
                _ => return true,
            }
        };
        // Dropped outside the lock: a waker's drop may run arbitrary code.
        drop(replaced);
        false
    }

    /// Moves an armed timer. Returns `false` if it had already fired (the
    /// caller then arms anew).
    pub(crate) fn reset(&self, registration: &Registration, deadline: Instant) -> bool {
        let tick = self.clock.deadline_tick(deadline);
        {
            let shard = registration.shard as usize;
            let mut state = self.lock(shard);
            match state.wheel.get_mut(registration.key) {
                Some(entry) if entry.id == registration.id => {}
                _ => return false,
            }
            state.wheel.reset(registration.key, tick);
            self.publish_next(shard, &state);
        }
        self.wake_sleeper_before(tick);
        true
    }

    /// Disarms a timer (no-op if it fired).
    pub(crate) fn deregister(&self, registration: &Registration) {
        self.deregister_unless_fired(registration);
    }

    /// Disarms a timer; returns `true` if it had already fired instead.
    pub(crate) fn deregister_unless_fired(&self, registration: &Registration) -> bool {
        let waker = {
            let mut state = self.lock(registration.shard as usize);
            match state.wheel.get_mut(registration.key) {
                Some(entry) if entry.id == registration.id => {
                    Some(state.wheel.remove(registration.key).waker)
                }
                _ => None,
            }
        };
        let fired = waker.is_none();
        // Dropped outside the lock: a waker's drop may run arbitrary code.
        drop(waker);
        fired
    }

    /// Fires every timer due by now and wakes its task, in deadline order.
    /// Returns how many fired. A panicking waker is contained and reported
    /// (module docs, "Firing").
    pub fn process(&self) -> usize {
        let now = self.clock.now_tick();
        let mut fired = Vec::new();
        for shard in 0..self.shards.len() {
            if self.shards[shard].next.load(SeqCst) > now {
                continue;
            }
            let mut state = self.lock(shard);
            state
                .wheel
                .advance(now, |when, entry| fired.push((when, entry.waker)));
            self.publish_next(shard, &state);
        }
        // Stable: entries due at the same tick keep their shard order.
        fired.sort_by_key(|&(when, _)| when);
        let count = fired.len();
        for (_, waker) in fired {
            self.wake(waker);
        }
        count
    }

    /// Wakes one fired timer's waker, containing its panic.
    fn wake(&self, waker: Waker) {
        let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) else {
            return;
        };
        // The hook (the runtime's report) is user code too, and so is
        // dropping the payload: contain both.
        let report = AssertUnwindSafe(|| match self.on_waker_panic.get() {
            Some(hook) => hook(payload),
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "canopy: a waker panicked when its timer fired; the panic was contained"
                );
                drop(payload);
            }
        });
        if catch_unwind(report).is_err() {
            let _ = writeln!(
                std::io::stderr(),
                "canopy: reporting a waker's panic panicked; that panic was contained too"
            );
        }
    }

    /// The earliest instant any timer may need processing at.
    pub fn next_deadline(&self) -> Option<Instant> {
        let next = self.next_tick();
        (next != NEVER).then(|| self.clock.tick_instant(next))
    }

    fn next_tick(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.next.load(SeqCst))
            .min()
            .unwrap_or(NEVER)
    }

    /// Called by the one worker about to sleep on the timers: publishes until
    /// when it sleeps and returns that instant (`None`: no timer is armed, or
    /// the clock is paused; sleep until woken). See the module docs.
    pub fn prepare_sleep(&self) -> Option<Instant> {
        loop {
            let next = self.next_tick();
            // `max(1)`: 0 means "no sleeper"; a sleeper due at tick 0 is due now.
            self.sleepers.until.store(next.max(1), SeqCst);
            fence(SeqCst);
            if self.next_tick() >= next {
                let timed = next != NEVER && !self.clock.is_paused();
                return timed.then(|| self.clock.tick_instant(next));
            }
        }
    }

    /// Called by a thread other than the sentinel that is about to sleep
    /// until the earliest deadline and then [`process`](Self::process) the
    /// timers: a `block_on` thread once the workers have stopped. Returns
    /// until when to sleep (`None`: nothing is armed, or the clock is
    /// paused; sleep until woken).
    /// Until [`finish_watch`](Self::finish_watch), every arming calls the
    /// wake-up hook. See the module docs, "Watchers".
    pub fn prepare_watch(&self) -> Option<Instant> {
        self.sleepers.watchers.fetch_add(1, SeqCst);
        // Orders the count before the reads of `next` (Dekker pair with
        // `wake_sleeper_before`).
        fence(SeqCst);
        let next = self.next_tick();
        let timed = next != NEVER && !self.clock.is_paused();
        timed.then(|| self.clock.tick_instant(next))
    }

    /// The watcher woke up; it processes timers next.
    pub fn finish_watch(&self) {
        self.sleepers.watchers.fetch_sub(1, SeqCst);
    }

    /// `prepare_sleep` as a tick, ignoring a paused clock (for the loom model,
    /// which runs on a paused clock to keep ticks deterministic).
    #[cfg(all(test, loom))]
    fn prepare_sleep_real_clock_for_model(&self) -> u64 {
        loop {
            let next = self.next_tick();
            self.sleepers.until.store(next.max(1), SeqCst);
            fence(SeqCst);
            if self.next_tick() >= next {
                return next;
            }
        }
    }

    #[cfg(all(test, loom))]
    fn tick_of(&self, deadline: Instant) -> u64 {
        self.clock.deadline_tick(deadline)
    }

    /// The sleeping worker woke up; it processes timers next.
    pub fn finish_sleep(&self) {
        self.sleepers.until.store(NO_SLEEPER, SeqCst);
    }

    /// On a paused clock, jumps to the next deadline and fires what is due
    /// there. Returns `false` if nothing is armed (or the clock runs).
    pub fn advance_to_next_deadline(&self) -> bool {
        self.advance_to_next_deadline_while(|| true)
    }

    /// [`advance_to_next_deadline`](Self::advance_to_next_deadline), but
    /// each step first asks `idle` whether the clock may still move, *after*
    /// reading the tick it would move to; `false` if it may not. So a
    /// deadline armed by a thread that became active after the caller last
    /// looked (a `block_on` call just starting, a task just woken: both
    /// counted active before they arm anything, in `SeqCst`) is seen as
    /// armed by an active thread, and the clock does not jump to it; and a
    /// step that fires nothing (a cascade point, or timers another thread
    /// fired first) does not carry the clock on past a wake it did not see.
    pub fn advance_to_next_deadline_while(&self, idle: impl Fn() -> bool) -> bool {
        // Nothing armed: the hints may still point at emptied slots, and
        // following them would move a paused clock for no timer at all.
        if !self.clock.is_paused() || self.armed() == 0 {
            return false;
        }
        // The next tick may be a cascade point of a far timer, or stale after
        // a disarm: step until something fires. Each step lands on a slot
        // boundary no later than a real deadline, so the clock stops exactly
        // at the deadline that fires.
        loop {
            let next = self.next_tick();
            if next == NEVER {
                return false;
            }
            // Orders the reads of `next` before `idle`'s reads (the counter
            // of whoever armed a timer was raised before its `next` store).
            fence(SeqCst);
            if !idle() {
                return false;
            }
            self.clock.advance_to_tick(next);
            if self.process() > 0 {
                return true;
            }
        }
    }

    /// Moves a paused clock forward by `by` and fires what is due. Returns
    /// `false` (and does nothing) on a running clock.
    pub fn advance(&self, by: std::time::Duration) -> bool {
        if !self.clock.advance(by) {
            return false;
        }
        self.process();
        true
    }

    /// Armed timers in all shards (for tests and metrics).
    pub fn armed(&self) -> usize {
        (0..self.shards.len())
            .map(|s| self.lock(s).wheel.len())
            .sum()
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    //! Run with `RUSTFLAGS="--cfg loom" cargo test -p canopy-timer --release --lib loom_`.
    use super::TimerDriver;
    use loom::sync::{Arc, Notify};
    use loom::thread;
    use std::task::Waker;
    use std::time::Duration;

    /// A worker preparing to sleep on the timers races another thread arming
    /// an earlier timer: the sleeper either sees the deadline or is woken.
    #[test]
    fn loom_arming_races_the_sleeper() {
        loom::model(|| {
            let driver = Arc::new(TimerDriver::new(2, true));
            let woken = Arc::new(Notify::new());
            let notify = woken.clone();
            driver.set_wake_sleeper(move || notify.notify());
            // The sleeper starts with one far timer armed.
            let far = driver.now() + Duration::from_secs(100);
            driver.register(0, far, Waker::noop().clone());
            let near = driver.now() + Duration::from_secs(1);
            let armer = {
                let driver = driver.clone();
                thread::spawn(move || {
                    driver.register(1, near, Waker::noop().clone());
                })
            };
            let until = driver.prepare_sleep_real_clock_for_model();
            if until > driver.tick_of(near) {
                // It would sleep past the new deadline: it must be woken.
                woken.wait();
            }
            driver.finish_sleep();
            armer.join().unwrap();
        });
    }

    /// A watcher (a `block_on` thread once the workers stopped) preparing to
    /// sleep races another thread arming an earlier timer: the watcher
    /// either sleeps no later than the new deadline or is woken.
    #[test]
    fn loom_arming_races_a_watcher() {
        loom::model(|| {
            let driver = Arc::new(TimerDriver::new(2, false));
            let woken = Arc::new(Notify::new());
            let notify = woken.clone();
            driver.set_wake_sleeper(move || notify.notify());
            let far = driver.now() + Duration::from_secs(100);
            driver.register(0, far, Waker::noop().clone());
            let near = driver.now() + Duration::from_secs(1);
            let armer = {
                let driver = driver.clone();
                thread::spawn(move || {
                    driver.register(1, near, Waker::noop().clone());
                })
            };
            let until = driver.prepare_watch().expect("a timer is armed");
            if until > near {
                // It would sleep past the new deadline: it must be woken.
                woken.wait();
            }
            driver.finish_watch();
            armer.join().unwrap();
        });
    }

    /// Arming, disarming and firing from three threads leave the wheel
    /// consistent: every timer either fired or was disarmed, exactly once.
    #[test]
    fn loom_arm_disarm_and_fire_race() {
        loom::model(|| {
            let driver = Arc::new(TimerDriver::new(2, true));
            let soon = driver.now() + Duration::from_millis(1);
            let kept = driver.register(0, soon, Waker::noop().clone());
            let dropped = {
                let driver = driver.clone();
                thread::spawn(move || {
                    let r = driver.register(1, soon, Waker::noop().clone());
                    driver.deregister(&r);
                })
            };
            let firer = {
                let driver = driver.clone();
                thread::spawn(move || {
                    driver.advance(Duration::from_millis(1));
                })
            };
            dropped.join().unwrap();
            firer.join().unwrap();
            // Whatever interleaving: the kept timer has fired by now.
            assert!(driver.poll_registered(&kept, Waker::noop()));
            driver.process();
            assert_eq!(driver.armed(), 0);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::TimerDriver;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    use std::task::{Wake, Waker};
    use std::time::Duration;

    /// Records its label in a shared log when woken; panics instead if told to.
    struct Recorder {
        label: u64,
        log: Arc<Mutex<Vec<u64>>>,
        panics: bool,
    }

    impl Wake for Recorder {
        fn wake(self: Arc<Self>) {
            assert!(!self.panics, "a waker that panics");
            self.log.lock().unwrap().push(self.label);
        }
    }

    fn recorder(label: u64, log: &Arc<Mutex<Vec<u64>>>, panics: bool) -> Waker {
        Waker::from(Arc::new(Recorder {
            label,
            log: log.clone(),
            panics,
        }))
    }

    #[test]
    fn a_batch_is_woken_in_deadline_order_across_shards_and_slots() {
        let driver = TimerDriver::new(3, true);
        let log = Arc::new(Mutex::new(Vec::new()));
        let start = driver.now();
        // Later deadlines in the earlier shards, and several deadlines in one
        // level-1 slot (64..4096 ms) armed latest-first and earliest-first.
        for (shard, ms) in [
            (0, 9_000),
            (1, 1_000),
            (2, 5),
            (0, 1_010),
            (0, 1_003),
            (2, 70),
        ] {
            driver.register(
                shard,
                start + Duration::from_millis(ms),
                recorder(ms, &log, false),
            );
        }
        assert!(driver.advance(Duration::from_secs(10)));
        assert_eq!(*log.lock().unwrap(), [5, 70, 1_000, 1_003, 1_010, 9_000]);
    }

    /// Arms a timer from its wake, as a scope whose deadline moved later
    /// lazily does when its timer fires early.
    struct Rearm {
        driver: std::sync::Weak<TimerDriver>,
        rearmed: AtomicUsize,
    }

    impl Wake for Rearm {
        fn wake(self: Arc<Self>) {
            let driver = self
                .driver
                .upgrade()
                .expect("the driver outlives its timers");
            // Deadlocks if the shard lock were held while waking.
            driver.register(
                0,
                driver.now() + Duration::from_millis(5),
                Waker::noop().clone(),
            );
            self.rearmed.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn a_waker_may_arm_a_timer_in_the_shard_that_fired_it() {
        let driver = Arc::new(TimerDriver::new(1, true));
        let rearm = Arc::new(Rearm {
            driver: Arc::downgrade(&driver),
            rearmed: AtomicUsize::new(0),
        });
        driver.register(
            0,
            driver.now() + Duration::from_millis(1),
            Waker::from(rearm.clone()),
        );
        assert!(driver.advance(Duration::from_millis(1)));
        assert_eq!(rearm.rearmed.load(SeqCst), 1);
        assert_eq!(driver.armed(), 1, "the timer armed from the wake");
    }

    #[test]
    fn a_panicking_waker_is_reported_and_the_rest_of_its_batch_is_woken() {
        let driver = TimerDriver::new(2, true);
        let reported = Arc::new(AtomicUsize::new(0));
        let count = reported.clone();
        driver.set_on_waker_panic(move |payload| {
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"a waker that panics"));
            count.fetch_add(1, SeqCst);
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let start = driver.now();
        driver.register(1, start + Duration::from_millis(1), recorder(0, &log, true));
        for ms in 2..22 {
            driver.register(
                (ms % 2) as usize,
                start + Duration::from_millis(ms),
                recorder(ms, &log, false),
            );
        }
        assert!(driver.clock.advance(Duration::from_secs(1)));
        assert_eq!(driver.process(), 21, "the panic was contained");
        assert_eq!(*log.lock().unwrap(), (2..22).collect::<Vec<_>>());
        assert_eq!(reported.load(SeqCst), 1);
        assert_eq!(driver.armed(), 0);
    }
}
