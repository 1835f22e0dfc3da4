//! Blocking a pool thread on a future (`blocking::block_on`), and knowing
//! whether this thread is running a blocking closure.

use std::cell::Cell;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

thread_local! {
    /// Blocking closures running on this thread (nested: a closure's
    /// `block_on` task could in principle run here too; it does not).
    static ON_POOL: Cell<usize> = const { Cell::new(0) };
}

/// Marks the thread as running a blocking closure until dropped.
pub(super) struct PoolThread(());

impl PoolThread {
    pub(super) fn enter() -> PoolThread {
        ON_POOL.with(|depth| depth.set(depth.get() + 1));
        PoolThread(())
    }
}

impl Drop for PoolThread {
    fn drop(&mut self) {
        let _ = ON_POOL.try_with(|depth| depth.set(depth.get() - 1));
    }
}

pub(super) fn on_pool_thread() -> bool {
    ON_POOL.try_with(|depth| depth.get() > 0).unwrap_or(false)
}

/// Wakes the thread that waits.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `poll` until it is ready, parking the thread in between.
pub(super) fn wait<T>(mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = poll(&mut cx) {
            return value;
        }
        // A wake before the park leaves the token: no lost wake-up.
        thread::park();
    }
}
