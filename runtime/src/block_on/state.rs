//! The state of one `block_on` call as the paused clock sees it: whether the
//! call counts as active (polling, or woken to poll), so that the clock does
//! not jump while it is about to run.
//!
//! # Protocol
//!
//! `state` holds `ACTIVE` (the call is counted in the runtime's
//! `block_on_active`), `NOTIFIED` (woken since the current poll began) and
//! `DONE` (the call returned).
//!
//! - A wake sets `ACTIVE | NOTIFIED` with one `fetch_or` and counts the
//!   call if it was neither active nor done. So the call is counted from
//!   the wake on, before its thread even runs.
//! - Before each poll the call clears `NOTIFIED`; after a `Pending` poll it
//!   goes idle with a CAS from exactly `ACTIVE` and uncounts itself. A wake
//!   that landed during the poll (a future that yields, say) makes the CAS
//!   fail: the call stays counted and polls again at once.
//! - When the call returns (or unwinds) it swaps in `DONE` and uncounts
//!   itself if it was active. Its waker may outlive it (a future stashed it,
//!   or a wake comes just after the future saw itself ready): a wake that
//!   sees `DONE` counts nothing, or the count would never return to zero and
//!   the paused clock would never jump again. The wake and the swap are each
//!   one read-modify-write of `state`, so one comes second and sees the
//!   other's bit: either the wake counted first and the swap uncounts it, or
//!   the swap came first and the wake sees `DONE`.
//!
//! A wake's `fetch_or` and its increment are two steps, so a call can
//! uncount a wake not yet counted, leaving the count one below its truth
//! for an instant; `usize` wraps, so that reads as "someone is active",
//! which only holds a jump back.
//!
//! Whoever stops counting as active (a call going idle or returning, like a
//! worker that parks) then checks whether the clock should jump, under one
//! lock (`Shared::maybe_auto_advance`): of several that stop at once, the
//! last check sees them all stopped. A wake or a new call counts itself
//! *before* it can arm a timer, so the jump looks at the counts again after
//! reading each deadline it would move to, and does not move if anyone is
//! counted by then: otherwise a call that started (or was woken) just after
//! the first look could see the clock jump to the timer it had just armed.
//! The loom models in `loom_models.rs` check these rules.

use crate::loom::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};

const ACTIVE: u8 = 1;
const NOTIFIED: u8 = 2;
const DONE: u8 = 4;

/// One `block_on` call's state; see the module docs.
#[derive(Debug)]
pub(crate) struct CallState {
    state: AtomicU8,
}

impl CallState {
    /// A call not yet counted: `notify` it to begin.
    pub(crate) fn new() -> Self {
        CallState {
            state: AtomicU8::new(0),
        }
    }

    /// A wake: counts the call in `active` unless it is counted already or
    /// has returned.
    pub(crate) fn notify(&self, active: &AtomicUsize) {
        if self.state.fetch_or(ACTIVE | NOTIFIED, SeqCst) & (ACTIVE | DONE) == 0 {
            active.fetch_add(1, SeqCst);
        }
    }

    /// Before each poll: forget earlier wakes (this poll sees their effect).
    pub(crate) fn begin_poll(&self) {
        self.state.fetch_and(!NOTIFIED, SeqCst);
    }

    /// After a `Pending` poll: go idle, unless woken meanwhile (then `false`:
    /// poll again, still counted).
    pub(crate) fn try_idle(&self, active: &AtomicUsize) -> bool {
        if self
            .state
            .compare_exchange(ACTIVE, 0, SeqCst, SeqCst)
            .is_ok()
        {
            active.fetch_sub(1, SeqCst);
            true
        } else {
            false
        }
    }

    /// Whether the call is counted active: woken, so it may poll.
    pub(crate) fn is_active(&self) -> bool {
        self.state.load(SeqCst) & ACTIVE != 0
    }

    /// When `block_on` returns or unwinds.
    pub(crate) fn leave(&self, active: &AtomicUsize) {
        if self.state.swap(DONE, SeqCst) & ACTIVE != 0 {
            active.fetch_sub(1, SeqCst);
        }
    }
}
