//! A barrier: `n` tasks wait until all `n` have arrived (tokio's
//! `Barrier`).
//!
//! # Protocol
//!
//! Under the barrier's lock: an arriving task counts itself in; the `n`th
//! is the leader of its generation — it resets the count and releases every
//! queued waiter (unlinks its node: "released") and returns at once. The
//! others queue. A queued waiter that is cancelled (or dropped) before its
//! generation was released counts itself *out* again, so the barrier still
//! waits for `n` live tasks; one that was released before it saw the
//! cancellation returns normally (DESIGN §2.13).

use crate::loom::{Mutex, lock};
use crate::wait_list::WaitList;
use crate::wake_list::WakeList;
use canopy_scope::{Cancelled, poll_budget, poll_cancelled};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

/// Makes `n` tasks wait for each other; reusable (each time `n` tasks have
/// arrived, they are all released and it starts over).
///
/// ```
/// use canopy_sync::Barrier;
/// use std::sync::Arc;
///
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let barrier = Arc::new(Barrier::new(3));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let barrier = barrier.clone();
///             canopy_runtime::spawn(async move { barrier.wait().await })
///         })
///         .collect();
///     let mut leaders = 0;
///     for task in tasks {
///         leaders += task.await.unwrap()?.is_leader() as usize;
///     }
///     assert_eq!(leaders, 1);
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub struct Barrier {
    n: usize,
    state: Mutex<State>,
}

struct State {
    arrived: usize,
    waiters: WaitList<Waker>,
}

/// What [`Barrier::wait`] returns: whether this task was the one whose
/// arrival released the others (exactly one per generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this task released the generation.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` tasks. `n == 0` behaves as `n == 1`: nobody waits.
    pub fn new(n: usize) -> Self {
        Barrier {
            n: n.max(1),
            state: Mutex::new(State {
                arrived: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Arrives and waits for the others. A checkpoint: `Err(Cancelled)` if
    /// the scope is cancelled when first polled (it does not arrive) or while
    /// waiting and before release (it counts itself out again).
    #[track_caller]
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            key: None,
            location: Location::caller(),
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .field("arrived", &lock(&self.state).arrived)
            .finish()
    }
}

/// The future of [`Barrier::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    key: Option<usize>,
    location: &'static Location<'static>,
}

impl Future for BarrierWait<'_> {
    type Output = Result<BarrierWaitResult, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cancelled = ready!(poll_cancelled(cx, this.location));
        if let Some(key) = this.key {
            let mut state = lock(&this.barrier.state);
            if !state.waiters.is_linked(key) {
                this.key = None;
                state.waiters.remove(key);
                return Poll::Ready(Ok(BarrierWaitResult(false)));
            }
            if let Err(cancelled) = cancelled {
                this.key = None;
                state.waiters.remove(key);
                state.arrived -= 1;
                return Poll::Ready(Err(cancelled));
            }
            let slot = state.waiters.get_mut(key);
            if !slot.will_wake(cx.waker()) {
                slot.clone_from(cx.waker());
            }
            return Poll::Pending;
        }
        cancelled?;
        ready!(poll_budget(cx));
        let mut wakers = WakeList::new();
        let mut state = lock(&this.barrier.state);
        state.arrived += 1;
        if state.arrived == this.barrier.n {
            state.arrived = 0;
            state.waiters.drain_with(|waker| wakers.push(waker.clone()));
            drop(state);
            wakers.wake_all();
            return Poll::Ready(Ok(BarrierWaitResult(true)));
        }
        this.key = Some(state.waiters.push_back(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut state = lock(&self.barrier.state);
        if state.waiters.is_linked(key) {
            state.arrived -= 1; // leaves before release: counts itself out
        }
        state.waiters.remove(key);
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
