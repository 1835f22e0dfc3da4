//! One source's readiness, per direction, and the tasks waiting for it.
//!
//! # State
//!
//! `state` packs the two readiness bits (`READABLE`, `WRITABLE`) and a
//! `tick` (bits 8 and up) that counts the events the reactor delivered. A new
//! source starts ready in both directions: an operation always tries its
//! system call first and waits only once the call said `WouldBlock`.
//!
//! # Protocol
//!
//! 1. **Event.** The reactor (sources are registered edge-triggered) sets the
//!    direction's bit and bumps the tick in one read-modify-write, *then*
//!    locks that direction's waiter list, takes every waker out of it (bumping
//!    the list's `epoch`), unlocks, and wakes them all.
//! 2. **Operation.** An operation reads `state`. If its bit is set it runs its
//!    system call; on `WouldBlock` it clears the bit, but only if the tick is
//!    still the one it read (a compare-exchange), so an event that arrived
//!    between the read and the call is not erased. Then it looks again.
//! 3. **Waiting.** If the bit is clear, the operation locks the list, stores
//!    its waker (or updates the one it stored), and re-reads `state` *while
//!    holding the lock*. If the bit is set now it takes its waker out again
//!    and runs its call. Otherwise it returns `Pending`.
//!
//! No wake-up is lost: the reactor's bit-set (1) happens before it locks the
//! list. If the operation locked the list first, the reactor finds its waker;
//! if the reactor locked it first, the operation's re-read under the lock
//! sees the bit.
//!
//! Every waiter of a direction is woken by every event (a broadcast), so a
//! waiter that is cancelled, or dropped, after its wake-up cannot swallow the
//! readiness: the others were woken too, and the bit stays set until some
//! operation sees `WouldBlock`. Many tasks accepting on one listener each
//! retry; the losers see `WouldBlock` and wait again.
//!
//! # The fast path
//!
//! An operation that finds its bit set takes no lock. The first waiter of a
//! direction is stored inline (`first`), so the common case, one reader and
//! one writer per stream, allocates nothing; more waiters go to a slab. A
//! waiter remembers the list's epoch when it stored its waker: after an
//! event took the wakers out, `forget` sees the epoch moved (one atomic
//! load, no lock) and knows its entry is gone.
//!
//! The loom model in `loom_models.rs` checks (1)-(3) with two waiters and a
//! cancelled one.

use crate::loom::Mutex;
use crate::loom::atomic::{AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::SeqCst};
use slab::Slab;
use std::task::{Poll, Waker};

const READABLE: usize = 0b01;
const WRITABLE: usize = 0b10;
const TICK_SHIFT: u32 = 8;
const TICK_ONE: usize = 1 << TICK_SHIFT;

/// Which half of a source an operation waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading, accepting, receiving.
    Read,
    /// Writing, connecting, sending.
    Write,
}

impl Direction {
    fn bit(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// Where a waiter's waker is stored, and in which generation of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaiterKey {
    epoch: u64,
    /// `None`: the inline slot; `Some(i)`: entry `i` of the slab.
    slot: Option<usize>,
}

#[derive(Debug, Default)]
struct List {
    first: Option<Waker>,
    rest: Slab<Waker>,
}

#[derive(Debug)]
struct Waiters {
    /// Bumped, under the lock, each time an event takes the wakers out;
    /// readable without it (see "The fast path").
    epoch: AtomicU64,
    list: Mutex<List>,
}

impl Waiters {
    fn new() -> Self {
        Waiters {
            epoch: AtomicU64::new(0),
            list: Mutex::new(List::default()),
        }
    }
}

/// The readiness of one registered source and its waiters.
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    state: AtomicUsize,
    readers: Waiters,
    writers: Waiters,
}

impl ScheduledIo {
    pub(crate) fn new() -> Self {
        ScheduledIo {
            state: AtomicUsize::new(READABLE | WRITABLE),
            readers: Waiters::new(),
            writers: Waiters::new(),
        }
    }

    fn waiters(&self, direction: Direction) -> &Waiters {
        match direction {
            Direction::Read => &self.readers,
            Direction::Write => &self.writers,
        }
    }

    /// Protocol step 1: the reactor saw the source ready.
    pub(crate) fn set_ready(&self, readable: bool, writable: bool) {
        let bits = if readable { READABLE } else { 0 } | if writable { WRITABLE } else { 0 };
        if bits == 0 {
            return;
        }
        // The tick wraps harmlessly: it only has to differ from the one an
        // operation read a moment ago.
        let _ = self
            .state
            .fetch_update(SeqCst, SeqCst, |s| Some(s.wrapping_add(TICK_ONE) | bits));
        if readable {
            self.wake_all(Direction::Read);
        }
        if writable {
            self.wake_all(Direction::Write);
        }
    }

    /// Takes every waker of `direction` out and wakes it (also used when the
    /// runtime shuts down, so that waiters see the error).
    pub(crate) fn wake_all(&self, direction: Direction) {
        let waiters = self.waiters(direction);
        let (first, rest) = {
            let mut list = waiters.list.lock().unwrap_or_else(|e| e.into_inner());
            waiters.epoch.fetch_add(1, SeqCst);
            let first = list.first.take();
            // Allocates only when several tasks wait on one direction.
            let rest: Vec<Waker> = if list.rest.is_empty() {
                Vec::new()
            } else {
                list.rest.drain().collect()
            };
            (first, rest)
        };
        // Woken outside the lock: a waker is foreign code.
        if let Some(waker) = first {
            waker.wake();
        }
        for waker in rest {
            waker.wake();
        }
    }

    /// Protocol steps 2-3: `Ready(tick)` if `direction` is ready (the caller
    /// runs its call and passes the tick to `clear_ready` on `WouldBlock`),
    /// else stores `waker` under `key` and returns `Pending`.
    pub(crate) fn poll_ready(
        &self,
        direction: Direction,
        waker: &Waker,
        key: &mut Option<WaiterKey>,
    ) -> Poll<usize> {
        let state = self.state.load(Acquire);
        if state & direction.bit() != 0 {
            self.forget(direction, key);
            return Poll::Ready(state >> TICK_SHIFT);
        }
        let waiters = self.waiters(direction);
        let mut list = waiters.list.lock().unwrap_or_else(|e| e.into_inner());
        let epoch = waiters.epoch.load(SeqCst);
        let replaced = match *key {
            Some(k) if k.epoch == epoch => {
                let entry = match k.slot {
                    None => list.first.as_mut(),
                    Some(i) => list.rest.get_mut(i),
                };
                let entry = entry.expect("a waiter's entry lives until its epoch ends");
                (!entry.will_wake(waker)).then(|| std::mem::replace(entry, waker.clone()))
            }
            _ => {
                let slot = if list.first.is_none() {
                    list.first = Some(waker.clone());
                    None
                } else {
                    Some(list.rest.insert(waker.clone()))
                };
                *key = Some(WaiterKey { epoch, slot });
                None
            }
        };
        let state = self.state.load(SeqCst);
        if state & direction.bit() != 0 {
            // Ready after all (protocol step 3): take our entry back out.
            let ours = take(&mut list, key.take().expect("just stored"));
            drop(list);
            drop(ours);
            drop(replaced);
            return Poll::Ready(state >> TICK_SHIFT);
        }
        drop(list);
        // Dropped outside the lock: a waker's drop is foreign code.
        drop(replaced);
        Poll::Pending
    }

    /// Protocol step 2: the call said `WouldBlock` at `tick`.
    pub(crate) fn clear_ready(&self, direction: Direction, tick: usize) {
        let _ = self.state.fetch_update(SeqCst, SeqCst, |s| {
            (s >> TICK_SHIFT == tick).then_some(s & !direction.bit())
        });
    }

    /// Removes the waiter's entry, if an event has not taken it out already.
    pub(crate) fn forget(&self, direction: Direction, key: &mut Option<WaiterKey>) {
        let Some(k) = key.take() else {
            return;
        };
        let waiters = self.waiters(direction);
        if waiters.epoch.load(SeqCst) != k.epoch {
            return;
        }
        let mut list = waiters.list.lock().unwrap_or_else(|e| e.into_inner());
        let ours = (waiters.epoch.load(SeqCst) == k.epoch)
            .then(|| take(&mut list, k))
            .flatten();
        drop(list);
        drop(ours);
    }

    /// Whether `direction` is marked ready (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_ready(&self, direction: Direction) -> bool {
        self.state.load(SeqCst) & direction.bit() != 0
    }
}

fn take(list: &mut List, key: WaiterKey) -> Option<Waker> {
    match key.slot {
        None => list.first.take(),
        Some(i) => list.rest.try_remove(i),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Direction, ScheduledIo};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::{Poll, Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn every_waiter_is_woken_by_one_event() {
        let io = ScheduledIo::new();
        let Poll::Ready(tick) = io.poll_ready(Direction::Read, Waker::noop(), &mut None) else {
            panic!("a new source starts ready");
        };
        io.clear_ready(Direction::Read, tick);
        let counts: Vec<_> = (0..3)
            .map(|_| {
                let (count, waker) = counter();
                let mut key = None;
                assert!(
                    io.poll_ready(Direction::Read, &waker, &mut key)
                        .is_pending()
                );
                (count, key)
            })
            .collect();
        io.set_ready(true, false);
        for (count, _) in &counts {
            assert_eq!(count.0.load(SeqCst), 1);
        }
        assert!(io.is_ready(Direction::Read));
    }

    #[test]
    fn an_event_between_read_and_clear_is_kept() {
        let io = ScheduledIo::new();
        let Poll::Ready(tick) = io.poll_ready(Direction::Write, Waker::noop(), &mut None) else {
            panic!("a new source starts ready");
        };
        io.set_ready(false, true);
        io.clear_ready(Direction::Write, tick); // stale tick: no effect
        assert!(io.is_ready(Direction::Write));
    }

    #[test]
    fn a_forgotten_waiter_is_not_woken() {
        let io = ScheduledIo::new();
        let Poll::Ready(tick) = io.poll_ready(Direction::Read, Waker::noop(), &mut None) else {
            panic!()
        };
        io.clear_ready(Direction::Read, tick);
        let (count, waker) = counter();
        let mut key = None;
        assert!(
            io.poll_ready(Direction::Read, &waker, &mut key)
                .is_pending()
        );
        io.forget(Direction::Read, &mut key);
        io.set_ready(true, false);
        assert_eq!(count.0.load(SeqCst), 0);
    }
}
