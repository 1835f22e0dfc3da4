//! canopy's timers: `sleep`, `sleep_until`, `interval`, on a sharded
//! hierarchical timing wheel, with a clock that tests can pause.
//!
//! Applications use these through `canopy::time`. The runtime owns one
//! [`TimerDriver`] and drives it; this crate knows no executor.
//!
//! ```
//! use std::time::Duration;
//! let rt = canopy_runtime::Runtime::builder().workers(2).start_paused(true).build().unwrap();
//! rt.block_on(async {
//!     let before = canopy_timer::now();
//!     canopy_timer::sleep(Duration::from_secs(3600)).await; // instant on a paused clock
//!     assert_eq!(canopy_timer::now() - before, Duration::from_secs(3600));
//! });
//! ```
//!
//! # Design
//!
//! - `wheel.rs`: the timing wheel (6 levels x 64 slots of 1 ms).
//! - `driver.rs`: per-worker shards and the sleep/wake protocol with the
//!   runtime's idle worker.
//! - `clock.rs`: real or paused time; deadlines round up to the next
//!   millisecond, so timers never fire early.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod clock;
mod context;
mod deadline;
mod driver;
mod forever;
mod interval;
mod loom;
mod sleep;
mod wheel;

pub use context::{TimerContextGuard, enter};
pub use driver::TimerDriver;
pub use forever::{SleepForever, sleep_forever};
pub use interval::{Interval, MissedTicks, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use std::time::Instant;

/// The current time on the runtime's clock: `Instant::now()`, unless the
/// runtime was built with a paused clock, whose time moves only by
/// [`advance`] or when every task waits on a timer.
pub fn now() -> Instant {
    context::now()
}

/// Moves a paused clock forward by `by` and fires the timers that are then
/// due (like tokio's `time::advance` and Trio's `MockClock.jump`).
///
/// # Panics
///
/// Outside a runtime, or if the runtime's clock is not paused
/// (`Builder::start_paused(true)`).
#[track_caller]
pub fn advance(by: std::time::Duration) {
    let (driver, _) = context::current().expect(context::OUTSIDE_RUNTIME);
    assert!(
        driver.advance(by),
        "canopy_timer::advance needs a paused clock: build the runtime with start_paused(true)"
    );
}
