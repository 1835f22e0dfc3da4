//! A channel that holds only the latest value: [`watch`].
//!
//! # Protocol
//!
//! The value and its version number sit under a `std::sync::RwLock` (readers
//! borrow it; the sender replaces it). Receivers remember the version they
//! last saw. `send` stores the value, bumps the version and then, under the
//! waiter lock, unlinks every queued receiver (an unlinked node means "woken
//! by a send or by the sender's end") and wakes them.
//!
//! [`Receiver::changed`] is a checkpoint. Called in a cancelled scope it
//! returns `Cancelled` and marks nothing seen. Cancelled while waiting, it
//! leaves the queue and marks nothing seen: the change stays observable. If
//! a new version was stored before the cancellation was seen, it returns
//! `Ok(true)` (DESIGN §2.13). Every receiver sees every *latest* value; as
//! the name says, intermediate values may be skipped.

use crate::loom::{Arc, Mutex, atomic::AtomicUsize, atomic::Ordering, lock};
use crate::wait_list::WaitList;
use crate::wake_list::WakeList;
use canopy_scope::{Cancelled, poll_budget, poll_cancelled};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{RwLock, RwLockReadGuard};
use std::task::{Context, Poll, Waker, ready};

/// A channel for a value that changes: receivers see the latest one and can
/// wait for the next change.
///
/// ```
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let (tx, mut rx) = canopy_sync::watch::watch("starting");
///     canopy_runtime::spawn(async move {
///         tx.send("ready").unwrap();
///     });
///     while *rx.borrow_and_update() != "ready" {
///         assert!(rx.changed().await?, "the sender is still there");
///     }
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub fn watch<T>(initial: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new((initial, 0)),
        waiters: Mutex::new(Waiters {
            sender_gone: false,
            list: WaitList::new(),
        }),
        receivers: AtomicUsize::new(1),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

struct Shared<T> {
    /// The value and its version.
    value: RwLock<(T, u64)>,
    waiters: Mutex<Waiters>,
    receivers: AtomicUsize,
}

struct Waiters {
    sender_gone: bool,
    list: WaitList<Waker>,
}

impl<T> Shared<T> {
    fn version(&self) -> u64 {
        self.value.read().unwrap_or_else(|e| e.into_inner()).1
    }

    fn wake_all(&self, sender_gone: bool) {
        let mut wakers = WakeList::new();
        {
            let mut waiters = lock(&self.waiters);
            waiters.sender_gone |= sender_gone;
            waiters.list.drain_with(|waker| wakers.push(waker.clone()));
        }
        wakers.wake_all();
    }
}

/// The sending side of a [`watch`] channel (one per channel). Dropping it
/// tells the receivers no more values will come.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Stores `value` as the latest and wakes every receiver waiting in
    /// [`changed`](Receiver::changed). Not a checkpoint. `Err(value)` if
    /// every receiver is gone (nobody could see it).
    pub fn send(&self, value: T) -> Result<(), T> {
        if self.shared.receivers.load(Ordering::Acquire) == 0 {
            return Err(value);
        }
        self.send_replace(value);
        Ok(())
    }

    /// Stores `value` even if no receiver is left; returns the old value.
    pub fn send_replace(&self, value: T) -> T {
        let old = {
            let mut slot = self.shared.value.write().unwrap_or_else(|e| e.into_inner());
            slot.1 += 1;
            std::mem::replace(&mut slot.0, value)
        };
        self.shared.wake_all(false);
        old
    }

    /// The latest value (the borrow blocks `send` while held: keep it short).
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref(self.shared.value.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            shared: self.shared.clone(),
            seen: self.shared.version(),
        }
    }

    /// How many receivers are left.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Ordering::Acquire)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.wake_all(true);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender").finish_non_exhaustive()
    }
}

/// The latest value, borrowed (from [`Sender::borrow`] or
/// [`Receiver::borrow`]). Holding it blocks `send`: keep it short, and do not
/// hold it across an `.await`.
pub struct Ref<'a, T>(RwLockReadGuard<'a, (T, u64)>);

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A receiving side of a [`watch`] channel; clone it for more.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver has seen.
    seen: u64,
}

impl<T> Receiver<T> {
    /// The latest value, without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref(self.shared.value.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The latest value, marking it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.value.read().unwrap_or_else(|e| e.into_inner());
        self.seen = guard.1;
        Ref(guard)
    }

    /// Whether a value this receiver has not seen is there.
    pub fn has_changed(&self) -> bool {
        self.shared.version() != self.seen
    }

    /// Waits for a value this receiver has not seen and marks it seen:
    /// `Ok(true)`; `Ok(false)` if the sender is gone and nothing new is
    /// there. A checkpoint; see the module docs for the cancellation rules.
    #[track_caller]
    pub fn changed(&mut self) -> Changed<'_, T> {
        Changed {
            receiver: self,
            key: None,
            location: Location::caller(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

/// The future of [`Receiver::changed`].
#[must_use = "futures do nothing unless awaited"]
pub struct Changed<'a, T> {
    receiver: &'a mut Receiver<T>,
    key: Option<usize>,
    location: &'static Location<'static>,
}

impl<T> Future for Changed<'_, T> {
    type Output = Result<bool, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cancelled = ready!(poll_cancelled(cx, this.location));
        let shared = &*this.receiver.shared;
        if this.key.is_none() {
            cancelled?;
            ready!(poll_budget(cx));
        }
        let mut waiters = lock(&shared.waiters);
        // Under the waiter lock: a send after this read wakes us.
        let version = shared.version();
        if version != this.receiver.seen {
            // A new value: decided, cancelled or not.
            if let Some(key) = this.key.take() {
                waiters.list.remove(key);
            }
            this.receiver.seen = version;
            return Poll::Ready(Ok(true));
        }
        if waiters.sender_gone {
            if let Some(key) = this.key.take() {
                waiters.list.remove(key);
            }
            return Poll::Ready(Ok(false));
        }
        if let Err(cancelled) = cancelled {
            if let Some(key) = this.key.take() {
                waiters.list.remove(key);
            }
            return Poll::Ready(Err(cancelled));
        }
        match this.key {
            Some(key) if waiters.list.is_linked(key) => {
                let waker = waiters.list.get_mut(key);
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
            }
            Some(key) => {
                // Woken, but nothing new for us: queue again.
                waiters.list.remove(key);
                this.key = Some(waiters.list.push_back(cx.waker().clone()));
            }
            None => this.key = Some(waiters.list.push_back(cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl<T> Drop for Changed<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Nothing to pass on: every send wakes every receiver.
            lock(&self.receiver.shared.waiters).list.remove(key);
        }
    }
}

impl<T> fmt::Debug for Changed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Changed")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
