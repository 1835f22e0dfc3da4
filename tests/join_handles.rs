//! Awaiting a `JoinHandle` (DESIGN §2.8, §2.13): a join whose task has
//! finished returns the task's outcome — output or panic — even inside a
//! cancelled scope, because that outcome is already decided; only a join
//! that has to wait is a cancel point.

mod common;

use canopy::{
    CancelScope, Runtime,
    scope::{CancelReason, checkpoint_if_cancelled},
    task::{JoinError, JoinHandle, yield_now},
};
use common::{Gate, paused};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How long a test waits for another thread before failing (never reached
/// when things work: the waits end as soon as the event happens).
const PATIENCE: Duration = Duration::from_secs(30);

/// Yields until `handle`'s task has finished (outside any cancelled scope).
async fn until_finished<T>(handle: &JoinHandle<T>) {
    while !handle.is_finished() {
        yield_now().await.unwrap();
    }
}

#[test]
fn a_finished_tasks_output_is_returned_inside_a_cancelled_scope() {
    paused().block_on(async {
        let handle = canopy::spawn(async { 42 });
        until_finished(&handle).await;
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                scope.cancel();
                // Decided before the join was polled: the output stands.
                assert_eq!(handle.await.unwrap(), 42);
                // The next checkpoint reports the cancellation.
                checkpoint_if_cancelled().await
            })
            .await;
        assert_eq!(out, Ok(None), "the scope caught its own cancellation");
    });
}

#[test]
fn a_finished_tasks_output_is_returned_when_the_scope_was_cancelled_before_it_was_entered() {
    paused().block_on(async {
        let handle = canopy::spawn(async { "done" });
        until_finished(&handle).await;
        let scope = CancelScope::new();
        scope.cancel();
        // The join is the scope's whole body, and its first poll already
        // finds the scope cancelled.
        let out = scope.run(handle).await;
        assert_eq!(out.unwrap(), Some("done"));
    });
}

#[test]
fn a_finished_tasks_panic_reaches_the_handle_inside_a_cancelled_scope_and_is_not_reported_unobserved()
 {
    let reported = Arc::new(AtomicUsize::new(0));
    let counter = reported.clone();
    let rt = Runtime::builder()
        .workers(2)
        .start_paused(true)
        .on_unobserved_panic(move |_| {
            counter.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    // Joined from a task this time (a worker's poll, not block_on's).
    let joined = rt.block_on(rt.spawn(async {
        let handle = canopy::spawn(async { panic!("decided before the join") });
        until_finished(&handle).await;
        let scope = CancelScope::new();
        scope.cancel();
        scope
            .run(async {
                let error = handle.await.unwrap_err();
                assert!(error.is_panic(), "{error}");
                assert_eq!(error.panic_message(), Some("decided before the join"));
                checkpoint_if_cancelled().await
            })
            .await
    }));
    assert_eq!(joined.unwrap(), Ok(None));
    // The handle received the panic, so dropping it reported nothing.
    assert_eq!(rt.metrics().unobserved_panics, 0);
    assert_eq!(reported.load(SeqCst), 0);
    assert_eq!(rt.metrics().panicked_tasks, 1);
}

/// Polls `join` and tells `waiting` the first time it returns `Pending`.
fn telling_when_pending<'a, T>(
    join: &'a mut JoinHandle<T>,
    waiting: mpsc::Sender<()>,
) -> impl Future<Output = Result<T, JoinError>> + 'a {
    let mut told = false;
    poll_fn(move |cx| {
        let polled = Pin::new(&mut *join).poll(cx);
        if polled.is_pending() && !told {
            told = true;
            waiting.send(()).unwrap();
        }
        polled
    })
}

#[test]
fn a_join_that_must_wait_is_a_cancel_point() {
    let rt = paused();
    let gate = Gate::default();
    let passed = gate.passed();
    let mut handle = rt.spawn(async move {
        passed.await;
        7
    });
    let scope = CancelScope::new();
    let remote = scope.clone();
    let (waiting_tx, waiting_rx) = mpsc::channel();
    // Another OS thread cancels once the join waits.
    let canceller = std::thread::spawn(move || {
        waiting_rx.recv_timeout(PATIENCE).unwrap();
        remote.cancel();
    });
    rt.block_on(async {
        let out = scope
            .run(async {
                let error = telling_when_pending(&mut handle, waiting_tx)
                    .await
                    .unwrap_err();
                let cancelled = error.cancelled().expect("the awaiter was cancelled");
                assert_eq!(cancelled.reason(), CancelReason::Explicit);
                assert_eq!(cancelled.scope(), scope.id());
                assert!(!error.is_panic() && !error.is_dropped());
                Err::<(), _>(error)
            })
            .await;
        assert!(
            matches!(out, Ok(None)),
            "the scope caught the join's cancellation"
        );
        // The task was not touched: once it can finish, the handle (kept
        // alive by awaiting it by reference) gets its output.
        assert!(!handle.is_finished());
        gate.open();
        assert_eq!(handle.await.unwrap(), 7);
    });
    canceller.join().unwrap();
}

#[test]
fn a_join_that_must_wait_in_a_scope_cancelled_before_its_first_poll_returns_cancelled() {
    paused().block_on(async {
        let gate = Gate::default();
        let passed = gate.passed();
        let mut handle = canopy::spawn(async move {
            passed.await;
            7
        });
        let scope = CancelScope::new();
        scope.cancel();
        let error = scope
            .run(async {
                let error = (&mut handle).await.unwrap_err();
                assert!(error.cancelled().is_some(), "{error}");
                Ok::<_, JoinError>(error)
            })
            .await
            .unwrap()
            .expect("the body returned the JoinError as a value");
        assert_eq!(error.cancelled().map(|c| c.scope()), Some(scope.id()));
        gate.open();
        assert_eq!(handle.await.unwrap(), 7);
    });
}

#[test]
fn ready_joins_in_a_cancelled_scope_spend_the_budget_and_yield_without_losing_outputs() {
    // One worker and a budget of 1 (Trio's strict mode): every ready join
    // yields once before it completes, which lets a queued sibling run.
    let rt = Runtime::builder()
        .workers(1)
        .start_paused(true)
        .checkpoint_budget(1)
        .build()
        .unwrap();
    let outcome = rt.block_on(rt.spawn(async {
        let handles: Vec<_> = (0..3u32).map(|i| canopy::spawn(async move { i })).collect();
        while !handles.iter().all(JoinHandle::is_finished) {
            yield_now().await.unwrap();
        }
        let sibling_ran = Arc::new(AtomicBool::new(false));
        let flag = sibling_ran.clone();
        drop(canopy::spawn(async move { flag.store(true, SeqCst) }));
        let log = Mutex::new(Vec::new());
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope
            .run(async {
                for handle in handles {
                    let output = handle.await?;
                    log.lock().unwrap().push((output, sibling_ran.load(SeqCst)));
                }
                Ok::<(), JoinError>(())
            })
            .await;
        (out.map_err(|e| e.to_string()), log.into_inner().unwrap())
    }));
    let (out, log) = outcome.unwrap();
    assert_eq!(out, Ok(Some(())), "no join returned Cancelled");
    // The first join yielded before completing (so the sibling ran), and
    // every join still returned its output.
    assert_eq!(log, [(0, true), (1, true), (2, true)]);
}
