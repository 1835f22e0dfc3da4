//! Helpers shared by the behaviour suites.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// A one-shot gate: `passed()` is a future that completes once any thread
/// calls `open()`, woken through the waker it registered.
#[derive(Clone, Default)]
#[allow(dead_code)] // not every suite uses every helper
pub struct Gate(Arc<Mutex<(bool, Option<Waker>)>>);

#[allow(dead_code)]
impl Gate {
    pub fn open(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub fn passed(&self) -> impl Future<Output = ()> + Send + 'static {
        let gate = self.clone();
        std::future::poll_fn(move |cx| {
            let mut state = gate.0.lock().unwrap();
            if state.0 {
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// A runtime on a paused clock, two workers: the default for behaviour tests.
#[allow(dead_code)] // not every suite uses every helper
pub fn paused() -> canopy::Runtime {
    canopy::Runtime::builder()
        .workers(2)
        .start_paused(true)
        .build()
        .unwrap()
}

/// A runtime on the real clock, two workers: for tests in which another OS
/// thread acts in real time.
#[allow(dead_code)] // not every suite uses every helper
pub fn real_clock() -> canopy::Runtime {
    canopy::Runtime::builder().workers(2).build().unwrap()
}
