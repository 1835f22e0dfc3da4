//! `block_on`: drive a future to completion on the calling thread.
//!
//! The calling thread is not a worker: it polls only the future it was given
//! and sleeps on a parker of its own in between. Tasks spawned from it go to
//! the global queue. Several threads may `block_on` on one runtime at once.
//! Each call allocates one small waker (it counts the thread as active for
//! the paused clock's auto-advance); a `block_on` call is not a hot path.
//!
//! # After the workers stop
//!
//! A `block_on` call outlives the runtime's workers: it runs on its caller's
//! thread, which a hard shutdown cannot stop, and may even start after the
//! `Runtime` was dropped (through a `Handle`). Its timers keep working
//! (DESIGN §4): once the runtime is closed, nobody else fires them, so the
//! waiting thread does, sleeping until the earliest deadline as a timer
//! "watcher" (see canopy-timer's `driver.rs`) and firing what is due, or on
//! a paused clock moving it on when every `block_on` thread is idle. Closing
//! the runtime unparks every `block_on` thread so that it starts doing this,
//! and while the runtime is closed, arming a timer unparks them all to look
//! at the new deadline. Tasks it spawns then are dropped at once.

pub(crate) mod state;

use crate::block_on::state::CallState;
use crate::context;
use crate::scheduler::park::Parker;
use crate::shared::{RootFailed, Shared};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};

/// Wakes the thread blocked in one `block_on` call, and counts it as active
/// from the moment it is woken (see `block_on/state.rs`). It may outlive
/// its call; waking it then does nothing that lasts.
#[derive(Debug)]
pub(crate) struct BlockOnWaker {
    parker: Parker,
    state: CallState,
    shared: Arc<Shared>,
    /// The thread blocked in the call (`Runtime::shutdown` does not wait for
    /// a call on its own thread).
    thread: ThreadId,
}

impl BlockOnWaker {
    /// Unparks the thread without waking its future: it looks again at what
    /// it waits for (the runtime closed, or a timer was armed meanwhile).
    pub(crate) fn unpark(&self) {
        self.parker.unpark();
    }

    /// Whether the call blocks the current thread.
    pub(crate) fn is_on_this_thread(&self) -> bool {
        self.thread == thread::current().id()
    }

    fn notify(&self) {
        self.state.notify(&self.shared.block_on_active);
    }

    fn try_idle(&self) -> bool {
        self.state.try_idle(&self.shared.block_on_active)
    }

    fn leave(&self) {
        self.state.leave(&self.shared.block_on_active);
    }
}

impl Wake for BlockOnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notify();
        self.parker.unpark();
    }
}

/// This call's waker, registered while it runs for root cancels, for
/// shutdown (which waits for it, and unparks it when the workers stop) and
/// for timers armed after the workers stopped.
struct BlockOnEntry<'a> {
    shared: &'a Shared,
    key: usize,
}

impl<'a> BlockOnEntry<'a> {
    fn new(shared: &'a Shared, waker: &Arc<BlockOnWaker>) -> Self {
        let key = shared.add_block_on(waker);
        BlockOnEntry { shared, key }
    }
}

impl Drop for BlockOnEntry<'_> {
    fn drop(&mut self) {
        self.shared.remove_block_on(self.key);
    }
}

/// Counts the thread out when `block_on` returns or unwinds.
struct Leave<'a>(&'a BlockOnWaker);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.leave();
        // Another thread may have gone idle while this one was counted
        // active (woken for its last poll), and so not moved a paused clock
        // on: nobody would, were this the last call to return. Look now.
        self.0.shared.maybe_auto_advance();
    }
}

/// Waits, as a `block_on` thread of a closed runtime, for the next thing
/// that may concern it: the workers have stopped, so this thread fires the
/// timers itself (module docs, "After the workers stop"). Returns when
/// unparked, or after firing the timers due by the earliest deadline.
fn park_firing_timers(shared: &Shared, parker: &Parker) {
    let timers = &shared.timers;
    if timers.is_paused() {
        // Jumps if every `block_on` thread is idle (this one included).
        shared.maybe_auto_advance();
        parker.park();
        return;
    }
    match timers.prepare_watch() {
        Some(deadline) => parker.park_until(deadline),
        None => parker.park(),
    }
    timers.finish_watch();
    timers.process();
}

#[track_caller]
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let _context = context::enter_block_on(shared);
    let signal = Arc::new(BlockOnWaker {
        parker: Parker::new(),
        state: CallState::new(),
        shared: shared.clone(),
        thread: thread::current().id(),
    });
    signal.notify();
    let _leave = Leave(&signal);
    let waker = Waker::from(signal.clone());
    // Found by a root cancel (graceful shutdown, signal, root failure),
    // which wakes tasks through the registry; this future is not a task.
    let _registered = BlockOnEntry::new(shared, &signal);
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    // This call's scope context, as a task's (cancel word, budget, leaves).
    let scope = canopy_scope::rt::TaskContext::default();
    loop {
        signal.state.begin_poll();
        let polled = scope.enter(
            &waker,
            shared.config.checkpoint_budget,
            Some(shared.root()),
            || future.as_mut().poll(&mut cx),
        );
        if let Poll::Ready(output) = polled {
            // A root task failed under `RootFailure::CancelRoot`: surface it
            // here, where the program waits. A panic is resumed as it was
            // (the panic hook printed it where it happened); an error becomes
            // a panic with its message, attributed to the `block_on` call.
            match shared.take_root_failure() {
                None => {}
                Some(RootFailed::Panic(payload)) => std::panic::resume_unwind(payload),
                Some(RootFailed::Error(message)) => panic!("{message}"),
            }
            return output;
        }
        if !signal.try_idle() {
            continue; // woken during the poll
        }
        // On a paused clock, the last one to go idle moves time on (which may
        // wake this very future).
        shared.maybe_auto_advance();
        // Poll again only once woken (and so counted active): a token left
        // in the parker by a wake we already handled must not start an
        // uncounted poll.
        while !signal.state.is_active() {
            if shared.is_closed() {
                park_firing_timers(shared, &signal.parker);
            } else {
                signal.parker.park();
            }
        }
    }
}
