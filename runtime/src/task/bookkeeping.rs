//! What a task's future wrapper (`TaskFuture`) keeps about itself: its
//! registry entry, if it has one, and whether the user's future was
//! dropped, packed into one word.
//!
//! One word because the task allocation is most of a spawn's cost: a
//! trivial task's allocation is 120 bytes with this and would be 128 with
//! an `Option` around the future (a future has no niche for `None`), which
//! moves it out of glibc's fast bins (chunks up to 128 bytes, headers
//! included) into the slow path of `malloc` and `free`.

use crate::task::registry::Entry;

/// Set beside a packed entry, so a task with an entry never reads as
/// without one (a packed entry may be 0).
const REGISTERED: u64 = 1 << 63;
/// Set once the user's future was dropped.
const FUTURE_DROPPED: u64 = 1 << 62;
const FLAGS: u64 = REGISTERED | FUTURE_DROPPED;

/// The registry entry and the dropped flag (module docs). Touched only by
/// whoever polls or drops the future: plain, not atomic.
#[derive(Debug, Default)]
pub(super) struct Bookkeeping(u64);

impl Bookkeeping {
    /// The task's registry entry, if it has one.
    pub(super) fn entry(&self) -> Option<Entry> {
        (self.0 & REGISTERED != 0).then(|| Entry::unpack(self.0 & !FLAGS))
    }

    /// Records the task's new registry entry.
    pub(super) fn set_entry(&mut self, entry: Entry) {
        let packed = entry.pack();
        // Shard numbers are far below 2^30: the flags never overlap it.
        debug_assert_eq!(packed & FLAGS, 0, "a registry shard number beyond 2^30");
        self.0 = (self.0 & FUTURE_DROPPED) | packed | REGISTERED;
    }

    /// Forgets the registry entry and returns it, if there was one.
    pub(super) fn take_entry(&mut self) -> Option<Entry> {
        let entry = self.entry();
        self.0 &= FUTURE_DROPPED;
        entry
    }

    /// Whether the user's future was dropped.
    pub(super) fn future_dropped(&self) -> bool {
        self.0 & FUTURE_DROPPED != 0
    }

    /// Records that the user's future is being dropped.
    pub(super) fn set_future_dropped(&mut self) {
        self.0 |= FUTURE_DROPPED;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Bookkeeping;
    use crate::task::registry::Registry;
    use std::task::Waker;

    #[test]
    fn an_entry_and_the_dropped_flag_are_kept_apart() {
        let registry = Registry::new(1);
        // Key 0 in shard 0 packs to 0: still an entry.
        let entry = registry.insert(0, Waker::noop().clone());
        let mut bookkeeping = Bookkeeping::default();
        assert_eq!(bookkeeping.entry(), None);
        bookkeeping.set_entry(entry);
        assert_eq!(bookkeeping.entry(), Some(entry));
        bookkeeping.set_future_dropped();
        assert_eq!(bookkeeping.take_entry(), Some(entry));
        assert_eq!(bookkeeping.entry(), None);
        assert!(bookkeeping.future_dropped());
        registry.remove(entry);
    }
}
