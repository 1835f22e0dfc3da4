//! A condition variable for the async [`Mutex`] (Trio's `Condition`).
//!
//! # Protocol
//!
//! `wait(guard)` queues the waiter on the condition's list *before* it
//! unlocks the mutex (both in its first poll), so a `notify` made by anyone
//! who takes the lock afterwards finds it: no lost wake-up. `notify_one`
//! (`notify_all`) unlinks the first (every) queued waiter, marking it
//! notified, and wakes it. The waiter then re-locks the mutex and returns the
//! guard.
//!
//! As in Trio, the lock is **always held again** when `wait` returns, even
//! on cancellation: the re-lock is not a cancel point. What `wait` returns
//! says what happened:
//! - called in a cancelled scope: `(guard, Err(Cancelled))` at once — the
//!   lock was never released, nothing waited;
//! - cancelled while queued: it leaves the queue (it consumed no
//!   notification), re-locks, and returns `(guard, Err(Cancelled))`;
//! - notified before the cancellation was seen: `(guard, Ok(()))` (DESIGN
//!   §2.13; the next checkpoint reports the cancellation);
//! - dropped after it was notified (by `notify_one`): it passes the
//!   notification on to the next waiter, so none is swallowed.

use crate::loom::{Mutex as Lock, lock};
use crate::mutex::{self, Mutex, MutexGuard};
use crate::wait_list::WaitList;
use crate::wake_list::WakeList;
use canopy_scope::{Cancelled, poll_cancelled};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

/// Waits for a notification with a [`Mutex`] released, then locks it again.
///
/// ```
/// use canopy_sync::{Condition, Mutex};
/// use std::sync::Arc;
///
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let state = Arc::new((Mutex::new(false), Condition::new()));
///     let setter = state.clone();
///     canopy_runtime::spawn(async move {
///         *setter.0.lock().await? = true;
///         setter.1.notify_all();
///         Ok::<_, canopy_scope::Cancelled>(())
///     });
///     let (mutex, ready) = &*state;
///     let mut guard = mutex.lock().await?;
///     while !*guard {
///         let (again, waited) = ready.wait(guard).await;
///         guard = again;
///         waited?;
///     }
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub struct Condition {
    waiters: Lock<WaitList<Slot>>,
}

enum Slot {
    Waiting(Waker),
    Notified,
}

impl Condition {
    /// A condition nobody waits on.
    pub fn new() -> Self {
        Condition {
            waiters: Lock::new(WaitList::new()),
        }
    }

    /// Wakes the first waiting task, if any (nothing is stored if none
    /// waits). Not a checkpoint.
    pub fn notify_one(&self) {
        let woken = notify_one(&mut lock(&self.waiters));
        if let Some(waker) = woken {
            waker.wake();
        }
    }

    /// Wakes every waiting task. Not a checkpoint.
    pub fn notify_all(&self) {
        let mut wakers = WakeList::new();
        lock(&self.waiters).drain_with(|slot| {
            if let Slot::Waiting(waker) = std::mem::replace(slot, Slot::Notified) {
                wakers.push(waker);
            }
        });
        wakers.wake_all();
    }

    /// Releases `guard`'s lock, waits for a notification, locks again. A
    /// checkpoint; returns the guard in every case (see the module docs for
    /// what the `Result` says).
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&'a self, guard: MutexGuard<'a, T>) -> CondWait<'a, T> {
        CondWait {
            cond: self,
            mutex: MutexGuard::mutex(&guard),
            guard: Some(guard),
            key: None,
            relock: None,
            outcome: Ok(()),
            location: Location::caller(),
        }
    }
}

fn notify_one(waiters: &mut WaitList<Slot>) -> Option<Waker> {
    let key = waiters.unlink_front()?;
    match std::mem::replace(waiters.get_mut(key), Slot::Notified) {
        Slot::Waiting(waker) => Some(waker),
        Slot::Notified => unreachable!("a queued waiter is waiting"),
    }
}

impl Default for Condition {
    fn default() -> Self {
        Condition::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiters", &lock(&self.waiters).len())
            .finish()
    }
}

/// The future of [`Condition::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct CondWait<'a, T: ?Sized> {
    cond: &'a Condition,
    mutex: &'a Mutex<T>,
    /// Held until the first poll queues this waiter.
    guard: Option<MutexGuard<'a, T>>,
    /// Queued on the condition.
    key: Option<usize>,
    /// Re-locking, after the wait.
    relock: Option<mutex::Lock<'a, T>>,
    outcome: Result<(), Cancelled>,
    location: &'static Location<'static>,
}

impl<'a, T: ?Sized> Future for CondWait<'a, T> {
    type Output = (MutexGuard<'a, T>, Result<(), Cancelled>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.relock.is_none() {
            let cancelled = ready!(poll_cancelled(cx, this.location));
            if let Some(guard) = this.guard.take() {
                if let Err(cancelled) = cancelled {
                    // Called in a cancelled scope: nothing released.
                    return Poll::Ready((guard, Err(cancelled)));
                }
                let key = lock(&this.cond.waiters).push_back(Slot::Waiting(cx.waker().clone()));
                this.key = Some(key);
                drop(guard); // queued first, so no notify is missed
                return Poll::Pending;
            }
            let key = this.key.expect("`CondWait` polled after completion");
            let mut waiters = lock(&this.cond.waiters);
            match (waiters.get_mut(key), cancelled) {
                (Slot::Notified, _) => this.outcome = Ok(()),
                (Slot::Waiting(_), Err(cancelled)) => this.outcome = Err(cancelled),
                (Slot::Waiting(waker), Ok(())) => {
                    if !waker.will_wake(cx.waker()) {
                        waker.clone_from(cx.waker());
                    }
                    return Poll::Pending;
                }
            }
            waiters.remove(key);
            this.key = None;
            drop(waiters);
            this.relock = Some(this.mutex.lock_shielded());
        }
        let relock = this.relock.as_mut().expect("set above");
        let guard = ready!(Pin::new(relock).poll(cx)).expect("a shielded lock is not cancelled");
        this.relock = None;
        let outcome = std::mem::replace(&mut this.outcome, Ok(()));
        // Mark it done: a later poll would panic on `key`.
        this.key = None;
        Poll::Ready((guard, outcome))
    }
}

impl<T: ?Sized> Drop for CondWait<'_, T> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut waiters = lock(&self.cond.waiters);
        let woken = match waiters.remove(key) {
            // Notified, but it will never run: pass the notification on.
            Slot::Notified => notify_one(&mut waiters),
            Slot::Waiting(_) => None,
        };
        drop(waiters);
        if let Some(waker) = woken {
            waker.wake();
        }
    }
}

impl<T: ?Sized> fmt::Debug for CondWait<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CondWait")
            .field("waiting", &self.key.is_some())
            .field("relocking", &self.relock.is_some())
            .finish_non_exhaustive()
    }
}
