//! The tree protocol: linking nodes, walking a cancelled subtree, unlinking
//! and reaping children, and a parent leaving before its children.
//!
//! # Lists
//!
//! A node sits in its parent's list of children (`children` → `next` → ...)
//! while its scope is entered. Pushes are lock-free CASes on the head, from
//! any thread. Interior `next` pointers are written only by the holder of the
//! parent's `removing` flag, which is only ever *tried* (never waited for).
//!
//! # Cancelling
//!
//! `cancel()` sets `CANCEL_CALLED` (once), then walks the subtree,
//! iteratively (a deep tree cannot overflow the canceller's stack): each node
//! not cut off by a shield, and not exited, is *touched* (epoch and host
//! task's word bumped, so a running poll of that task sees the change at its
//! next check) and its host woken. The cost is proportional to that subtree;
//! no lock is taken.
//!
//! A node joining the tree while a cancel walks it: the joiner pushes itself
//! into the parent's list and *then* reads the ground truth up its chain; the
//! walker sets its bit and *then* reads the list (all `SeqCst`, with fences).
//! One of the two sees the other, so the joiner is either walked or sees the
//! cancel itself.
//!
//! # Leaving
//!
//! - An exiting in-task scope unlinks itself if it gets its parent's
//!   `removing` flag; if a reaper holds it, it hands the list a reference
//!   (`LIST_OWNED`) and is reaped later.
//! - Finished task roots (`LIST_OWNED`) are reaped in batches by whoever
//!   gets the flag (the group's host, or a spawner once they pile up).
//! - A parent that exits while children are still listed (a group future
//!   dropped mid-flight) swaps its whole list out at once and marks each
//!   child `ORPHANED`; parent and child each set their bit with one
//!   `fetch_or`, and the second to arrive releases the list's reference.
//!   Dropping a group of n blocked children is O(n), with no waiting.

use crate::cancelled::CancelReason;
use crate::loom::atomic::{
    Ordering::{Acquire, Relaxed, Release, SeqCst},
    fence,
};
use crate::node::{CANCEL_CALLED, EXITED, LINKED, LIST_OWNED, Node, ORPHANED, SHIELD, TOP};
use std::any::Any;
use std::ptr;
use std::sync::Arc;

/// The first panic of a waker woken during a walk: the walk finishes (every
/// other node is still woken, every count restored) and then resumes it.
type WakePanic = Option<Box<dyn Any + Send>>;

impl Node {
    /// Cancels this scope (first reason wins) and wakes everything below it
    /// that is not behind a shield. Cancelling twice does nothing more. The
    /// panic of a waker woken on the way is resumed here, after the walk
    /// (the caller asked for the cancel: it gets the panic, as with any
    /// wake-up it triggers).
    pub(crate) fn cancel(&self, reason: CancelReason) {
        if let Some(payload) = self.cancel_containing(reason) {
            std::panic::resume_unwind(payload);
        }
    }

    /// `cancel` on the runtime's behalf (a deadline firing, a scope being
    /// dropped): a waker's panic is reported and contained, so the timer
    /// or the dropping code goes on.
    pub(crate) fn cancel_quietly(&self, reason: CancelReason) {
        if let Some(payload) = self.cancel_containing(reason) {
            crate::host_waker::report_waker_panic(payload, "a scope was cancelled");
        }
    }

    fn cancel_containing(&self, reason: CancelReason) -> WakePanic {
        if !self.mark_cancelled(reason) {
            return None;
        }
        // Dekker with `link`: our bit before our read of the lists.
        fence(SeqCst);
        self.walk_containing(true)
    }

    /// Raises or lowers the shield. Lowering it wakes the hosts below, which
    /// may now be cancelled; raising it only tells them to look again.
    pub(crate) fn set_shield(&self, shield: bool) {
        let previous = if shield {
            self.state.fetch_or(SHIELD, SeqCst)
        } else {
            self.state.fetch_and(!SHIELD, SeqCst)
        };
        if (previous & SHIELD != 0) != shield {
            fence(SeqCst);
            self.walk(!shield);
        }
    }

    /// Touches (and, if `wake`, wakes the host of) this node and every
    /// descendant not cut off by a shield, iteratively. A panicking waker
    /// does not stop the walk; the first such panic is resumed at the end.
    pub(crate) fn walk(&self, wake: bool) {
        if let Some(payload) = self.walk_containing(wake) {
            std::panic::resume_unwind(payload);
        }
    }

    /// `walk(true)` on the runtime's behalf: a waker's panic is reported and
    /// contained.
    pub(crate) fn walk_quietly(&self) {
        if let Some(payload) = self.walk_containing(true) {
            crate::host_waker::report_waker_panic(payload, "a scope was cancelled");
        }
    }

    fn walk_containing(&self, wake: bool) -> WakePanic {
        let mut panic: WakePanic = None;
        self.visit(wake, &mut panic);
        self.walk_children_into(wake, &mut panic);
        panic
    }

    /// `walk` for the children only (the node itself was handled), on the
    /// runtime's behalf: a waker's panic is reported and contained.
    pub(crate) fn walk_children(&self, wake: bool) {
        let mut panic: WakePanic = None;
        self.walk_children_into(wake, &mut panic);
        if let Some(payload) = panic {
            crate::host_waker::report_waker_panic(payload, "a scope was linked");
        }
    }

    fn visit(&self, wake: bool, panic: &mut WakePanic) {
        self.touch();
        // Dekker with a host registering a new waker: our touch before its
        // waker read.
        fence(SeqCst);
        if wake {
            if let Err(payload) = self.host.wake() {
                panic.get_or_insert(payload);
            }
        }
    }

    fn walk_children_into(&self, wake: bool, panic: &mut WakePanic) {
        // Each entry: a node whose list we are reading (counted in its
        // `readers`) and the next child to visit there.
        let mut stack: Vec<(&Node, *const Node)> = Vec::new();
        if let Some(first) = self.begin_reading() {
            stack.push((self, first));
        }
        while let Some(top) = stack.last_mut() {
            let (parent, cursor) = *top;
            // SAFETY: a node reachable from a list we are counted in stays
            // allocated while we are counted (`retire.rs`).
            let Some(child) = (unsafe { cursor.as_ref() }) else {
                stack.pop();
                parent.end_reading();
                continue;
            };
            top.1 = child.next.load(SeqCst);
            let state = child.state.load(SeqCst);
            // A shield cuts the branch off; a finished child has nobody to
            // wake (it waits to be reaped).
            if state & (SHIELD | EXITED) == 0 {
                child.visit(wake, panic);
                if let Some(first) = child.begin_reading() {
                    stack.push((child, first));
                }
            }
        }
    }

    /// Counts a reader in and returns the list's head, or `None` (and no
    /// count) if the list is empty.
    fn begin_reading(&self) -> Option<*const Node> {
        // Nothing listed: nothing to do (a child linking right now re-reads
        // the ground truth itself after its push, see `link`).
        if self.children.load(SeqCst).is_null() {
            return None;
        }
        self.readers.fetch_add(1, SeqCst);
        // Dekker with `release_child`: our count before our list reads.
        fence(SeqCst);
        let head = self.children.load(SeqCst);
        if head.is_null() {
            self.end_reading();
            return None;
        }
        Some(head)
    }

    /// Counts a reader out; the last one frees what was retired meanwhile.
    fn end_reading(&self) {
        if self.readers.fetch_sub(1, SeqCst) == 1 {
            self.drain_retired();
        }
    }

    /// Links `self` under `parent` (host only, once). Afterwards the caller
    /// re-reads the ground truth (module docs).
    pub(crate) fn link(self: &Arc<Self>, parent: &Arc<Node>) {
        let raw = Arc::into_raw(parent.clone()).cast_mut();
        let previous = self.parent.swap(raw, SeqCst);
        debug_assert!(previous.is_null(), "a scope node is linked once");
        let me = Arc::as_ptr(self).cast_mut();
        let mut head = parent.children.load(SeqCst);
        loop {
            self.next.store(head, SeqCst);
            match parent.children.compare_exchange(head, me, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(actual) => head = actual,
            }
        }
        self.state.fetch_or(LINKED, SeqCst);
        // Dekker with `cancel`: our push before the caller's re-read of the
        // ground truth. (The SeqCst accesses would do on x86; the fences make
        // the argument hold in the C++ model, and let loom prove it.)
        fence(SeqCst);
        // Dekker with `orphan_children` (the parent's EXITED, then its
        // swap): a parent that exited meanwhile may have detached its list
        // before our push, and will never look at it again; detach it
        // ourselves (orphaning us too, so nothing is left holding it).
        if parent.state.load(SeqCst) & EXITED != 0 {
            parent.orphan_children();
        }
    }

    /// Links `self` under `parent` with the list owning one reference: for
    /// task roots, which leave their task when it finishes and are reaped
    /// later.
    pub(crate) fn link_owned(self: &Arc<Self>, parent: &Arc<Node>) {
        self.state.fetch_or(LIST_OWNED, SeqCst);
        // The list's reference, released by whoever clears `LIST_OWNED`.
        let _ = Arc::into_raw(self.clone());
        self.link(parent);
    }

    /// Marks `self` the top of its task's chain: above it is the runtime's
    /// root, not an unknown parent.
    pub(crate) fn link_top(&self) {
        self.state.fetch_or(LINKED | TOP, SeqCst);
    }

    /// Takes an exiting in-task scope out of its parent's list (its host
    /// calls this once, before `deactivate`).
    pub(crate) fn unlink(self: &Arc<Self>) {
        let Some(parent) = self.parent() else { return };
        if self.state.load(SeqCst) & ORPHANED != 0 {
            // The parent exited first and detached its whole list; a walker
            // that entered the list before may still stand on us, so our
            // going goes through the parent's retirement as well.
            parent.release_child(Arc::into_raw(self.clone()));
            return;
        }
        match parent.try_lock_removal() {
            Some(_removing) => {
                parent.detach(Arc::as_ptr(self));
                parent.release_child(Arc::into_raw(self.clone()));
            }
            None => {
                // A reaper is at work on the list: give the list a reference
                // and leave; it (or the next reap, or the parent's exit)
                // frees us. EXITED follows in `deactivate`.
                let _ = Arc::into_raw(self.clone());
                self.state.fetch_or(LIST_OWNED, SeqCst);
            }
        }
    }

    /// Unlinks children that exited while the list owned them (finished
    /// task roots), releasing the list's references. O(children); does
    /// nothing if another remover is at work (it reaps them).
    pub(crate) fn reap_exited(&self) {
        let Some(_removing) = self.try_lock_removal() else {
            return;
        };
        // Counted as a reader: a child we stand on may be orphaned and freed
        // by its own exit meanwhile (if this node is exiting too).
        let Some(mut child) = self.begin_reading() else {
            return;
        };
        // The last node kept, so each removal is O(1) (children finish in
        // any order; a scan from the head for each would be quadratic).
        let mut kept: *const Node = ptr::null();
        // SAFETY: listed nodes stay allocated while we are counted in
        // `readers`; only the holder of the removal flag (us) unlinks them.
        while let Some(node) = unsafe { child.as_ref() } {
            child = node.next.load(SeqCst);
            if node.state.load(SeqCst) & EXITED != 0 && node.take_list_reference() {
                self.detach_after(kept, node);
                self.release_child(node);
            } else {
                kept = node;
            }
        }
        self.end_reading();
    }

    /// Clears `LIST_OWNED`: `true` if it was set, and so the caller now
    /// holds the list's reference and must release it (exactly once).
    fn take_list_reference(&self) -> bool {
        self.state.fetch_and(!LIST_OWNED, SeqCst) & LIST_OWNED != 0
    }

    /// Takes `child` out of the list, given the node before it (`pred`,
    /// null if `child` was the head when the caller looked). Removal flag
    /// held.
    fn detach_after(&self, pred: *const Node, child: &Node) {
        // SAFETY: `pred` is a listed node, allocated (see `reap_exited`).
        match unsafe { pred.as_ref() } {
            Some(pred) => pred.next.store(child.next.load(SeqCst), SeqCst),
            None => {
                let me = (child as *const Node).cast_mut();
                let next = child.next.load(SeqCst);
                if self
                    .children
                    .compare_exchange(me, next, SeqCst, SeqCst)
                    .is_err()
                {
                    // Pushed in front meanwhile: only those new nodes
                    // precede it, so the scan is short.
                    self.detach(me);
                }
            }
        }
    }

    /// Takes `child` out of this node's list. Pushes may race at the head;
    /// interior `next` pointers are written only under the removal flag. A
    /// child not found was detached with the whole list by an exit.
    fn detach(&self, child: *const Node) {
        let child = child.cast_mut();
        // SAFETY: `child` is in our list (or an orphan), so allocated.
        let next = unsafe { (*child).next.load(SeqCst) };
        loop {
            let head = self.children.load(SeqCst);
            if head == child {
                if self
                    .children
                    .compare_exchange(head, next, SeqCst, SeqCst)
                    .is_ok()
                {
                    return;
                }
                continue; // A push got in first; the child is interior now.
            }
            let mut pred = head;
            // SAFETY: listed nodes are allocated; we hold the removal flag.
            while let Some(node) = unsafe { pred.as_ref() } {
                let after = node.next.load(SeqCst);
                if after == child {
                    node.next.store(next, SeqCst);
                    return;
                }
                pred = after;
            }
            return;
        }
    }

    /// This node exits: detach every child still listed at once, releasing
    /// the list's reference to those that finished; the others release it
    /// themselves when they exit (`child_exited`). O(children).
    ///
    /// A child still running (a task being started, whose caller stopped
    /// waiting; a blocking closure) outlives the scope and keeps reading
    /// its cancellation through its parent pointer — but no walk reaches
    /// it any more. So if this node is effectively cancelled, the children
    /// are walked here: a cancel whose walker woke the host first (which
    /// then exited and detached the list before the walker read it) still
    /// reaches them. Dekker with that walker: its bit, then its read of our
    /// list; our swap, then our read of the bits.
    pub(crate) fn orphan_children(&self) {
        if self.children.load(SeqCst).is_null() {
            return;
        }
        // Counted as a reader while we stand on the detached chain: a child
        // we marked may exit and be released at once.
        self.readers.fetch_add(1, SeqCst);
        fence(SeqCst);
        let mut child = self.children.swap(ptr::null_mut(), SeqCst);
        fence(SeqCst);
        let cancelled = !child.is_null() && !self.effective_origin().is_null();
        let mut panic: WakePanic = None;
        // SAFETY: detached nodes stay allocated while we are counted.
        while let Some(node) = unsafe { child.as_ref() } {
            child = node.next.load(SeqCst);
            let before = node.state.fetch_or(ORPHANED, SeqCst);
            if before & EXITED != 0 {
                if node.take_list_reference() {
                    self.release_child(node);
                }
            } else if cancelled && before & SHIELD == 0 {
                node.visit(true, &mut panic);
                node.walk_children_into(true, &mut panic);
            }
        }
        self.end_reading();
        if let Some(payload) = panic {
            crate::host_waker::report_waker_panic(payload, "a cancelled scope exited");
        }
    }

    /// A listed child exited (its `EXITED` was just set, and `before` is its
    /// state before that): if its parent already orphaned it, the list's
    /// reference is the child's to release.
    pub(crate) fn child_exited(&self, before: u32) {
        if before & ORPHANED != 0 && self.take_list_reference() {
            if let Some(parent) = self.parent() {
                parent.release_child(self);
            }
        }
    }

    /// Tries the removal flag; `None` if another remover holds it.
    fn try_lock_removal(&self) -> Option<RemovalGuard<'_>> {
        self.removing
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_ok()
            .then_some(RemovalGuard(self))
    }

    /// The outermost effectively cancelled node at or above `self` that
    /// `self` can see (up to and including the first shield), or null.
    /// Above a task's top node sits the runtime's root scope; above a node
    /// not linked yet nothing is known, so nothing is assumed (it links, and
    /// walks us, when it learns of a cancellation above).
    pub(crate) fn effective_origin(&self) -> *const Node {
        let mut origin = ptr::null();
        let mut node = self;
        loop {
            let state = node.state.load(SeqCst);
            if state & CANCEL_CALLED != 0 {
                origin = node as *const Node;
            }
            if state & SHIELD != 0 {
                return origin;
            }
            match node.above(state) {
                Some(above) => node = above,
                None if state & TOP != 0 => {
                    let root = crate::task_context::cancelled_root();
                    return if root.is_null() { origin } else { root };
                }
                None => return origin,
            }
        }
    }
}

struct RemovalGuard<'a>(&'a Node);

impl Drop for RemovalGuard<'_> {
    fn drop(&mut self) {
        self.0.removing.store(false, Release);
    }
}
