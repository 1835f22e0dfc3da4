//! The registry of live tasks, so that shutdown can drop every task's future,
//! including tasks that are pending and queued nowhere (their wakers held by a
//! channel, a timer, a thread outside the runtime).
//!
//! A task gets an entry, holding a `Waker` for it, the first time its future
//! returns `Pending`, and removes it itself when the future completes or is
//! dropped. A task that finishes in its first poll never touches the registry
//! (that lock was 40% of the cost of spawning such a task); until its first
//! poll a task sits in a run queue, which shutdown drains anyway. Shutdown wakes a clone
//! of every registered waker; the scheduler, seeing the runtime closed, drops
//! the `Runnable`, which drops the future (and so removes the entry). async-task
//! makes that happen exactly once per task, however many wakers race. Because
//! only the owner removes an entry, a task the shutdown could not drop yet (it
//! was running on a worker) stays findable for the next pass.
//!
//! The registry is sharded: a worker registers the tasks it spawns in its own
//! shard, threads outside the runtime in one of the extra shards, so shards
//! see almost no contention and no lock is global. Every lock here is held only
//! for a slab insert or remove; wakers are never dropped or woken under it
//! (dropping one can drop a future, which deregisters).

use crate::loom::{Mutex, MutexGuard};
use crossbeam_utils::CachePadded;
use slab::Slab;
use std::task::Waker;

#[derive(Debug, Default)]
struct Shard {
    tasks: Slab<Waker>,
}

#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    worker_shards: usize,
}

/// Where a task's entry is: packed into one `u64` in the task (`bookkeeping.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    shard: u32,
    key: u32,
}

impl Entry {
    pub(crate) fn pack(self) -> u64 {
        (u64::from(self.shard) << 32) | u64::from(self.key)
    }

    pub(crate) fn unpack(packed: u64) -> Self {
        Entry {
            shard: (packed >> 32) as u32,
            key: packed as u32,
        }
    }
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

    fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        // A panic never happens while a shard is locked (slab calls only), but
        // recover rather than cascade if one somehow did.
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new task in `shard`.
    pub(crate) fn insert(&self, shard: usize, waker: Waker) -> Entry {
        let key = self.lock(shard).tasks.insert(waker);
        Entry {
            shard: shard as u32,
            key: u32::try_from(key).expect("over 4 billion live tasks in one registry shard"),
        }
    }

    /// Removes a task's entry; called once, by the task itself.
    pub(crate) fn remove(&self, entry: Entry) {
        let waker = self
            .lock(entry.shard as usize)
            .tasks
            .try_remove(entry.key as usize);
        drop(waker);
    }

    /// Wakes a clone of every registered waker, so a closed scheduler drops
    /// the task. Returns how many tasks were registered.
    pub(crate) fn wake_all(&self) -> usize {
        let mut woken = 0;
        for shard in 0..self.shards.len() {
            let wakers: Vec<Waker> = self
                .lock(shard)
                .tasks
                .iter()
                .map(|(_, w)| w.clone())
                .collect();
            woken += wakers.len();
            for waker in wakers {
                waker.wake();
            }
        }
        woken
    }

    /// No task is registered.
    pub(crate) fn is_empty(&self) -> bool {
        (0..self.shards.len()).all(|shard| self.lock(shard).tasks.is_empty())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Entry, Registry};
    use std::task::Waker;

    #[test]
    fn entries_round_trip_through_their_packing() {
        let entry = Entry {
            shard: 70_000,
            key: u32::MAX,
        };
        assert_eq!(Entry::unpack(entry.pack()), entry);
    }

    #[test]
    fn waking_all_keeps_entries_until_their_task_removes_them() {
        let registry = Registry::new(1);
        let first = registry.insert(0, Waker::noop().clone());
        let second = registry.insert(1, Waker::noop().clone());
        assert_eq!(registry.wake_all(), 2);
        assert!(!registry.is_empty());
        registry.remove(first);
        registry.remove(second);
        assert!(registry.is_empty());
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::{Entry, Registry};
    use loom::sync::Mutex;
    use loom::thread;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    /// What async-task and `TaskFuture` do with a task of a closed runtime,
    /// reduced to the part the registry sees: a wake drops the future
    /// unless it is being polled (then the poll's end does), a future is
    /// dropped at most once, and dropping it removes its entry.
    struct StandIn {
        registry: Arc<Registry>,
        state: Mutex<TaskState>,
    }

    struct TaskState {
        polling: bool,
        woken: bool,
        future: bool,
        entry: Option<Entry>,
    }

    impl StandIn {
        fn new(registry: &Arc<Registry>, polling: bool) -> Arc<Self> {
            Arc::new(StandIn {
                registry: registry.clone(),
                state: Mutex::new(TaskState {
                    polling,
                    woken: false,
                    future: true,
                    entry: None,
                }),
            })
        }

        /// `TaskFuture`'s drop: deregisters.
        fn drop_future(&self, state: &mut TaskState) {
            assert!(state.future, "a future dropped twice");
            state.future = false;
            if let Some(entry) = state.entry.take() {
                self.registry.remove(entry);
            }
        }

        /// The end of a poll that returned `Pending` having registered.
        fn end_poll(&self, entry: Entry) {
            let mut state = self.state.lock().unwrap();
            state.entry = Some(entry);
            state.polling = false;
            if state.woken {
                self.drop_future(&mut state);
            }
        }

        /// A poll in which the future completes.
        fn complete(&self) {
            let mut state = self.state.lock().unwrap();
            if state.future {
                self.drop_future(&mut state);
            }
        }
    }

    impl Wake for StandIn {
        fn wake(self: Arc<Self>) {
            let mut state = self.state.lock().unwrap();
            if !state.future {
                return;
            }
            if state.polling {
                state.woken = true;
            } else {
                self.drop_future(&mut state);
            }
        }
    }

    /// A shutdown pass (`finish_shutdown`) wakes every registered task
    /// while one task registers in its first poll and another completes,
    /// removing its entry. Then, with no worker polling any more, passes
    /// repeat until the registry is empty. No deadlock (a waker woken or
    /// dropped under a shard lock would take it again), every future is
    /// dropped exactly once, and no waker clone is left behind.
    #[test]
    fn loom_registry_wake_all_racing_registration_and_deregistration() {
        loom::model(|| {
            let registry = Arc::new(Registry::new(1));
            let finishing = StandIn::new(&registry, false);
            let entry = registry.insert(0, Waker::from(finishing.clone()));
            finishing.state.lock().unwrap().entry = Some(entry);
            let registering = StandIn::new(&registry, true);
            let first_poll = {
                let (registry, task) = (registry.clone(), registering.clone());
                thread::spawn(move || {
                    let entry = registry.insert(1, Waker::from(task.clone()));
                    task.end_poll(entry);
                })
            };
            let last_poll = {
                let task = finishing.clone();
                thread::spawn(move || task.complete())
            };
            registry.wake_all();
            first_poll.join().unwrap();
            last_poll.join().unwrap();
            while !registry.is_empty() {
                registry.wake_all();
            }
            for task in [&finishing, &registering] {
                assert!(!task.state.lock().unwrap().future, "a future left alive");
                assert_eq!(Arc::strong_count(task), 1, "a waker left behind");
            }
        });
    }
}
