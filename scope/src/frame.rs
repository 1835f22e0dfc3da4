//! Frames: the scopes entered by the poll running on a thread, innermost
//! last, each on the stack of the future that entered it, and a scope's
//! `Slot` (its place in the tree, owned by that future).
//!
//! While a `Scoped` future polls its body it pushes a `Frame` and points the
//! thread-local at it; the frame carries the cancellation its scope sees
//! (`origin`), computed from the enclosing frame's and the scope's own bits
//! (one atomic load). A primitive's cancel check reads the innermost frame's
//! origin after checking that nothing changed since it was computed (see
//! `task_context.rs`: the task's cancel word).
//!
//! Nodes are linked into the tree lazily ("materialized"): the first time
//! the scope's body returns `Pending`, a task is spawned under it, or a check
//! finds it has a deadline to arm. A body that finishes in its first poll
//! without a check never touches the tree, the timer wheel or the allocator
//! (for `move_on_after` and friends).

use crate::cancelled::Cancelled;
use crate::driver::{self, NO_DEADLINE};
use crate::leaves::LazyLeaves;
use crate::node::{CANCEL_CALLED, ENTERED, LINKED, Node, SHIELD};
use crate::task_context::{self, current_frame};
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
    /// A `Cell`: a refresh updates it.
    pub(crate) origin: Cell<*const Node>,
}

impl Frame {
    /// Leaves `waker` with this scope to be woken on cancellation, if it is
    /// not the scope's host waker (a combinator below gave it its own).
    #[inline(always)]
    pub(crate) fn leave_if_foreign(&self, waker: &Waker) {
        // SAFETY: the frame's waker is the poll's `cx.waker()`, alive while
        // the frame is pushed. (The data pointer alone: a waker of the same
        // host with another vtable is only registered needlessly.)
        if waker.data() != unsafe { &*self.waker }.data() {
            self.leave(waker);
        }
    }

    #[cold]
    #[inline(never)]
    fn leave(&self, waker: &Waker) {
        // SAFETY: frames and slots outlive the poll they are pushed in.
        unsafe { &*self.slot }.leaves.register(waker);
    }
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

/// Recomputes the cancellation `frame` and every frame above it see.
pub(crate) fn refresh(frame: &Frame) -> *const Node {
    // SAFETY: frames and slots outlive their poll, which is running.
    let slot = unsafe { &*frame.slot };
    let node = slot.node.get();
    // SAFETY: as above.
    let origin = match unsafe { frame.parent.as_ref() } {
        Some(parent) => visible_origin(node, refresh(parent)),
        // The top of the task: a task root hangs under a scope of another
        // task, so read the tree; a scope at the top of its task sits
        // under the runtime's root.
        None => match node {
            Some(node) if node.parent().is_some() => node.effective_origin(),
            _ => visible_origin(node, task_context::cancelled_root()),
        },
    };
    frame.origin.set(origin);
    origin
}

/// Links every frame of the chain whose scope has a deadline but is not
/// linked yet, so its timer can fire even if the poll never returns.
pub(crate) fn arm_pending_deadlines(innermost: &Frame) {
    let mut frame = innermost;
    let mut pending = false;
    loop {
        // SAFETY: frames and slots outlive their poll, which is running.
        let slot = unsafe { &*frame.slot };
        if slot.linked.get() {
            break; // everything above a linked scope is linked
        }
        pending |= slot.deadline_bits() != NO_DEADLINE;
        // SAFETY: as above.
        match unsafe { frame.parent.as_ref() } {
            Some(parent) => frame = parent,
            None => break,
        }
    }
    if pending {
        materialize(innermost);
    }
}

/// Cancels every scope of the chain whose deadline has passed (its timer not
/// fired yet); `true` if any was. Reads the clock only if a scope up to the
/// nearest shield has a deadline.
pub(crate) fn cancel_passed_deadlines(innermost: &Frame) -> bool {
    let mut earliest = NO_DEADLINE;
    let mut frame = innermost;
    loop {
        // SAFETY: frames and slots outlive their poll, which is running.
        let slot = unsafe { &*frame.slot };
        earliest = earliest.min(slot.deadline_bits());
        // SAFETY: as above.
        match unsafe { frame.parent.as_ref() } {
            Some(parent) => frame = parent,
            None => break,
        }
    }
    let Some(earliest) = driver::decode(earliest) else {
        return false;
    };
    if driver::now() < earliest {
        return false;
    }
    let mut cancelled = false;
    let mut frame = innermost;
    loop {
        // SAFETY: as above.
        let slot = unsafe { &*frame.slot };
        if slot.deadline_bits() != NO_DEADLINE {
            // A passed deadline is recorded as a cancel (and walked).
            cancelled |= slot.node().cancel_called();
        }
        // SAFETY: as above.
        match unsafe { frame.parent.as_ref() } {
            Some(parent) => frame = parent,
            None => break,
        }
    }
    cancelled
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
    /// The waker registered with the node, to notice when it changes.
    pub(crate) registered: UnsafeCell<Option<Waker>>,
    /// Primitives below with wakers of their own (`leaves.rs`).
    pub(crate) leaves: LazyLeaves,
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
            leaves: LazyLeaves::new(),
        }
    }

    /// The node, making it if needed (unlinked, but entered: the scope of a
    /// slot is entered when anything asks for its node).
    pub(crate) fn node(&self) -> &Arc<Node> {
        self.node.get_or_init(|| {
            let node = Node::new(self.deadline.get(), false);
            node.try_enter();
            node
        })
    }

    /// The scope's deadline (encoded), wherever it is kept.
    pub(crate) fn deadline_bits(&self) -> u64 {
        match self.node.get() {
            Some(node) => node.deadline_bits(),
            None => self.deadline.get(),
        }
    }

    /// The steady state of a scope's poll: linked, with `waker` the one
    /// registered (so `refresh_waker` would do nothing).
    #[inline(always)]
    pub(crate) fn is_steady(&self, waker: &Waker) -> bool {
        // SAFETY: as in `refresh_waker`.
        let registered = unsafe { &*self.registered.get() };
        self.linked.get() && registered.as_ref().is_some_and(|r| r.will_wake(waker))
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

/// Links the scope of `frame` (and, first, every scope above it in this
/// poll) into the tree: records the task's word, registers the waker, arms
/// the deadline, and re-reads the ground truth so a cancel racing the link
/// is not missed.
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
    if let Some(word) = task_context::current_word() {
        node.record_word(&word);
    }
    // SAFETY: the frame's waker is the poll's `cx.waker()`, alive meanwhile.
    let waker = unsafe { &*frame.waker };
    if node.host.register(waker) {
        slot.set_registered(Some(waker.clone()));
    }
    match parent {
        Some(parent) => node.link(parent),
        None => {
            node.link_top();
            task_context::record_top(node);
        }
    }
    slot.linked.set(true);
    node.activate();
    // A cancel above that walked past before our push never reached us or
    // the tasks already hung below us: wake them now.
    if !node.effective_origin().is_null() {
        if frame.origin.get().is_null() {
            waker.wake_by_ref();
            task_context::mark_stale();
        }
        node.walk_children(true);
    }
    node
}

/// Before hanging a task under `node`: if `node` is a scope entered by the
/// poll running on this thread and not linked yet, link it (and the scopes
/// above it), so the task sees what the scope sees (DESIGN §2.9).
pub(crate) fn materialize_if_current(node: &Arc<Node>) {
    if node.state() & (ENTERED | LINKED) != ENTERED {
        return;
    }
    let mut frame = current_frame();
    // SAFETY: frames of the running poll, innermost first.
    while let Some(f) = unsafe { frame.as_ref() } {
        // SAFETY: as above.
        let slot = unsafe { &*f.slot };
        if slot.node.get().is_some_and(|n| Arc::ptr_eq(n, node)) {
            materialize(f);
            return;
        }
        frame = f.parent;
    }
}

/// The node of the innermost scope of the running poll, linked, or `None`
/// outside any scope (for a task started under its caller's scope).
pub(crate) fn current_node() -> Option<Arc<Node>> {
    // SAFETY: a frame of the running poll.
    let frame = unsafe { current_frame().as_ref() }?;
    Some(materialize(frame).clone())
}

/// The cancellation visible to code polled right now, as a `Cancelled`
/// attributed to `location`.
#[inline]
pub(crate) fn check(location: &'static Location<'static>) -> Result<(), Cancelled> {
    let origin = task_context::visible_cancellation(None);
    if origin.is_null() {
        return Ok(());
    }
    Err(cancelled_at(origin, location))
}

/// The `Cancelled` for a visible `origin` (not null).
#[cold]
#[inline(never)]
fn cancelled_at(origin: *const Node, location: &'static Location<'static>) -> Cancelled {
    // SAFETY: a visible origin is kept alive by the poll's scopes (their
    // nodes hold their parents), or is the runtime's root.
    let node = unsafe { &*origin };
    Cancelled::new(node.reason(), node.id(), location)
}

/// The cancel check of a waiting primitive: `Ready(Err)` if cancelled,
/// `Ready(Ok)` if not — and then the primitive's waker is known to the
/// innermost scope, which wakes it on cancellation even if a combinator
/// gave it a waker of its own. A cancelled check spends the checkpoint
/// budget, and once it is spent yields (`Pending`, woken at once) instead: a
/// loop of checkpoints that keep failing at once still returns to the
/// scheduler now and then.
#[inline(always)]
pub(crate) fn poll_check(
    cx: &mut Context<'_>,
    location: &'static Location<'static>,
) -> Poll<Result<(), Cancelled>> {
    let origin = task_context::visible_cancellation(Some(cx.waker()));
    if origin.is_null() {
        return Poll::Ready(Ok(()));
    }
    poll_cancelled_check(origin, cx, location)
}

#[cold]
#[inline(never)]
fn poll_cancelled_check(
    origin: *const Node,
    cx: &mut Context<'_>,
    location: &'static Location<'static>,
) -> Poll<Result<(), Cancelled>> {
    let cancelled = cancelled_at(origin, location);
    task_context::poll_budget(cx).map(|()| Err(cancelled))
}
