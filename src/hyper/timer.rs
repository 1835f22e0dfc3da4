//! `hyper::rt::Timer`: hyper's timeouts (header read timeout, HTTP/2
//! keep-alive, pool idle) on canopy's timer wheel and clock.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// hyper's timer on canopy's clock (which may be paused, in tests with
/// `start_paused`). Its sleeps support `reset` in place, so hyper moving a
/// deadline (each request on a keep-alive connection) re-arms the same
/// timer-wheel entry instead of allocating a new sleep.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timer;

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep {
            inner: crate::time::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep {
            inner: crate::time::sleep_until(deadline),
        })
    }

    fn now(&self) -> Instant {
        crate::time::now()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// The sleep [`Timer`] gives hyper: canopy's [`time::Sleep`](crate::time::Sleep)
/// with `()` as its output.
///
/// In a cancelled scope it completes at once, as if its deadline had
/// passed: hyper then ends what it was timing, and the socket's next poll
/// reports the `Cancelled` (a sleep that stayed pending could leave hyper
/// waiting on nothing but it).
#[derive(Debug)]
pub struct Sleep {
    inner: crate::time::Sleep,
}

impl Sleep {
    /// Moves the deadline, re-arming the same timer entry.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().inner.reset(deadline);
    }

    /// When the sleep ends.
    pub fn deadline(&self) -> Instant {
        self.inner.deadline()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Ok (the deadline passed) or Err (cancelled): either way it is over.
        Pin::new(&mut self.get_mut().inner).poll(cx).map(|_| ())
    }
}

impl hyper::rt::Sleep for Sleep {}
