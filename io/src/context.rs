//! The thread's I/O context: which runtime's reactor the sockets created on
//! this thread register with. The runtime sets it on its workers and inside
//! `block_on`.

use crate::reactor::Reactor;
use std::cell::RefCell;
use std::io;
use std::sync::Arc;

thread_local! {
    static CURRENT: RefCell<Option<Arc<Reactor>>> = const { RefCell::new(None) };
}

/// Restores the previous I/O context when dropped.
#[must_use = "the I/O context is left when the guard is dropped"]
#[derive(Debug)]
pub struct IoContextGuard {
    previous: Option<Arc<Reactor>>,
}

impl Drop for IoContextGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// Makes `reactor` the one sockets created on this thread register with,
/// until the guard is dropped. For runtimes; applications never call this.
pub fn enter(reactor: Arc<Reactor>) -> IoContextGuard {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(reactor));
    IoContextGuard { previous }
}

/// The reactor of the runtime this thread serves, or the error that says
/// there is none.
pub(crate) fn current() -> io::Result<Arc<Reactor>> {
    CURRENT
        .try_with(|c| c.borrow().clone())
        .ok()
        .flatten()
        .ok_or_else(crate::error::outside_runtime)
}
