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
use std::ptr::{self, NonNull};

pub(crate) struct LifoSlot {
    /// A `Task` (`Runnable::into_raw`), or null.
    task: AtomicPtr<()>,
}

impl LifoSlot {
    pub(crate) fn new() -> Self {
        LifoSlot {
            task: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Puts `task` in the slot; returns the task it displaced.
    #[inline]
    pub(crate) fn put(&self, task: Task) -> Option<Task> {
        // AcqRel: the task's state is published to whoever takes it, and the
        // displaced task's is acquired from whoever put it.
        Self::from_raw(self.task.swap(task.into_raw().as_ptr(), AcqRel))
    }

    /// Takes the task in the slot, if any (the owner, or the monitor).
    #[inline]
    pub(crate) fn take(&self) -> Option<Task> {
        if self.task.load(Relaxed).is_null() {
            return None;
        }
        Self::from_raw(self.task.swap(ptr::null_mut(), Acquire))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.task.load(Relaxed).is_null()
    }

    fn from_raw(raw: *mut ()) -> Option<Task> {
        // SAFETY: a non-null pointer in the slot came from
        // `Runnable::into_raw` in `put`, and the swap that removed it gave
        // it to this caller alone.
        NonNull::new(raw).map(|raw| unsafe { Task::from_raw(raw) })
    }
}

impl Drop for LifoSlot {
    fn drop(&mut self) {
        drop(self.take());
    }
}

impl std::fmt::Debug for LifoSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifoSlot")
            .field("empty", &self.is_empty())
            .finish()
    }
}
