//! The per-task context: what a cancel check needs beyond the frames of the
//! running poll — the task's cancel word, the runtime's root scope, the
//! checkpoint budget — and the thread-local that points at it during a poll.
//!
//! # Two parts: the poll's, on its stack, and the task's, in the task
//!
//! Everything a poll needs ([`PollState`]: the innermost frame, the
//! snapshot, the budget, ...) lives on the stack of the call that polls the
//! task, and the thread-local points at it: entering a poll is a few stores
//! to a stack frame that is already in cache and one thread-local swap, and
//! a nested poll (a `block_on` inside a poll) has its own, so nothing needs
//! saving. What outlives a poll is the [`TaskContext`] the runtime keeps in
//! each task: one word — a pointer to the task's [`Extras`] (its cancel
//! word, its top scopes, the leaves outside any scope), allocated the first
//! time a scope of the task needs them, with two flags in its low bits. A
//! task that never waits inside a scope costs the runtime eight bytes of
//! task memory and no allocation. Code polled outside any task uses a
//! per-thread poll state and context.
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
//! check in 256 also reads the clock (see `CLOCK_EVERY`). If it moved, the
//! check recomputes every frame of the poll (a *refresh*), so a cancel from
//! another thread, or a deadline fired on another worker, is seen by the
//! very next check even inside one long poll; so is the task's own
//! `cancel()` (as in Trio).
//!
//! A node is hosted by the task that first polls it; a scope's future moved
//! to another task keeps the first task's word (its new host is still woken
//! and re-reads the tree at its next poll; only the mid-poll liveness is
//! lost).

use crate::frame::{self, Frame};
use crate::leaves::Leaves;
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

/// What a task's scopes need to keep between polls, allocated the first
/// time one of them does (see the module docs).
struct Extras {
    /// The node holding the task's word (its root scope's node, or one made
    /// for the purpose), once needed.
    word: OnceCell<Arc<Node>>,
    /// Primitives outside any scope polled with another waker than the
    /// task's: woken when the root scope is found cancelled.
    leaves: Leaves,
    /// The task's top scopes (linked with no parent: the runtime's root is
    /// above them). The root is not in the tree, so when the task first
    /// finds it cancelled it walks them itself, waking what waits below
    /// under wakers of its own (a `FuturesUnordered` of scopes).
    tops: UnsafeCell<Vec<Arc<Node>>>,
}

/// `TaskContext` flag: the last poll ended by yielding for the budget, so
/// the first checkpoint of the next poll completes without spending (a
/// budget of 1 makes every checkpoint yield exactly once).
const BUDGET_PASS: usize = 0b01;
/// `TaskContext` flag: the tops were walked for the root's cancellation.
const ROOT_WALKED: usize = 0b10;
const FLAGS: usize = BUDGET_PASS | ROOT_WALKED;

/// What a runtime keeps per task for the scope machinery, between polls:
/// one word (module docs). Poll the task inside [`TaskContext::enter`].
/// Dropping it drops the wakers the task's code left with it; a runtime that
/// must contain a panicking waker `Drop` calls [`TaskContext::release`]
/// under `catch_unwind` first.
pub struct TaskContext {
    /// A `Box<Extras>` pointer (or null), tagged with the `FLAGS`.
    extras: Cell<*mut Extras>,
}

// SAFETY: a runtime touches a task's context only from the thread polling
// the task (one at a time); the extras are never shared between threads.
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

impl Drop for TaskContext {
    #[inline]
    fn drop(&mut self) {
        self.release();
    }
}

impl TaskContext {
    /// A context for a new task.
    pub const fn new() -> Self {
        TaskContext {
            extras: Cell::new(ptr::null_mut()),
        }
    }

    /// Drops what the task's scopes kept (the wakers its code left with
    /// canopy, its word) — when the task's future is dropped. A waker's
    /// `Drop` may panic; the context is empty afterwards either way.
    #[inline]
    pub fn release(&self) {
        // Most tasks never allocate extras: this check is all they pay.
        if self.extras.get().addr() & !FLAGS != 0 {
            self.release_extras();
        }
    }

    /// The slow half of `release`: frees the extras.
    fn release_extras(&self) {
        let tagged = self.extras.get();
        let extras = tagged.map_addr(|addr| addr & !FLAGS);
        self.extras.set(tagged.map_addr(|addr| addr & FLAGS));
        // SAFETY: the untagged pointer is non-null (checked by `release`), so
        // it came from `Box::into_raw` in `extras`, and was just cleared, so
        // it is freed once.
        drop(unsafe { Box::from_raw(extras) });
    }

    #[inline]
    fn flag(&self, flag: usize) -> bool {
        self.extras.get().addr() & flag != 0
    }

    #[inline]
    fn set_flag(&self, flag: usize, on: bool) {
        let tagged = self.extras.get();
        self.extras
            .set(tagged.map_addr(|addr| if on { addr | flag } else { addr & !flag }));
    }

    /// The extras, if allocated.
    #[inline]
    fn extras_if_any(&self) -> Option<&Extras> {
        // SAFETY: null or a live `Box<Extras>` owned by `self` (freed only
        // by `release`, which no caller holding this reference runs).
        unsafe { self.extras.get().map_addr(|addr| addr & !FLAGS).as_ref() }
    }

    /// The extras, allocated on first use.
    fn extras(&self) -> &Extras {
        if let Some(extras) = self.extras_if_any() {
            return extras;
        }
        let fresh = Box::into_raw(Box::new(Extras {
            word: OnceCell::new(),
            leaves: Leaves::new(),
            tops: UnsafeCell::new(Vec::new()),
        }));
        let flags = self.extras.get().addr() & FLAGS;
        self.extras.set(fresh.map_addr(|addr| addr | flags));
        // SAFETY: just allocated, owned by `self`.
        unsafe { &*fresh }
    }

    /// For runtimes: runs `poll` (one poll of the task) as the code polled
    /// on this thread: its checkpoints see the task's scopes. `waker` is
    /// the waker the task is polled with, `budget` the checkpoint budget of
    /// the poll (DESIGN §2.8), `root` the runtime's root scope (above every
    /// task; cancelled to shut down), which the caller keeps alive.
    #[inline]
    pub fn enter<R>(
        &self,
        waker: &Waker,
        budget: u32,
        root: Option<&crate::CancelScope>,
        poll: impl FnOnce() -> R,
    ) -> R {
        let root = root.map_or(ptr::null(), |scope| Arc::as_ptr(scope.node()));
        // SAFETY: `root` is kept alive by the caller (its runtime) meanwhile.
        if !self.flag(ROOT_WALKED) && unsafe { root_cancelled(root) } {
            self.root_cancelled();
        }
        let state = PollState {
            task: self,
            frame: Cell::new(ptr::null()),
            watch: Cell::new(
                self.extras_if_any()
                    .and_then(|extras| extras.word.get())
                    .map_or(ptr::null(), |holder| holder.own_word.atomic()),
            ),
            root,
            seen: Cell::new(STALE),
            task_waker: waker.data(),
            budget: Cell::new(budget),
            clock_countdown: Cell::new(CLOCK_EVERY),
        };
        let _current = Current::set(&state);
        poll()
    }

    /// The task finds the runtime's root cancelled for the first time: wake
    /// everything of the task that waits under a waker of its own.
    /// Outside the task's poll (and its panic catching): a waker's panic is
    /// contained.
    #[cold]
    fn root_cancelled(&self) {
        self.set_flag(ROOT_WALKED, true);
        let Some(extras) = self.extras_if_any() else {
            return;
        };
        // SAFETY: only the polling thread touches `tops`, and no reference
        // into it is held across this call.
        let tops = unsafe { std::mem::take(&mut *extras.tops.get()) };
        for top in tops.iter() {
            if top.state() & (crate::node::SHIELD | crate::node::EXITED) == 0 {
                top.walk_quietly();
            }
        }
        if let Some(payload) = extras.leaves.flush() {
            crate::host_waker::report_waker_panic(payload, "the runtime shut down");
        }
    }

    fn add_top(&self, node: &Arc<Node>) {
        // SAFETY: as in `root_cancelled`.
        let tops = unsafe { &mut *self.extras().tops.get() };
        if tops.len() == tops.capacity() && tops.len() >= 16 {
            // Forget the tops that exited (amortized O(1) per top).
            tops.retain(|top| top.state() & crate::node::EXITED == 0);
        }
        tops.push(node.clone());
    }

    fn forget_top(&self, node: &Arc<Node>) {
        let Some(extras) = self.extras_if_any() else {
            return;
        };
        // SAFETY: as in `root_cancelled`.
        let tops = unsafe { &mut *extras.tops.get() };
        if tops.last().is_some_and(|top| Arc::ptr_eq(top, node)) {
            tops.pop();
        }
    }
}

/// The state of the poll running on a thread, on the stack of the call that
/// polls (see the module docs).
pub(crate) struct PollState {
    /// The task's context; null in a thread's fallback state (resolved by
    /// `task`).
    task: *const TaskContext,
    /// The innermost frame of the poll, or null.
    frame: Cell<*const Frame>,
    /// The task word's atomic, once allocated (else null).
    watch: Cell<*const AtomicU32>,
    /// The runtime's root scope (cancelled by a graceful shutdown), or null.
    root: *const Node,
    /// `watch` and the root's cancel bit when the frames' origins were
    /// computed, or `STALE`.
    seen: Cell<u64>,
    /// The data pointer of the waker the task is polled with (null: none):
    /// a primitive outside any scope polled with a waker of another data
    /// pointer leaves it with the task (`Extras::leaves`).
    task_waker: *const (),
    budget: Cell<u32>,
    /// Checks left until one also reads the clock for the deadlines of the
    /// poll's scopes (see `visible_cancellation`).
    clock_countdown: Cell<u32>,
}

impl PollState {
    /// The state of code polled on a thread outside any task.
    const fn fallback() -> Self {
        PollState {
            task: ptr::null(),
            frame: Cell::new(ptr::null()),
            watch: Cell::new(ptr::null()),
            root: ptr::null(),
            seen: Cell::new(STALE),
            task_waker: ptr::null(),
            budget: Cell::new(u32::MAX),
            clock_countdown: Cell::new(CLOCK_EVERY),
        }
    }

    /// Runs `f` with the context of the polled task (the thread's outside
    /// any task); `None` during thread teardown.
    fn with_task<R>(&self, f: impl FnOnce(&TaskContext) -> R) -> Option<R> {
        // SAFETY: a task's state points at the task's context, which
        // outlives the poll (`TaskContext::enter`).
        match unsafe { self.task.as_ref() } {
            Some(task) => Some(f(task)),
            None => FALLBACK.try_with(|fallback| f(&fallback.task)).ok(),
        }
    }
}

/// What code polled on a thread outside any runtime task uses. One
/// thread-local for both parts: once it is torn down, neither is reachable
/// (the state's `watch` points into the context's extras).
struct Fallback {
    state: PollState,
    task: TaskContext,
}

thread_local! {
    /// The state of the poll running on this thread, or null.
    static CURRENT: Cell<*const PollState> = const { Cell::new(ptr::null()) };
    static FALLBACK: Fallback = const {
        Fallback {
            state: PollState::fallback(),
            task: TaskContext::new(),
        }
    };
}

/// Makes a poll state the thread's current one until dropped (also on
/// unwind), then restores the previous one.
struct Current {
    previous: *const PollState,
}

impl Current {
    #[inline]
    fn set(state: &PollState) -> Current {
        let previous = CURRENT
            .try_with(|current| current.replace(state))
            .unwrap_or(ptr::null());
        Current { previous }
    }
}

impl Drop for Current {
    #[inline]
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}

/// Runs `f` with the state of the poll running right now (the running
/// task's, else the thread's); `None` during thread teardown.
#[inline(always)]
fn with_current<R>(f: impl FnOnce(&PollState) -> R) -> Option<R> {
    let current = CURRENT.try_with(Cell::get).ok()?;
    // SAFETY: a non-null pointer is the state of a poll running on this
    // thread (on its stack; `Current` resets the pointer before it goes).
    match unsafe { current.as_ref() } {
        Some(state) => Some(f(state)),
        None => with_fallback(f),
    }
}

#[cold]
fn with_fallback<R>(f: impl FnOnce(&PollState) -> R) -> Option<R> {
    FALLBACK.try_with(|fallback| f(&fallback.state)).ok()
}

impl PollState {
    /// The running task's word and root bit, as one value to compare.
    #[inline(always)]
    fn observe(&self) -> u64 {
        // SAFETY: `watch` is null or the atomic of the task's word holder,
        // which the task's extras keep alive.
        let word = unsafe { self.watch.get().as_ref() }.map_or(0, |w| w.load(Acquire));
        // SAFETY: as in `cancelled_root`.
        let root = unsafe { root_cancelled(self.root) };
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
        self.with_task(|task| task.extras().leaves.register(waker));
    }

    /// The node holding the task's word, for the task's nodes to record,
    /// made (or `candidate` adopted) on first use; watched from now on.
    fn word_holder(&self, candidate: impl FnOnce() -> Arc<Node>) -> Option<Arc<Node>> {
        self.with_task(|task| {
            let holder = task.extras().word.get_or_init(candidate);
            if self.watch.get().is_null() {
                // Watch it from now on; it is new to this task, so nothing
                // of the task bumped it before the frames were computed
                // (`seen`'s word half was 0 without a word, as for a new
                // one).
                self.watch.set(holder.own_word.atomic());
            }
            holder.clone()
        })
    }
}

/// Records a top scope of the running task (see `Extras::tops`).
pub(crate) fn record_top(node: &Arc<Node>) {
    with_current(|state| state.with_task(|task| task.add_top(node)));
}

/// A top scope of the running task exits (the common, LIFO case is O(1);
/// others are forgotten lazily).
pub(crate) fn forget_top(node: &Arc<Node>) {
    with_current(|state| state.with_task(|task| task.forget_top(node)));
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
    with_current(|state| {
        // SAFETY: the root is kept alive by the runtime whose poll (or
        // `block_on`) entered it, which is running on this thread.
        if unsafe { root_cancelled(state.root) } {
            state.root
        } else {
            ptr::null()
        }
    })
    .unwrap_or(ptr::null())
}

/// The innermost frame of the poll running on this thread, or null.
#[inline]
pub(crate) fn current_frame() -> *const Frame {
    with_current(|state| state.frame.get()).unwrap_or(ptr::null())
}

/// What a scope about to push its frame needs to know, from one look at the
/// thread's poll state: the state, and the enclosing frame and the
/// cancellation it sees.
pub(crate) struct Enclosing {
    pub(crate) state: *const PollState,
    pub(crate) frame: *const Frame,
    pub(crate) origin: *const Node,
}

/// The `Enclosing` of the code polled right now. At the top of a poll (no
/// enclosing frame) the enclosing cancellation is the root scope's, and the
/// snapshot the frames of this poll are valid for is taken first.
#[inline]
pub(crate) fn enclosing() -> Enclosing {
    with_current(|state| {
        let frame = state.frame.get();
        // SAFETY: a non-null frame belongs to the poll that is running on
        // this thread (its guard resets the pointer before it goes).
        match unsafe { frame.as_ref() } {
            Some(parent) => Enclosing {
                state,
                frame,
                origin: parent.origin.get(),
            },
            None => {
                let now = state.observe();
                state.seen.set(now);
                let root = if now >> 32 != 0 {
                    state.root
                } else {
                    ptr::null()
                };
                Enclosing {
                    state,
                    frame,
                    origin: root,
                }
            }
        }
    })
    .unwrap_or(Enclosing {
        state: ptr::null(),
        frame: ptr::null(),
        origin: ptr::null(),
    })
}

/// At the top of a task's poll, before reading any scope: the snapshot the
/// frames of this poll are valid for.
pub(crate) fn snapshot_top() -> u64 {
    with_current(|state| {
        let now = state.observe();
        state.seen.set(now);
        now
    })
    .unwrap_or(STALE)
}

/// Makes the next cancel check refresh the frames (this thread changed a
/// scope, or a frame needs linking before it can be trusted).
#[inline]
pub(crate) fn mark_stale() {
    with_current(|state| state.seen.set(STALE));
}

impl Enclosing {
    /// `mark_stale` on the poll state this came from (no second look at the
    /// thread-local).
    #[inline]
    pub(crate) fn mark_stale(&self) {
        // SAFETY: null or the state of the running poll, which stays put.
        if let Some(state) = unsafe { self.state.as_ref() } {
            state.seen.set(STALE);
        }
    }
}

/// Points the poll state at a frame until dropped (also on unwind).
pub(crate) struct FrameGuard {
    state: *const PollState,
    previous: *const Frame,
}

impl Drop for FrameGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the poll state the frame was pushed on; the guard lives in
        // the same poll, during which the state stays put.
        if let Some(state) = unsafe { self.state.as_ref() } {
            state.frame.set(self.previous);
        }
    }
}

/// Makes `frame` the innermost scope of this thread. The frame must outlive
/// the guard (it lives on the caller's stack, beside the guard).
#[inline]
pub(crate) fn push(frame: &Frame) -> FrameGuard {
    let state = with_current(|state| state as *const PollState).unwrap_or(ptr::null());
    push_on(state, frame)
}

/// `push` on the poll state an `Enclosing` came from (no second look at the
/// thread-local).
#[inline]
pub(crate) fn push_on(state: *const PollState, frame: &Frame) -> FrameGuard {
    // SAFETY: `state` is null or the state of the running poll (from
    // `enclosing`), which stays put during it.
    match unsafe { state.as_ref() } {
        Some(current) => FrameGuard {
            state,
            previous: current.frame.replace(frame),
        },
        None => FrameGuard {
            state: ptr::null(),
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
    with_current(|state| {
        let frame = state.frame.get();
        // SAFETY: as in `enclosing`.
        let Some(innermost) = (unsafe { frame.as_ref() }) else {
            // SAFETY: as in `cancelled_root`.
            if unsafe { root_cancelled(state.root) } {
                return state.root;
            }
            if let Some(waker) = waker {
                // The data pointer alone: a waker of the task with another
                // vtable would only be registered needlessly (a spurious
                // wake-up at shutdown), never missed.
                let task_waker = state.task_waker;
                if !task_waker.is_null() && waker.data() != task_waker {
                    state.leave_outside_scopes(waker);
                }
            }
            return ptr::null();
        };
        if state.observe() != state.seen.get() {
            state.refresh(innermost);
        }
        let countdown = state.clock_countdown.get();
        if countdown == 0 {
            state.read_the_clock(innermost);
        } else {
            state.clock_countdown.set(countdown - 1);
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

/// Cancels the poll's scopes whose deadline has passed without their timer
/// firing, and recomputes the frames if any was (a clock read now, rather
/// than at the next `CLOCK_EVERY`th check).
pub(crate) fn cancel_passed_deadlines() {
    with_current(|state| {
        // SAFETY: as in `enclosing`.
        if let Some(innermost) = unsafe { state.frame.get().as_ref() } {
            state.read_the_clock(innermost);
        }
    });
}

/// Recomputes the frames if something changed since they were computed.
pub(crate) fn refresh_if_changed() {
    with_current(|state| {
        // SAFETY: as in `enclosing`.
        if let Some(innermost) = unsafe { state.frame.get().as_ref() } {
            if state.observe() != state.seen.get() {
                state.refresh(innermost);
            }
        }
    });
}

/// The node holding the running task's word (made on first use), for a
/// node the task hosts to record. Outside any task, the thread's.
pub(crate) fn current_word() -> Option<Arc<Node>> {
    with_current(|state| state.word_holder(|| Node::new(crate::driver::NO_DEADLINE, false)))
        .flatten()
}

/// At a task root's first poll: its node holds the task's word, unless the
/// task has one already. Returns the holder.
pub(crate) fn adopt_word(root: &Arc<Node>) -> Option<Arc<Node>> {
    with_current(|state| state.word_holder(|| root.clone())).flatten()
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
    let spent = with_current(|state| {
        let left = state.budget.get();
        if left > 1 {
            state.budget.set(left - 1);
            return true;
        }
        state.spend_last()
    })
    .unwrap_or(true);
    if spent {
        std::task::Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl PollState {
    /// The budget is down to its last unit (or spent): the free pass an
    /// earlier poll earned by yielding goes first; else spend it and yield,
    /// earning the pass. `true`: the checkpoint completes. (Taking the pass
    /// last rather than first changes nothing a poll can count: a poll with
    /// the pass completes `budget` checkpoints, one without `budget - 1`.)
    #[cold]
    fn spend_last(&self) -> bool {
        self.with_task(|task| {
            if task.flag(BUDGET_PASS) {
                task.set_flag(BUDGET_PASS, false);
                return true;
            }
            self.budget.set(0);
            task.set_flag(BUDGET_PASS, true);
            false
        })
        .unwrap_or(true)
    }
}
