//! A worker's LIFO slot, stealable.
//!
//! The task woken or spawned by the running task waits here to run next on
//! the same worker (see `worker.rs`). tokio's slot is the worker's alone, so
//! a task left in it while its worker is stuck in one long poll waits for
//! the whole poll, however idle the other workers are. canopy's slot is one
//! atomic pointer: the owner puts and takes with a swap, and the monitor
//! (`monitor.rs`), finding the owner stuck, takes the task with a swap too
//! and queues it where any worker can run it (DESIGN §4). Whoever swaps the
//! pointer out owns the task, so it runs exactly once.
//!
//! The cost is two uncontended swaps per task that goes through the slot
//! (put, take) on a cache line only the owner writes, plus a plain load
//! when the owner looks at an empty slot.

use crate::loom::atomic::{AtomicPtr, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed};
use crate::task::Task;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

/// What the slot holds: an owned pointer (a task; a box in the loom model).
pub(crate) trait SlotItem {
    fn into_raw(self) -> NonNull<()>;
    /// # Safety
    ///
    /// `raw` came from `into_raw` and is owned by the caller.
    unsafe fn from_raw(raw: NonNull<()>) -> Self;
}

impl SlotItem for Task {
    fn into_raw(self) -> NonNull<()> {
        Task::into_raw(self)
    }

    // SAFETY (for callers): `raw` came from `into_raw` and is theirs.
    unsafe fn from_raw(raw: NonNull<()>) -> Self {
        // SAFETY: as the caller promises.
        unsafe { Task::from_raw(raw) }
    }
}

pub(crate) struct LifoSlot<T: SlotItem = Task> {
    /// A `T` (`SlotItem::into_raw`), or null.
    item: AtomicPtr<()>,
    _owns: PhantomData<T>,
}

impl<T: SlotItem> LifoSlot<T> {
    pub(crate) fn new() -> Self {
        LifoSlot {
            item: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// Puts `item` in the slot; returns the one it displaced.
    #[inline]
    pub(crate) fn put(&self, item: T) -> Option<T> {
        // AcqRel: the item's state is published to whoever takes it, and the
        // displaced item's is acquired from whoever put it.
        Self::from_raw(self.item.swap(item.into_raw().as_ptr(), AcqRel))
    }

    /// Takes the item in the slot, if any (the owner, or the monitor).
    #[inline]
    pub(crate) fn take(&self) -> Option<T> {
        if self.item.load(Relaxed).is_null() {
            return None;
        }
        Self::from_raw(self.item.swap(ptr::null_mut(), Acquire))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.item.load(Relaxed).is_null()
    }

    fn from_raw(raw: *mut ()) -> Option<T> {
        // SAFETY: a non-null pointer in the slot came from `into_raw` in
        // `put`, and the swap that removed it gave it to this caller alone.
        NonNull::new(raw).map(|raw| unsafe { T::from_raw(raw) })
    }
}

impl<T: SlotItem> Drop for LifoSlot<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

impl<T: SlotItem> std::fmt::Debug for LifoSlot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifoSlot")
            .field("empty", &self.is_empty())
            .finish()
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::{LifoSlot, SlotItem};
    use loom::sync::Arc;
    use loom::thread;
    use std::ptr::NonNull;

    /// A numbered item, boxed (as a task is a pointer).
    struct Item(Box<u32>);

    impl SlotItem for Item {
        fn into_raw(self) -> NonNull<()> {
            NonNull::from(Box::leak(self.0)).cast()
        }

        // SAFETY (for callers): `raw` came from `into_raw` and is theirs.
        unsafe fn from_raw(raw: NonNull<()>) -> Self {
            // SAFETY: from `into_raw`, owned by the caller.
            Item(unsafe { Box::from_raw(raw.cast::<u32>().as_ptr()) })
        }
    }

    /// The owner puts two tasks and takes; the monitor takes concurrently
    /// (it found the owner stuck). Every task comes out exactly once: to
    /// the owner (displaced or taken), to the monitor, or left in the slot.
    #[test]
    fn loom_lifo_slot_steal_racing_its_owner() {
        loom::model(|| {
            let slot = Arc::new(LifoSlot::<Item>::new());
            let monitor = {
                let slot = slot.clone();
                thread::spawn(move || slot.take().map(|item| *item.0))
            };
            let mut got = Vec::new();
            got.extend(slot.put(Item(Box::new(1))).map(|item| *item.0));
            got.extend(slot.put(Item(Box::new(2))).map(|item| *item.0));
            got.extend(slot.take().map(|item| *item.0));
            got.extend(monitor.join().unwrap());
            got.extend(slot.take().map(|item| *item.0));
            got.sort_unstable();
            assert_eq!(got, [1, 2], "each task exactly once");
        });
    }
}
