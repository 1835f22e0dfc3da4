//! `current_effective_deadline` (DESIGN §2.6): the deadline the code being
//! polled runs under, or the news that it is cancelled already.

use crate::driver::{self, NO_DEADLINE};
use crate::frame::Frame;
use crate::node::{Node, SHIELD};
use crate::task_context;
use std::time::{Duration, Instant};

/// What [`current_effective_deadline`] found: no deadline, a deadline still
/// ahead, or cancellation already there.
///
/// `Cancelled` is its own answer rather than an instant in the past (Trio
/// reports `-inf`), so code can tell "cancelled" from "a deadline at `t`"
/// without comparing `t` with the clock. Code that only wants an instant
/// or a time left uses [`instant`](Self::instant) or
/// [`remaining`](Self::remaining).
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EffectiveDeadline {
    /// No enclosing scope up to the nearest shield has a deadline, and none
    /// is cancelled.
    None,
    /// The earliest deadline up to the nearest shield; not passed when
    /// read.
    At(Instant),
    /// A checkpoint here returns `Cancelled`: an enclosing scope (up to the
    /// nearest shield) was cancelled, or its deadline has passed on the
    /// runtime's clock — even if its timer has not fired yet.
    Cancelled,
}

impl EffectiveDeadline {
    /// The deadline as an instant: `None` without one, and for
    /// `Cancelled` an instant no deadline can precede (in the past).
    pub fn instant(self) -> Option<Instant> {
        match self {
            EffectiveDeadline::None => None,
            EffectiveDeadline::At(at) => Some(at),
            EffectiveDeadline::Cancelled => Some(driver::past()),
        }
    }

    /// The time left on the runtime's clock: `None` without a deadline,
    /// `Some(Duration::ZERO)` when cancelled (or when the deadline has
    /// passed since it was read).
    pub fn remaining(self) -> Option<Duration> {
        match self {
            EffectiveDeadline::None => None,
            EffectiveDeadline::At(at) => Some(at.saturating_duration_since(driver::now())),
            EffectiveDeadline::Cancelled => Some(Duration::ZERO),
        }
    }

    /// `true` if a checkpoint here would return `Cancelled`.
    pub fn is_cancelled(self) -> bool {
        self == EffectiveDeadline::Cancelled
    }
}

/// The earliest deadline among the scopes enclosing the code being polled,
/// up to and including the nearest shielded one, or
/// [`Cancelled`](EffectiveDeadline::Cancelled) if that code is effectively
/// cancelled (a checkpoint here returns `Cancelled`). Outside any scope it is
/// `None`, or `Cancelled` once the runtime is shutting down.
///
/// A deadline found passed before its timer fired is recorded as a cancel of
/// its scope here (as `cancel_called()` does), so the next checkpoint agrees
/// with the answer.
///
/// ```
/// use canopy_scope::{
///     CancelScope, Cancelled, EffectiveDeadline, current_effective_deadline, move_on_after,
/// };
/// use std::time::Duration;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = canopy_timer::now();
///     move_on_after(Duration::from_secs(5), async {
///         move_on_after(Duration::from_secs(60), async {
///             let deadline = current_effective_deadline();
///             assert_eq!(deadline, EffectiveDeadline::At(start + Duration::from_secs(5)));
///             assert_eq!(deadline.remaining(), Some(Duration::from_secs(5)));
///             Ok::<_, Cancelled>(())
///         })
///         .await
///     })
///     .await
///     .unwrap();
///     let scope = CancelScope::new();
///     scope.cancel();
///     let inside = scope.run(async { Ok::<_, Cancelled>(current_effective_deadline()) });
///     assert_eq!(inside.await, Ok(Some(EffectiveDeadline::Cancelled)));
/// });
/// ```
pub fn current_effective_deadline() -> EffectiveDeadline {
    task_context::refresh_if_changed();
    let frame = task_context::current_frame();
    // SAFETY: a non-null frame belongs to the poll running on this thread.
    let Some(innermost) = (unsafe { frame.as_ref() }) else {
        // In no scope: cancelled if the runtime is shutting down, else none.
        return if task_context::cancelled_root().is_null() {
            EffectiveDeadline::None
        } else {
            EffectiveDeadline::Cancelled
        };
    };
    if !innermost.origin.get().is_null() {
        return EffectiveDeadline::Cancelled;
    }
    let (earliest, chain) = earliest_deadline(innermost);
    let Some(earliest) = driver::decode(earliest) else {
        return EffectiveDeadline::None;
    };
    if driver::now() < earliest {
        return EffectiveDeadline::At(earliest);
    }
    // Passed, its timer not fired yet: record it as a cancel now, as a
    // checkpoint reading the clock would, so the next one agrees.
    task_context::cancel_passed_deadlines();
    for_each_up_to_shield(chain, |node| {
        node.cancel_called();
    });
    EffectiveDeadline::Cancelled
}

/// The earliest deadline (encoded) from `innermost` up to the nearest
/// shielded scope, through the task's frames and then its node chain; and
/// where that chain starts, if the frames reach it (no shield among them).
fn earliest_deadline(innermost: &Frame) -> (u64, Option<&Node>) {
    let mut earliest = NO_DEADLINE;
    let mut frame = innermost;
    loop {
        // SAFETY: frames and slots live for the poll (see `frame.rs`).
        let slot = unsafe { &*frame.slot };
        let node = slot.node.get();
        let (deadline, state) = match node {
            Some(node) => (node.deadline_bits(), node.state()),
            None => (slot.deadline.get(), 0),
        };
        earliest = earliest.min(deadline);
        if state & SHIELD != 0 {
            return (earliest, None);
        }
        // SAFETY: as above.
        match unsafe { frame.parent.as_ref() } {
            Some(parent) => frame = parent,
            None => {
                // The top of this task: go on through the node chain (a task
                // spawned into a group hangs under the group's scope).
                let above = node.and_then(|n| n.above(n.state()));
                for_each_up_to_shield(above, |n| earliest = earliest.min(n.deadline_bits()));
                return (earliest, above);
            }
        }
    }
}

/// Calls `f` on `node` and each node above it, up to and including the
/// nearest shielded one.
fn for_each_up_to_shield(mut node: Option<&Node>, mut f: impl FnMut(&Node)) {
    while let Some(n) = node {
        f(n);
        let state = n.state();
        if state & SHIELD != 0 {
            break;
        }
        node = n.above(state);
    }
}
