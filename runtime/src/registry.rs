//! The registry of live tasks, so that shutdown can drop every task's future,
//! including tasks that are pending and queued nowhere (their wakers held by a
//! channel, a timer, a thread outside the runtime).
//!
//! Each live task has one entry holding a `Waker` for it. Shutdown takes the
//! wakers out and wakes them; the scheduler, seeing the runtime closed, drops
//! the `Runnable`, which drops the future. async-task makes that happen exactly
//! once per task, however many wakers race.
//!
//! The registry is sharded: a worker registers the tasks it spawns in its own
//! shard, threads outside the runtime in one of the extra shards, so shards
//! see almost no contention and no lock is global. Every lock here is held only
//! for a slab insert or remove; wakers are never dropped or woken under it
//! (dropping one can drop a future, which deregisters).

use crossbeam_utils::CachePadded;
use slab::Slab;
use std::sync::Mutex;
use std::task::Waker;

#[derive(Debug, Default)]
struct Shard {
    tasks: Slab<Waker>,
    spawned: u64,
    completed: u64,
    panicked: u64,
}

/// How a task left the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Completed,
    Panicked,
    /// Dropped before completing: at shutdown, or a panic in its drop glue.
    Dropped,
}

#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    worker_shards: usize,
}

/// Totals over every shard.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) spawned: u64,
    pub(crate) completed: u64,
    pub(crate) panicked: u64,
    pub(crate) alive: u64,
}

impl Registry {
    /// One shard per worker plus as many again for spawns from outside.
    pub(crate) fn new(workers: usize) -> Self {
        Registry {
            shards: (0..workers * 2)
                .map(|_| CachePadded::new(Mutex::new(Shard::default())))
                .collect(),
            worker_shards: workers,
        }
    }

    /// The shard a thread outside the workers registers its spawns in: fixed
    /// per thread, so one spawning thread does not bounce between locks.
    pub(crate) fn outside_shard(&self) -> usize {
        thread_local! {
            static SEED: usize = {
                let probe = 0u8;
                // The address of a thread-local differs per thread: a cheap,
                // stable per-thread value.
                (&probe as *const u8 as usize) >> 4
            };
        }
        let seed = SEED.try_with(|s| *s).unwrap_or(0);
        self.worker_shards + seed % self.worker_shards
    }

    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, Shard> {
        // A panic never happens while a shard is locked (slab calls only), but
        // recover rather than cascade if one somehow did.
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new task; returns its key in `shard`.
    pub(crate) fn insert(&self, shard: usize, waker: Waker) -> usize {
        let mut s = self.lock(shard);
        s.spawned += 1;
        s.tasks.insert(waker)
    }

    /// Removes a task's entry (a no-op if shutdown already took it).
    pub(crate) fn remove(&self, shard: usize, key: usize, outcome: Outcome) {
        let waker = {
            let mut s = self.lock(shard);
            match outcome {
                Outcome::Completed => s.completed += 1,
                Outcome::Panicked => s.panicked += 1,
                Outcome::Dropped => {}
            }
            s.tasks.try_remove(key)
        };
        drop(waker);
    }

    /// Takes every registered waker out and wakes it, so a closed scheduler
    /// drops the task. Returns how many it woke.
    pub(crate) fn wake_all(&self) -> usize {
        let mut woken = 0;
        for shard in 0..self.shards.len() {
            let wakers: Vec<Waker> = {
                let mut s = self.lock(shard);
                s.tasks.drain().collect()
            };
            woken += wakers.len();
            for waker in wakers {
                waker.wake();
            }
        }
        woken
    }

    pub(crate) fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for shard in 0..self.shards.len() {
            let s = self.lock(shard);
            counts.spawned += s.spawned;
            counts.completed += s.completed;
            counts.panicked += s.panicked;
            counts.alive += s.tasks.len() as u64;
        }
        counts
    }
}
