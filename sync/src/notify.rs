//! `Notify`: wake one waiting task, or all of them (tokio's `Notify`).
//!
//! # Protocol
//!
//! Under the lock: `notify_one` hands the notification to the first queued
//! waiter (unlinks its node, marks it `One`) or, if none waits, stores a
//! single permit that the next `notified` consumes at once. `notify_waiters`
//! unlinks every queued waiter (marks them `All`) and stores no permit.
//!
//! A cancelled waiter whose node is still queued leaves without having
//! consumed anything. One that was already notified returns `Ok` (the outcome
//! stands, DESIGN §2.13). A *dropped* waiter that had been handed a
//! `notify_one` passes it on (to the next waiter, or back as the permit), so
//! a notification is never swallowed.

use crate::loom::{Mutex, lock};
use crate::wait_list::WaitList;
use crate::wake_list::WakeList;
use canopy_scope::{Cancelled, poll_budget, poll_cancelled};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

/// Wakes tasks waiting in [`notified`](Self::notified): one per
/// [`notify_one`](Self::notify_one) (stored as a permit when nobody waits),
/// or all at once with [`notify_waiters`](Self::notify_waiters).
///
/// ```
/// use canopy_sync::Notify;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let notify = Notify::new();
///     notify.notify_one(); // stored: nobody waits yet
///     notify.notified().await?; // consumes it at once
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub struct Notify {
    state: Mutex<State>,
}

struct State {
    permit: bool,
    waiters: WaitList<Slot>,
}

enum Slot {
    Waiting(Waker),
    /// Handed a `notify_one`: passed on if dropped.
    One,
    /// Woken by `notify_waiters`.
    All,
}

impl Notify {
    /// A `Notify` with no stored permit.
    pub fn new() -> Self {
        Notify {
            state: Mutex::new(State {
                permit: false,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Wakes the first waiting task; if none waits, the next call to
    /// [`notified`](Self::notified) completes at once (permits do not add
    /// up: at most one is stored). Not a checkpoint.
    pub fn notify_one(&self) {
        let mut state = lock(&self.state);
        let woken = state.notify_one();
        drop(state);
        if let Some(waker) = woken {
            waker.wake();
        }
    }

    /// Wakes every task waiting now; stores no permit. Not a checkpoint.
    pub fn notify_waiters(&self) {
        let mut wakers = WakeList::new();
        {
            let mut state = lock(&self.state);
            state.waiters.drain_with(|slot| {
                if let Slot::Waiting(waker) = std::mem::replace(slot, Slot::All) {
                    wakers.push(waker);
                }
            });
        }
        wakers.wake_all();
    }

    /// Waits for a notification. A checkpoint: `Err(Cancelled)` if the scope
    /// is cancelled when first polled (a stored permit is left in place) or
    /// while waiting and before it was notified.
    ///
    /// The future joins the queue at its first poll (unlike tokio's
    /// `Notified`, creating it registers nothing): a `notify_waiters` made
    /// before that poll is not seen by it; a `notify_one` is (as the
    /// stored permit).
    #[track_caller]
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            key: None,
            location: Location::caller(),
        }
    }
}

impl State {
    fn notify_one(&mut self) -> Option<Waker> {
        match self.waiters.unlink_front() {
            Some(key) => match std::mem::replace(self.waiters.get_mut(key), Slot::One) {
                Slot::Waiting(waker) => Some(waker),
                _ => unreachable!("a queued waiter is waiting"),
            },
            None => {
                self.permit = true;
                None
            }
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Notify")
            .field("permit", &state.permit)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    key: Option<usize>,
    location: &'static Location<'static>,
}

impl Future for Notified<'_> {
    type Output = Result<(), Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cancelled = ready!(poll_cancelled(cx, this.location));
        if let Some(key) = this.key {
            let mut state = lock(&this.notify.state);
            if let Slot::Waiting(waker) = state.waiters.get_mut(key) {
                if let Err(cancelled) = cancelled {
                    this.key = None;
                    state.waiters.remove(key);
                    return Poll::Ready(Err(cancelled));
                }
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
                return Poll::Pending;
            }
            // Notified: that stands, cancelled or not (§2.13).
            this.key = None;
            state.waiters.remove(key);
            return Poll::Ready(Ok(()));
        }
        cancelled?;
        ready!(poll_budget(cx));
        let mut state = lock(&this.notify.state);
        if std::mem::take(&mut state.permit) {
            return Poll::Ready(Ok(()));
        }
        this.key = Some(state.waiters.push_back(Slot::Waiting(cx.waker().clone())));
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut state = lock(&self.notify.state);
        let woken = match state.waiters.remove(key) {
            // Handed a `notify_one` it will never see: pass it on.
            Slot::One => state.notify_one(),
            Slot::Waiting(_) | Slot::All => None,
        };
        drop(state);
        if let Some(waker) = woken {
            waker.wake();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
