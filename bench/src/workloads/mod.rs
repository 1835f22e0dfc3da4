//! Every workload the harness runs, each written once, generic over
//! [`Runtime`], and registered here with one body per runtime.
//!
//! A workload's body takes a started runtime and returns the time one
//! iteration took. Most time the whole iteration; a few (`cancel_storm`,
//! `group_fail_fast`, `blocked_worker`) time only the part they are about,
//! and say so in their description.
//!
//! # Adding a workload
//!
//! One new file: a generic `fn body<R: Runtime>(rt: &R, size: Size) ->
//! Duration` and a `pub fn workloads() -> Vec<Workload>` that lists it with
//! [`on_all`] (or [`Entry::NotAvailable`] for a runtime that lacks the
//! feature), then one line in [`all`]. A workload that needs something new
//! from the runtimes (`tcp_echo` needs a listener and a stream) either has
//! one body per runtime, as `net.rs` and `groups.rs` do, or puts what it
//! needs in a small trait of its own in that file, implemented there for
//! each runtime.

mod blocked;
mod cancellation;
mod deadlines;
mod groups;
pub mod net;
mod scheduler;
pub mod sync;
mod timers;

use crate::runtimes::{AsyncExecutor, Canopy, Runtime, Tokio};
use std::time::Duration;

/// How big each workload's iteration is: the full size, or a tenth of it
/// (`--quick`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Divides every count (1 for a full run, 10 for `--quick`).
    pub divisor: usize,
}

impl Size {
    /// The full size (what the criterion benches run).
    pub const FULL: Size = Size { divisor: 1 };
    /// A tenth of it (`--quick`).
    pub const QUICK: Size = Size { divisor: 10 };

    /// `full`, scaled down for a quick run (never below 1).
    pub fn n(self, full: usize) -> usize {
        (full / self.divisor).max(1)
    }
}

/// How many operations one iteration of a workload of this size performs.
pub type Ops = fn(Size) -> usize;

/// One iteration of a workload on runtime `R`: the time it took.
pub type Body<R> = fn(&R, Size) -> Duration;

/// What a workload does on one runtime.
#[derive(Debug)]
pub enum Entry<R> {
    /// It runs this body.
    Run(Body<R>),
    /// The runtime lacks the feature; the reason is shown in its cell.
    NotAvailable(&'static str),
}

impl<R> Clone for Entry<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for Entry<R> {}

/// A workload: its name, what it measures, and its body on each runtime.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Its name in the table (the criterion bench group of the same name
    /// measures the same thing).
    pub name: &'static str,
    /// The area it belongs to (scheduler, timers, ...).
    pub area: &'static str,
    /// One sentence or two: what an iteration does, and any runtime's
    /// closest-equivalent stand-in.
    pub about: &'static str,
    /// How many operations (tasks, messages, ...) one iteration performs, for
    /// the per-op cost.
    pub ops: Ops,
    /// The body on canopy.
    pub canopy: Entry<Canopy>,
    /// The body on tokio.
    pub tokio: Entry<Tokio>,
    /// The body on async-executor.
    pub async_executor: Entry<AsyncExecutor>,
}

/// The runtimes, by name, in their default order.
pub const RUNTIMES: [&str; 3] = [Canopy::NAME, Tokio::NAME, AsyncExecutor::NAME];

/// Registers one generic body on all three runtimes.
macro_rules! on_all {
    ($body:ident $(:: <$($extra:ty),*>)?) => {
        (
            $crate::workloads::Entry::Run($body::<$crate::runtimes::Canopy $($(, $extra)*)?>),
            $crate::workloads::Entry::Run($body::<$crate::runtimes::Tokio $($(, $extra)*)?>),
            $crate::workloads::Entry::Run($body::<$crate::runtimes::AsyncExecutor $($(, $extra)*)?>),
        )
    };
}
pub(crate) use on_all;

/// A workload whose body is the same generic function on every runtime.
pub fn generic(
    name: &'static str,
    area: &'static str,
    about: &'static str,
    ops: Ops,
    (canopy, tokio, async_executor): (Entry<Canopy>, Entry<Tokio>, Entry<AsyncExecutor>),
) -> Workload {
    Workload {
        name,
        area,
        about,
        ops,
        canopy,
        tokio,
        async_executor,
    }
}

/// Every workload, in the order the table lists them.
pub fn all() -> Vec<Workload> {
    let mut all = Vec::new();
    all.extend(scheduler::workloads());
    all.extend(timers::workloads());
    all.extend(cancellation::workloads());
    all.extend(deadlines::workloads());
    all.extend(groups::workloads());
    all.extend(blocked::workloads());
    all.extend(sync::workloads());
    all.extend(net::workloads());
    all
}

#[cfg(test)]
mod tests {
    // Paths, not imports: the criterion benches compile this module too,
    // where `cargo check --benches` sees it without its tests.

    #[test]
    fn names_are_unique() {
        let all = super::all();
        let mut names: Vec<_> = all.iter().map(|w| w.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn quick_sizes_never_reach_zero() {
        assert_eq!(super::Size::QUICK.n(5), 1);
        assert_eq!(super::Size::QUICK.n(10_000), 1_000);
    }
}
