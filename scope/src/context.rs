//! The per-thread scope context: which scope the code being polled is in, and
//! whether that scope is effectively cancelled, plus the task's checkpoint
//! budget.
//!
//! Scopes are entered by wrapping a future, so while a `Run` future polls its
//! body it pushes a `Frame` (on its own stack) and points the thread-local at
//! it; the frame carries the cancellation its scope sees, computed from the
//! enclosing frame's and the scope's own bits (one atomic load). A primitive's
//! cancel check is then a thread-local read and a pointer read.
//!
//! A cancel that lands during a poll is not seen by that poll (its snapshot
//! was taken), but the canceller wakes the host, so the next poll sees it:
//! each checkpoint decides by the scope state when it is polled.
//!
//! Nodes are linked into the tree lazily ("materialized"), the first time
//! the scope's body returns `Pending` or a scope below needs a parent to hang
//! from. A body that finishes in its first poll never touches the tree, the
//! timer wheel or the allocator (for `move_on_after` and friends).

use crate::cancelled::Cancelled;
use crate::driver;
use crate::node::{CANCEL_CALLED, Node, SHIELD};
use std::cell::{Cell, OnceCell, UnsafeCell};
use std::panic::Location;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// One entered scope on the current poll's stack.
pub(crate) struct Frame {
    /// The enclosing frame in this poll; null at the task's top.
    pub(crate) parent: *const Frame,
    pub(crate) slot: *const Slot,
    /// The waker this scope's body was polled with.
    pub(crate) waker: *const Waker,
    /// The outermost effectively cancelled scope visible here, or null.
    /// A `Cell` so that a cancel made by this very poll updates it.
    pub(crate) origin: Cell<*const Node>,
}

/// The cancellation visible inside a scope (DESIGN §2.3-2.4): its own, if
/// it is shielded or nothing outside is cancelled; else the outer one (the
/// outermost cancelled scope catches).
#[inline]
pub(crate) fn visible_origin(node: Option<&Arc<Node>>, parent_origin: *const Node) -> *const Node {
    let bits = node.map_or(0, |n| n.state());
    if bits & SHIELD != 0 || parent_origin.is_null() {
        if bits & CANCEL_CALLED != 0 {
            node.map_or(ptr::null(), Arc::as_ptr)
        } else {
            ptr::null()
        }
    } else {
        parent_origin
    }
}

/// Recomputes the cancellation every frame of the current poll sees. Called
/// after this thread changed a scope (cancel, shield, deadline), so that a
/// checkpoint right after `scope.cancel()` in the same poll already returns
/// `Cancelled`, as in Trio. O(frames); a no-op outside a poll.
pub(crate) fn refresh_frames() {
    // SAFETY: a non-null frame belongs to the poll running on this thread.
    if let Some(frame) = unsafe { current_frame().as_ref() } {
        refresh(frame);
    }
}

fn refresh(frame: &Frame) -> *const Node {
    // SAFETY: frames and slots outlive their poll, which is running.
    let slot = unsafe { &*frame.slot };
    let node = slot.node.get();
    // SAFETY: as above.
    let origin = match unsafe { frame.parent.as_ref() } {
        // The top of the task: read the tree (it may hang under a scope of
        // another task).
        None => node.map_or_else(current_root, |n| n.effective_origin()),
        Some(parent) => visible_origin(node, refresh(parent)),
    };
    frame.origin.set(origin);
    origin
}

/// A scope's place in the tree, owned by the future that entered it. Only
/// that future's poll (and frames below it in the same poll) touch it.
pub(crate) struct Slot {
    /// The node; made lazily for scopes nobody holds a handle to.
    pub(crate) node: OnceCell<Arc<Node>>,
    /// The deadline a lazily made node starts with (encoded).
    pub(crate) deadline: Cell<u64>,
    /// Linked into the tree, waker registered, deadline armed.
    pub(crate) linked: Cell<bool>,
    /// The waker registered with the node, to notice when it changes. Only
    /// the poll of the owning future touches it (see `Slot`).
    pub(crate) registered: UnsafeCell<Option<Waker>>,
}

impl Slot {
    pub(crate) fn new(node: Option<Arc<Node>>, deadline: u64) -> Slot {
        let cell = OnceCell::new();
        if let Some(node) = node {
            let _ = cell.set(node);
        }
        Slot {
            node: cell,
            deadline: Cell::new(deadline),
            linked: Cell::new(false),
            registered: UnsafeCell::new(None),
        }
    }

    /// The node, making it if needed (unlinked).
    pub(crate) fn node(&self) -> &Arc<Node> {
        self.node
            .get_or_init(|| Node::new(self.deadline.get(), false))
    }

    /// Registers `waker` with the linked node if it is not the one already
    /// registered (a pointer comparison in the steady state). Returns
    /// whether it registered.
    #[inline]
    pub(crate) fn refresh_waker(&self, waker: &Waker) -> bool {
        // SAFETY: only the owning future's poll uses `registered`, and it
        // holds no other reference to it across this call.
        let registered = unsafe { &*self.registered.get() };
        if registered.as_ref().is_some_and(|r| r.will_wake(waker)) {
            return false;
        }
        self.register(waker);
        true
    }

    #[cold]
    fn register(&self, waker: &Waker) {
        if self.node().host.register(waker) {
            self.set_registered(Some(waker.clone()));
        }
    }

    /// Replaces the remembered waker (dropping the old one).
    pub(crate) fn set_registered(&self, waker: Option<Waker>) {
        // SAFETY: as in `refresh_waker`; no reference into it is live.
        let old = unsafe { std::mem::replace(&mut *self.registered.get(), waker) };
        drop(old);
    }
}

struct ScopeContext {
    frame: Cell<*const Frame>,
    budget: Cell<u32>,
    /// The runtime's root scope while it is cancelled (graceful shutdown),
    /// else null: the cancellation every task's outermost scope sees.
    root: Cell<*const Node>,
}

thread_local! {
    static CONTEXT: ScopeContext = const {
        ScopeContext {
            frame: Cell::new(ptr::null()),
            budget: Cell::new(u32::MAX),
            root: Cell::new(ptr::null()),
        }
    };
}

/// Points the context at a frame until dropped (also on unwind).
pub(crate) struct FrameGuard {
    previous: *const Frame,
}

impl Drop for FrameGuard {
    #[inline]
    fn drop(&mut self) {
        CONTEXT.with(|cx| cx.frame.set(self.previous));
    }
}

/// Makes `frame` the innermost scope of this thread. The frame must outlive
/// the guard (it lives on the caller's stack, beside the guard).
#[inline]
pub(crate) fn push(frame: &Frame) -> FrameGuard {
    let previous = CONTEXT.with(|cx| cx.frame.replace(frame));
    FrameGuard { previous }
}

/// The cancelled root scope of the task being polled, or null.
#[inline]
pub(crate) fn current_root() -> *const Node {
    CONTEXT.try_with(|cx| cx.root.get()).unwrap_or(ptr::null())
}

/// Restores the previous root when dropped.
#[must_use = "the root is left when the guard is dropped"]
pub struct RootGuard {
    previous: *const Node,
}

impl std::fmt::Debug for RootGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootGuard").finish_non_exhaustive()
    }
}

impl Drop for RootGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|cx| cx.root.set(self.previous));
    }
}

/// For runtimes: while the guard lives, the code polled on this thread is
/// inside `root` — a scope above every task (the runtime's root group), which
/// the runtime cancels to shut down gracefully. Enter it around each task
/// poll once it is cancelled (before that it changes nothing, so runtimes
/// skip it). `root` must outlive the guard.
pub fn enter_root(root: &crate::CancelScope) -> RootGuard {
    let node = Arc::as_ptr(root.node());
    let previous = CONTEXT
        .try_with(|cx| cx.root.replace(node))
        .unwrap_or(ptr::null());
    RootGuard { previous }
}

/// The innermost frame of the poll running on this thread, or null.
#[inline]
pub(crate) fn current_frame() -> *const Frame {
    CONTEXT.try_with(|cx| cx.frame.get()).unwrap_or(ptr::null())
}

/// The cancellation visible to code polled right now, as a `Cancelled`
/// attributed to `location`.
#[inline]
pub(crate) fn check(location: &'static Location<'static>) -> Result<(), Cancelled> {
    // One thread-local access for both: the innermost frame's view, or, in
    // no scope, the runtime's root (cancelled by a graceful shutdown).
    let origin = CONTEXT
        .try_with(|cx| {
            let frame = cx.frame.get();
            if frame.is_null() {
                cx.root.get()
            } else {
                // SAFETY: a non-null frame is on the stack of a poll in
                // progress on this thread (its guard resets the pointer
                // before the frame goes away); its origin node is kept alive
                // by that poll's scopes, the root by its runtime.
                unsafe { (*frame).origin.get() }
            }
        })
        .unwrap_or(ptr::null());
    // SAFETY: as above.
    match unsafe { origin.as_ref() } {
        None => Ok(()),
        Some(node) => Err(Cancelled::new(node.reason(), node.id(), location)),
    }
}

/// The cancel check of a waiting primitive: `Ready(Err)` if cancelled,
/// `Ready(Ok)` if not. A cancelled check also spends the checkpoint budget,
/// and once it is spent yields (`Pending`, woken at once) instead: a loop of
/// checkpoints that keep failing at once still returns to the scheduler now
/// and then, and the next poll reads the scopes afresh (so a later, outer
/// cancellation is seen too).
#[inline]
pub(crate) fn poll_check(
    cx: &mut Context<'_>,
    location: &'static Location<'static>,
) -> Poll<Result<(), Cancelled>> {
    match check(location) {
        Ok(()) => Poll::Ready(Ok(())),
        Err(cancelled) => poll_budget(cx).map(|()| Err(cancelled)),
    }
}

/// Links the scope of `frame` (and, first, every scope above it in this
/// poll) into the tree: registers the waker, arms the deadline, and re-reads
/// the ground truth so a cancel racing the link is not missed.
pub(crate) fn materialize(frame: &Frame) -> &Arc<Node> {
    // SAFETY: frames and their slots outlive the poll they are pushed in,
    // and materialize only runs inside that poll.
    let slot = unsafe { &*frame.slot };
    let node = slot.node();
    if slot.linked.get() {
        return node;
    }
    // SAFETY: as above, for the enclosing frame.
    let parent = unsafe { frame.parent.as_ref() }.map(materialize);
    // SAFETY: the frame's waker is the poll's `cx.waker()`, alive meanwhile.
    let waker = unsafe { &*frame.waker };
    if node.host.register(waker) {
        slot.set_registered(Some(waker.clone()));
    }
    if let Some(parent) = parent {
        node.link(parent);
    }
    slot.linked.set(true);
    node.activate(driver::current_driver());
    // A cancel above that walked past before our push never reached us or
    // the tasks already hung below us: wake them now.
    if !node.effective_origin().is_null() {
        if frame.origin.get().is_null() {
            waker.wake_by_ref();
        }
        node.walk_children(true);
    }
    node
}

/// Sets the running task's checkpoint budget (runtimes call this before
/// each poll of a task).
#[inline]
pub fn reset_budget(budget: u32) {
    let _ = CONTEXT.try_with(|cx| cx.budget.set(budget));
}

/// Spends one unit of the running task's checkpoint budget (DESIGN §2.8).
/// When the budget is spent, schedules the task to run again and returns
/// `Pending`: a task whose waits keep being ready still yields once per
/// budget. Outside a runtime the budget is unlimited.
///
/// For primitives: call it when an operation is about to complete without
/// waiting.
#[inline]
pub fn poll_budget(cx: &mut Context<'_>) -> Poll<()> {
    let spent = CONTEXT
        .try_with(|c| {
            let left = c.budget.get();
            if left == 0 {
                return false;
            }
            c.budget.set(left - 1);
            true
        })
        .unwrap_or(true);
    if spent {
        Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
