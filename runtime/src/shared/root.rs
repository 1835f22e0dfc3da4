//! The root scope above every task (cancelled by a graceful shutdown, a
//! signal, or a root failure under `RootFailure::CancelRoot`) and the
//! root-failure policy.

use super::Shared;
use std::any::Any;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

/// How a root task failed with nobody to receive it, kept under
/// `RootFailure::CancelRoot` for `block_on` to surface.
#[derive(Debug)]
pub(crate) enum RootFailed {
    /// A panic, whose payload `block_on` resumes (the panic hook already
    /// printed it where it happened).
    Panic(Box<dyn Any + Send>),
    /// An error a `spawn_detached` task returned, as the message `block_on`
    /// panics with (the error itself went to the hook or stderr).
    Error(String),
}

/// The end of the message `block_on` panics with when a detached task's
/// error failed the root: what happened and what to do instead.
const CANCEL_ROOT_ERROR: &str = "under RootFailure::CancelRoot that fails the root group, \
    which was cancelled. Handle the error inside the task, or spawn it with canopy::spawn \
    and await its JoinHandle if a failure should not stop everything";

impl Shared {
    /// The root scope while it is cancelled: polls run inside it then, so
    /// every task's checkpoints return `Cancelled` (reason `Shutdown`).
    #[inline]
    pub(crate) fn cancelled_root(&self) -> Option<&canopy_scope::CancelScope> {
        self.root_cancelled.load(Relaxed).then_some(&self.root)
    }

    /// The root scope, above every task.
    #[inline]
    pub(crate) fn root(&self) -> &canopy_scope::CancelScope {
        &self.root
    }

    /// Whether a signal arrived for this runtime (`handle_signals`).
    pub(crate) fn was_interrupted(&self) -> bool {
        self.signalled.load(SeqCst)
    }

    /// A signal arrived (`handle_signals`): `true` if it is the first one
    /// for this runtime, which then begins its graceful shutdown.
    pub(crate) fn interrupt(&self) -> bool {
        if self.signalled.swap(true, SeqCst) {
            return false;
        }
        self.cancel_root(canopy_scope::CancelReason::Signal);
        true
    }

    /// Graceful shutdown, step 1: cancel the root scope and wake every
    /// waiting task, so that each sees `Cancelled` at its next checkpoint.
    pub(crate) fn cancel_root(&self, reason: canopy_scope::CancelReason) {
        self.root.cancel_with(reason);
        self.root_cancelled.store(true, SeqCst);
        self.registry.wake_all();
        let block_ons: Vec<_> = self
            .block_ons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, waker)| waker.clone())
            .collect();
        for waker in block_ons {
            std::task::Wake::wake(waker);
        }
    }

    /// Reports an error a `spawn_detached` task returned (not the root's own
    /// cancellation): counts it, gives it to the `on_unobserved_error` hook
    /// or stderr, and applies the root failure policy. Runs on the thread
    /// that polled the task; the hook and the error's `Display` and `Drop`
    /// are user code, contained as in `report_unobserved_panic`.
    pub(crate) fn report_unobserved_error(&self, error: crate::DetachedTaskError) {
        self.unobserved_errors.fetch_add(1, Relaxed);
        let report = AssertUnwindSafe(|| match &self.config.on_unobserved_error {
            Some(hook) => hook(&error),
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "canopy: {error}; nobody awaits the task, so this is its only report \
                     (set Builder::on_unobserved_error to report such errors your way)"
                );
            }
        });
        if catch_unwind(report).is_err() {
            let _ = writeln!(
                std::io::stderr(),
                "canopy: reporting a detached task's error panicked (in the \
                 on_unobserved_error hook, or the error's Display); the panic was contained"
            );
        }
        if self.config.root_failure == crate::builder::RootFailure::CancelRoot {
            let report =
                catch_unwind(AssertUnwindSafe(|| error.to_string())).unwrap_or_else(|_| {
                    format!(
                        "a detached task (spawned at {}) returned an error whose Display panicked",
                        error.location()
                    )
                });
            let message = format!("{report}; {CANCEL_ROOT_ERROR}");
            drop(self.fail_root(RootFailed::Error(message)));
        }
        let _ = catch_unwind(AssertUnwindSafe(move || drop(error)));
    }

    /// Under `RootFailure::CancelRoot`, keeps the first root failure for
    /// `block_on` and cancels the root group (reason `GroupFailed`). Gives
    /// `failure` back if it was not kept (another policy, or not the first).
    pub(super) fn fail_root(&self, failure: RootFailed) -> Option<RootFailed> {
        if self.config.root_failure != crate::builder::RootFailure::CancelRoot {
            return Some(failure);
        }
        let mut first = self.root_failure.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_some() {
            return Some(failure);
        }
        *first = Some(failure);
        drop(first);
        self.cancel_root(canopy_scope::CancelReason::GroupFailed);
        None
    }

    /// The id of the root scope: a task's error holding a `Cancelled` of
    /// this scope is the root's own cancellation, not a failure.
    pub(crate) fn root_scope_id(&self) -> canopy_scope::ScopeId {
        self.root.id()
    }

    /// The root failure `block_on` surfaces (`RootFailure::CancelRoot`).
    pub(crate) fn take_root_failure(&self) -> Option<RootFailed> {
        self.root_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}
