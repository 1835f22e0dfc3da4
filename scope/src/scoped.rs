//! `Scoped`: the future that runs a body inside a scope — enters it on the
//! first poll, pushes its frame around every poll of the body, links it into
//! the tree when the body waits, and decides at exit whether this scope
//! catches the cancellation (DESIGN §2.4). The public futures (`Run`,
//! `RunOrFail`, `FailAt`) only map its outcome.

use crate::cancelled::{CancelError, CancelReason, ScopeId};
use crate::driver::{self, NO_DEADLINE};
use crate::frame::{self, Frame, Slot};
use crate::loom::atomic::{Ordering::SeqCst, fence};
use crate::node::Node;
use crate::task_context;
use pin_project_lite::pin_project;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How the scope's deadline is given.
pub(crate) enum Start {
    /// A `CancelScope` handle: the node exists, its deadline is in it.
    Handle,
    /// A handle with a relative deadline: this long after entry (or the
    /// node's own deadline, if earlier).
    HandleAfter(Duration),
    /// `*_after`: the deadline is this long after the scope is entered.
    After(Duration),
    /// `*_at`: a fixed deadline.
    At(Instant),
}

/// How a body inside a scope ended.
pub(crate) enum Outcome<T, E> {
    Completed(T),
    /// This scope caught a cancellation of its own.
    Caught(CancelReason, ScopeId),
    Failed(E),
}

#[derive(PartialEq, Eq)]
enum Phase {
    Unentered,
    Entered,
    Exited,
}

pin_project! {
    pub(crate) struct Scoped<F> {
        #[pin]
        body: F,
        slot: Slot,
        start: Start,
        phase: Phase,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.phase == Phase::Entered {
                // Dropped mid-flight (a select went the other way, a task
                // group was abandoned): whatever still runs under this scope
                // — tasks hung below it — is cancelled, so nothing runs on
                // unsupervised.
                // (A waker's panic on the way is contained: the scope must
                // still leave the tree.)
                if let Some(node) = this.slot.node.get() {
                    if this.slot.linked.get() {
                        node.cancel_quietly(CancelReason::Explicit);
                    }
                }
                leave(this.slot, false);
            }
        }
    }
}

impl<F> Scoped<F> {
    pub(crate) fn new(body: F, node: Option<Arc<Node>>, start: Start) -> Self {
        Scoped {
            body,
            slot: Slot::new(node, NO_DEADLINE),
            start,
            phase: Phase::Unentered,
        }
    }

    fn enter(slot: &Slot, start: &Start) {
        match *start {
            Start::Handle | Start::HandleAfter(_) => {
                let node = slot.node();
                assert!(
                    node.try_enter(),
                    "CancelScope entered twice: a scope can be entered once (it is \
                     already running, or has exited). Create a new CancelScope for \
                     each run."
                );
                if let Start::HandleAfter(duration) = *start {
                    // The clock starts now; an earlier deadline set on the
                    // handle stays.
                    if let Some(after) = driver::now().checked_add(duration) {
                        if node.deadline().is_none_or(|set| after < set) {
                            node.set_deadline(Some(after));
                        }
                    }
                }
                // Anyone may cancel it through a handle, from any thread:
                // such a cancel must reach this task's running poll.
                if let Some(word) = task_context::current_word() {
                    node.record_word(&word);
                }
                // Dekker with a canceller on another thread (its bit, then
                // its read of the word): it bumps our word, or the frame's
                // origin computed next sees its bit.
                fence(SeqCst);
                // A deadline already passed cancels it now (and for good).
                node.cancel_called();
            }
            Start::After(duration) => {
                // The clock starts when the scope is entered (first poll).
                let deadline = driver::now().checked_add(duration);
                slot.deadline.set(driver::encode(deadline));
                if duration.is_zero() {
                    slot.node().cancel(CancelReason::Deadline);
                }
            }
            Start::At(deadline) => {
                slot.deadline.set(driver::encode(Some(deadline)));
                if driver::now() >= deadline {
                    slot.node().cancel(CancelReason::Deadline);
                }
            }
        }
    }
}

impl<F, T, E> Scoped<F>
where
    F: Future<Output = Result<T, E>>,
    E: CancelError,
{
    /// One poll of the body inside the scope.
    ///
    /// The steady state — entered, linked, the same waker as last time —
    /// is the path every poll of a long-lived scope takes, inlined into the
    /// enclosing future (nested scopes become one function): compute the
    /// frame, push it, poll the body. Everything else (entering, linking,
    /// a new waker, leaves to wake, exiting) is out of line.
    #[inline]
    pub(crate) fn poll_outcome(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<T, E>> {
        let mut this = self.project();
        let slot: &Slot = this.slot;
        if *this.phase != Phase::Entered || !slot.is_steady(cx.waker()) || !slot.leaves.is_empty() {
            return Self::poll_unsteady(this.body, slot, this.start, this.phase, cx);
        }
        let enclosing = task_context::enclosing();
        let frame = Frame {
            parent: enclosing.frame,
            slot,
            waker: cx.waker(),
            origin: Cell::new(frame::visible_origin(slot.node.get(), enclosing.origin)),
        };
        let polled = {
            let _frame = task_context::push_on(enclosing.state, &frame);
            this.body.as_mut().poll(cx)
        };
        match polled {
            Poll::Pending => {
                if !slot.leaves.is_empty() {
                    wake_leaves_if_cancelled(&frame);
                }
                Poll::Pending
            }
            Poll::Ready(result) => Poll::Ready(exit(slot, this.phase, &frame, result)),
        }
    }

    /// `poll_outcome` off the steady path: the first poll (enter), a scope
    /// not linked yet, a waker that changed, leaves waiting below.
    #[inline(never)]
    fn poll_unsteady(
        mut body: Pin<&mut F>,
        slot: &Slot,
        start: &Start,
        phase: &mut Phase,
        cx: &mut Context<'_>,
    ) -> Poll<Outcome<T, E>> {
        match phase {
            Phase::Unentered => {
                Self::enter(slot, start);
                *phase = Phase::Entered;
            }
            Phase::Entered => {}
            Phase::Exited => panic!("a cancel scope's future was polled after it completed"),
        }
        let enclosing = task_context::enclosing();
        let frame = Frame {
            parent: enclosing.frame,
            slot,
            waker: cx.waker(),
            origin: Cell::new(frame::visible_origin(slot.node.get(), enclosing.origin)),
        };
        if !slot.linked.get() && slot.deadline_bits() != NO_DEADLINE {
            // Its timer is not armed yet: the first check inside links it,
            // so the deadline fires even if this poll never returns.
            enclosing.mark_stale();
        }
        if !frame.origin.get().is_null() && !slot.leaves.is_empty() {
            wake_leaves(slot);
        }
        let polled = {
            let _frame = task_context::push_on(enclosing.state, &frame);
            body.as_mut().poll(cx)
        };
        let Poll::Ready(result) = polled else {
            if slot.linked.get() {
                if slot.refresh_waker(cx.waker()) {
                    // A new waker: a cancel walking meanwhile may have woken
                    // only the old one. Re-read the tree, as `materialize`.
                    fence(SeqCst);
                    let now = slot.node().effective_origin();
                    if frame.origin.get().is_null() && !now.is_null() {
                        cx.waker().wake_by_ref();
                    }
                }
            } else {
                frame::materialize(&frame);
            }
            if !slot.leaves.is_empty() {
                wake_leaves_if_cancelled(&frame);
            }
            return Poll::Pending;
        };
        Poll::Ready(exit(slot, phase, &frame, result))
    }
}

/// The scope is cancelled: wake the primitives waiting below with wakers of
/// their own, so that they are polled and see it. (A waker's panic goes to
/// this task, after all were woken.)
#[cold]
#[inline(never)]
fn wake_leaves(slot: &Slot) {
    if let Some(payload) = slot.leaves.flush() {
        std::panic::resume_unwind(payload);
    }
}

/// After a pending poll with leaves: if the scope was cancelled during the
/// poll after primitives below went to sleep with wakers of their own (the
/// walk may have come before we were linked, or a later check saw it
/// first), wake them now, or nobody would.
#[cold]
#[inline(never)]
fn wake_leaves_if_cancelled(frame: &Frame) {
    if !frame::refresh(frame).is_null() {
        // SAFETY: the frame's slot is the caller's, alive meanwhile.
        wake_leaves(unsafe { &*frame.slot });
    }
}

/// The body finished: decide whether this scope caught the cancellation
/// (DESIGN §2.4), and leave the tree.
#[inline(never)]
fn exit<T, E: CancelError>(
    slot: &Slot,
    phase: &mut Phase,
    frame: &Frame,
    result: Result<T, E>,
) -> Outcome<T, E> {
    *phase = Phase::Exited;
    // The cancellation the body saw last (a cancel made by the body itself
    // updated it).
    let origin = frame.origin.get();
    let node = slot.node.get();
    let outcome = match result {
        Ok(value) => Outcome::Completed(value),
        Err(error) => match node {
            Some(node) if ptr::eq(origin, Arc::as_ptr(node)) && error.as_cancelled().is_some() => {
                Outcome::Caught(node.reason(), node.id())
            }
            _ => Outcome::Failed(error),
        },
    };
    leave(slot, matches!(outcome, Outcome::Caught(..)));
    outcome
}

/// Takes the scope out of the tree: unlinks it, disarms its deadline, marks
/// it exited.
fn leave(slot: &Slot, caught: bool) {
    if let Some(node) = slot.node.get() {
        if slot.linked.get() {
            if node.parent().is_none() {
                task_context::forget_top(node);
            }
            node.unlink();
        }
        node.deactivate(caught);
    }
    slot.set_registered(None);
}
