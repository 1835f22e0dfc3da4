//! `TaskScope`: for runtimes — the scope context of a task spawned under a
//! scope (a task group's child), so the task's checkpoints see that scope's
//! cancellation and a cancel wakes the task.
//!
//! A task is polled from the top of its own stack, where no `Run` frame of
//! the spawning task exists, so its root node sits in the tree under the
//! spawning scope and the task reads the cancellation from the tree. That
//! would mean a walk up the chain at every poll; instead each walk that
//! reaches the root bumps its `epoch`, and a poll walks the chain only when
//! the epoch moved (DESIGN §3): one atomic load on the fast path.

use crate::context::{self, Frame, Slot};
use crate::driver::NO_DEADLINE;
use crate::loom::atomic::{Ordering::SeqCst, fence};
use crate::node::Node;
use crate::scope::CancelScope;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll};

/// The root scope of a task spawned under a [`CancelScope`]. Runtimes wrap
/// the task's polls in [`TaskScope::poll`]; applications use task groups.
pub struct TaskScope {
    slot: Slot,
    /// The root's epoch and the runtime root when `origin` was computed.
    epoch: Cell<Option<(u32, *const Node)>>,
    /// The cancellation the task sees (outermost cancelled scope), or null.
    origin: Cell<*const Node>,
}

// SAFETY: `origin` points into the node chain that `slot` keeps alive
// (parents are held by their children), whichever thread holds the
// `TaskScope`; the cells are only used by the thread polling the task.
unsafe impl Send for TaskScope {}

impl TaskScope {
    /// A task root under `parent`: cancelling `parent` (or a scope around it)
    /// cancels the task's checkpoints and wakes it.
    pub fn new(parent: &CancelScope) -> TaskScope {
        let node = Node::new(NO_DEADLINE, false);
        node.try_enter();
        node.link_owned(parent.node());
        // Its deadline (set through `scope()`) is armed like any scope's.
        node.activate(crate::driver::current_driver());
        let slot = Slot::new(Some(node), NO_DEADLINE);
        slot.linked.set(true);
        TaskScope {
            slot,
            epoch: Cell::new(None),
            origin: Cell::new(ptr::null()),
        }
    }

    /// Polls the task's future inside its root scope.
    pub fn poll<F: Future + ?Sized>(
        &self,
        future: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        // Register before reading the epoch: a cancel that found no waker
        // bumped the epoch before we read it.
        if self.slot.refresh_waker(cx.waker()) {
            fence(SeqCst);
        }
        let node = self.slot.node();
        let epoch = (node.epoch(), crate::context::current_root());
        if self.epoch.get() != Some(epoch) {
            self.origin.set(node.effective_origin());
            self.epoch.set(Some(epoch));
        }
        let frame = Frame {
            parent: ptr::null(),
            slot: &self.slot,
            waker: cx.waker(),
            origin: Cell::new(self.origin.get()),
        };
        let _frame = context::push(&frame);
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
        let node = self.slot.node();
        node.deactivate(false);
        node.unlink_owned_if_orphaned();
    }
}

impl fmt::Debug for TaskScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskScope")
            .field("scope", &self.slot.node().id())
            .finish_non_exhaustive()
    }
}
