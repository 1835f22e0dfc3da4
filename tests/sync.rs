//! `canopy::sync`'s primitives by behaviour: `Event`, `Semaphore`, `Mutex`,
//! `Notify`. For each, the cancellation rules of DESIGN §2.13: a wait in a
//! cancelled scope acquires nothing even when it could; one cancelled while
//! queued holds nothing and does not hold back those behind it; one that was
//! handed its permit (lock, notification) before the cancel completes; a
//! dropped one passes it on. Then conservation under cancel storms.
//!
//! Several tests are ports, in our own words, of Trio's `test_sync.py` and
//! tokio's `tests/sync_semaphore.rs`, `sync_mutex.rs`, `sync_notify.rs`.

mod common;

use canopy::sync::{
    Barrier, CapacityLimiter, Condition, Event, LimiterError, Mutex, MutexGuard, Notify,
    OwnedSemaphorePermit, RwLock, Semaphore,
};
use canopy::{CancelScope, Cancelled, checkpoint, task::yield_now};
use common::{Gate, paused, real_clock};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

#[test]
fn primitives_and_their_guards_are_send_and_sync() {
    assert_send_sync::<Event>();
    assert_send_sync::<Semaphore>();
    assert_send_sync::<Notify>();
    assert_send_sync::<Mutex<Vec<u8>>>();
    assert_send_sync::<MutexGuard<'static, Vec<u8>>>();
    assert_send_sync::<OwnedSemaphorePermit>();
    // A guard can be held across an await in a task that moves threads.
    assert_send::<MutexGuard<'static, std::cell::Cell<u8>>>();
    assert_send_sync::<canopy::sync::Acquire<'static>>();
    assert_send_sync::<canopy::sync::Lock<'static, Vec<u8>>>();
    assert_send_sync::<RwLock<Vec<u8>>>();
    assert_send_sync::<canopy::sync::RwLockReadGuard<'static, Vec<u8>>>();
    assert_send_sync::<canopy::sync::RwLockWriteGuard<'static, Vec<u8>>>();
    assert_send_sync::<Barrier>();
    assert_send_sync::<Condition>();
    assert_send_sync::<canopy::sync::CondWait<'static, Vec<u8>>>();
    assert_send_sync::<CapacityLimiter<u64>>();
    assert_send_sync::<canopy::sync::OwnedMutexGuard<Vec<u8>>>();
    assert_send_sync::<canopy::sync::LockOwned<Vec<u8>>>();
}

// Event (Trio: test_Event)

#[test]
fn event_set_wakes_every_waiter_and_stays_set() {
    real_clock().block_on(async {
        let event = Arc::new(Event::new());
        assert!(!event.is_set());
        let woken = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let (event, woken) = (event.clone(), woken.clone());
                canopy::spawn(async move {
                    event.wait().await.unwrap();
                    woken.fetch_add(1, SeqCst);
                })
            })
            .collect();
        canopy::time::sleep(Duration::from_millis(5)).await.unwrap();
        event.set();
        event.set(); // again: nothing happens
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(woken.load(SeqCst), 5);
        assert!(event.is_set());
        event.wait().await.unwrap();
    });
}

#[test]
fn event_wait_in_a_cancelled_scope_is_cancelled_even_when_set() {
    paused().block_on(async {
        let event = Event::new();
        event.set();
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope.run(async { event.wait().await }).await;
        assert_eq!(out, Ok(None));
    });
}

#[test]
fn event_set_before_the_cancel_was_seen_stands() {
    paused().block_on(async {
        let event = Event::new();
        let scope = CancelScope::new();
        scope
            .run(async {
                let mut wait = pin!(event.wait());
                assert!(futures::poll!(wait.as_mut()).is_pending());
                event.set();
                scope.cancel();
                assert_eq!(wait.await, Ok(()));
                assert!(checkpoint().await.is_err());
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
    });
}

// Semaphore

#[test]
fn semaphore_serves_waiters_in_fifo_order() {
    paused().block_on(async {
        let sem = Semaphore::new(0);
        let order = std::sync::Mutex::new(Vec::new());
        let mut waiters: FuturesUnordered<_> = (0..5)
            .map(|i| {
                let (sem, order) = (&sem, &order);
                async move {
                    let _permit = sem.acquire().await.unwrap();
                    order.lock().unwrap().push(i);
                }
            })
            .collect();
        assert!(futures::poll!(waiters.next()).is_pending());
        for _ in 0..5 {
            sem.add_permits(1);
            waiters.next().await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
        assert_eq!(sem.available_permits(), 5, "every permit came back");
    });
}

#[test]
fn a_large_request_is_not_starved_by_small_ones_behind_it() {
    paused().block_on(async {
        let sem = Semaphore::new(2);
        let held = sem.acquire().await.unwrap();
        let mut big = pin!(sem.acquire_many(2));
        assert!(futures::poll!(big.as_mut()).is_pending());
        // One permit is free, but the big request is first in line.
        assert!(sem.try_acquire().is_err());
        let mut small = pin!(sem.acquire());
        assert!(futures::poll!(small.as_mut()).is_pending());
        drop(held);
        let big = big.await.unwrap();
        assert_eq!(big.num_permits(), 2);
        assert!(futures::poll!(small.as_mut()).is_pending());
        drop(big);
        drop(small.await.unwrap());
    });
}

#[test]
fn acquire_in_a_cancelled_scope_takes_no_permit_even_when_one_is_free() {
    paused().block_on(async {
        let sem = Semaphore::new(3);
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope.run(async { sem.acquire().await.map(drop) }).await;
        assert_eq!(out, Ok(None));
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn a_queued_acquire_cancelled_holds_nothing_and_unblocks_those_behind_it() {
    paused().block_on(async {
        let sem = Semaphore::new(1);
        let scope = CancelScope::new();
        let mut small = Box::pin(sem.acquire());
        scope
            .run(async {
                let mut big = pin!(sem.acquire_many(2));
                assert!(futures::poll!(big.as_mut()).is_pending());
                assert!(futures::poll!(small.as_mut()).is_pending(), "queued behind");
                scope.cancel();
                assert!(big.await.is_err());
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        // The big request left: the small one is served from the free permit.
        let permit = small.await.unwrap();
        assert_eq!(sem.available_permits(), 0);
        drop(permit);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn a_permit_granted_before_the_cancel_was_seen_is_returned() {
    paused().block_on(async {
        let sem = Semaphore::new(0);
        let scope = CancelScope::new();
        scope
            .run(async {
                let mut acquire = pin!(sem.acquire());
                assert!(futures::poll!(acquire.as_mut()).is_pending());
                sem.add_permits(1); // granted to the queued acquire
                scope.cancel();
                let permit = acquire.await.expect("the grant stands");
                assert_eq!(sem.available_permits(), 0);
                drop(permit);
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn a_dropped_acquire_passes_its_granted_permit_on() {
    paused().block_on(async {
        let sem = Semaphore::new(0);
        let mut first = Box::pin(sem.acquire());
        let mut second = pin!(sem.acquire());
        assert!(futures::poll!(first.as_mut()).is_pending());
        assert!(futures::poll!(second.as_mut()).is_pending());
        sem.add_permits(1); // granted to `first`
        drop(first);
        drop(second.await.expect("passed on"));
    });
}

#[test]
fn owned_permits_move_into_tasks() {
    real_clock().block_on(async {
        let sem = Arc::new(Semaphore::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let permit = sem.clone().acquire_owned(1).await.unwrap();
            let (running, peak) = (running.clone(), peak.clone());
            tasks.push(canopy::spawn(async move {
                let now = running.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                yield_now().await.unwrap();
                running.fetch_sub(1, SeqCst);
                drop(permit);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(peak.load(SeqCst) <= 2);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn forgotten_permits_stay_out() {
    let sem = Semaphore::new(2);
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn semaphore_permits_are_conserved_under_a_cancel_storm() {
    const PERMITS: usize = 3;
    const TASKS: usize = 8;
    const ROUNDS: usize = 2_000;
    let sem = Arc::new(Semaphore::new(PERMITS));
    let holders = Arc::new(AtomicUsize::new(0));
    let scopes: Arc<Vec<std::sync::Mutex<Option<CancelScope>>>> =
        Arc::new((0..TASKS).map(|_| std::sync::Mutex::new(None)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let caught = Arc::new(AtomicUsize::new(0));
    let storm = {
        let (scopes, done) = (scopes.clone(), done.clone());
        thread::spawn(move || {
            let mut i = 0usize;
            while !done.load(SeqCst) {
                i = i.wrapping_mul(31).wrapping_add(7);
                if let Some(scope) = &*scopes[i % TASKS].lock().unwrap() {
                    scope.cancel();
                }
                thread::sleep(Duration::from_micros(100));
            }
        })
    };
    real_clock().block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (sem, holders, scopes) = (sem.clone(), holders.clone(), scopes.clone());
                let caught = caught.clone();
                canopy::spawn(async move {
                    let mut rounds = 0;
                    while rounds < ROUNDS {
                        let scope = CancelScope::new();
                        *scopes[t].lock().unwrap() = Some(scope.clone());
                        let out = scope
                            .run(async {
                                while rounds < ROUNDS {
                                    let n = 1 + rounds % 2;
                                    let permit = sem.acquire_many(n).await?;
                                    let now = holders.fetch_add(n, SeqCst) + n;
                                    assert!(now <= PERMITS, "{now} permits out of {PERMITS}");
                                    let yielded = yield_now().await;
                                    holders.fetch_sub(n, SeqCst);
                                    drop(permit);
                                    yielded?;
                                    rounds += 1;
                                }
                                Ok::<_, Cancelled>(())
                            })
                            .await;
                        if out == Ok(None) {
                            caught.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    done.store(true, SeqCst);
    storm.join().unwrap();
    assert_eq!(
        sem.available_permits(),
        PERMITS,
        "no permit lost or duplicated"
    );
    assert!(caught.load(SeqCst) > 0, "the storm never hit");
}

// Mutex (tokio: sync_mutex.rs; Trio: test_Lock)

#[test]
fn mutex_hands_the_lock_over_in_fifo_order() {
    paused().block_on(async {
        let mutex = Mutex::new(Vec::new());
        let guard = mutex.lock().await.unwrap();
        let mut waiters: FuturesUnordered<_> = (0..4)
            .map(|i| {
                let mutex = &mutex;
                async move { mutex.lock().await.unwrap().push(i) }
            })
            .collect();
        assert!(futures::poll!(waiters.next()).is_pending());
        drop(guard);
        while waiters.next().await.is_some() {}
        assert_eq!(*mutex.lock().await.unwrap(), [0, 1, 2, 3]);
    });
}

#[test]
fn try_lock_does_not_barge_past_queued_tasks() {
    paused().block_on(async {
        let mutex = Mutex::new(0);
        let guard = mutex.try_lock().unwrap();
        assert!(mutex.try_lock().is_err());
        let mut queued = pin!(mutex.lock());
        assert!(futures::poll!(queued.as_mut()).is_pending());
        drop(guard);
        assert!(mutex.try_lock().is_err(), "handed to the queued task");
        *queued.await.unwrap() += 1;
        assert_eq!(*mutex.try_lock().unwrap(), 1);
    });
}

#[test]
fn lock_in_a_cancelled_scope_does_not_take_a_free_mutex() {
    paused().block_on(async {
        let mutex = Mutex::new(());
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope.run(async { mutex.lock().await.map(drop) }).await;
        assert_eq!(out, Ok(None));
        assert!(mutex.try_lock().is_ok(), "still free");
    });
}

#[test]
fn a_lock_handed_over_before_the_cancel_was_seen_is_returned() {
    paused().block_on(async {
        let mutex = Mutex::new(1);
        let guard = mutex.lock().await.unwrap();
        let scope = CancelScope::new();
        scope
            .run(async {
                let mut lock = pin!(mutex.lock());
                assert!(futures::poll!(lock.as_mut()).is_pending());
                drop(guard);
                scope.cancel();
                assert_eq!(*lock.await.expect("handed over"), 1);
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        assert!(mutex.try_lock().is_ok());
    });
}

#[test]
fn lock_owned_follows_the_same_rules() {
    paused().block_on(async {
        let mutex = Arc::new(Mutex::new(0));
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope
            .run(async { mutex.clone().lock_owned().await.map(drop) })
            .await;
        assert_eq!(out, Ok(None));
        assert!(
            mutex.try_lock().is_ok(),
            "a cancelled lock_owned took nothing"
        );

        let held = mutex.clone().lock_owned().await.unwrap();
        let mut first = Box::pin(mutex.clone().lock_owned());
        let mut second = pin!(mutex.clone().lock_owned());
        assert!(futures::poll!(first.as_mut()).is_pending());
        assert!(futures::poll!(second.as_mut()).is_pending());
        drop(held); // handed to `first`...
        drop(first); // ...which passes it on
        *second.await.unwrap() += 1;
        assert_eq!(*mutex.lock().await.unwrap(), 1);
    });
}

#[test]
fn mutex_ownership_is_exclusive_and_conserved_under_a_cancel_storm() {
    const TASKS: usize = 6;
    const ROUNDS: usize = 1_000;
    let mutex = Arc::new(Mutex::new(0usize));
    let inside = Arc::new(AtomicBool::new(false));
    let scopes: Arc<Vec<std::sync::Mutex<Option<CancelScope>>>> =
        Arc::new((0..TASKS).map(|_| std::sync::Mutex::new(None)).collect());
    let caught = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let storm = {
        let (scopes, done) = (scopes.clone(), done.clone());
        thread::spawn(move || {
            let mut i = 0usize;
            while !done.load(SeqCst) {
                i = i.wrapping_mul(17).wrapping_add(3);
                if let Some(scope) = &*scopes[i % TASKS].lock().unwrap() {
                    scope.cancel();
                }
                thread::sleep(Duration::from_micros(100));
            }
        })
    };
    real_clock().block_on(async {
        let canceller = {
            let scopes = scopes.clone();
            canopy::spawn(async move {
                for i in 0..usize::MAX {
                    if let Some(scope) = &*scopes[i % TASKS].lock().unwrap() {
                        scope.cancel();
                    }
                    if canopy::time::sleep(Duration::from_millis(1)).await.is_err() {
                        return;
                    }
                    if Arc::strong_count(&scopes) <= 2 {
                        return;
                    }
                }
            })
        };
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (mutex, inside, scopes) = (mutex.clone(), inside.clone(), scopes.clone());
                let caught = caught.clone();
                canopy::spawn(async move {
                    let mut rounds = 0;
                    while rounds < ROUNDS {
                        let scope = CancelScope::new();
                        *scopes[t].lock().unwrap() = Some(scope.clone());
                        let out = scope
                            .run(async {
                                while rounds < ROUNDS {
                                    let mut guard = mutex.lock().await?;
                                    assert!(!inside.swap(true, SeqCst), "two holders");
                                    let seen = *guard;
                                    let yielded = yield_now().await; // hold it across a yield
                                    *guard = seen + 1;
                                    inside.store(false, SeqCst);
                                    drop(guard);
                                    rounds += 1;
                                    yielded?;
                                }
                                Ok::<_, Cancelled>(())
                            })
                            .await;
                        if out == Ok(None) {
                            caught.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        drop(scopes);
        canceller.await.unwrap();
        assert_eq!(
            *mutex.lock().await.unwrap(),
            TASKS * ROUNDS,
            "no update lost"
        );
    });
    done.store(true, SeqCst);
    storm.join().unwrap();
    assert!(caught.load(SeqCst) > 0, "the storm never hit");
}

// Notify (tokio: sync_notify.rs)

#[test]
fn notify_one_stores_one_permit_when_nobody_waits() {
    paused().block_on(async {
        let notify = Notify::new();
        notify.notify_one();
        notify.notify_one(); // permits do not add up
        notify.notified().await.unwrap();
        let mut second = pin!(notify.notified());
        assert!(futures::poll!(second.as_mut()).is_pending());
        notify.notify_one();
        second.await.unwrap();
    });
}

#[test]
fn notify_waiters_wakes_everyone_waiting_and_stores_nothing() {
    paused().block_on(async {
        let notify = Notify::new();
        let mut a = pin!(notify.notified());
        let mut b = pin!(notify.notified());
        assert!(futures::poll!(a.as_mut()).is_pending());
        assert!(futures::poll!(b.as_mut()).is_pending());
        notify.notify_waiters();
        a.await.unwrap();
        b.await.unwrap();
        let mut later = pin!(notify.notified());
        assert!(
            futures::poll!(later.as_mut()).is_pending(),
            "no permit stored"
        );
    });
}

#[test]
fn a_dropped_waiter_passes_its_notification_on() {
    paused().block_on(async {
        let notify = Notify::new();
        let mut first = Box::pin(notify.notified());
        let mut second = pin!(notify.notified());
        assert!(futures::poll!(first.as_mut()).is_pending());
        assert!(futures::poll!(second.as_mut()).is_pending());
        notify.notify_one(); // handed to `first`
        drop(first);
        second.await.expect("passed on, not swallowed");
    });
}

#[test]
fn notified_in_a_cancelled_scope_leaves_the_permit() {
    paused().block_on(async {
        let notify = Notify::new();
        notify.notify_one();
        let scope = CancelScope::new();
        scope.cancel();
        assert_eq!(scope.run(async { notify.notified().await }).await, Ok(None));
        notify.notified().await.expect("the permit is still there");
    });
}

#[test]
fn a_cancelled_waiter_does_not_swallow_a_later_notification() {
    paused().block_on(async {
        let notify = Notify::new();
        let scope = CancelScope::new();
        let mut other = pin!(notify.notified());
        assert!(futures::poll!(other.as_mut()).is_pending());
        scope
            .run(async {
                let mut mine = pin!(notify.notified());
                assert!(futures::poll!(mine.as_mut()).is_pending());
                scope.cancel();
                assert!(mine.await.is_err());
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        notify.notify_one();
        other.await.unwrap();
    });
}

// From other threads, under combinators, at shutdown.

#[test]
fn a_cancel_from_an_os_thread_wakes_a_queued_lock() {
    real_clock().block_on(async {
        let mutex = Mutex::new(());
        let _held = mutex.lock().await.unwrap();
        let scope = CancelScope::new();
        let canceller = scope.clone();
        let thread = thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            canceller.cancel();
        });
        let out = scope.run(async { mutex.lock().await.map(drop) }).await;
        assert_eq!(out, Ok(None));
        thread.join().unwrap();
    });
}

#[test]
fn acquires_under_futures_unordered_are_woken_by_the_cancel() {
    real_clock().block_on(async {
        let sem = Semaphore::new(0);
        let scope = CancelScope::new();
        let canceller = scope.clone();
        let gate = Gate::default();
        let waiting = gate.clone();
        let _cancelling = canopy::spawn(async move {
            waiting.passed().await;
            canceller.cancel();
        });
        let out = scope
            .run(async {
                let mut set: FuturesUnordered<_> = (0..3).map(|_| sem.acquire()).collect();
                assert!(futures::poll!(set.next()).is_pending());
                gate.open();
                while let Some(acquired) = set.next().await {
                    drop(acquired?);
                }
                Ok::<_, Cancelled>(())
            })
            .await;
        assert_eq!(out, Ok(None));
        assert_eq!(sem.available_permits(), 0);
    });
}

#[test]
fn waits_are_cancelled_at_shutdown() {
    let rt = real_clock();
    let event = Arc::new(Event::new());
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    for _ in 0..3 {
        let (event, results) = (event.clone(), results.clone());
        rt.spawn_detached(async move {
            let out = event.wait().await;
            results.lock().unwrap().push(out.is_err());
            Ok::<_, Cancelled>(())
        });
    }
    thread::sleep(Duration::from_millis(10));
    assert!(rt.shutdown(Duration::from_secs(10)));
    assert_eq!(*results.lock().unwrap(), [true, true, true]);
}

// RwLock (tokio: sync_rwlock.rs)

#[test]
fn readers_share_and_a_queued_writer_blocks_later_readers() {
    paused().block_on(async {
        let lock = RwLock::new(0);
        let first = lock.read().await.unwrap();
        let second = lock.try_read().expect("readers share");
        let mut write = pin!(lock.write());
        assert!(futures::poll!(write.as_mut()).is_pending());
        assert!(lock.try_read().is_none(), "a writer is queued: no barging");
        let mut late_reader = pin!(lock.read());
        assert!(futures::poll!(late_reader.as_mut()).is_pending());
        drop((first, second));
        *write.await.unwrap() += 1;
        assert_eq!(*late_reader.await.unwrap(), 1);
        assert!(lock.try_write().is_some());
    });
}

#[test]
fn write_in_a_cancelled_scope_takes_nothing_and_a_cancelled_queued_writer_lets_readers_in() {
    paused().block_on(async {
        let lock = RwLock::new(());
        let scope = CancelScope::new();
        scope.cancel();
        assert_eq!(
            scope.run(async { lock.write().await.map(drop) }).await,
            Ok(None)
        );
        assert!(lock.try_write().is_some(), "still free");

        let reader = lock.read().await.unwrap();
        let scope = CancelScope::new();
        let mut late_reader = Box::pin(lock.read());
        scope
            .run(async {
                let mut write = pin!(lock.write());
                assert!(futures::poll!(write.as_mut()).is_pending());
                assert!(futures::poll!(late_reader.as_mut()).is_pending());
                scope.cancel();
                assert!(write.await.is_err());
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        let _second = late_reader
            .await
            .expect("the writer left: readers share again");
        drop(reader);
    });
}

// Barrier (tokio: sync_barrier.rs)

#[test]
fn barrier_releases_each_generation_with_one_leader() {
    real_clock().block_on(async {
        let barrier = Arc::new(Barrier::new(3));
        for _round in 0..3 {
            let tasks: Vec<_> = (0..3)
                .map(|_| {
                    let barrier = barrier.clone();
                    canopy::spawn(async move { barrier.wait().await.unwrap().is_leader() })
                })
                .collect();
            let mut leaders = 0;
            for task in tasks {
                leaders += task.await.unwrap() as usize;
            }
            assert_eq!(leaders, 1);
        }
    });
}

#[test]
fn a_waiter_cancelled_before_release_counts_itself_out() {
    paused().block_on(async {
        let barrier = Barrier::new(2);
        let scope = CancelScope::new();
        scope
            .run(async {
                let mut wait = pin!(barrier.wait());
                assert!(futures::poll!(wait.as_mut()).is_pending());
                scope.cancel();
                assert!(wait.await.is_err());
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        // Had it stayed counted, this one arrival would release the barrier.
        let mut alone = pin!(barrier.wait());
        assert!(futures::poll!(alone.as_mut()).is_pending());
        let other = barrier.wait().await.unwrap();
        assert!(other.is_leader());
        assert!(!alone.await.unwrap().is_leader());
    });
}

// Condition (Trio: test_Condition)

#[test]
fn condition_wait_releases_the_lock_and_takes_it_back() {
    real_clock().block_on(async {
        let state = Arc::new((Mutex::new(0u32), Condition::new()));
        let setter = state.clone();
        let task = canopy::spawn(async move {
            for _ in 0..3 {
                *setter.0.lock().await.unwrap() += 1;
                setter.1.notify_all();
                yield_now().await.unwrap();
            }
        });
        let (mutex, cond) = &*state;
        let mut guard = mutex.lock().await.unwrap();
        while *guard < 3 {
            let (again, waited) = cond.wait(guard).await;
            waited.unwrap();
            guard = again;
        }
        drop(guard);
        task.await.unwrap();
    });
}

#[test]
fn condition_wait_cancelled_holds_the_lock_again_and_swallows_no_notification() {
    paused().block_on(async {
        let mutex = Mutex::new(());
        let cond = Condition::new();
        // Called in a cancelled scope: the lock is never let go.
        let scope = CancelScope::new();
        scope.cancel();
        let held = mutex.lock().await.unwrap();
        scope
            .run(async {
                let (guard, waited) = cond.wait(held).await;
                assert!(waited.is_err());
                assert!(mutex.try_lock().is_err(), "still held");
                drop(guard);
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();

        // Cancelled while queued: leaves, re-locks; a later notify goes to
        // the other waiter.
        let mut other = Box::pin(async {
            let guard = mutex.lock().await.unwrap();
            let (_guard, waited) = cond.wait(guard).await;
            waited
        });
        assert!(futures::poll!(other.as_mut()).is_pending());
        let scope = CancelScope::new();
        scope
            .run(async {
                let guard = mutex.lock().await.unwrap();
                let mut wait = pin!(cond.wait(guard));
                assert!(futures::poll!(wait.as_mut()).is_pending());
                scope.cancel();
                let (guard, waited) = wait.await;
                assert!(waited.is_err());
                drop(guard);
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        cond.notify_one();
        assert_eq!(other.await, Ok(()));
    });
}

// CapacityLimiter (Trio: test_CapacityLimiter)

#[test]
fn capacity_limiter_knows_its_borrowers_and_changes_its_total() {
    paused().block_on(async {
        let limiter = CapacityLimiter::new(2);
        let a = limiter.acquire_on_behalf_of(1).await.unwrap();
        assert_eq!(
            limiter.acquire_on_behalf_of(1).await.unwrap_err(),
            LimiterError::AlreadyBorrowing
        );
        let b = limiter.acquire_on_behalf_of(2).await.unwrap();
        let mut borrowers = limiter.borrowers();
        borrowers.sort();
        assert_eq!(borrowers, [1, 2]);
        assert_eq!(limiter.available_tokens(), 0);
        let mut c = Box::pin(limiter.acquire_on_behalf_of(3));
        assert!(futures::poll!(c.as_mut()).is_pending());
        limiter.set_total_tokens(3); // raising admits the queued borrower
        let c = c.await.unwrap();
        assert_eq!(*c.borrower(), 3);
        limiter.set_total_tokens(1); // lowering takes no token away
        assert_eq!(limiter.borrowed_tokens(), 3);
        drop((a, b));
        assert_eq!(
            limiter.available_tokens(),
            0,
            "the pool shrank as they came back"
        );
        drop(c);
        assert_eq!(limiter.available_tokens(), 1);
        assert!(limiter.try_acquire_on_behalf_of(4).unwrap().is_some());
    });
}

#[test]
fn capacity_limiter_acquire_in_a_cancelled_scope_takes_no_token() {
    paused().block_on(async {
        let limiter = CapacityLimiter::new(1);
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope
            .run(async { limiter.acquire_on_behalf_of("x").await.map(drop) })
            .await;
        assert_eq!(out, Ok(None));
        assert_eq!(limiter.available_tokens(), 1);
        assert!(limiter.borrowers().is_empty());
    });
}
