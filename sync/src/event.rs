//! An event that is set once and wakes everyone waiting for it (Trio's
//! `Event`).
//!
//! # Protocol
//!
//! `set` flips the flag and, under the event's lock, unlinks every queued
//! waiter (an unlinked node means "the event was set") and wakes them after
//! the lock. A waiter checks cancellation first, then under the lock: an
//! unlinked node means it was handed the event, which stands even if it was
//! cancelled meanwhile; a still-linked node is removed if it is cancelled.
//! The flag is also an atomic, so `is_set` and a `wait` on a set event
//! take no lock.

use crate::loom::{Mutex, atomic::AtomicBool, atomic::Ordering, lock};
use crate::wait_list::WaitList;
use crate::wake_list::WakeList;
use canopy_scope::{Cancelled, poll_budget, poll_cancelled};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

/// A flag that is set once; [`wait`](Self::wait) waits for it.
///
/// ```
/// use canopy_sync::Event;
/// use std::sync::Arc;
///
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let ready = Arc::new(Event::new());
///     let setter = ready.clone();
///     canopy_runtime::spawn(async move { setter.set() });
///     ready.wait().await?;
///     assert!(ready.is_set());
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub struct Event {
    set: AtomicBool,
    waiters: Mutex<WaitList<Waker>>,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Self {
        Event {
            set: AtomicBool::new(false),
            waiters: Mutex::new(WaitList::new()),
        }
    }

    /// Whether the event is set.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Sets the event and wakes every waiter. Not a checkpoint; setting it
    /// again does nothing.
    pub fn set(&self) {
        if self.set.load(Ordering::Acquire) {
            return;
        }
        let mut wakers = WakeList::new();
        {
            let mut waiters = lock(&self.waiters);
            // Under the lock, so no waiter can queue after the drain.
            self.set.store(true, Ordering::Release);
            waiters.drain_with(|waker| wakers.push(waker.clone()));
        }
        wakers.wake_all();
    }

    /// Waits until the event is set. A checkpoint: `Err(Cancelled)` if the
    /// scope is cancelled when first polled (even if the event is set), or
    /// while waiting and before the event was set.
    #[track_caller]
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            key: None,
            location: Location::caller(),
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish()
    }
}

/// The future of [`Event::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    key: Option<usize>,
    location: &'static Location<'static>,
}

impl Future for EventWait<'_> {
    type Output = Result<(), Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cancelled = ready!(poll_cancelled(cx, this.location));
        if let Some(key) = this.key {
            let mut waiters = lock(&this.event.waiters);
            if !waiters.is_linked(key) {
                // The event was set while it waited: that stands (§2.13).
                this.key = None;
                waiters.remove(key);
                return Poll::Ready(Ok(()));
            }
            if let Err(cancelled) = cancelled {
                this.key = None;
                waiters.remove(key);
                return Poll::Ready(Err(cancelled));
            }
            let slot = waiters.get_mut(key);
            if !slot.will_wake(cx.waker()) {
                slot.clone_from(cx.waker());
            }
            return Poll::Pending;
        }
        cancelled?;
        if this.event.is_set() {
            return poll_budget(cx).map(Ok);
        }
        let mut waiters = lock(&this.event.waiters);
        if this.event.set.load(Ordering::Acquire) {
            drop(waiters);
            return poll_budget(cx).map(Ok);
        }
        this.key = Some(waiters.push_back(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Nothing to pass on: `set` woke everyone.
            lock(&self.event.waiters).remove(key);
        }
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
