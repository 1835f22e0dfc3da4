//! The public API at its documented paths: every name a user imports is
//! spelled here by its path, and its thread-safety asserted, so moving a name
//! (or losing `Send`/`Sync`) fails to compile rather than surprise a user.
//! Sockets, sync primitives and hyper's types are covered beside their
//! behaviour (`tests/net.rs`, `tests/sync.rs`, `tests/hyper_rt.rs`).

use std::future::Ready;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

type Fut = Ready<Result<(), canopy::Cancelled>>;
type IoFut = Ready<std::io::Result<()>>;

#[test]
fn the_crate_root_holds_the_daily_names() {
    send_sync::<canopy::Runtime>();
    send_sync::<canopy::CancelScope>();
    send_sync::<canopy::Cancelled>();
    // Functions, by path: each names a fn item of the expected shape.
    let _: fn(Fut) -> canopy::task::JoinHandle<Result<(), canopy::Cancelled>> = canopy::spawn;
    let _: fn(Fut) = canopy::spawn_detached;
    let _: fn(Fut) -> Result<(), canopy::Cancelled> = canopy::run;
    let _: fn() -> canopy::scope::Checkpoint = canopy::checkpoint;
    let _ = canopy::task_group::<canopy::Cancelled, fn(canopy::task::TaskGroup<_>) -> Fut, Fut>;
    let _ = canopy::move_on_after::<Fut, (), canopy::Cancelled>;
    let _ = canopy::move_on_at::<Fut, (), canopy::Cancelled>;
    let _ = canopy::fail_after::<IoFut, (), std::io::Error>;
    let _ = canopy::fail_at::<IoFut, (), std::io::Error>;
}

#[test]
fn task_types_live_in_task() {
    use canopy::task::*;
    send_sync::<JoinHandle<u32>>();
    send::<JoinHandle<std::cell::Cell<u32>>>();
    send_sync::<JoinError>();
    send_sync::<TaskGroup<std::io::Error>>();
    send_sync::<TaskStatus<u32>>();
    send_sync::<StartError<std::io::Error>>();
    send_sync::<GroupError<std::io::Error>>();
    send_sync::<Failure<std::io::Error>>();
    send_sync::<GroupClosed>();
    // Not `Sync`: it boxes the task's error, which need only be `Send`.
    send::<DetachedTaskError>();
    send_sync::<YieldNow>();
    fn child_output<T: ChildOutput<std::io::Error>>() {}
    child_output::<Result<(), std::io::Error>>();
    fn detached_output<T: DetachedOutput>() {}
    detached_output::<()>();
    let _ = spawn::<Fut>;
    let _ = spawn_detached::<Fut>;
    let _ = task_group::<canopy::Cancelled, fn(TaskGroup<_>) -> Fut, Fut>;
    let _: fn() -> YieldNow = yield_now;
}

#[test]
fn scope_types_live_in_scope() {
    use canopy::scope::*;
    send_sync::<CancelScope>();
    send_sync::<Cancelled>();
    send_sync::<CancelReason>();
    send_sync::<ScopeId>();
    send_sync::<TimedOut>();
    send_sync::<EffectiveDeadline>();
    send_sync::<Checkpoint>();
    send_sync::<CheckpointIfCancelled>();
    send_sync::<CancelShieldedCheckpoint>();
    // A scope's future keeps its frame in cells: `Send`, not `Sync`.
    send::<Run<Fut>>();
    send::<RunOrFail<Fut>>();
    send::<FailAt<Fut>>();
    send_sync::<Cancellable<Ready<()>>>();
    send_sync::<deadline::InvalidTimeout>();
    fn cancel_error<T: CancelError + ?Sized>() {}
    cancel_error::<std::io::Error>();
    let _: fn() -> EffectiveDeadline = current_effective_deadline;
    let _: fn() -> CheckpointIfCancelled = checkpoint_if_cancelled;
    let _: fn() -> CancelShieldedCheckpoint = cancel_shielded_checkpoint;
    let _: fn() -> Checkpoint = checkpoint;
    let _ = cancellable::<Ready<()>>;
    let _ = move_on_after::<Fut, (), Cancelled>;
    let _: fn() -> Option<String> = deadline::grpc_timeout_header;
    let _: fn(std::time::Duration) -> String = deadline::encode_grpc_timeout;
    let _ = deadline::parse_grpc_timeout;
}

#[test]
fn runtime_types_live_in_runtime() {
    use canopy::runtime::*;
    send_sync::<Runtime>();
    send::<Builder>();
    send_sync::<Handle>();
    send_sync::<RuntimeMetrics>();
    send_sync::<WorkerMetrics>();
    send_sync::<BuildError>();
    send_sync::<RootFailure>();
    send_sync::<StuckPoll>();
    send_sync::<OutsideRuntime>();
}

#[test]
fn time_blocking_and_signal_types_live_in_their_modules() {
    use canopy::{blocking, signal, time};
    send_sync::<time::Sleep>();
    send_sync::<time::SleepForever>();
    send_sync::<time::Interval>();
    send_sync::<time::MissedTicks>();
    send_sync::<time::Instant>();
    send::<blocking::ToThread<fn() -> u8, u8>>();
    send_sync::<signal::Signal>();
    send::<signal::CtrlC>();
    send::<signal::Signals>();
    let _ = blocking::spawn::<fn() -> u8, u8>;
    let _ = blocking::to_thread::<fn() -> u8, u8>;
    let _: fn() -> bool = blocking::is_cancelled;
    let _: fn() -> signal::CtrlC = signal::ctrl_c;
}
