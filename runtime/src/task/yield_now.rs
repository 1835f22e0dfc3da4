//! `yield_now`: give other tasks a turn — a full checkpoint.

/// Yields once to the scheduler: the task goes to the back of its worker's run
/// queue, so every task already queued there runs before it continues.
///
/// It is a full checkpoint (the same as `canopy::checkpoint`): inside a
/// cancelled scope it returns `Err(Cancelled)` instead. Use it inside long
/// computations that never await anything else, and propagate with `?`.
///
/// ```
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     for _ in 0..3 {
///         canopy_runtime::yield_now().await?;
///     }
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn yield_now() -> YieldNow {
    canopy_scope::checkpoint()
}

/// The future returned by [`yield_now`]: a [`canopy_scope::Checkpoint`].
pub type YieldNow = canopy_scope::Checkpoint;
