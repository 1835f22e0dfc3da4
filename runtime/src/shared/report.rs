//! Panics nobody received: where they came from, and their report (the
//! hook, or one line on stderr), which never unwinds.

use super::{RootFailed, Shared};
use std::any::Any;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering::Relaxed;

/// Where a panic that nobody receives came from, for its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainedPanic {
    /// A task panicked after its `JoinHandle` was dropped.
    Task,
    /// Dropping a task's future or output panicked where no `JoinHandle`
    /// could receive it (a second panic, or an output nobody took).
    Drop,
    /// A waker that a task's code handed to canopy (a combinator's: the
    /// awaiter of a `JoinHandle`, a primitive's leaf waker) panicked when
    /// woken or dropped.
    Waker,
    /// A waker that a firing timer woke panicked.
    TimerWaker,
    /// The `on_thread_stop` hook panicked.
    ThreadStopHook,
    /// The `on_stuck_poll` hook panicked.
    StuckPollHook,
}

/// The default report of a contained panic: one line on stderr (the panic
/// hook has already printed the message and location). A write error is
/// ignored.
fn write_report(what: ContainedPanic, payload: &(dyn Any + Send)) {
    let message = crate::task::join::payload_message(payload).unwrap_or("<non-string payload>");
    let what = match what {
        ContainedPanic::Task => {
            "a task panicked after its JoinHandle was dropped, so nobody received the panic"
        }
        ContainedPanic::Drop => {
            "dropping a task's future or output panicked where no JoinHandle could receive \
             the panic; it was contained"
        }
        ContainedPanic::Waker => {
            "a waker that a task's code handed to canopy (a combinator's) panicked when woken \
             or dropped; it was contained, and the code it belongs to may not have been \
             woken (a waker must not panic)"
        }
        ContainedPanic::TimerWaker => {
            "a waker panicked when the timer it waited on fired; the panic was contained \
             and the other timers were fired"
        }
        ContainedPanic::ThreadStopHook => {
            "the on_thread_stop hook panicked as a worker thread stopped; it was contained"
        }
        ContainedPanic::StuckPollHook => {
            "the on_stuck_poll hook panicked; it was contained, and is called again for the \
             next stuck poll"
        }
    };
    let _ = writeln!(std::io::stderr(), "canopy: {what}: {message}");
}

/// Reports a contained panic on a thread that serves no runtime (an output
/// dropped with its `JoinHandle` there): stderr only, since no runtime's
/// counters or hooks are at hand. Never unwinds.
pub(crate) fn report_outside_runtime(what: ContainedPanic, payload: Box<dyn Any + Send>) {
    let _ = catch_unwind(AssertUnwindSafe(|| write_report(what, payload.as_ref())));
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
}

impl Shared {
    /// Reports a panic that no `JoinHandle` received. Runs on a worker (or
    /// wherever a handle is dropped): a panicking hook, or a failing stderr,
    /// must not unwind from here, so both are contained.
    pub(crate) fn report_unobserved_panic(&self, payload: Box<dyn Any + Send>) {
        self.report_contained_panic(ContainedPanic::Task, payload);
    }

    /// Reports the panic of a waker that a firing timer woke (the timer
    /// driver's hook): nobody else can receive it, so it is an unobserved
    /// panic like a task's, under the same hook, count and root policy.
    pub(crate) fn report_waker_panic(&self, payload: Box<dyn Any + Send>) {
        self.report_contained_panic(ContainedPanic::TimerWaker, payload);
    }

    /// Reports a panic of user code that nobody receives (`what` says where
    /// it happened): counts it in `unobserved_panics`, gives it to the
    /// `on_unobserved_panic` hook or stderr, and applies the root failure
    /// policy. Never unwinds (see `report_unobserved_panic`).
    pub(crate) fn report_contained_panic(
        &self,
        what: ContainedPanic,
        payload: Box<dyn Any + Send>,
    ) {
        self.unobserved_panics.fetch_add(1, Relaxed);
        let report = AssertUnwindSafe(|| match &self.config.on_unobserved_panic {
            Some(hook) => hook(payload.as_ref()),
            None => write_report(what, payload.as_ref()),
        });
        if catch_unwind(report).is_err() {
            let _ = writeln!(
                std::io::stderr(),
                "canopy: the on_unobserved_panic hook panicked; the panic was contained"
            );
        }
        if let Some(RootFailed::Panic(payload)) = self.fail_root(RootFailed::Panic(payload)) {
            // Dropping the payload runs user code too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        }
    }
}
