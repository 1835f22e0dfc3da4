//! A node of the scope tree: its fields, its state bits, and which operation
//! takes which lock or flag. The protocols live beside it, one file each:
//! `tree.rs` (link, cancel walk, unlink, reaping, orphans), `retire.rs` (never
//! freeing a node under a walker), `deadline_slot.rs` (arming and firing the
//! deadline timer).
//!
//! Every entered scope that has ever had to wait (or has a child task, or is
//! a task's root) is a `Node`. Ground truth is two bits per node,
//! `CANCEL_CALLED` and `SHIELD`: a node is effectively cancelled iff it is
//! cancelled, or it is not shielded and its parent is effectively cancelled
//! (DESIGN §2.3). Nothing derived is cached in the tree, so concurrent cancels
//! and shield toggles cannot leave a stale bit behind; they only differ in
//! whom they wake.
//!
//! # Locks and flags, by operation
//!
//! | operation | lock or flag taken | why |
//! |---|---|---|
//! | `link` / `link_owned` (a scope waits, a task joins a group) | none: a CAS push on the parent's list | lists are Treiber stacks at the head |
//! | materializing a scope without a deadline | none | |
//! | materializing / moving / firing an armed deadline | the node's `timer` mutex | keeps "armed" and the wheel's entry in step; held for a wheel insert, never while waking |
//! | `cancel`, `set_shield`, the cancel walk | none | walkers count themselves in `readers`; nodes are retired, never freed, under a walker |
//! | `cancel_called()`, `deadline()`, `shield()` | none | atomic loads, and a clock read when a deadline is set; a deadline found passed is recorded as a cancel (one CAS, refused once exited) and walked |
//! | waking a host | the `HostWaker` slot's `LOCKED` bit, for one `Waker::clone` | the user's waker runs after the bit is released |
//! | unlinking an exiting scope | the parent's `removing` flag, *tried*: when another remover holds it, the exiting node hands the list a reference and leaves itself to be reaped | interior `next` pointers have one writer |
//! | reaping finished children | the `removing` flag, tried; a busy flag means someone else is reaping | |
//! | a parent exiting | none: it detaches its whole list with one swap; each task root still listed is then released by whichever of the two (parent, child) comes second; an in-task child releases itself through the parent's retirement; a child linking as the parent exits detaches the list itself | O(children) in total, whatever the order |
//!
//! Deadline operations serialize on the node's `timer` mutex (held across
//! one timer-wheel insert or removal, never while waking). Apart from them
//! no operation waits for another thread: the only spin left is a `clear`
//! of a host waker racing a waker's one `Waker::clone`.

use crate::cancelled::{CancelReason, ScopeId};
use crate::driver::{self, DeadlineDriver, TimerHandle};
use crate::host_waker::HostWaker;
use crate::loom::Mutex;
use crate::loom::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
    Ordering::{Acquire, SeqCst},
};
use crate::task_context::TaskWord;
use std::cell::Cell;
use std::ptr;
use std::sync::Arc;
use std::time::Instant;

/// `cancel()` was called (or the deadline passed): set once, never cleared.
pub(crate) const CANCEL_CALLED: u32 = 1;
/// Outside cancellation stops here.
pub(crate) const SHIELD: u32 = 1 << 1;
/// The scope was entered (a scope is entered once).
pub(crate) const ENTERED: u32 = 1 << 2;
/// The scope's future has finished or was dropped.
pub(crate) const EXITED: u32 = 1 << 3;
/// The scope caught a cancellation at its exit.
pub(crate) const CAUGHT: u32 = 1 << 4;
/// The parent's list owns a reference to this node (task roots, and scopes
/// that exited while their parent's list was busy): released when reaped.
pub(crate) const LIST_OWNED: u32 = 1 << 5;
/// In the tree: hung under its parent, or the top of a task's chain (then
/// `TOP` too). An entered node that is not linked yet has no known parent.
pub(crate) const LINKED: u32 = 1 << 6;
/// Linked as the top of a task's chain: above it is the runtime's root.
pub(crate) const TOP: u32 = 1 << 7;
/// The parent exited and detached its list while this node was listed: the
/// second of the two to get here (parent detaching, child exiting) releases
/// the list's reference.
pub(crate) const ORPHANED: u32 = 1 << 8;
/// A task root being started (Trio's `nursery.start`): until its task calls
/// `started`, the node sees the cancellation of its `proxy`'s chain (the
/// caller's scope), not its parent's (the group's).
pub(crate) const STARTING: u32 = 1 << 9;
const REASON_SHIFT: u32 = 12;
const REASON_MASK: u32 = 0b111 << REASON_SHIFT;

pub(crate) struct Node {
    id: u64,
    pub(crate) state: AtomicU32,
    pub(crate) deadline: AtomicU64,
    /// `Arc::into_raw` of the parent, set once by `link`; owned.
    pub(crate) parent: AtomicPtr<Node>,
    /// Head of the children list; owns only `LIST_OWNED` children.
    pub(crate) children: AtomicPtr<Node>,
    /// Next sibling in the parent's list.
    pub(crate) next: AtomicPtr<Node>,
    /// Finished proxies of started tasks still listed here, not yet reaped
    /// (a scope that calls `start()` in a loop must not pile them up).
    pub(crate) exited_proxies: AtomicU32,
    /// Walkers currently traversing `children` (see `retire.rs`).
    pub(crate) readers: AtomicUsize,
    /// Held while removing from `children`; only ever *tried*.
    pub(crate) removing: AtomicBool,
    /// Unlinked children a walker may still stand on; owning, chained by
    /// `retired_next`.
    pub(crate) retired: AtomicPtr<Node>,
    pub(crate) retired_next: AtomicPtr<Node>,
    /// The node holding the cancel word of the task hosting this node
    /// (`Arc::into_raw`, or this very node, which holds no reference to
    /// itself; set once): a walk that reaches the node bumps that word, so a
    /// cancel check in the task's running poll sees the change with one
    /// load.
    pub(crate) word: AtomicPtr<Node>,
    /// The cancel word of a task, when this node holds it (a task's root
    /// scope holds its task's, so a task spawned into a group allocates
    /// nothing more for it).
    pub(crate) own_word: TaskWord,
    pub(crate) host: HostWaker,
    /// While `STARTING`: a node linked under the caller's scope in this
    /// node's place, carrying its task's word and waker (`Arc::into_raw`,
    /// owned; set at creation, taken by the host when the task started).
    pub(crate) proxy: AtomicPtr<Node>,
    /// The runtime's deadline driver, recorded (once) when a deadline is
    /// first armed: a node that never has a deadline never touches it.
    pub(crate) driver: std::sync::OnceLock<Arc<dyn DeadlineDriver>>,
    pub(crate) timer: Mutex<TimerSlot>,
}

/// The armed timer of a node's deadline, if any (guarded by `Node::timer`).
#[derive(Default)]
pub(crate) struct TimerSlot {
    pub(crate) armed: Option<TimerHandle>,
    /// The encoded deadline the armed timer is due at: never later than the
    /// node's deadline, which may have moved later since (lazily, see
    /// `deadline_slot.rs`).
    pub(crate) armed_at: u64,
}

// SAFETY: every field is an atomic, a lock, or `HostWaker` (Sync); the raw
// pointers are owned references or list links governed by the protocols of
// `tree.rs` and `retire.rs`.
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
            exited_proxies: AtomicU32::new(0),
            readers: AtomicUsize::new(0),
            removing: AtomicBool::new(false),
            retired: AtomicPtr::new(ptr::null_mut()),
            retired_next: AtomicPtr::new(ptr::null_mut()),
            word: AtomicPtr::new(ptr::null_mut()),
            own_word: TaskWord::new(),
            proxy: AtomicPtr::new(ptr::null_mut()),
            host: HostWaker::new(),
            driver: std::sync::OnceLock::new(),
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

    pub(crate) fn parent(&self) -> Option<&Node> {
        let parent = self.parent.load(Acquire);
        // SAFETY: a non-null parent was set from `Arc::into_raw` and is only
        // released in `drop`, so it lives as long as `self`.
        unsafe { parent.as_ref() }
    }

    /// The node whose cancellation this one sees above itself (`state` is
    /// its state): the proxy while starting, else the parent. Host only
    /// while starting (the host takes the proxy).
    pub(crate) fn above(&self, state: u32) -> Option<&Node> {
        if state & STARTING != 0 {
            // SAFETY: the proxy is owned by this node and taken (then freed)
            // only by the host, which is the thread calling this.
            if let Some(proxy) = unsafe { self.proxy.load(Acquire).as_ref() } {
                return Some(proxy);
            }
        }
        self.parent()
    }

    /// Takes the proxy (the task has started). Host only.
    pub(crate) fn take_proxy(&self) -> Option<Arc<Node>> {
        let proxy = self.proxy.swap(ptr::null_mut(), SeqCst);
        // SAFETY: set from `Arc::into_raw` by `TaskScope`, taken only here
        // and in `drop`.
        (!proxy.is_null()).then(|| unsafe { Arc::from_raw(proxy) })
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

    /// Sets `CANCEL_CALLED` with `reason`; `true` if it was not set before.
    pub(crate) fn mark_cancelled(&self, reason: CancelReason) -> bool {
        self.mark_cancelled_if(reason, 0)
    }

    /// `mark_cancelled`, refused (`false`) once the scope has exited.
    pub(crate) fn mark_cancelled_unless_exited(&self, reason: CancelReason) -> bool {
        self.mark_cancelled_if(reason, EXITED)
    }

    fn mark_cancelled_if(&self, reason: CancelReason, refuse: u32) -> bool {
        let bits = CANCEL_CALLED | (reason.to_bits() << REASON_SHIFT);
        let mut state = self.state.load(Acquire);
        loop {
            if state & (CANCEL_CALLED | refuse) != 0 {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(state, state | bits, SeqCst, Acquire)
            {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Records the cancel word of the task hosting this node (once; a node
    /// polled later by another task keeps the first, see `task_context.rs`).
    pub(crate) fn record_word(&self, holder: &Arc<Node>) {
        if !self.word.load(Acquire).is_null() {
            return;
        }
        let me = (self as *const Node).cast_mut();
        let raw = if ptr::eq(Arc::as_ptr(holder), me) {
            me // our own word: no reference to ourselves
        } else {
            Arc::into_raw(holder.clone()).cast_mut()
        };
        if self
            .word
            .compare_exchange(ptr::null_mut(), raw, SeqCst, Acquire)
            .is_err()
            && raw != me
        {
            // SAFETY: ours, from the `into_raw` above; never published.
            drop(unsafe { Arc::from_raw(raw) });
        }
    }

    /// Something that decides this node's cancellation changed: bump the
    /// host task's word (no wake-up).
    #[inline]
    pub(crate) fn touch(&self) {
        let holder = self.word.load(Acquire);
        // SAFETY: set once to this node or from `Arc::into_raw`, released
        // only in `drop`.
        if let Some(holder) = unsafe { holder.as_ref() } {
            holder.own_word.bump();
        }
    }

    /// The deadline driver this node arms its timer on, if recorded.
    pub(crate) fn driver(&self) -> Option<&Arc<dyn DeadlineDriver>> {
        self.driver.get()
    }

    /// The driver to arm a deadline on: the recorded one; else this
    /// thread's runtime's, or the nearest ancestor's (a deadline set from a
    /// thread outside the runtime), recorded from now on.
    pub(crate) fn driver_for_arming(&self) -> Option<&Arc<dyn DeadlineDriver>> {
        if let Some(driver) = self.driver.get() {
            return Some(driver);
        }
        let found = driver::current_driver().or_else(|| {
            let mut node = self.parent();
            while let Some(n) = node {
                if let Some(driver) = n.driver.get() {
                    return Some(driver.clone());
                }
                node = n.parent();
            }
            None
        })?;
        Some(self.driver.get_or_init(|| found))
    }

    /// The clock this scope's deadline is measured on.
    pub(crate) fn now(&self) -> Instant {
        match self.driver() {
            Some(driver) => driver.now(),
            None => driver::now(),
        }
    }
}

impl Node {
    /// Takes the node's reference to its parent.
    fn take_parent(&self) -> Option<Arc<Node>> {
        let parent = self.parent.swap(ptr::null_mut(), SeqCst);
        // SAFETY: set from `Arc::into_raw` in `link`, taken only here.
        (!parent.is_null()).then(|| unsafe { Arc::from_raw(parent) })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drain_retired();
        // Release the parent chain iteratively: a node that was its parent's
        // last holder would otherwise drop it from inside this drop, and a
        // deep chain would overflow the stack.
        let mut parent = self.take_parent();
        while let Some(node) = parent {
            let old_address = Arc::as_ptr(&node).cast_mut();
            parent = match Arc::try_unwrap(node) {
                Ok(last) => {
                    // `last` is moved out of its freed allocation: a word it
                    // holds of its own (a task root's: its old address, not
                    // counted) must not be released as a reference to
                    // another node when it drops (that read the freed
                    // allocation, found by the reference model's Trio port).
                    let _ =
                        last.word
                            .compare_exchange(old_address, ptr::null_mut(), SeqCst, SeqCst);
                    last.take_parent() // `last` drops here, parentless
                }
                Err(_) => None, // still held: just a decrement
            };
        }
        drop(self.take_proxy());
        let holder = self.word.swap(ptr::null_mut(), SeqCst);
        if !holder.is_null() && !ptr::eq(holder, self) {
            // SAFETY: set from `Arc::into_raw` in `record_word`.
            drop(unsafe { Arc::from_raw(holder) });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A task root (which holds its task's word itself) whose last holder
    /// is a child scope: the child's drop releases it through the
    /// iterative chain release, which moves it out of its allocation. Its
    /// own word must not be taken for a counted reference then (a
    /// use-after-free, caught by ASan and by glibc's checks).
    #[test]
    fn a_task_root_released_by_its_last_child_frees_once() {
        for _ in 0..100 {
            let root = Node::new(driver::NO_DEADLINE, false);
            root.record_word(&root); // its own word, uncounted
            let weak = Arc::downgrade(&root);
            let child = Node::new(driver::NO_DEADLINE, false);
            child.parent.store(Arc::into_raw(root).cast_mut(), SeqCst);
            drop(child);
            assert!(weak.upgrade().is_none(), "freed, once");
        }
    }

    #[test]
    fn dropping_the_bottom_of_a_deep_chain_does_not_recurse() {
        // Run on a small stack: a recursive release would overflow it.
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let mut bottom = Node::new(driver::NO_DEADLINE, false);
                for _ in 0..100_000 {
                    let child = Node::new(driver::NO_DEADLINE, false);
                    // Each node held only by its child (as a chain of
                    // scopes whose handles are gone).
                    child.parent.store(Arc::into_raw(bottom).cast_mut(), SeqCst);
                    bottom = child;
                }
                drop(bottom);
            })
            .unwrap()
            .join()
            .expect("the chain was freed without overflowing the stack");
    }
}
