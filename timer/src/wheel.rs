//! A hierarchical timing wheel: `LEVELS` levels of 64 slots; a slot at level
//! `l` spans `64^l` ticks (1 ms each), so level 0 resolves single
//! milliseconds over 64 ms and level 5 spans about 2.2 years.
//!
//! # Invariants
//!
//! - `elapsed` is the tick up to which the wheel has been advanced.
//! - An entry due at tick `when` sits at the level of the highest 6-bit
//!   group in which `when` and `elapsed` differ, in the slot given by that
//!   group of `when`. Hence every entry at a lower level is due before every
//!   entry at a higher one, and the earliest slot of the lowest non-empty
//!   level holds the next expiration.
//! - Advancing to `now` visits due slots in order. Level-0 slots fire whole;
//!   a slot of a higher level is emptied and each entry is either fired (due
//!   by `now`) or re-inserted relative to the slot's start, where it lands at
//!   a lower level ("cascading"). So each entry moves at most `LEVELS` times.
//! - Entries due further out than the wheel spans are placed at its far end
//!   (the top-level slot a full turn minus one slot ahead) and re-inserted
//!   from there when it comes round, keeping their real deadline; entries due at or before `elapsed` go to a due list that the
//!   next advance fires.
//!
//! Entries live in a slab and are linked into their slot by index, so arming
//! and disarming are O(1) and allocate nothing once the slab has grown.
//! The wheel is not thread-safe: the driver keeps one per shard behind a lock.

use slab::Slab;

/// Levels of the wheel (tokio uses the same 6 x 64 layout).
pub(crate) const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// Ticks spanned by one slot of the top level.
const TOP_SLOT_SPAN: u64 = 1 << (SLOT_BITS as usize * (LEVELS - 1));
const NIL: u32 = u32::MAX;
/// Pseudo-level of the due list.
const DUE: u8 = LEVELS as u8;

/// Where an entry is, returned by `insert` and taken by `remove`/`reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key(u32);

impl Key {
    pub(crate) fn index(self) -> u32 {
        self.0
    }

    pub(crate) fn from_index(index: u32) -> Self {
        Key(index)
    }
}

#[derive(Debug)]
struct Node<T> {
    when: u64,
    level: u8,
    slot: u8,
    prev: u32,
    next: u32,
    value: T,
}

#[derive(Debug)]
pub(crate) struct Wheel<T> {
    elapsed: u64,
    /// Head of each slot's list, `levels * SLOTS + slot`.
    heads: Box<[u32; LEVELS * SLOTS]>,
    /// Bit `s` of `occupied[l]`: slot `s` of level `l` is non-empty.
    occupied: [u64; LEVELS],
    /// Entries already due when inserted.
    due: u32,
    nodes: Slab<Node<T>>,
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The level at which an entry due at `when` belongs, seen from `elapsed`.
fn level_for(elapsed: u64, when: u64) -> usize {
    // The highest bit in which they differ picks the 6-bit group; `| 63`
    // keeps entries in the current 64-tick window at level 0.
    let significant = 63 - ((elapsed ^ when) | (SLOTS as u64 - 1)).leading_zeros();
    (significant / SLOT_BITS) as usize
}

fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (level as u32 * SLOT_BITS)) as usize) & (SLOTS - 1)
}

impl<T> Wheel<T> {
    pub(crate) fn new() -> Self {
        Wheel {
            elapsed: 0,
            heads: Box::new([NIL; LEVELS * SLOTS]),
            occupied: [0; LEVELS],
            due: NIL,
            nodes: Slab::new(),
        }
    }

    /// The tick the wheel has been advanced to.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Entries in the wheel.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Arms an entry due at tick `when`.
    pub(crate) fn insert(&mut self, when: u64, value: T) -> Key {
        let index = self.nodes.insert(Node {
            when,
            level: 0,
            slot: 0,
            prev: NIL,
            next: NIL,
            value,
        });
        let index = u32::try_from(index).expect("over 4 billion timers armed in one shard");
        self.link(index);
        Key(index)
    }

    /// Disarms an entry, returning its value.
    pub(crate) fn remove(&mut self, key: Key) -> T {
        self.unlink(key.0);
        self.nodes.remove(key.0 as usize).value
    }

    /// The value at `key`, if an entry is armed there (it may be another
    /// entry than the caller's if the caller's fired and the key was reused).
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.nodes
            .get_mut(key.0 as usize)
            .map(|node| &mut node.value)
    }

    /// Moves an armed entry to a new deadline. A no-op when the slot stays
    /// the same, which makes pushing a deadline a little later cheap.
    pub(crate) fn reset(&mut self, key: Key, when: u64) {
        let node = &self.nodes[key.0 as usize];
        if node.when == when {
            return;
        }
        self.unlink(key.0);
        self.nodes[key.0 as usize].when = when;
        self.link(key.0);
    }

    /// Links node `index` into the list its deadline calls for.
    fn link(&mut self, index: u32) {
        let when = self.nodes[index as usize].when;
        let (level, slot, head) = if when <= self.elapsed {
            (DUE, 0, &mut self.due)
        } else {
            // Too far out for the wheel: park it in the top-level slot just
            // behind the current one (a full turn minus one slot away); it is
            // re-placed from there, keeping its real deadline.
            let far = (self.elapsed | (TOP_SLOT_SPAN - 1))
                .saturating_add((SLOTS as u64 - 1) * TOP_SLOT_SPAN);
            let placed = when.min(far);
            let level = level_for(self.elapsed, placed).min(LEVELS - 1);
            let slot = slot_for(placed, level);
            self.occupied[level] |= 1 << slot;
            (
                level as u8,
                slot as u8,
                &mut self.heads[level * SLOTS + slot],
            )
        };
        let old_head = std::mem::replace(head, index);
        let node = &mut self.nodes[index as usize];
        node.level = level;
        node.slot = slot;
        node.prev = NIL;
        node.next = old_head;
        if old_head != NIL {
            self.nodes[old_head as usize].prev = index;
        }
    }

    fn unlink(&mut self, index: u32) {
        let (level, slot, prev, next) = {
            let n = &self.nodes[index as usize];
            (n.level, n.slot as usize, n.prev, n.next)
        };
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else if level == DUE {
            self.due = next;
        } else {
            let level = level as usize;
            self.heads[level * SLOTS + slot] = next;
            if next == NIL {
                self.occupied[level] &= !(1 << slot);
            }
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
    }

    /// The start tick of the earliest non-empty slot, with its level and
    /// slot, or `None` when the wheel (apart from the due list) is empty.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = level as u32 * SLOT_BITS;
            let slot_span = 1u64 << shift;
            let level_span = slot_span << SLOT_BITS;
            let current = slot_for(self.elapsed, level);
            // Rotate so the current slot is bit 0: the first set bit after it
            // is the next slot to come round.
            let distance = occupied.rotate_right(current as u32).trailing_zeros() as usize;
            let slot = (current + distance) % SLOTS;
            let level_start = self.elapsed & !(level_span - 1);
            let mut start = level_start + slot as u64 * slot_span;
            if start < level_start + current as u64 * slot_span {
                // Wrapped past the end of this level's window.
                start += level_span;
            }
            return Some((level, slot, start.max(self.elapsed)));
        }
        None
    }

    /// The earliest tick at which `advance` has something to do: an entry to
    /// fire or to cascade. `None` when nothing is armed.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        if self.due != NIL {
            return Some(self.elapsed);
        }
        self.next_slot().map(|(_, _, start)| start)
    }

    /// Advances to tick `now`, handing every entry due by then to `fire`
    /// with its deadline. Entries come out slot by slot, so not sorted by
    /// deadline within one call: a slot above level 0 spans many ticks.
    pub(crate) fn advance(&mut self, now: u64, mut fire: impl FnMut(u64, T)) {
        while self.due != NIL {
            let index = self.due;
            self.unlink(index);
            let node = self.nodes.remove(index as usize);
            fire(node.when, node.value);
        }
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now {
                break;
            }
            self.elapsed = start;
            let mut index = std::mem::replace(&mut self.heads[level * SLOTS + slot], NIL);
            self.occupied[level] &= !(1 << slot);
            while index != NIL {
                let next = self.nodes[index as usize].next;
                if self.nodes[index as usize].when <= now {
                    let node = self.nodes.remove(index as usize);
                    fire(node.when, node.value);
                } else {
                    self.link(index);
                }
                index = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::{Key, Wheel};

    fn fire_until(wheel: &mut Wheel<u64>, now: u64) -> Vec<u64> {
        let mut fired = Vec::new();
        wheel.advance(now, |when, v| {
            // Every test entry's value is its deadline.
            assert_eq!(when, v, "handed out with another deadline");
            fired.push(v);
        });
        fired
    }

    #[test]
    fn entries_fire_at_their_tick_never_before() {
        let mut wheel = Wheel::new();
        for when in [1, 5, 63, 64, 65, 200, 4_095, 4_096, 100_000, 5_000_000] {
            wheel.insert(when, when);
        }
        let mut fired = Vec::new();
        let mut now = 0;
        while let Some(next) = wheel.next_expiration() {
            assert!(next > now || next == wheel.elapsed());
            now = next;
            for v in fire_until(&mut wheel, now) {
                assert_eq!(v, now, "fired at {now}, due at {v}");
                fired.push(v);
            }
        }
        assert_eq!(
            fired,
            vec![1, 5, 63, 64, 65, 200, 4_095, 4_096, 100_000, 5_000_000]
        );
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn many_random_deadlines_fire_in_order_when_stepping_every_tick_window() {
        let mut wheel = Wheel::new();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut expected = Vec::new();
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let when = state % 300_000;
            expected.push(when);
            wheel.insert(when, when);
        }
        expected.sort_unstable();
        let mut fired = Vec::new();
        let mut now = 0;
        // Advance in uneven steps; everything due by `now` must fire, and
        // nothing later.
        while wheel.len() > 0 {
            now += 1 + now % 977;
            let batch = fire_until(&mut wheel, now);
            assert!(batch.iter().all(|&w| w <= now));
            fired.extend(batch);
            if let Some(next) = wheel.next_expiration() {
                assert!(next > now, "next expiration {next} not after {now}");
            }
        }
        fired.sort_unstable();
        assert_eq!(fired, expected);
    }

    #[test]
    fn a_million_armed_timers() {
        let mut wheel = Wheel::new();
        let keys: Vec<Key> = (0..1_000_000u64)
            .map(|i| wheel.insert(i * 37 % 3_600_000 + 1, i))
            .collect();
        assert_eq!(wheel.len(), 1_000_000);
        for key in keys.iter().step_by(2) {
            wheel.remove(*key);
        }
        let mut fired = 0u64;
        wheel.advance(3_600_001, |_, _| fired += 1);
        assert_eq!(fired, 500_000);
        assert_eq!(wheel.len(), 0);
        println!(
            "bytes per armed timer in the wheel's slab: {}",
            std::mem::size_of::<super::Node<(u64, std::task::Waker)>>() + 8
        );
    }

    #[test]
    fn removed_and_reset_entries() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(100, 'a');
        let b = wheel.insert(100, 'b');
        let c = wheel.insert(5_000, 'c');
        assert_eq!(wheel.remove(a), 'a');
        wheel.reset(c, 50);
        wheel.reset(b, 10_000);
        let mut fired = Vec::new();
        wheel.advance(60, |_, v| fired.push(v));
        assert_eq!(fired, vec!['c']);
        wheel.advance(9_999, |_, v| fired.push(v));
        assert_eq!(fired, vec!['c']);
        wheel.advance(10_000, |_, v| fired.push(v));
        assert_eq!(fired, vec!['c', 'b']);
        let _: Key = wheel.insert(1, 'd');
    }

    #[test]
    fn past_and_far_future_deadlines() {
        let mut wheel = Wheel::new();
        wheel.advance(1_000, |_, _: u64| {});
        wheel.insert(10, 10); // already due
        assert_eq!(wheel.next_expiration(), Some(1_000));
        assert_eq!(fire_until(&mut wheel, 1_000), vec![10]);
        let far = 1_000 + (1 << 38) + 17; // beyond the wheel's 2^36-tick span
        wheel.insert(far, far);
        wheel.insert(u64::MAX, u64::MAX);
        let mut now = 1_000;
        let mut fired = Vec::new();
        while fired.is_empty() {
            now = wheel.next_expiration().unwrap();
            assert!(now <= far);
            fired.extend(fire_until(&mut wheel, now));
        }
        assert_eq!(fired, vec![far]);
        assert_eq!(now, far);
        assert_eq!(wheel.len(), 1);
    }
}
