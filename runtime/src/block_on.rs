//! `block_on`: drive a future to completion on the calling thread.
//!
//! The calling thread is not a worker: it polls only the future it was given
//! and sleeps on a parker of its own in between. Tasks spawned from it go to
//! the global queue. Several threads may `block_on` on one runtime at once.
//! Each call allocates one small waker (it counts the thread as active for
//! the paused clock's auto-advance); a `block_on` call is not a hot path.

use crate::context;
use crate::park::Parker;
use crate::shared::Shared;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};

/// Wakes the thread blocked in one `block_on` call, and counts it as active
/// from the moment it is woken (see `Shared::maybe_auto_advance`).
struct BlockOnWaker {
    parker: Parker,
    /// Whether this thread is counted in `shared.block_on_active`.
    active: AtomicBool,
    shared: Arc<Shared>,
}

impl BlockOnWaker {
    fn mark_active(&self) {
        if !self.active.swap(true, SeqCst) {
            self.shared.block_on_active.fetch_add(1, SeqCst);
        }
    }

    fn mark_idle(&self) {
        if self.active.swap(false, SeqCst) {
            self.shared.block_on_active.fetch_sub(1, SeqCst);
        }
    }
}

impl Wake for BlockOnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.mark_active();
        self.parker.unpark();
    }
}

/// Counts the thread out when `block_on` returns or unwinds.
struct Leave<'a>(&'a BlockOnWaker);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.mark_idle();
    }
}

pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let _context = context::enter_block_on(shared);
    let signal = Arc::new(BlockOnWaker {
        parker: Parker::new(),
        active: AtomicBool::new(false),
        shared: shared.clone(),
    });
    signal.mark_active();
    let _leave = Leave(&signal);
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        canopy_scope::reset_budget(shared.config.checkpoint_budget);
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        signal.mark_idle();
        // On a paused clock, the last one to go idle moves time on (which may
        // wake this very future).
        shared.maybe_auto_advance();
        signal.parker.park();
    }
}
