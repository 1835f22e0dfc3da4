//! A node of the scope tree, and the lock-free protocol that links nodes,
//! cancels subtrees and frees nodes safely.
//!
//! # The tree
//!
//! Every entered scope that has ever had to wait is a `Node`. A node holds a
//! strong reference to its parent (`parent`, set once when it is linked) and
//! sits in its parent's list of children (`children` → `next` → ...), which
//! holds *no* reference: a node is in the list exactly while its scope is
//! entered, and its host keeps it alive meanwhile.
//!
//! Ground truth is two bits per node: `CANCEL_CALLED` and `SHIELD`. A node is
//! effectively cancelled iff it is cancelled, or it is not shielded and its
//! parent is effectively cancelled (DESIGN §2.3). Nothing else is cached in
//! the tree, so concurrent cancels and shield toggles cannot leave a stale
//! derived bit behind: they only differ in whom they wake.
//!
//! # Cancelling
//!
//! `cancel()` sets `CANCEL_CALLED` (once), then walks the subtree: for each
//! node not cut off by a shield, it bumps `epoch` and wakes the host. The
//! cost is proportional to that subtree, and no lock is taken.
//!
//! A node joining the tree while a cancel walks it: the joiner pushes itself
//! into the parent's list and *then* reads the ground truth up its chain; the
//! walker sets its bit and *then* reads the list (all `SeqCst`). One of the
//! two sees the other, so the joiner is either woken or sees the cancel.
//!
//! # Unlinking and freeing (who may touch which pointer)
//!
//! Pushes to a list are lock-free CASes on its head, from any thread. Removal
//! from a node's list is done only by the task hosting that node (every child
//! of an in-task scope exits on that task; task-group children are reaped by
//! the group's host), so there is a single remover per list and interior
//! `next` pointers have one writer.
//!
//! A walker may still be standing on a node that was just unlinked. Walkers
//! count themselves in `readers` of the list they traverse. The remover, after
//! unlinking, checks `readers`: zero means no walker can reach the node; else
//! it parks a strong reference to the node on the parent's `retired` stack,
//! which the last walker to leave (or the remover, re-checking) drains. So a
//! node is never freed under a walker, and nothing ever waits.

use crate::cancelled::{CancelReason, ScopeId};
use crate::driver::{self, DeadlineDriver, TimerHandle};
use crate::host_waker::HostWaker;
use crate::loom::Mutex;
use crate::loom::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
    fence,
};
use std::cell::Cell;
use std::ptr;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Instant;

pub(crate) const CANCEL_CALLED: u32 = 1;
pub(crate) const SHIELD: u32 = 1 << 1;
const ENTERED: u32 = 1 << 2;
const EXITED: u32 = 1 << 3;
const CAUGHT: u32 = 1 << 4;
/// The parent's list owns a reference (a task root), see `link_owned`.
const LIST_OWNED: u32 = 1 << 5;
const REASON_SHIFT: u32 = 8;
const REASON_MASK: u32 = 0b111 << REASON_SHIFT;

pub(crate) struct Node {
    id: u64,
    state: AtomicU32,
    deadline: AtomicU64,
    /// `Arc::into_raw` of the parent, set once by `link`; owned.
    parent: AtomicPtr<Node>,
    /// Head of the children list; not owning.
    children: AtomicPtr<Node>,
    /// Next sibling in the parent's list; not owning.
    next: AtomicPtr<Node>,
    /// Walkers currently traversing `children`.
    readers: AtomicUsize,
    /// Held while removing from `children` (see `lock_removal`).
    removing: AtomicBool,
    /// Unlinked children a walker may still stand on; owning, chained by
    /// `retired_next`.
    retired: AtomicPtr<Node>,
    retired_next: AtomicPtr<Node>,
    /// Bumped by every walk that reaches this node; lets a task root tell in
    /// one load whether anything above it changed since its last poll.
    epoch: AtomicU32,
    pub(crate) host: HostWaker,
    timer: Mutex<TimerSlot>,
}

impl TimerSlot {
    /// Disarms the timer, if armed.
    fn disarm(&mut self) {
        if let (Some(handle), Some(driver)) = (self.armed.take(), &self.driver) {
            driver.disarm(handle);
        }
    }
}

#[derive(Default)]
struct TimerSlot {
    driver: Option<Arc<dyn DeadlineDriver>>,
    armed: Option<TimerHandle>,
    /// The scope is linked and not exited: its deadline should be armed.
    active: bool,
}

// SAFETY: every field is an atomic, a lock, or `HostWaker` (Sync); the raw
// pointers are Arc-owned or list links governed by the protocol above.
unsafe impl Send for Node {}
// SAFETY: as above.
unsafe impl Sync for Node {}

/// Scope ids come from a global counter in blocks of 1024, so creating scopes
/// on many threads does not bounce one cache line.
fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering};
    static NEXT_BLOCK: StdAtomicU64 = StdAtomicU64::new(1);
    const BLOCK: u64 = 1024;
    thread_local! {
        static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    RANGE
        .try_with(|range| {
            let (mut next, mut end) = range.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            range.set((next + 1, end));
            next
        })
        .unwrap_or_else(|_| NEXT_BLOCK.fetch_add(1, Ordering::Relaxed))
}

impl Node {
    pub(crate) fn new(deadline: u64, shield: bool) -> Arc<Node> {
        Arc::new(Node {
            id: next_id(),
            state: AtomicU32::new(if shield { SHIELD } else { 0 }),
            deadline: AtomicU64::new(deadline),
            parent: AtomicPtr::new(ptr::null_mut()),
            children: AtomicPtr::new(ptr::null_mut()),
            next: AtomicPtr::new(ptr::null_mut()),
            readers: AtomicUsize::new(0),
            removing: AtomicBool::new(false),
            retired: AtomicPtr::new(ptr::null_mut()),
            retired_next: AtomicPtr::new(ptr::null_mut()),
            epoch: AtomicU32::new(0),
            host: HostWaker::new(),
            timer: Mutex::new(TimerSlot::default()),
        })
    }

    pub(crate) fn id(&self) -> ScopeId {
        ScopeId(self.id)
    }

    #[inline]
    pub(crate) fn state(&self) -> u32 {
        self.state.load(Acquire)
    }

    pub(crate) fn reason(&self) -> CancelReason {
        CancelReason::from_bits((self.state() & REASON_MASK) >> REASON_SHIFT)
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        driver::decode(self.deadline.load(Acquire))
    }

    pub(crate) fn deadline_bits(&self) -> u64 {
        self.deadline.load(Acquire)
    }

    pub(crate) fn epoch(&self) -> u32 {
        self.epoch.load(Acquire)
    }

    pub(crate) fn parent(&self) -> Option<&Node> {
        let parent = self.parent.load(Acquire);
        // SAFETY: a non-null parent was set from `Arc::into_raw` and is only
        // released in `drop`, so it lives as long as `self`.
        unsafe { parent.as_ref() }
    }

    /// Marks the scope entered; `false` if it was entered before.
    pub(crate) fn try_enter(&self) -> bool {
        self.state.fetch_or(ENTERED, SeqCst) & ENTERED == 0
    }

    pub(crate) fn has_exited(&self) -> bool {
        self.state() & EXITED != 0
    }

    pub(crate) fn caught(&self) -> bool {
        self.state() & CAUGHT != 0
    }

    /// Cancels this scope (first reason wins) and wakes everything below it
    /// that is not behind a shield. Cancelling twice does nothing more.
    pub(crate) fn cancel(&self, reason: CancelReason) {
        if self.mark_cancelled(reason) {
            // Dekker with `link`: our bit before our read of the lists.
            fence(SeqCst);
            self.walk(true);
        }
    }

    /// Sets `CANCEL_CALLED` with `reason`; `true` if it was not set before.
    fn mark_cancelled(&self, reason: CancelReason) -> bool {
        let bits = CANCEL_CALLED | (reason.to_bits() << REASON_SHIFT);
        let mut state = self.state.load(Relaxed);
        loop {
            if state & CANCEL_CALLED != 0 {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(state, state | bits, SeqCst, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
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

    /// Bumps the epoch of, and (if `wake`) wakes the host of, this node and
    /// every descendant not cut off by a shield.
    fn walk(&self, wake: bool) {
        self.epoch.fetch_add(1, SeqCst);
        // Dekker with `TaskScope::poll`: our epoch before its waker read.
        fence(SeqCst);
        if wake {
            self.host.wake();
        }
        self.walk_children(wake);
    }

    /// `walk` for every child not behind a shield (and their subtrees).
    pub(crate) fn walk_children(&self, wake: bool) {
        // Nothing listed: nothing to do (a child linking right now re-reads
        // the ground truth itself after its push, see `link`).
        if self.children.load(SeqCst).is_null() {
            return;
        }
        self.readers.fetch_add(1, SeqCst);
        // Dekker with `release_child`: our count before our list reads.
        fence(SeqCst);
        let mut child = self.children.load(SeqCst);
        // SAFETY: a node reachable from our list stays allocated while we are
        // counted in `readers` (module docs: unlinked nodes are retired, not
        // freed, until the last reader leaves).
        while let Some(node) = unsafe { child.as_ref() } {
            if node.state.load(SeqCst) & SHIELD == 0 {
                node.walk(wake);
            }
            child = node.next.load(SeqCst);
        }
        if self.readers.fetch_sub(1, SeqCst) == 1 {
            self.drain_retired();
        }
    }

    /// Links `self` under `parent` (host only, once, before its deadline is
    /// armed). Afterwards the caller re-reads the ground truth (module docs).
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
        // Dekker with `cancel`: our push before the caller's re-read of the
        // ground truth. (The SeqCst accesses would do on x86; the fences make
        // the argument hold in the C++ model, and let loom prove it.)
        fence(SeqCst);
    }

    /// Links `self` under `parent` with the list owning one reference: for
    /// task roots, which leave their task when it finishes and are unlinked
    /// later by [`reap_exited`](Self::reap_exited).
    pub(crate) fn link_owned(self: &Arc<Self>, parent: &Arc<Node>) {
        self.state.fetch_or(LIST_OWNED, SeqCst);
        // The list's reference, released by `reap_exited`.
        let _ = Arc::into_raw(self.clone());
        self.link(parent);
    }

    /// Removes `self` from its parent's list (the scope exits).
    pub(crate) fn unlink(self: &Arc<Self>) {
        let Some(parent) = self.parent() else { return };
        let _removing = parent.lock_removal();
        parent.detach(Arc::as_ptr(self));
        parent.release_child(Arc::into_raw(self.clone()));
    }

    /// Unlinks every child that exited while the list owned it (finished
    /// task roots), releasing the list's references. O(children).
    pub(crate) fn reap_exited(&self) {
        let _removing = self.lock_removal();
        // The last node kept, so each removal is O(1) (children finish in
        // any order; a scan from the head for each would be quadratic).
        let mut kept: *const Node = ptr::null();
        let mut child = self.children.load(SeqCst);
        // SAFETY: list nodes stay allocated while listed; only the holder of
        // the removal lock (us) unlinks them.
        while let Some(node) = unsafe { child.as_ref() } {
            child = node.next.load(SeqCst);
            let owned = node.state.load(SeqCst) & EXITED != 0
                && node.state.fetch_and(!LIST_OWNED, SeqCst) & LIST_OWNED != 0;
            if owned {
                self.detach_after(kept, node);
                self.release_child(node);
            } else {
                kept = node;
            }
        }
    }

    /// Takes `child` out of the list, given the node before it (`pred`,
    /// null if `child` was the head when the caller looked). Removal lock
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

    /// Unlinks a task root that exited after its parent did (the parent's
    /// host will not reap any more).
    pub(crate) fn unlink_owned_if_orphaned(&self) {
        // Dekker with `deactivate` (our EXITED was set by our own
        // `deactivate` just before).
        fence(SeqCst);
        if let Some(parent) = self.parent() {
            if parent.state.load(SeqCst) & EXITED != 0 {
                let _removing = parent.lock_removal();
                parent.take_owned(self);
            }
        }
    }

    /// Under the removal lock: if the list still owns `child`, unlink it and
    /// release the list's reference (exactly once, whoever gets here first).
    fn take_owned(&self, child: &Node) {
        if child.state.fetch_and(!LIST_OWNED, SeqCst) & LIST_OWNED != 0 {
            self.detach(child);
            self.release_child(child);
        }
    }

    /// Serializes removals from this node's list. In correct use only the
    /// node's host removes, so this never spins; it makes misuse safe.
    fn lock_removal(&self) -> RemovalGuard<'_> {
        while self
            .removing
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
            #[cfg(loom)]
            loom::thread::yield_now();
        }
        RemovalGuard(self)
    }

    /// Takes `child` out of this node's list. Pushes may race at the head;
    /// interior `next` pointers are written only under the removal lock.
    fn detach(&self, child: *const Node) {
        let child = child.cast_mut();
        // SAFETY: `child` is in our list, so allocated.
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
            // SAFETY: listed nodes are allocated; we hold the removal lock.
            while let Some(node) = unsafe { pred.as_ref() } {
                let after = node.next.load(SeqCst);
                if after == child {
                    node.next.store(next, SeqCst);
                    return;
                }
                pred = after;
            }
            debug_assert!(false, "a linked scope node is in its parent's list");
            return;
        }
    }

    /// Drops one strong reference (`Arc::into_raw`) to an unlinked child —
    /// unless a walker may still stand on it: then the reference waits on
    /// `retired` for the last walker to leave.
    fn release_child(&self, child: *const Node) {
        // Dekker with `walk_children`: our detach before our `readers` read.
        fence(SeqCst);
        if self.readers.load(SeqCst) == 0 {
            // SAFETY: the caller passes a reference it owns.
            drop(unsafe { Arc::from_raw(child) });
            return;
        }
        let raw = child.cast_mut();
        // SAFETY: the child is alive while we own a reference to it.
        unsafe { self.push_retired(raw, raw) };
        // The walker we saw may have left before our push: then nobody else
        // would drain.
        fence(SeqCst);
        if self.readers.load(SeqCst) == 0 {
            self.drain_retired();
        }
    }

    /// Pushes the chain `first ..= last` (linked by `retired_next`) on
    /// `retired`.
    ///
    /// # Safety
    ///
    /// The chain's nodes are owned references (`Arc::into_raw`) we give up.
    unsafe fn push_retired(&self, first: *mut Node, last: *mut Node) {
        let mut head = self.retired.load(SeqCst);
        loop {
            // SAFETY: `last` is alive: we own a reference to it.
            unsafe { (*last).retired_next.store(head, SeqCst) };
            match self.retired.compare_exchange(head, first, SeqCst, SeqCst) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Frees the retired children once no walker can stand on them. Called
    /// by the last walker to leave and by a remover that saw none.
    fn drain_retired(&self) {
        loop {
            let first = self.retired.swap(ptr::null_mut(), SeqCst);
            if first.is_null() {
                return;
            }
            // Every node of the chain was detached before it was pushed, so
            // a walker that can stand on one entered before that and is still
            // counted. (A walker that took the count to 0 and then came here
            // may find a newer walker in: then the chain goes back.)
            fence(SeqCst);
            if self.readers.load(SeqCst) == 0 {
                let mut node = first;
                while !node.is_null() {
                    // SAFETY: every pointer on `retired` came from
                    // `Arc::into_raw`, and the swap gave us the whole chain.
                    let arc = unsafe { Arc::from_raw(node) };
                    node = arc.retired_next.load(SeqCst);
                    drop(arc);
                }
                return;
            }
            let mut last = first;
            // SAFETY: we own the chain (from the swap); its nodes are alive.
            while let Some(next) = ptr::NonNull::new(unsafe { (*last).retired_next.load(SeqCst) }) {
                last = next.as_ptr();
            }
            // SAFETY: we own the chain and give it back.
            unsafe { self.push_retired(first, last) };
            fence(SeqCst);
            if self.readers.load(SeqCst) != 0 {
                return; // that walker drains when it leaves
            }
        }
    }

    /// The outermost effectively cancelled node at or above `self` that
    /// `self` can see (up to and including the first shield), or null. Above
    /// the top of the chain sits the runtime's root scope, if this thread's
    /// poll is inside a cancelled one (see `context::enter_root`).
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
            match node.parent() {
                Some(parent) => node = parent,
                None => {
                    let root = crate::context::current_root();
                    return if root.is_null() { origin } else { root };
                }
            }
        }
    }

    // ---- deadlines ------------------------------------------------------

    /// The scope is now linked: record the runtime's driver and arm the
    /// deadline if there is one (cancelling at once if it passed).
    pub(crate) fn activate(self: &Arc<Self>, driver: Option<Arc<dyn DeadlineDriver>>) {
        let expired = {
            let mut slot = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            if slot.driver.is_none() {
                slot.driver = driver;
            }
            slot.active = true;
            // Just entered: the deadline was checked against the clock then
            // (a deadline passed since fires at the next timer pass).
            self.arm_locked(&mut slot, false)
        };
        if expired {
            self.cancel(CancelReason::Deadline);
        }
    }

    /// The scope exited: mark it exited (and whether it caught), reap the
    /// task roots that finished under it, disarm its deadline.
    pub(crate) fn deactivate(&self, caught: bool) {
        self.state
            .fetch_or(EXITED | if caught { CAUGHT } else { 0 }, SeqCst);
        // Dekker with `unlink_owned_if_orphaned`: our EXITED before our
        // reading of the children's states.
        fence(SeqCst);
        // After exit nobody reaps our list any more: reap what finished; a
        // task root finishing later sees EXITED and unlinks itself
        // (`unlink_owned_if_orphaned`; SeqCst on both sides, so one of the
        // two always does it).
        if !self.children.load(SeqCst).is_null() {
            self.reap_exited();
        }
        // A deadline never set: nothing can be armed (`arm_locked` sees
        // EXITED once a racing `set_deadline` has stored its deadline; the
        // fence above pairs with the one there), so skip the lock.
        if self.deadline.load(SeqCst) != driver::NO_DEADLINE {
            let mut slot = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            slot.active = false;
            slot.disarm();
        }
        self.host.clear();
    }

    /// Moves the deadline (any thread). A deadline in the past cancels at
    /// once if the scope is entered; before entry it is checked at entry.
    pub(crate) fn set_deadline(self: &Arc<Self>, deadline: Option<Instant>) {
        let expired = {
            let mut slot = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            self.deadline.store(driver::encode(deadline), SeqCst);
            if deadline.is_none() {
                slot.disarm();
                false
            } else {
                self.arm_locked(&mut slot, true)
            }
        };
        if expired {
            self.cancel(CancelReason::Deadline);
        }
    }

    /// Arms or moves the timer for the current deadline if the scope is
    /// active. Returns `true` if the deadline has already passed (checked
    /// against the clock only if `check_clock`).
    fn arm_locked(self: &Arc<Self>, slot: &mut TimerSlot, check_clock: bool) -> bool {
        let Some(deadline) = self.deadline() else {
            return false;
        };
        // Dekker with `deactivate`: our deadline store before its read.
        fence(SeqCst);
        if !slot.active || self.state.load(SeqCst) & EXITED != 0 {
            return false;
        }
        let TimerSlot { driver, armed, .. } = slot;
        let Some(driver) = driver.as_deref() else {
            return Instant::now() >= deadline;
        };
        if check_clock && driver.now() >= deadline {
            if let Some(handle) = armed.take() {
                driver.disarm(handle);
            }
            return true;
        }
        if let Some(handle) = *armed {
            if driver.reset(handle, deadline) {
                return false;
            }
        }
        // Not armed, or it fired: arm. The timer wakes the node itself
        // (`Wake for Node`), holding a reference until it fires or
        // `deactivate` disarms it.
        *armed = Some(driver.arm(deadline, &Waker::from(self.clone())));
        false
    }

    /// The deadline timer fired: cancel if the deadline (which may have
    /// moved meanwhile) has really passed.
    pub(crate) fn expire(self: &Arc<Self>) {
        let expired = {
            let mut slot = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            if !slot.active {
                return; // fired just as the scope exited
            }
            match (self.deadline(), &slot.driver) {
                (Some(deadline), Some(driver)) if driver.now() >= deadline => {
                    slot.armed = None; // it fired: nothing to disarm
                    true
                }
                _ => false,
            }
        };
        if expired {
            self.cancel(CancelReason::Deadline);
        }
    }

    /// The clock this scope's deadline is measured on.
    pub(crate) fn now(&self) -> Instant {
        let slot = self.timer.lock().unwrap_or_else(|e| e.into_inner());
        match &slot.driver {
            Some(driver) => driver.now(),
            None => driver::now(),
        }
    }

    /// Whether the deadline has passed on the scope's clock (DESIGN §2.4:
    /// `cancel_called` reads true from then on, before any timer fired).
    pub(crate) fn deadline_passed(&self) -> bool {
        self.deadline().is_some_and(|d| self.now() >= d)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drain_retired();
        let parent = self.parent.swap(ptr::null_mut(), SeqCst);
        if !parent.is_null() {
            // SAFETY: set from `Arc::into_raw` in `link`, released only here.
            drop(unsafe { Arc::from_raw(parent) });
        }
    }
}

/// A scope's deadline timer wakes its node: the scope is cancelled with
/// reason `Deadline` if the deadline (which may have moved) has passed.
impl Wake for Node {
    fn wake(self: Arc<Self>) {
        self.expire();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.expire();
    }
}

struct RemovalGuard<'a>(&'a Node);

impl Drop for RemovalGuard<'_> {
    fn drop(&mut self) {
        self.0.removing.store(false, Release);
    }
}
