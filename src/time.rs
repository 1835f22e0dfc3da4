//! Time: sleeping, intervals, and the runtime's (possibly paused) clock.
//!
//! Every sleep is a checkpoint: it returns `Cancelled` when its scope is
//! cancelled. On a runtime built with `start_paused(true)` the clock stands
//! still and jumps to the next timer when every task waits, so tests of
//! timeouts take no real time.
//!
//! ```
//! use std::time::Duration;
//! let rt = canopy::Runtime::builder().workers(2).start_paused(true).build().unwrap();
//! rt.block_on(async {
//!     let start = canopy::time::now();
//!     canopy::time::sleep(Duration::from_secs(60)).await?;
//!     assert_eq!(canopy::time::now() - start, Duration::from_secs(60));
//!     Ok::<_, canopy::Cancelled>(())
//! })
//! .unwrap();
//! ```

pub use canopy_timer::{
    Instant, Interval, MissedTicks, Sleep, SleepForever, advance, interval, interval_at, now,
    sleep, sleep_forever, sleep_until,
};
