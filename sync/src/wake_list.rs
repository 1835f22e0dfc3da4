//! Wakers collected under a lock, to be woken after it is released (so a
//! woken task on another worker does not find the lock still held). The
//! common case — one waker — needs no allocation.

use std::task::Waker;

#[derive(Default)]
pub(crate) struct WakeList {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl WakeList {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    /// Wakes them all. Call after releasing the lock.
    pub(crate) fn wake_all(self) {
        if let Some(waker) = self.first {
            waker.wake();
        }
        for waker in self.rest {
            waker.wake();
        }
    }
}
