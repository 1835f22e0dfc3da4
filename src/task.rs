//! Tasks: spawning them, awaiting them, and the task groups that own them.
//!
//! [`spawn`] puts a task in the runtime's root group and hands back a
//! [`JoinHandle`]; [`spawn_detached`] is for a task nobody awaits (its error
//! is reported, never dropped). A [`TaskGroup`], opened with
//! [`task_group`], owns its children: it waits for all of them, and the
//! first failure cancels the rest ([`GroupError`] holds every failure).
//! [`TaskGroup::start`] waits until a child reports it is ready
//! ([`TaskStatus::started`]). [`yield_now`] lets other tasks run.
//!
//! ```
//! use canopy::task::{self, JoinError};
//! use std::time::Duration;
//!
//! let rt = canopy::Runtime::builder().workers(2).start_paused(true).build()?;
//! rt.block_on(async {
//!     let answer = task::spawn(async { 6 * 7 });
//!     assert_eq!(answer.await.unwrap(), 42);
//!
//!     let boom = task::spawn(async { panic!("boom") });
//!     let error: JoinError = boom.await.unwrap_err();
//!     assert_eq!(error.panic_message(), Some("boom"));
//!
//!     canopy::task_group(|tg| async move {
//!         tg.spawn(canopy::time::sleep(Duration::from_secs(1)));
//!         assert_eq!(tg.live_children(), 1);
//!         task::yield_now().await
//!     })
//!     .await
//!     .unwrap(); // the group waited for its child
//! });
//! # Ok::<(), canopy::runtime::BuildError>(())
//! ```

pub use canopy_runtime::{
    ChildOutput, DetachedOutput, DetachedTaskError, Failure, GroupClosed, GroupError, JoinError,
    JoinHandle, StartError, TaskGroup, TaskStatus, YieldNow, spawn, spawn_detached, task_group,
    yield_now,
};
