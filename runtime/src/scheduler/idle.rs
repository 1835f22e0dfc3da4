//! Idle accounting: which workers are searching for work, which are parked,
//! and which one a new piece of work should wake.
//!
//! # State
//!
//! `state` packs two counters into one word so they change together:
//! `unparked` (workers not parked, high bits) and `searching` (workers looking
//! for work to steal, low 16 bits). `sleepers` is a bitmap with one bit per
//! parked worker that nobody has claimed to wake yet.
//!
//! # Protocol
//!
//! 1. **Parking.** A worker with nothing to do sets its `sleepers` bit *first*
//!    and only then decrements `unparked` (and `searching` if it was searching).
//!    So anyone who sees the decrement also sees the bit.
//! 2. **Notifying.** Whoever makes work available (spawn, wake, batch push)
//!    publishes it first, then issues a `SeqCst` fence and reads `state`. If a
//!    worker is already searching, it will find the work: do nothing. If every
//!    worker is unparked (busy), the next one to look for work will find it: do
//!    nothing. Otherwise claim a wake-up by incrementing both counters with a
//!    CAS (on behalf of the worker to be woken, which starts out searching),
//!    then clear one bit of `sleepers` and unpark that worker. By (1) a bit is
//!    there to take: claims never outnumber decrements, each decrement was
//!    preceded by setting a bit, and each claim clears exactly one bit.
//! 3. **The last searcher.** A searching worker that gives up and parks while
//!    no other worker is searching re-checks every queue *after* its decrement.
//!    Together with (2) this is a Dekker pair on `SeqCst` operations: either the
//!    notifier saw `searching > 0` and the last searcher sees the work, or the
//!    notifier saw `searching == 0` and wakes somebody. No wake-up is lost.
//! 4. **Waking up.** A parked worker that returns from `park` checks its bit:
//!    cleared means it was claimed (it is now counted as unparked and
//!    searching); still set means a spurious or shutdown wake-up.
//! 5. **Bounded searching.** About half the workers at most search at once
//!    ([`Idle::transition_to_searching`]; the check and the increment are not
//!    one step, so a race can let one more in, which is harmless), so a burst of work does not stampede
//!    every core onto the same queues; a searcher that finds work wakes the next
//!    worker if it was the last searcher, so parallelism ramps up one by one.
//!
//! Nothing here takes a lock. The loom model in `loom_models.rs` checks this
//! protocol with the parker.

use crate::loom::atomic::{
    AtomicU64, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, SeqCst},
    fence,
};
use crate::loom::spin_hint;
use crossbeam_utils::CachePadded;

const SEARCH_MASK: usize = (1 << 16) - 1;
const UNPARK_SHIFT: usize = 16;
const UNPARK_ONE: usize = 1 << UNPARK_SHIFT;

/// The largest worker count the packed `state` word can hold.
pub(crate) const MAX_WORKERS: usize = SEARCH_MASK;

#[derive(Debug)]
pub(crate) struct Idle {
    state: CachePadded<AtomicUsize>,
    sleepers: Box<[AtomicU64]>,
    num_workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCH_MASK
}

fn unparked(state: usize) -> usize {
    state >> UNPARK_SHIFT
}

impl Idle {
    /// All `num_workers` start unparked and not searching.
    pub(crate) fn new(num_workers: usize) -> Self {
        assert!((1..=MAX_WORKERS).contains(&num_workers));
        Idle {
            state: CachePadded::new(AtomicUsize::new(num_workers << UNPARK_SHIFT)),
            sleepers: (0..num_workers.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            num_workers,
        }
    }

    /// Lets the caller start searching unless half the workers already are.
    pub(crate) fn transition_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * searching(state) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// A searcher found work. Returns `true` if it was the last searcher, in
    /// which case the caller must notify another worker (rule 5).
    pub(crate) fn transition_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        debug_assert!(searching(prev) > 0);
        searching(prev) == 1
    }

    /// The worker `index` is about to park (rule 1). Returns `true` if it was
    /// the last searcher, in which case the caller must re-check every queue
    /// and notify if any has work (rule 3).
    pub(crate) fn transition_to_parked(&self, index: usize, is_searching: bool) -> bool {
        let (word, bit) = slot(index);
        self.sleepers[word].fetch_or(bit, SeqCst);
        let prev = self
            .state
            .fetch_sub(UNPARK_ONE + usize::from(is_searching), SeqCst);
        is_searching && searching(prev) == 1
    }

    /// After a wake-up: was the worker claimed by a notifier (rule 4)? If so it
    /// is already counted as unparked and searching.
    pub(crate) fn is_claimed(&self, index: usize) -> bool {
        let (word, bit) = slot(index);
        self.sleepers[word].load(Acquire) & bit == 0
    }

    /// Rule 2. The caller has just made work available. Returns the worker to
    /// unpark, if one should be.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        // Orders the caller's publication of work before our read of `state`;
        // pairs with the SeqCst RMWs in `transition_to_parked` (rule 3).
        fence(SeqCst);
        let mut state = self.state.load(SeqCst);
        loop {
            if searching(state) != 0 || unparked(state) >= self.num_workers {
                return None;
            }
            match self
                .state
                .compare_exchange_weak(state, state + UNPARK_ONE + 1, SeqCst, Relaxed)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        // The CAS above read a decrement made after some worker set its bit, so
        // a bit is (or, racing other claimers, soon will be) ours to take.
        loop {
            for (word_index, word) in self.sleepers.iter().enumerate() {
                let mut bits = word.load(Acquire);
                while bits != 0 {
                    let bit = 1u64 << bits.trailing_zeros();
                    let prev = word.fetch_and(!bit, AcqRel);
                    if prev & bit != 0 {
                        return Some(word_index * 64 + bits.trailing_zeros() as usize);
                    }
                    bits = prev & !bit;
                }
            }
            spin_hint();
        }
    }

    /// A parked worker other than `index` that nobody has claimed yet,
    /// without claiming it (its bit stays set): the one to hand the driver
    /// role to (see `shared/driver.rs`).
    pub(crate) fn parked_worker_other_than(&self, index: usize) -> Option<usize> {
        for (word_index, word) in self.sleepers.iter().enumerate() {
            let mut bits = word.load(SeqCst);
            if word_index == index / 64 {
                bits &= !slot(index).1;
            }
            if bits != 0 {
                return Some(word_index * 64 + bits.trailing_zeros() as usize);
            }
        }
        None
    }

    /// Number of workers not parked (claimed wake-ups included).
    pub(crate) fn num_unparked(&self) -> usize {
        unparked(self.state.load(SeqCst))
    }

    /// Number of workers currently searching (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn num_searching(&self) -> usize {
        searching(self.state.load(SeqCst))
    }
}

fn slot(index: usize) -> (usize, u64) {
    (index / 64, 1u64 << (index % 64))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Idle;

    #[test]
    fn at_most_half_the_workers_search() {
        let idle = Idle::new(4);
        assert!(idle.transition_to_searching());
        assert!(idle.transition_to_searching());
        assert!(!idle.transition_to_searching());
        assert_eq!(idle.num_searching(), 2);
        assert!(!idle.transition_from_searching());
        assert!(idle.transition_from_searching());
    }

    #[test]
    fn nobody_is_woken_while_all_workers_are_busy() {
        let idle = Idle::new(2);
        assert_eq!(idle.worker_to_notify(), None);
    }

    #[test]
    fn a_parked_worker_is_claimed_once() {
        let idle = Idle::new(70);
        for i in 0..70 {
            idle.transition_to_parked(i, false);
        }
        let first = idle.worker_to_notify().unwrap();
        assert!(idle.is_claimed(first));
        // The claimed worker counts as searching, so nobody else is woken.
        assert_eq!(idle.worker_to_notify(), None);
        assert!(idle.transition_from_searching());
        let second = idle.worker_to_notify().unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn the_last_searcher_is_told_so() {
        let idle = Idle::new(4);
        assert!(idle.transition_to_searching());
        assert!(idle.transition_to_searching());
        assert!(!idle.transition_to_parked(0, true));
        assert!(idle.transition_to_parked(1, true));
    }
}
