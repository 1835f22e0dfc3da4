//! The checkpoint budget (DESIGN §2.8): a task that keeps finding its waits
//! already satisfied would never return to the scheduler, so every waiting
//! primitive spends one unit per ready operation and, once the budget (default
//! 128, tokio's coop budget) is spent, yields once before going on.

use crate::context;
use std::task::{Context, Poll};

/// Default checkpoint budget: the same 128 that tokio's cooperative scheduling
/// uses, so the two runtimes are compared on equal terms.
pub(crate) const DEFAULT_BUDGET: u32 = 128;

/// Spends one unit of the running task's budget. Returns `Pending` (after
/// scheduling the task to run again) when the budget is exhausted.
pub(crate) fn poll_spend(cx: &mut Context<'_>) -> Poll<()> {
    if context::spend_budget() {
        Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
