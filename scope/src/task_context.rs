//! The per-task context: what a cancel check needs beyond the frames of the
//! running poll — the task's cancel word, the runtime's root scope, the
//! checkpoint budget — and the thread-local that points at it during a poll.
//!
//! The per-poll state (innermost frame, snapshot, budget, ...) lives in the
//! task's `TaskContext` itself, in the task's memory: entering a task's poll
//! is one thread-local pointer swap and a few plain stores, and a nested
//! poll (a `block_on` inside a poll) has a context of its own, so nothing
//! needs saving. Code polled outside any task uses a per-thread context.
//!
//! # The cancel word (DESIGN §3: a check is one atomic load, and live)
//!
//! Each task (each `block_on` call, each thread outside a runtime) has a
//! `TaskWord`, allocated the first time one of its scopes needs it. Every node
//! the task hosts records the word; a walk that reaches a node bumps it
//! (`Node::touch`), as do shield and deadline changes. The frames of a poll
//! carry the cancellation they saw (`Frame::origin`), valid as long as the
//! word (and the root scope's state) did not change since it was computed:
//! the top frame takes a snapshot before reading any scope, and a check
//! compares the word with it — one load of a cache line that only moves when
//! something changed. DESIGN §3 asks for one atomic load; a check makes two:
//! the task's word and the runtime root's state (a graceful shutdown is not
//! in the tree, so it cannot bump every task's word), both read-mostly
//! lines that stay in every core's cache until a cancel writes them. One
//! check in 256 also reads the clock (see `CLOCK_EVERY`). If it moved, the check recomputes every frame of the
//! poll (a *refresh*), so a cancel from another thread, or a deadline fired
//! on another worker, is seen by the very next check even inside one long
//! poll; so is the task's own `cancel()` (as in Trio).
//!
//! A node is hosted by the task that first polls it; a scope's future moved
//! to another task keeps the first task's word (its new host is still woken
//! and re-reads the tree at its next poll; only the mid-poll liveness is
//! lost).

use crate::frame::{self, Frame};
use crate::leaves::LazyLeaves;
use crate::loom::atomic::{AtomicU32, Ordering::Acquire, Ordering::Release};
use crate::node::{CANCEL_CALLED, Node};
use std::cell::{Cell, OnceCell, UnsafeCell};
use std::fmt;
use std::ptr;
use std::sync::Arc;
use std::task::Waker;

/// A task's cancel word: bumped whenever something that decides the
/// cancellation of one of the task's scopes changed. (Transparent: a pointer
/// to its atomic is a pointer to it.)
#[repr(transparent)]
pub(crate) struct TaskWord(AtomicU32);

impl TaskWord {
    pub(crate) fn new() -> TaskWord {
        TaskWord(AtomicU32::new(0))
    }

    #[cfg(all(test, loom))]
    pub(crate) fn value(&self) -> u32 {
        self.0.load(Acquire)
    }

    /// The atomic, for a check to load.
    pub(crate) fn atomic(&self) -> *const AtomicU32 {
        &self.0
    }

    #[inline]
    pub(crate) fn bump(&self) {
        // Release: a check that loads the new value sees the state change
        // made before the bump.
        self.0.fetch_add(1, Release);
    }
}

/// A snapshot value no word and root can have together: forces a refresh.
const STALE: u64 = u64::MAX;

/// One cancel check in this many also compares the deadlines of the poll's
/// scopes with the clock. A deadline's timer fires on whichever thread
/// drives the timers; when every worker is stuck in a long poll (CPU loops
/// calling `checkpoint_if_cancelled`), nobody would, so the loops notice
/// their own deadlines this way: within 256 checks of it passing, for one
/// clock read per 256 checks.
const CLOCK_EVERY: u32 = 256;

/// What a runtime keeps per task for the scope machinery: the task's cancel
/// word, the state of its running poll, its checkpoint budget's pending free
/// pass, and the wakers of primitives waiting below the task's top with
/// wakers of their own. Enter it around every poll of the task with
/// [`TaskContext::enter`]; it must not move while entered (it lives in the
/// task, or on the stack of a `block_on` call).
pub struct TaskContext {
    /// The node holding the task's word (its root scope's node, or one made
    /// for the purpose), once needed.
    word: OnceCell<Arc<Node>>,
    /// The innermost frame of the running poll, or null.
    frame: Cell<*const Frame>,
    /// `word`'s atomic, once allocated (else null).
    watch: Cell<*const AtomicU32>,
    /// The runtime's root scope (cancelled by a graceful shutdown), or null.
    root: Cell<*const Node>,
    /// `watch` and the root's cancel bit when the frames' origins were
    /// computed, or `STALE`.
    seen: Cell<u64>,
    /// The data pointer of the waker the task is polled with (null: none):
    /// a primitive outside any scope polled with a waker of another data
    /// pointer leaves it with the task (`leaves`).
    task_waker: Cell<*const ()>,
    budget: Cell<u32>,
    /// Checks left until one also reads the clock for the deadlines of the
    /// poll's scopes (see `visible_cancellation`).
    clock_countdown: Cell<u32>,
    /// The last poll ended by yielding for the budget: the first checkpoint
    /// of the next poll completes without spending (so `budget = 1` makes
    /// every checkpoint yield exactly once).
    budget_pass: Cell<bool>,
    /// Primitives outside any scope polled with another waker than the
    /// task's: woken when the root scope is found cancelled.
    leaves: LazyLeaves,
    /// The task's top scopes (linked with no parent: the runtime's root is
    /// above them). The root is not in the tree, so when the task first
    /// finds it cancelled it walks them itself, waking what waits below
    /// under wakers of its own (a `FuturesUnordered` of scopes).
    // Boxed: one pointer in every task instead of a `Vec`'s three words,
    // for a list most tasks never use.
    #[allow(clippy::box_collection)]
    tops: UnsafeCell<Option<Box<Vec<Arc<Node>>>>>,
    /// The tops were walked for the root's cancellation.
    root_walked: Cell<bool>,
}

// SAFETY: a runtime touches a task's context only from the thread polling
// the task (one at a time); the cells are never shared between threads, and
// the raw pointers in them are only used during a poll on that thread.
unsafe impl Send for TaskContext {}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext").finish_non_exhaustive()
    }
}

impl Default for TaskContext {
    fn default() -> Self {
        TaskContext::new()
    }
}

impl TaskContext {
    /// A context for a new task.
    pub const fn new() -> Self {
        TaskContext {
            word: OnceCell::new(),
            frame: Cell::new(ptr::null()),
            watch: Cell::new(ptr::null()),
            root: Cell::new(ptr::null()),
            seen: Cell::new(STALE),
            task_waker: Cell::new(ptr::null()),
            budget: Cell::new(u32::MAX),
            clock_countdown: Cell::new(CLOCK_EVERY),
            budget_pass: Cell::new(false),
            leaves: LazyLeaves::new(),
            tops: UnsafeCell::new(None),
            root_walked: Cell::new(false),
        }
    }
}

thread_local! {
    /// The context of the task being polled on this thread, or null.
    static CURRENT: Cell<*const TaskContext> = const { Cell::new(ptr::null()) };
    /// The context of code polled on this thread outside any runtime task.
    static FALLBACK: TaskContext = const { TaskContext::new() };
}

/// Runs `f` with the context of the code polled right now (the running
/// task's, else the thread's); `None` during thread teardown.
#[inline(always)]
fn with_current<R>(f: impl FnOnce(&TaskContext) -> R) -> Option<R> {
    let current = CURRENT.try_with(Cell::get).ok()?;
    // SAFETY: a non-null pointer is the context of a task whose poll is
    // running on this thread (its guard resets the pointer before the poll
    // ends, and the context does not move meanwhile).
    match unsafe { current.as_ref() } {
        Some(cx) => Some(f(cx)),
        None => with_fallback(f),
    }
}

#[cold]
fn with_fallback<R>(f: impl FnOnce(&TaskContext) -> R) -> Option<R> {
    FALLBACK.try_with(|cx| f(cx)).ok()
}

/// Leaves the task's context when dropped (also on unwind).
#[must_use = "the task's context is left when the guard is dropped"]
pub struct TaskGuard {
    previous: *const TaskContext,
}

impl fmt::Debug for TaskGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGuard").finish_non_exhaustive()
    }
}

impl Drop for TaskGuard {
    #[inline]
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}

impl TaskContext {
    /// For runtimes: makes this the context of the code polled on this
    /// thread until the guard drops — around each poll of the task. `waker`
    /// is the waker the task is polled with (it must outlive the guard),
    /// `budget` the checkpoint budget of the poll (DESIGN §2.8), `root` the
    /// runtime's root scope (above every task; cancelled to shut down).
    #[inline]
    pub fn enter(
        &self,
        waker: &Waker,
        budget: u32,
        root: Option<&crate::CancelScope>,
    ) -> TaskGuard {
        let root = root.map_or(ptr::null(), |scope| Arc::as_ptr(scope.node()));
        self.frame.set(ptr::null());
        self.root.set(root);
        self.seen.set(STALE);
        self.task_waker.set(waker.data());
        self.budget.set(budget);
        // SAFETY: `root` is kept alive by the caller (its runtime) for the
        // guard's life.
        if !self.root_walked.get() && unsafe { root_cancelled(root) } {
            self.root_cancelled();
        }
        let previous = CURRENT
            .try_with(|current| current.replace(self))
            .unwrap_or(ptr::null());
        TaskGuard { previous }
    }

    /// The task finds the runtime's root cancelled for the first time: wake
    /// everything of the task that waits under a waker of its own.
    /// Outside the task's poll (and its panic catching): a waker's panic is
    /// contained.
    #[cold]
    fn root_cancelled(&self) {
        self.root_walked.set(true);
        // SAFETY: only the polling thread touches `tops`, and no reference
        // into it is held across this call.
        let tops = unsafe { (*self.tops.get()).take() }.unwrap_or_default();
        for top in tops.iter() {
            if top.state() & (crate::node::SHIELD | crate::node::EXITED) == 0 {
                top.walk_quietly();
            }
        }
        if let Some(payload) = self.leaves.flush() {
            crate::host_waker::report_waker_panic(payload, "the runtime shut down");
        }
    }

    fn add_top(&self, node: &Arc<Node>) {
        // SAFETY: as in `root_cancelled`.
        let tops = unsafe { &mut *self.tops.get() }.get_or_insert_with(Box::default);
        if tops.len() == tops.capacity() && tops.len() >= 16 {
            // Forget the tops that exited (amortized O(1) per top).
            tops.retain(|top| top.state() & crate::node::EXITED == 0);
        }
        tops.push(node.clone());
    }

    fn forget_top(&self, node: &Arc<Node>) {
        // SAFETY: as in `root_cancelled`.
        let Some(tops) = (unsafe { &mut *self.tops.get() }) else {
            return;
        };
        if tops.last().is_some_and(|top| Arc::ptr_eq(top, node)) {
            tops.pop();
        }
    }

    /// The running task's word and root bit, as one value to compare.
    #[inline(always)]
    fn observe(&self) -> u64 {
        // SAFETY: `watch` is null or the atomic of `self.word`, which lives
        // as long as `self`.
        let word = unsafe { self.watch.get().as_ref() }.map_or(0, |w| w.load(Acquire));
        // SAFETY: as in `cancelled_root`.
        let root = unsafe { root_cancelled(self.root.get()) };
        u64::from(word) | (u64::from(root) << 32)
    }

    /// The world changed since the frames were computed: take a new
    /// snapshot, link any frame whose deadline is not armed yet (so its
    /// timer can fire during this very poll), and recompute every frame.
    #[cold]
    #[inline(never)]
    fn refresh(&self, innermost: &Frame) {
        self.seen.set(self.observe());
        frame::arm_pending_deadlines(innermost);
        frame::refresh(innermost);
    }

    /// Every `CLOCK_EVERY` checks: a deadline of the poll's scopes that
    /// passed without its timer firing (every worker busy) cancels its
    /// scope now.
    #[cold]
    #[inline(never)]
    fn read_the_clock(&self, innermost: &Frame) {
        self.clock_countdown.set(CLOCK_EVERY);
        if frame::cancel_passed_deadlines(innermost) {
            self.refresh(innermost);
        }
    }

    #[cold]
    #[inline(never)]
    fn leave_outside_scopes(&self, waker: &Waker) {
        self.leaves.register(waker);
    }
}

/// Records a top scope of the running task (see `TaskContext::tops`).
pub(crate) fn record_top(node: &Arc<Node>) {
    with_current(|cx| cx.add_top(node));
}

/// A top scope of the running task exits (the common, LIFO case is O(1);
/// others are forgotten lazily).
pub(crate) fn forget_top(node: &Arc<Node>) {
    with_current(|cx| cx.forget_top(node));
}

/// # Safety
///
/// `root` is null or a live node.
// SAFETY (for callers): pass a root that its runtime keeps alive, as
// `TaskContext::enter` records it.
#[inline(always)]
unsafe fn root_cancelled(root: *const Node) -> bool {
    // SAFETY: as the caller promises.
    unsafe { root.as_ref() }.is_some_and(|root| root.state() & CANCEL_CALLED != 0)
}

/// The runtime's root scope if it is cancelled (a graceful shutdown began),
/// else null: the cancellation above every task's top scope.
pub(crate) fn cancelled_root() -> *const Node {
    with_current(|cx| {
        let root = cx.root.get();
        // SAFETY: the root is kept alive by the runtime whose poll (or
        // `block_on`) entered it, which is running on this thread.
        if unsafe { root_cancelled(root) } {
            root
        } else {
            ptr::null()
        }
    })
    .unwrap_or(ptr::null())
}

/// The innermost frame of the poll running on this thread, or null.
#[inline]
pub(crate) fn current_frame() -> *const Frame {
    with_current(|cx| cx.frame.get()).unwrap_or(ptr::null())
}

/// What a scope about to push its frame needs to know, from one look at the
/// thread's context: the context, and the enclosing frame and the
/// cancellation it sees.
pub(crate) struct Enclosing {
    pub(crate) cx: *const TaskContext,
    pub(crate) frame: *const Frame,
    pub(crate) origin: *const Node,
}

/// The `Enclosing` of the code polled right now. At the top of a poll (no
/// enclosing frame) the enclosing cancellation is the root scope's, and the
/// snapshot the frames of this poll are valid for is taken first.
#[inline]
pub(crate) fn enclosing() -> Enclosing {
    with_current(|cx| {
        let frame = cx.frame.get();
        // SAFETY: a non-null frame belongs to the poll that is running on
        // this thread (its guard resets the pointer before it goes).
        match unsafe { frame.as_ref() } {
            Some(parent) => Enclosing {
                cx,
                frame,
                origin: parent.origin.get(),
            },
            None => {
                let now = cx.observe();
                cx.seen.set(now);
                let root = if now >> 32 != 0 {
                    cx.root.get()
                } else {
                    ptr::null()
                };
                Enclosing {
                    cx,
                    frame,
                    origin: root,
                }
            }
        }
    })
    .unwrap_or(Enclosing {
        cx: ptr::null(),
        frame: ptr::null(),
        origin: ptr::null(),
    })
}

/// At the top of a task's poll, before reading any scope: the snapshot the
/// frames of this poll are valid for.
pub(crate) fn snapshot_top() -> u64 {
    with_current(|cx| {
        let now = cx.observe();
        cx.seen.set(now);
        now
    })
    .unwrap_or(STALE)
}

/// Makes the next cancel check refresh the frames (this thread changed a
/// scope, or a frame needs linking before it can be trusted).
#[inline]
pub(crate) fn mark_stale() {
    with_current(|cx| cx.seen.set(STALE));
}

impl Enclosing {
    /// `mark_stale` on the context this came from (no second look at the
    /// thread-local).
    #[inline]
    pub(crate) fn mark_stale(&self) {
        // SAFETY: null or the context of the running poll, which stays put.
        if let Some(cx) = unsafe { self.cx.as_ref() } {
            cx.seen.set(STALE);
        }
    }
}

/// Points the context at a frame until dropped (also on unwind).
pub(crate) struct FrameGuard {
    cx: *const TaskContext,
    previous: *const Frame,
}

impl Drop for FrameGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the context the frame was pushed on; the guard lives in
        // the same poll, during which the context stays put.
        if let Some(cx) = unsafe { self.cx.as_ref() } {
            cx.frame.set(self.previous);
        }
    }
}

/// Makes `frame` the innermost scope of this thread. The frame must outlive
/// the guard (it lives on the caller's stack, beside the guard).
#[inline]
pub(crate) fn push(frame: &Frame) -> FrameGuard {
    let cx = with_current(|cx| cx as *const TaskContext).unwrap_or(ptr::null());
    push_on(cx, frame)
}

/// `push` on the context an `Enclosing` came from (no second look at the
/// thread-local).
#[inline]
pub(crate) fn push_on(cx: *const TaskContext, frame: &Frame) -> FrameGuard {
    // SAFETY: `cx` is null or the context of the running poll (from
    // `enclosing`), which stays put during it.
    match unsafe { cx.as_ref() } {
        Some(context) => FrameGuard {
            cx,
            previous: context.frame.replace(frame),
        },
        None => FrameGuard {
            cx: ptr::null(),
            previous: ptr::null(),
        },
    }
}

/// The cancellation visible to code polled right now (the outermost
/// cancelled scope that catches it), or null. Live: a change made since the
/// frames were computed — by any thread — is seen (module docs). A waker
/// given is left with the innermost scope to be woken on cancellation when
/// it is not that scope's host waker (`leaves.rs`).
///
/// The fast path (frames valid, not cancelled, the primitive polled with
/// its scope's waker) is a thread-local read, the task word's load, the
/// root's state load and two pointer compares, inlined into the primitive.
#[inline(always)]
pub(crate) fn visible_cancellation(waker: Option<&Waker>) -> *const Node {
    with_current(|cx| {
        let frame = cx.frame.get();
        // SAFETY: as in `enclosing`.
        let Some(innermost) = (unsafe { frame.as_ref() }) else {
            let root = cx.root.get();
            // SAFETY: as in `cancelled_root`.
            if unsafe { root_cancelled(root) } {
                return root;
            }
            if let Some(waker) = waker {
                // The data pointer alone: a waker of the task with another
                // vtable would only be registered needlessly (a spurious
                // wake-up at shutdown), never missed.
                let task_waker = cx.task_waker.get();
                if !task_waker.is_null() && waker.data() != task_waker {
                    cx.leave_outside_scopes(waker);
                }
            }
            return ptr::null();
        };
        if cx.observe() != cx.seen.get() {
            cx.refresh(innermost);
        }
        let countdown = cx.clock_countdown.get();
        if countdown == 0 {
            cx.read_the_clock(innermost);
        } else {
            cx.clock_countdown.set(countdown - 1);
        }
        let origin = innermost.origin.get();
        if let Some(waker) = waker {
            if origin.is_null() {
                innermost.leave_if_foreign(waker);
            }
        }
        origin
    })
    .unwrap_or(ptr::null())
}

/// Recomputes the frames if something changed since they were computed.
pub(crate) fn refresh_if_changed() {
    with_current(|cx| {
        // SAFETY: as in `enclosing`.
        if let Some(innermost) = unsafe { cx.frame.get().as_ref() } {
            if cx.observe() != cx.seen.get() {
                cx.refresh(innermost);
            }
        }
    });
}

/// The node holding the running task's word (made on first use), for a
/// node the task hosts to record. Outside any task, the thread's.
pub(crate) fn current_word() -> Option<Arc<Node>> {
    with_current(|cx| {
        let holder = cx
            .word
            .get_or_init(|| Node::new(crate::driver::NO_DEADLINE, false));
        cx.watch_holder(holder);
        holder.clone()
    })
}

/// At a task root's first poll: its node holds the task's word, unless the
/// task has one already. Returns the holder.
pub(crate) fn adopt_word(root: &Arc<Node>) -> Option<Arc<Node>> {
    with_current(|cx| {
        let holder = cx.word.get_or_init(|| root.clone());
        cx.watch_holder(holder);
        holder.clone()
    })
}

impl TaskContext {
    fn watch_holder(&self, holder: &Arc<Node>) {
        if self.watch.get().is_null() {
            // Watch it from now on; it is new to this task, so nothing of
            // the task bumped it before the frames were computed (`seen`'s
            // word half was 0 without a word, as for a new one).
            self.watch.set(holder.own_word.atomic());
        }
    }
}

/// Spends one unit of the running task's checkpoint budget (DESIGN §2.8).
/// When the budget is spent, schedules the task to run again and returns
/// `Pending`; the first checkpoint of the next poll then completes without
/// spending. So at most `budget` checkpoints complete in one poll, and a
/// budget of 1 makes every checkpoint a schedule point (Trio's strict mode).
/// Outside a runtime the budget is unlimited.
///
/// For primitives: call it when an operation is about to complete without
/// waiting.
#[inline]
pub fn poll_budget(cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
    let spent = with_current(|task| {
        if task.budget_pass.replace(false) {
            return true;
        }
        let left = task.budget.get();
        if left > 1 {
            task.budget.set(left - 1);
            return true;
        }
        task.budget.set(0);
        task.budget_pass.set(true);
        false
    })
    .unwrap_or(true);
    if spent {
        std::task::Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}
