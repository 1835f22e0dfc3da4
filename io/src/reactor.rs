//! The reactor: one `polling::Poller` per runtime, the registered sources,
//! and the interface by which the runtime drives it.
//!
//! # Who waits in the poller
//!
//! The runtime decides (see `canopy-runtime`'s `worker.rs`): exactly one
//! parked worker at a time, "the driver", blocks in [`Reactor::wait`] with
//! the earliest timer deadline as its timeout, so I/O readiness and timers
//! share one sleeping thread. The other parked workers sleep on their own
//! parkers. Whoever needs the driver back (work for it, an earlier timer,
//! shutdown) calls [`Reactor::wake`], a `Poller::notify` that also makes the
//! driver's next wait return at once if it has not begun yet. Busy workers
//! call [`Reactor::poll_now`] on the same cadence as they fire timers, so
//! I/O makes progress when no worker parks, and while the driver is stuck
//! running a long poll. `poll_now` makes no system call while no source is
//! registered, and none while another thread is in the poller (which
//! `polling` allows only one thread at a time; the other returns at once).
//!
//! # Sources
//!
//! Each socket registers its file descriptor once, edge-triggered, for both
//! directions, under a slab key. An event looks its source up by key and
//! sets its readiness (see `readiness.rs` for the per-source protocol). A
//! key can be reused after a deregistration; a stale event then marks a new
//! source ready spuriously, which costs one `WouldBlock` and nothing else.
//!
//! # Shutdown
//!
//! When the runtime closes it calls [`Reactor::shut_down`]: from then on
//! every operation fails with a clear error instead of waiting for a driver
//! that no longer runs, and every waiter is woken to see it.

use crate::readiness::{Direction, ScheduledIo};
use polling::{Event, Events, PollMode, Poller};
use slab::Slab;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An event buffer and the sources its events belong to, reused across waits.
struct Buffers {
    events: Events,
    ready: Vec<(Arc<ScheduledIo>, Event)>,
}

impl Buffers {
    fn new() -> Self {
        Buffers {
            events: Events::new(),
            ready: Vec::new(),
        }
    }
}

/// One runtime's I/O driver. The runtime creates it, keeps it in the
/// thread context of its workers and `block_on` threads ([`enter`]), and
/// drives it; sockets find it through that context. Applications never use
/// it directly.
///
/// [`enter`]: crate::enter
pub struct Reactor {
    poller: Poller,
    sources: Mutex<Slab<Arc<ScheduledIo>>>,
    /// Sources registered now: `poll_now` does nothing while it is zero.
    registered: AtomicUsize,
    shut_down: AtomicBool,
    /// The driver's buffers (`wait`).
    driver: Mutex<Buffers>,
    /// The busy workers' buffers (`poll_now`), only ever `try_lock`ed.
    busy: Mutex<Buffers>,
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("registered", &self.registered.load(SeqCst))
            .field("shut_down", &self.shut_down.load(SeqCst))
            .finish_non_exhaustive()
    }
}

impl Reactor {
    /// A reactor with a new poller (an epoll or kqueue instance).
    ///
    /// # Errors
    ///
    /// When the operating system cannot create the poller (out of file
    /// descriptors), or it cannot deliver edge-triggered events.
    pub fn new() -> io::Result<Arc<Reactor>> {
        let poller = Poller::new()?;
        if !poller.supports_edge() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "canopy-io needs edge-triggered readiness, which this platform's poller lacks",
            ));
        }
        Ok(Arc::new(Reactor {
            poller,
            sources: Mutex::new(Slab::new()),
            registered: AtomicUsize::new(0),
            shut_down: AtomicBool::new(false),
            driver: Mutex::new(Buffers::new()),
            busy: Mutex::new(Buffers::new()),
        }))
    }

    /// Blocks until an I/O event, a [`wake`](Self::wake), or `deadline`
    /// (`None`: no timeout), then wakes the tasks whose sources became
    /// ready. Returns how many events were delivered. For the runtime's
    /// driver (module docs); it may return early, spuriously.
    pub fn wait(&self, deadline: Option<Instant>) -> usize {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let mut buffers = self.driver.lock().unwrap_or_else(|e| e.into_inner());
        self.poll_into(&mut buffers, timeout)
    }

    /// Delivers the events that are ready now, without blocking: for busy
    /// workers (module docs). No system call while no source is registered
    /// or another thread polls.
    pub fn poll_now(&self) -> usize {
        if self.registered.load(SeqCst) == 0 {
            return 0;
        }
        let Ok(mut buffers) = self.busy.try_lock() else {
            return 0;
        };
        self.poll_into(&mut buffers, Some(Duration::ZERO))
    }

    /// Makes the thread blocked in [`wait`](Self::wait) return, or the next
    /// `wait` return at once if none is blocked.
    pub fn wake(&self) {
        // Fails only if the notification pipe is broken; the driver then
        // wakes at its timeout, nothing more can be done here.
        let _ = self.poller.notify();
    }

    /// Marks the reactor shut down (its runtime closed): every socket
    /// operation fails from now on, and every waiting one is woken to fail.
    pub fn shut_down(&self) {
        self.shut_down.store(true, SeqCst);
        let sources: Vec<_> = self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, source)| source.clone())
            .collect();
        for source in sources {
            source.wake_all(Direction::Read);
            source.wake_all(Direction::Write);
        }
        self.wake();
    }

    /// Whether [`shut_down`](Self::shut_down) was called.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(SeqCst)
    }

    /// Sources registered now (for tests and metrics).
    pub fn registered(&self) -> usize {
        self.registered.load(SeqCst)
    }

    fn poll_into(&self, buffers: &mut Buffers, timeout: Option<Duration>) -> usize {
        buffers.events.clear();
        if self.poller.wait(&mut buffers.events, timeout).is_err() {
            // EINTR is retried inside `polling`; anything else (EBADF after
            // the poller broke) cannot be acted on here. Spurious return.
            return 0;
        }
        if buffers.events.is_empty() {
            return 0;
        }
        {
            let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
            for event in buffers.events.iter() {
                if let Some(source) = sources.get(event.key) {
                    buffers.ready.push((source.clone(), event));
                }
            }
        }
        let delivered = buffers.ready.len();
        for (source, event) in buffers.ready.drain(..) {
            // A waker is foreign code: its panic must not unwind into the
            // worker driving the reactor, nor keep the other events back.
            let set = AssertUnwindSafe(|| source.set_ready(event.readable, event.writable));
            if catch_unwind(set).is_err() {
                eprintln!("canopy: a waker panicked when its socket became ready; contained");
            }
        }
        delivered
    }

    /// Registers `fd` (edge-triggered, both directions).
    ///
    /// # Safety
    ///
    /// `fd` must be deregistered before it is closed.
    pub(crate) unsafe fn register(
        &self,
        fd: BorrowedFd<'_>,
    ) -> io::Result<(usize, Arc<ScheduledIo>)> {
        if self.is_shut_down() {
            return Err(crate::error::runtime_shut_down());
        }
        let source = Arc::new(ScheduledIo::new());
        let key = self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(source.clone());
        // SAFETY: the caller deregisters `fd` before closing it (this
        // function's contract), which is what `Poller::add` requires.
        let added = unsafe {
            self.poller
                .add_with_mode(&fd, Event::all(key), PollMode::Edge)
        };
        if let Err(e) = added {
            self.sources
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(key);
            return Err(e);
        }
        self.registered.fetch_add(1, SeqCst);
        Ok((key, source))
    }

    /// Undoes [`register`](Self::register); call before closing `fd`.
    pub(crate) fn deregister(&self, fd: impl AsFd, key: usize) {
        // Fails only if the fd is not registered (never, by construction).
        let _ = self.poller.delete(fd.as_fd());
        let removed = self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_remove(key);
        self.registered.fetch_sub(1, SeqCst);
        // Dropped outside the lock: wakers left in it are foreign code.
        drop(removed);
    }
}
