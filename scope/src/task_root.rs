//! `TaskScope`: for runtimes — the root scope of a task spawned under a scope
//! (a task group's child, or a task being started), so the task's
//! checkpoints see that scope's cancellation and a cancel wakes the task.
//!
//! A task is polled from the top of its own stack, where no frame of the
//! spawning task exists, so its root node sits in the tree under the
//! spawning scope and the task reads the cancellation from the tree. That
//! would mean a walk up the chain at every poll; instead the origin found is
//! kept with the task's cancel word and the root scope's state at that time
//! (`task_context.rs`): every walk that reaches the root node bumps the word,
//! so a poll walks the chain only when something changed (DESIGN §3).

use crate::frame::{self, Frame, Slot};
use crate::loom::atomic::{Ordering::SeqCst, fence};
use crate::node::Node;
use crate::scope::CancelScope;
use crate::task_context;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The root scope of a task spawned under a [`CancelScope`]. Runtimes wrap
/// the task's polls in [`TaskScope::poll`]; applications use task groups.
pub struct TaskScope {
    slot: Slot,
    /// The origin below was computed for this snapshot of the task's word
    /// and the root's state (`None`: never).
    seen: Cell<Option<u64>>,
    /// The cancellation the task sees (outermost cancelled scope), or null.
    origin: Cell<*const Node>,
}

// SAFETY: `origin` points into the node chain that `slot` keeps alive
// (parents are held by their children), whichever thread holds the
// `TaskScope`; the cells are only used by the thread polling the task.
unsafe impl Send for TaskScope {}

impl TaskScope {
    /// A task root under `parent`: cancelling `parent` (or a scope around it)
    /// cancels the task's checkpoints and wakes it. If `parent` is a scope
    /// the calling poll entered and has not linked yet, it is linked first,
    /// so the task sees what `parent` sees from its first poll on.
    pub fn new(parent: &CancelScope) -> TaskScope {
        frame::materialize_if_current(parent.node());
        Self::under(Some(parent.node()))
    }

    /// A task root under the innermost scope of the code polled right now
    /// (linking it if needed), or at the top (under the runtime's root) when
    /// that code is in no scope: for a task that runs under its caller's
    /// scope until it has started (Trio's `nursery.start`).
    pub fn under_current() -> TaskScope {
        Self::under(frame::current_node().as_ref())
    }

    fn under(parent: Option<&Arc<Node>>) -> TaskScope {
        let node = Node::new(crate::driver::NO_DEADLINE, false);
        node.try_enter();
        match parent {
            Some(parent) => node.link_owned(parent),
            None => node.link_top(),
        }
        // Its deadline (set through `scope()`) is armed like any scope's.
        node.activate(crate::driver::current_driver());
        let slot = Slot::new(Some(node), crate::driver::NO_DEADLINE);
        slot.linked.set(true);
        TaskScope {
            slot,
            seen: Cell::new(None),
            origin: Cell::new(ptr::null()),
        }
    }

    /// Polls the task's future inside its root scope.
    pub fn poll<F: Future + ?Sized>(
        &self,
        future: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        let node = self.slot.node();
        if self.seen.get().is_none() {
            // First poll: this task hosts the node from now on.
            if let Some(word) = task_context::current_word() {
                node.record_word(&word);
            }
        }
        // Register before taking the snapshot: a cancel that found no
        // waker bumped the word before we read it.
        if self.slot.refresh_waker(cx.waker()) {
            fence(SeqCst);
        }
        let now = task_context::snapshot_top();
        if self.seen.get() != Some(now) {
            self.origin.set(node.effective_origin());
            self.seen.set(Some(now));
        }
        let frame = Frame {
            parent: ptr::null(),
            slot: &self.slot,
            waker: cx.waker(),
            origin: Cell::new(self.origin.get()),
        };
        if !frame.origin.get().is_null() && !self.slot.leaves.is_empty() {
            self.slot.leaves.flush();
        }
        let _frame = task_context::push(&frame);
        future.poll(cx)
    }

    /// The id of the task's root scope.
    pub fn id(&self) -> crate::ScopeId {
        self.slot.node().id()
    }

    /// A handle to the task's own root scope (to cancel just this task).
    pub fn scope(&self) -> CancelScope {
        CancelScope::from_node(self.slot.node().clone())
    }
}

impl Drop for TaskScope {
    fn drop(&mut self) {
        self.slot.node().deactivate(false);
        // A task moving to another root (a started child joining its group)
        // keeps waiting below: its waiters must learn of the new root's
        // state, so they are woken (a spurious wake-up when the task ends).
        self.slot.leaves.flush();
    }
}

impl fmt::Debug for TaskScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskScope")
            .field("scope", &self.slot.node().id())
            .finish_non_exhaustive()
    }
}
