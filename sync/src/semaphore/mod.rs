//! A counting semaphore with fair (FIFO) hand-off of permits.
//!
//! # Protocol
//!
//! The count of free permits and the queue of waiting acquirers sit under
//! one per-semaphore lock. An acquire takes permits at once only if nobody is
//! queued (no barging past waiters: FIFO fairness). Otherwise it queues a
//! node with the number it wants.
//!
//! Releasing adds the permits and then **grants** from the front of the
//! queue: while the first waiter wants no more than are free, its permits are
//! subtracted, its node is unlinked and marked `Granted`, and it is woken.
//! The permits now belong to that waiter alone; nobody else can take them.
//!
//! A waiter that is cancelled, or dropped, takes its node out under the
//! lock. Still queued: it holds nothing, and since its leaving may unblock
//! the waiters behind it (it wanted more than were free), the grant loop runs
//! again. Granted: a cancelled waiter returns its permit anyway (the outcome
//! was decided, DESIGN §2.13); a dropped one releases what it was granted,
//! which runs the grant loop for the next waiters. So permits are neither
//! lost nor duplicated, and no wake-up is swallowed.
//!
//! Invariant: when the lock is released, either the queue is empty or its
//! first waiter wants more permits than are free.

mod permit;

#[cfg(all(test, loom))]
mod loom_models;

pub use permit::{OwnedSemaphorePermit, SemaphorePermit};

use crate::loom::{Mutex, lock};
use crate::wait_list::WaitList;
use crate::wake_list::WakeList;
use canopy_scope::{Cancelled, poll_budget, poll_cancelled};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

/// A counting semaphore: [`acquire`](Self::acquire) waits for permits,
/// dropping the permit gives them back. Waiters are served in FIFO order.
///
/// ```
/// use canopy_sync::Semaphore;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let sem = Semaphore::new(2);
///     let a = sem.acquire().await?;
///     let _b = sem.acquire().await?;
///     assert!(sem.try_acquire().is_err());
///     drop(a);
///     assert_eq!(sem.available_permits(), 1);
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

struct State {
    permits: usize,
    waiters: WaitList<Waiter>,
}

struct Waiter {
    wanted: usize,
    /// `None` once granted.
    waker: Option<Waker>,
}

/// [`Semaphore::try_acquire`] found too few free permits (or other tasks
/// queued first, who are served in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryAcquireError(());

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "not enough free permits right now (or earlier waiters are queued); \
             await `acquire` to wait for them",
        )
    }
}

impl Error for TryAcquireError {}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    pub fn new(permits: usize) -> Self {
        Semaphore {
            state: Mutex::new(State {
                permits,
                waiters: WaitList::new(),
            }),
        }
    }

    /// How many permits are free now.
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    /// Waits for one permit. A checkpoint; see [`Acquire`].
    #[track_caller]
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once (FIFO: a large request is not starved by
    /// small ones behind it). A checkpoint; see [`Acquire`].
    #[track_caller]
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            wait: AcquireWait::new(n, Location::caller()),
        }
    }

    /// An acquire that is not a cancel point (for `Condition`'s re-lock).
    #[track_caller]
    pub(crate) fn acquire_shielded(&self, n: usize) -> Acquire<'_> {
        let mut acquire = self.acquire_many(n);
        acquire.wait.shielded = true;
        acquire
    }

    /// [`acquire_many`](Self::acquire_many) for a permit that owns a handle
    /// to the semaphore (`'static`, so it can move into a spawned task).
    #[track_caller]
    pub fn acquire_owned(self: Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned {
            sem: Some(self),
            wait: AcquireWait::new(n, Location::caller()),
        }
    }

    /// Takes one permit if one is free and nobody is queued. Not a
    /// checkpoint.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is queued. Not a
    /// checkpoint.
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        if self.try_take(n) {
            Ok(SemaphorePermit::new(self, n))
        } else {
            Err(TryAcquireError(()))
        }
    }

    /// Adds `n` permits (serving queued waiters first). Not a checkpoint.
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    fn try_take(&self, n: usize) -> bool {
        let mut state = lock(&self.state);
        if state.waiters.is_empty() && state.permits >= n {
            state.permits -= n;
            true
        } else {
            false
        }
    }

    /// Gives back `n` permits and grants them onward.
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut wakers = WakeList::new();
        {
            let mut state = lock(&self.state);
            state.permits += n;
            state.grant(&mut wakers);
        }
        wakers.wake_all();
    }
}

impl State {
    /// Serves the queue from the front while the first waiter's request fits.
    fn grant(&mut self, wakers: &mut WakeList) {
        while let Some(key) = self.waiters.front() {
            let waiter = self.waiters.get_mut(key);
            if waiter.wanted > self.permits {
                break;
            }
            self.permits -= waiter.wanted;
            let waker = waiter.waker.take().expect("a queued waiter has a waker");
            self.waiters.unlink(key);
            wakers.push(waker);
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// One acquire in progress (shared by [`Acquire`] and [`AcquireOwned`]).
#[derive(Debug)]
pub(crate) struct AcquireWait {
    wanted: usize,
    /// Not a cancel point (a `Condition` re-locking its mutex, as in Trio).
    shielded: bool,
    key: Option<usize>,
    location: &'static Location<'static>,
}

impl AcquireWait {
    pub(crate) fn new(wanted: usize, location: &'static Location<'static>) -> Self {
        AcquireWait {
            wanted,
            shielded: false,
            key: None,
            location,
        }
    }

    /// `Ready(Ok)` once the permits are this acquire's.
    pub(crate) fn poll(
        &mut self,
        sem: &Semaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Cancelled>> {
        let cancelled = if self.shielded {
            Ok(())
        } else {
            ready!(poll_cancelled(cx, self.location))
        };
        self.poll_decided(sem, cx, cancelled)
    }

    /// `poll` once the cancel check has been made (split out so the loom
    /// models can drive the cancelled path without a runtime).
    fn poll_decided<C>(
        &mut self,
        sem: &Semaphore,
        cx: &mut Context<'_>,
        cancelled: Result<(), C>,
    ) -> Poll<Result<(), C>> {
        if let Some(key) = self.key {
            let mut state = lock(&sem.state);
            if !state.waiters.is_linked(key) {
                // Granted: it stands, cancelled or not (§2.13).
                self.key = None;
                state.waiters.remove(key);
                return Poll::Ready(Ok(()));
            }
            if let Err(cancelled) = cancelled {
                self.key = None;
                let mut wakers = WakeList::new();
                state.waiters.remove(key);
                // It may have been what held the waiters behind it back.
                state.grant(&mut wakers);
                drop(state);
                wakers.wake_all();
                return Poll::Ready(Err(cancelled));
            }
            let slot = state.waiters.get_mut(key).waker.as_mut().expect("queued");
            if !slot.will_wake(cx.waker()) {
                slot.clone_from(cx.waker());
            }
            return Poll::Pending;
        }
        cancelled?;
        ready!(poll_budget(cx));
        let mut state = lock(&sem.state);
        if state.waiters.is_empty() && state.permits >= self.wanted {
            state.permits -= self.wanted;
            return Poll::Ready(Ok(()));
        }
        self.key = Some(state.waiters.push_back(Waiter {
            wanted: self.wanted,
            waker: Some(cx.waker().clone()),
        }));
        Poll::Pending
    }

    /// The future is dropped: leave the queue, passing on anything granted.
    pub(crate) fn abandon(&mut self, sem: &Semaphore) {
        let Some(key) = self.key.take() else { return };
        let mut wakers = WakeList::new();
        {
            let mut state = lock(&sem.state);
            let granted = !state.waiters.is_linked(key);
            state.waiters.remove(key);
            if granted {
                state.permits += self.wanted;
            }
            state.grant(&mut wakers);
        }
        wakers.wake_all();
    }
}

/// The future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
///
/// A checkpoint: `Err(Cancelled)` if the scope is cancelled when first polled
/// (even if permits are free: none is taken) or while queued (it leaves the
/// queue holding nothing). If the permits were granted before the
/// cancellation was seen, it returns them. Dropped after being granted, it
/// gives them back to the next waiters.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    wait: AcquireWait,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        ready!(this.wait.poll(this.sem, cx))?;
        Poll::Ready(Ok(SemaphorePermit::new(this.sem, this.wait.wanted)))
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.wait.abandon(self.sem);
    }
}

/// The future of [`Semaphore::acquire_owned`]; same rules as [`Acquire`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct AcquireOwned {
    sem: Option<Arc<Semaphore>>,
    wait: AcquireWait,
}

impl Future for AcquireOwned {
    type Output = Result<OwnedSemaphorePermit, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let sem = this
            .sem
            .as_ref()
            .expect("`AcquireOwned` polled after completion");
        ready!(this.wait.poll(sem, cx))?;
        let sem = this.sem.take().expect("checked above");
        Poll::Ready(Ok(OwnedSemaphorePermit::new(sem, this.wait.wanted)))
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        if let Some(sem) = &self.sem {
            self.wait.abandon(sem);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Semaphore;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn release_grants_from_the_front_only_while_the_request_fits() {
        let sem = Semaphore::new(0);
        let mut two = pin!(sem.acquire_many(2));
        let mut one = pin!(sem.acquire());
        assert!(poll_once(two.as_mut()).is_pending());
        assert!(poll_once(one.as_mut()).is_pending());
        sem.add_permits(1);
        // The front wants 2: nobody is served, the permit stays free.
        assert_eq!(sem.available_permits(), 1);
        assert!(poll_once(one.as_mut()).is_pending());
        sem.add_permits(2);
        // Both granted in order: 2 then 1.
        assert_eq!(sem.available_permits(), 0);
        let Poll::Ready(Ok(p2)) = poll_once(two.as_mut()) else {
            panic!()
        };
        let Poll::Ready(Ok(p1)) = poll_once(one.as_mut()) else {
            panic!()
        };
        assert_eq!((p2.num_permits(), p1.num_permits()), (2, 1));
        drop((p1, p2));
        assert_eq!(sem.available_permits(), 3);
    }

    #[test]
    fn dropping_the_front_waiter_serves_the_ones_behind_it() {
        let sem = Semaphore::new(1);
        let mut one = pin!(sem.acquire());
        {
            let mut two = pin!(sem.acquire_many(2));
            assert!(poll_once(two.as_mut()).is_pending());
            assert!(poll_once(one.as_mut()).is_pending());
        }
        assert_eq!(
            sem.available_permits(),
            0,
            "granted to `one` when `two` left"
        );
        assert!(matches!(poll_once(one.as_mut()), Poll::Ready(Ok(_))));
        assert_eq!(sem.available_permits(), 1);
    }
}
