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
use crate::node::{Node, STARTING};
use crate::scope::CancelScope;
use crate::task_context;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Reap a caller's finished proxies once this many piled up.
const PROXY_REAP_BATCH: u32 = 64;

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

    /// A task root under `group` for a task being started (Trio's
    /// `nursery.start`): until [`finish_starting`](Self::finish_starting),
    /// the task sees the cancellation of the innermost scope of the code
    /// polled right now (its caller's), not `group`'s, and a cancel of the
    /// caller's scope wakes it. Its scopes stay under this one root
    /// throughout, so a cancel of the group reaches them once it started.
    pub fn starting(group: &CancelScope) -> TaskScope {
        frame::materialize_if_current(group.node());
        let caller = frame::current_node();
        let proxy = Node::new(crate::driver::NO_DEADLINE, false);
        proxy.try_enter();
        match &caller {
            Some(caller) => {
                // Proxies of children that started are reaped in batches
                // (amortized O(1) each), so the caller's list stays short.
                if caller.exited_proxies.load(SeqCst) >= PROXY_REAP_BATCH {
                    caller.exited_proxies.store(0, SeqCst);
                    caller.reap_exited();
                }
                proxy.link_owned(caller);
            }
            None => proxy.link_top(),
        }
        Self::under_with(Some(group.node()), Some(proxy))
    }

    /// A task root under the innermost scope of the code polled right now
    /// (linked first if it is not yet): for work that runs as part of the
    /// current operation elsewhere (a blocking closure on another thread),
    /// so it sees that operation's cancellation, live. `None` outside any
    /// scope: such work sees only the runtime's root, which the runtime
    /// enters anyway.
    pub fn here() -> Option<TaskScope> {
        let parent = frame::current_node()?;
        Some(Self::under(Some(&parent)))
    }

    fn under(parent: Option<&Arc<Node>>) -> TaskScope {
        Self::under_with(parent, None)
    }

    fn under_with(parent: Option<&Arc<Node>>, proxy: Option<Arc<Node>>) -> TaskScope {
        let node = Node::new(crate::driver::NO_DEADLINE, false);
        node.try_enter();
        if let Some(proxy) = proxy {
            node.state.fetch_or(STARTING, SeqCst);
            node.proxy.store(Arc::into_raw(proxy).cast_mut(), SeqCst);
        }
        match parent {
            Some(parent) => node.link_owned(parent),
            None => node.link_top(),
        }
        // Its deadline (set through `scope()`) is armed like any scope's.
        node.activate();
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
            if let Some(word) = task_context::adopt_word(node) {
                node.record_word(&word);
                if let Some(proxy) = self.proxy() {
                    proxy.record_word(&word);
                }
            }
            if node.parent().is_none() {
                // At the top of its task (started outside any scope).
                task_context::record_top(node);
            }
            // Dekker with a canceller (as at a scope's entry): it bumps the
            // word, or the origin computed below sees its bit.
            fence(SeqCst);
        }
        // Register before taking the snapshot: a cancel that found no
        // waker bumped the word before we read it.
        if self.slot.refresh_waker(cx.waker()) {
            if let Some(proxy) = self.proxy() {
                // A cancel of the caller's scope wakes the task through it.
                proxy.host.register(cx.waker());
            }
            fence(SeqCst);
        }
        let now = task_context::snapshot_top();
        if self.seen.get() != Some(now) {
            let before = self.origin.get();
            let origin = node.effective_origin();
            self.origin.set(origin);
            self.seen.set(Some(now));
            if before.is_null() && !origin.is_null() && node.state() & STARTING != 0 {
                // Cancelled through the proxy, whose walk did not pass this
                // node: wake what waits below under wakers of its own.
                node.walk_children(true);
            }
        }
        let frame = Frame {
            parent: ptr::null(),
            slot: &self.slot,
            waker: cx.waker(),
            origin: Cell::new(self.origin.get()),
        };
        if !frame.origin.get().is_null() && !self.slot.leaves.is_empty() {
            if let Some(payload) = self.slot.leaves.flush() {
                std::panic::resume_unwind(payload);
            }
        }
        let polled = {
            let _frame = task_context::push(&frame);
            future.poll(cx)
        };
        if polled.is_pending() && !self.slot.leaves.is_empty() && !frame::refresh(&frame).is_null()
        {
            // As in `Scoped`: cancelled during this poll after primitives
            // below went to sleep with wakers of their own.
            if let Some(payload) = self.slot.leaves.flush() {
                std::panic::resume_unwind(payload);
            }
        }
        polled
    }

    /// The task being started has called `started` (or its caller stopped
    /// waiting): from now on it sees the group's cancellation, not its
    /// caller's. Call from the task's own poll (its host). Idempotent.
    pub fn finish_starting(&self) {
        let node = self.slot.node();
        let Some(proxy) = node.take_proxy() else {
            return;
        };
        leave_callers_scope(node);
        self.seen.set(None);
        // The proxy leaves the caller's scope.
        Self::retire_proxy(&proxy);
    }

    /// A switch that moves the task out of its caller's scope into its
    /// group's at once, from any thread (`TaskStatus::started`): the task's
    /// very next check sees the group, in the same poll too. The host still
    /// calls [`finish_starting`](Self::finish_starting) afterwards, to
    /// retire the caller's side.
    pub fn started_switch(&self) -> StartedSwitch {
        StartedSwitch(self.slot.node().clone())
    }

    fn retire_proxy(proxy: &Node) {
        proxy.deactivate(false);
        if let Some(caller) = proxy.parent() {
            caller.exited_proxies.fetch_add(1, SeqCst);
        }
    }

    /// Whether the task is still being started.
    pub fn is_starting(&self) -> bool {
        self.slot.node().state() & STARTING != 0
    }

    fn proxy(&self) -> Option<&Node> {
        let node = self.slot.node();
        // SAFETY: the proxy is owned by the node and taken only by the host
        // (`finish_starting`), which is the thread polling the task.
        unsafe {
            node.proxy
                .load(std::sync::atomic::Ordering::Acquire)
                .as_ref()
        }
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

/// Moves a task being started into its group's scope (see
/// [`TaskScope::started_switch`]).
pub struct StartedSwitch(Arc<Node>);

impl StartedSwitch {
    /// Moves the task now (idempotent; any thread).
    pub fn switch(&self) {
        leave_callers_scope(&self.0);
    }
}

impl fmt::Debug for StartedSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartedSwitch").finish_non_exhaustive()
    }
}

/// A starting task's root stops reading its caller's scope (through the
/// proxy) and reads its group's: the task's word is bumped, so its next
/// check recomputes, and if the group is cancelled what waits below under
/// wakers of its own is woken. Any thread; once.
fn leave_callers_scope(node: &Node) {
    if node.state.fetch_and(!STARTING, SeqCst) & STARTING == 0 {
        return;
    }
    // Dekker with a cancel of the group (its bit, then its walk): it walked
    // us after we stopped starting, or we see its bit below.
    fence(SeqCst);
    node.touch();
    if !node.effective_origin().is_null() {
        node.walk_children(true);
        node.host.wake().ok();
    }
}

impl Drop for TaskScope {
    fn drop(&mut self) {
        if let Some(proxy) = self.slot.node().take_proxy() {
            Self::retire_proxy(&proxy);
        }
        self.slot.node().deactivate(false);
        // A task moving to another root (a started child joining its group)
        // keeps waiting below: its waiters must learn of the new root's
        // state, so they are woken (a spurious wake-up when the task ends).
        if let Some(payload) = self.slot.leaves.flush() {
            crate::host_waker::report_waker_panic(payload, "a task left its scope");
        }
    }
}

impl fmt::Debug for TaskScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskScope")
            .field("scope", &self.slot.node().id())
            .finish_non_exhaustive()
    }
}
