//! `block_on`: drive a future to completion on the calling thread.
//!
//! The calling thread is not a worker: it polls only the future it was given
//! and sleeps on its own parker in between. Tasks spawned from it go to the
//! global queue. Several threads may `block_on` on one runtime at once.

use crate::context;
use crate::park::Parker;
use crate::shared::Shared;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Wakes the thread blocked in `block_on`.
struct ThreadWaker {
    parker: Parker,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.parker.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.parker.unpark();
    }
}

thread_local! {
    /// One parker and waker per thread, reused by every `block_on` on it. A
    /// stale wake from an earlier call only costs one extra poll.
    static THREAD_WAKER: (Arc<ThreadWaker>, Waker) = {
        let signal = Arc::new(ThreadWaker { parker: Parker::new() });
        let waker = Waker::from(signal.clone());
        (signal, waker)
    };
}

pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let _context = context::enter_block_on(shared);
    let (signal, waker) = THREAD_WAKER.with(|(s, w)| (s.clone(), w.clone()));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        context::reset_budget(shared.config.checkpoint_budget);
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        signal.parker.park();
    }
}
