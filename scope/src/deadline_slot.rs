//! A node's deadline: armed on the runtime's timer while the scope is linked
//! and not exited, moved by `set_deadline` from any thread, fired into a
//! `Deadline` cancellation.
//!
//! Ground rules: the deadline value is an atomic (read lock-free by
//! `cancel_called`, `current_effective_deadline`); the armed timer handle is
//! guarded by the node's `timer` mutex, which only deadline operations take,
//! and never while waking anybody. A node without a deadline never takes it.
//!
//! Arming races linking: `activate` sets `LINKED` and then reads the
//! deadline; `set_deadline` stores the deadline and then reads `LINKED` (both
//! `SeqCst`, fenced). One of the two sees the other and arms.
//!
//! Moving a deadline later is lazy (as tokio's `Sleep::reset`): while a timer
//! is armed no later than the new deadline, `set_deadline` only stores the
//! value, with no clock read and no timer call. The armed timer then fires
//! early; `expire` finds the deadline not yet passed and re-arms for it (the
//! timer driver wakes outside its locks, so arming from the wake is fine).
//! Invariant, under the `timer` mutex: `armed` is `Some` only while its
//! timer is in the wheel or its wake (`expire`) is still to run, and
//! `armed_at` is never later than the deadline. So a deadline is never
//! lost, and fires no later than it would have with an eager move.
//!
//! A later deadline needs no clock check: if it has passed, so had the armed
//! one, whose timer is due at the next timer pass, when `expire` compares
//! with the clock and cancels — as for any deadline that passes while the
//! scope waits (and `cancel_called` already reads true meanwhile). A
//! deadline moved *earlier* than the armed timer is checked against the
//! clock and cancels at once if it has passed.

use crate::cancelled::CancelReason;
use crate::driver::{self, NO_DEADLINE};
use crate::loom::atomic::{Ordering::SeqCst, fence};
use crate::node::{CANCEL_CALLED, ENTERED, EXITED, LINKED, Node, TimerSlot};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Instant;

impl Node {
    /// The scope is now linked: record the runtime's driver and arm the
    /// deadline if there is one (no lock when there is none).
    pub(crate) fn activate(self: &Arc<Self>) {
        // Dekker with `set_deadline`: our LINKED (set by the link) before
        // our deadline read.
        fence(SeqCst);
        if self.deadline.load(SeqCst) == NO_DEADLINE {
            return;
        }
        let expired = {
            let mut slot = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            // Entered just now: the deadline was checked against the clock
            // then (one that passed since fires at the next timer pass).
            self.arm_locked(&mut slot, false)
        };
        if expired {
            self.cancel(CancelReason::Deadline);
        }
    }

    /// The scope exited: mark it exited (and whether it caught), detach the
    /// children still listed, disarm the deadline, forget the host.
    pub(crate) fn deactivate(&self, caught: bool) {
        // A deadline that passed before the exit is a cancel, even if its
        // timer has not fired yet (several scopes sharing one deadline: the
        // first timer's cancel ends the body before the others fire), so
        // `cancel_called` is true afterwards (Trio).
        if self.deadline.load(SeqCst) != NO_DEADLINE
            && self
                .deadline()
                .is_some_and(|deadline| self.now() >= deadline)
        {
            self.mark_cancelled_unless_exited(CancelReason::Deadline);
        }
        let before = self.state.fetch_or(
            EXITED | if caught { crate::node::CAUGHT } else { 0 },
            SeqCst,
        );
        fence(SeqCst);
        self.orphan_children();
        // A deadline never set: nothing can be armed (`arm_locked` sees
        // EXITED once a racing `set_deadline` has stored its deadline; the
        // fence above pairs with the one there), so skip the lock.
        if self.deadline.load(SeqCst) != NO_DEADLINE {
            let mut slot = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            self.disarm_locked(&mut slot);
        }
        self.host.clear();
        self.child_exited(before);
    }

    fn disarm_locked(&self, slot: &mut TimerSlot) {
        if let (Some(handle), Some(driver)) = (slot.armed.take(), self.driver()) {
            driver.disarm(handle);
        }
    }

    /// Moves the deadline (any thread). A deadline in the past cancels an
    /// entered scope at once (linked or not); before entry it is checked at
    /// entry.
    pub(crate) fn set_deadline(self: &Arc<Self>, deadline: Option<Instant>) {
        let bits = driver::encode(deadline);
        let expired = {
            let mut slot = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            self.deadline.store(bits, SeqCst);
            if deadline.is_none() {
                self.disarm_locked(&mut slot);
                false
            } else if slot.armed.is_some() && bits >= slot.armed_at {
                // Later than the armed timer (module docs): it fires early
                // and `expire` re-arms. Armed implies linked, so no touch.
                return;
            } else {
                self.arm_locked(&mut slot, true)
            }
        };
        if expired {
            self.cancel(CancelReason::Deadline);
        } else if self.state.load(SeqCst) & (ENTERED | LINKED | EXITED) == ENTERED {
            // Entered but not linked (its body has not waited yet): nothing
            // is armed. Touch it, so that its task's next cancel check links
            // the scope and arms the new deadline, even inside a long poll.
            self.touch();
        }
    }

    /// Arms or moves the timer for the current deadline if the scope is
    /// linked and not exited. Returns `true` if the deadline has passed
    /// (checked against the clock only if `check_clock`).
    fn arm_locked(self: &Arc<Self>, slot: &mut TimerSlot, check_clock: bool) -> bool {
        let bits = self.deadline_bits();
        let Some(deadline) = driver::decode(bits) else {
            return false;
        };
        // Dekker with `activate` and `deactivate`: our deadline store before
        // our state read.
        fence(SeqCst);
        let state = self.state.load(SeqCst);
        if state & EXITED != 0 {
            return false;
        }
        if state & LINKED == 0 {
            return state & ENTERED != 0 && check_clock && self.now() >= deadline;
        }
        let Some(driver) = self.driver_for_arming() else {
            return check_clock && driver::now() >= deadline;
        };
        if check_clock && driver.now() >= deadline {
            self.disarm_locked(slot);
            return true;
        }
        slot.armed_at = bits;
        if let Some(handle) = slot.armed {
            if driver.reset(handle, deadline) {
                return false;
            }
        }
        // Not armed, or it fired: arm. The timer wakes the node itself
        // (`Wake for Node`), holding a reference until it fires or
        // `deactivate` disarms it.
        slot.armed = Some(driver.arm(deadline, &Waker::from(self.clone())));
        false
    }

    /// The deadline timer fired: cancel if the deadline (which may have
    /// moved meanwhile) has really passed, else re-arm for it (it moved
    /// later lazily, or this wake is of a timer since replaced).
    pub(crate) fn expire(self: &Arc<Self>) {
        let expired = {
            let mut slot = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            if self.state.load(SeqCst) & EXITED != 0 {
                return; // fired just as the scope exited
            }
            match (self.deadline(), self.driver()) {
                (Some(deadline), Some(driver)) if driver.now() >= deadline => {
                    // It fired (or a replacement is due by now too, at the
                    // latest at the deadline, and fires harmlessly).
                    slot.armed = None;
                    true
                }
                // Moves the armed timer if this wake is a stale one's, or
                // arms anew if it is the armed one's (it left the wheel).
                (Some(_), Some(_)) => self.arm_locked(&mut slot, false),
                // No deadline any more (`set_deadline(None)` disarmed).
                _ => false,
            }
        };
        if expired {
            // On the timer's thread: a waker's panic must not stop the
            // timer pass (or kill a worker).
            self.cancel_quietly(CancelReason::Deadline);
        }
    }

    /// Whether cancellation was requested of this scope (DESIGN §2.4):
    /// explicitly, or by a deadline that passed before the scope exited —
    /// then it is recorded as a cancel, so it stays true if the deadline
    /// moves back (Trio). Takes no lock.
    pub(crate) fn cancel_called(&self) -> bool {
        let state = self.state();
        if state & CANCEL_CALLED != 0 {
            return true;
        }
        if state & EXITED != 0 {
            return false;
        }
        match self.deadline() {
            Some(deadline) if self.now() >= deadline => {
                // Recorded only while the scope has not exited (a deadline
                // passing after the exit does not count, as in Trio).
                if self.mark_cancelled_unless_exited(CancelReason::Deadline) {
                    fence(SeqCst);
                    self.walk_quietly();
                }
                self.state() & CANCEL_CALLED != 0
            }
            _ => false,
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
