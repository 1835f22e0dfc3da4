//! SIGINT and SIGTERM: the policy a runtime applies with
//! `Builder::handle_signals(true)` (DESIGN §2.11), and futures for programs
//! that want their own ([`ctrl_c`], [`signals`]).
//!
//! Signals are caught by `signal-hook`'s self-pipe: the handler itself only
//! writes a byte (async-signal-safe); one process-wide thread reads the pipe
//! and does the rest — counts the signal, wakes the futures waiting for one,
//! and applies the runtimes' policy. Catching starts the first time either
//! is used; from then on SIGINT and SIGTERM no longer kill the process by
//! themselves (a runtime with `handle_signals` exits on the second one).

use crate::shared::Shared;
use canopy_scope::Cancelled;
use slab::Slab;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll, Waker};

/// A termination signal canopy listens for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

/// The exit code of a process ended by a second signal (128 + SIGINT, as a
/// shell reports a Ctrl-C).
pub const INTERRUPTED_EXIT_CODE: i32 = 130;

#[derive(Default)]
struct Hub {
    /// Every signal received so far, in order.
    received: Vec<Signal>,
    /// One slot per waiting [`Signals`] stream (a `CtrlC` holds one), owned
    /// by that stream: it takes the slot when it first waits and frees it
    /// when it receives a signal or is dropped, so a dropped future leaves
    /// nothing behind (its waker would keep its task's allocation, and the
    /// runtime, alive until the next signal). A signal takes the wakers out
    /// to wake them and leaves the slots; a stream that waits again puts its
    /// waker back.
    waiters: Slab<Option<Waker>>,
    /// Runtimes built with `handle_signals(true)`.
    runtimes: Vec<Weak<Shared>>,
}

fn hub() -> &'static Mutex<Hub> {
    static HUB: OnceLock<Mutex<Hub>> = OnceLock::new();
    HUB.get_or_init(|| {
        start_listener();
        Mutex::new(Hub::default())
    })
}

fn lock() -> std::sync::MutexGuard<'static, Hub> {
    hub().lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(unix)]
fn start_listener() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("canopy: cannot listen for SIGINT/SIGTERM: {error}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("canopy-signals".into())
        .spawn(move || {
            for number in signals.forever() {
                let signal = if number == SIGTERM {
                    Signal::Terminate
                } else {
                    Signal::Interrupt
                };
                deliver(signal);
            }
        });
    if let Err(error) = spawned {
        eprintln!("canopy: cannot start the signal thread: {error}");
    }
}

#[cfg(not(unix))]
fn start_listener() {}

/// On the signal thread: record the signal, wake the waiters, apply the
/// runtimes' policy — the first signal cancels each runtime's root scope
/// (graceful shutdown), the second exits the process at once.
fn deliver(signal: Signal) {
    // Nothing here may kill this thread (a panicking waker, a closed
    // stderr): later signals would then go unanswered.
    let _ = std::panic::catch_unwind(|| deliver_inner(signal));
}

fn deliver_inner(signal: Signal) {
    let (waiters, runtimes) = {
        let mut hub = lock();
        hub.received.push(signal);
        hub.runtimes.retain(|r| r.strong_count() > 0);
        let runtimes: Vec<_> = hub.runtimes.iter().filter_map(Weak::upgrade).collect();
        let waiters: Vec<Waker> = hub
            .waiters
            .iter_mut()
            .filter_map(|(_, waker)| waker.take())
            .collect();
        (waiters, runtimes)
    };
    for waker in waiters {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
    }
    apply_policy(signal, &runtimes);
}

/// The policy of `handle_signals`, per runtime: a signal is its first if its
/// root was not interrupted yet (signals before it was built, or awaited
/// through `ctrl_c`, do not count) and cancels its root; a second one exits
/// the process.
fn apply_policy(signal: Signal, runtimes: &[Arc<Shared>]) {
    let mut again = false;
    for shared in runtimes {
        if shared.interrupt() {
            say(&format!(
                "canopy: received {signal}; shutting down gracefully \
                 (send it again to exit at once)"
            ));
        } else {
            again = true;
        }
    }
    if again {
        say(&format!("canopy: received {signal} again; exiting at once"));
        std::process::exit(INTERRUPTED_EXIT_CODE);
    }
}

/// A line on stderr; a write error is ignored (never a panic).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// How many signals were received so far, for a runtime being built with
/// `handle_signals(true)`: called as `build` begins. Starts catching
/// SIGINT and SIGTERM, so a signal that arrives while the runtime is built
/// is recorded rather than killing the process, and [`handle_for`] applies
/// it to the new runtime.
pub(crate) fn received_so_far() -> usize {
    lock().received.len()
}

/// Makes `shared` follow the signal policy (`Builder::handle_signals`).
/// `seen` is what [`received_so_far`] returned as its `build` began: the
/// signals received since then were delivered before `shared` could be
/// found, so they are applied to it here, in order (the first begins its
/// graceful shutdown, a second exits the process, as if `shared` had been
/// registered all along). Registering and reading the log under one lock
/// makes each signal reach `shared` exactly once: by the signal thread, if
/// it recorded the signal after this registration, or here.
pub(crate) fn handle_for(shared: &Arc<Shared>, seen: usize) {
    let missed: Vec<Signal> = {
        let mut hub = lock();
        hub.runtimes.push(Arc::downgrade(shared));
        hub.received.get(seen..).unwrap_or_default().to_vec()
    };
    for signal in missed {
        apply_policy(signal, std::slice::from_ref(shared));
    }
}

/// Waits for the next SIGINT (Ctrl-C) received after this call. A
/// checkpoint: `Err(Cancelled)` if the enclosing scope is cancelled first.
///
/// Using it starts catching SIGINT and SIGTERM, which then no longer kill
/// the process by themselves: act on them (or build the runtime with
/// `handle_signals(true)`).
///
/// ```no_run
/// # let rt = canopy_runtime::Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     canopy_runtime::signal::ctrl_c().await?;
///     println!("interrupted");
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn ctrl_c() -> CtrlC {
    CtrlC {
        stream: signals_at(Location::caller()),
    }
}

/// The future of [`ctrl_c`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct CtrlC {
    stream: Signals,
}

impl Future for CtrlC {
    type Output = Result<(), Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match std::task::ready!(self.stream.poll_recv(cx)) {
                Ok(Signal::Interrupt) => return Poll::Ready(Ok(())),
                Ok(Signal::Terminate) => continue,
                Err(cancelled) => return Poll::Ready(Err(cancelled)),
            }
        }
    }
}

/// The SIGINTs and SIGTERMs received from now on, in order, for programs
/// with a policy of their own. Starts catching them (see [`ctrl_c`]).
#[track_caller]
pub fn signals() -> Signals {
    signals_at(Location::caller())
}

fn signals_at(location: &'static Location<'static>) -> Signals {
    let seen = lock().received.len();
    Signals {
        seen,
        location,
        waiter: None,
    }
}

/// The stream made by [`signals`].
///
/// While it waits it has a slot in the process-wide list of waiters; it
/// gives the slot back when it receives a signal or is dropped, so a
/// dropped `ctrl_c()` (the losing branch of a select, say) holds no waker.
#[derive(Debug)]
pub struct Signals {
    /// How many signals of the process-wide log this stream has seen.
    seen: usize,
    location: &'static Location<'static>,
    /// This stream's slot in `Hub::waiters`, while it has one.
    waiter: Option<usize>,
}

impl Signals {
    /// Waits for the next signal. A checkpoint.
    pub async fn recv(&mut self) -> Result<Signal, Cancelled> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next signal (for hand-written futures and streams).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Signal, Cancelled>> {
        // A waker replaced or freed here is dropped after the lock is
        // released: dropping a waker can run arbitrary code.
        let replaced = {
            let mut hub = lock();
            if let Some(&signal) = hub.received.get(self.seen) {
                self.seen += 1;
                let freed = self
                    .waiter
                    .take()
                    .and_then(|key| hub.waiters.try_remove(key));
                drop(hub);
                drop(freed);
                return Poll::Ready(Ok(signal));
            }
            match self.waiter.and_then(|key| hub.waiters.get_mut(key)) {
                Some(Some(waker)) if waker.will_wake(cx.waker()) => None,
                Some(slot) => slot.replace(cx.waker().clone()),
                None => {
                    self.waiter = Some(hub.waiters.insert(Some(cx.waker().clone())));
                    None
                }
            }
        };
        drop(replaced);
        // Waiting: a cancel point.
        match std::task::ready!(canopy_scope::poll_cancelled(cx, self.location)) {
            Err(cancelled) => {
                self.stop_waiting();
                Poll::Ready(Err(cancelled))
            }
            Ok(()) => Poll::Pending,
        }
    }

    /// Gives this stream's slot in the list of waiters back.
    fn stop_waiting(&mut self) {
        if let Some(key) = self.waiter.take() {
            let freed = lock().waiters.try_remove(key);
            drop(freed);
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

/// How many `ctrl_c()` / `signals()` waiters hold a slot in the process-wide
/// list (for tests: a dropped future must hold none).
#[doc(hidden)]
pub fn registered_waiters() -> usize {
    lock().waiters.len()
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}
