//! Errors never pass silently (DESIGN §2.10): a task spawned with
//! `spawn_detached` that returns an `Err` fails the root group like an
//! unobserved panic — counted, reported (hook or stderr), and under
//! `RootFailure::CancelRoot` it cancels the root and surfaces from
//! `block_on`. `Ok`, `()` and the root's own cancellation report nothing.

use canopy::time::sleep;
use canopy::{
    Cancelled, Runtime, runtime::RootFailure, scope::CancelReason, spawn_detached,
    task::DetachedTaskError,
};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);
const SEC: Duration = Duration::from_secs(1);
/// How long a test waits for another thread before failing (never reached
/// when things work: the waits end as soon as the event happens).
const PATIENCE: Duration = Duration::from_secs(30);

/// What the `on_unobserved_error` hook saw: each error's report, the file
/// it was spawned in, and its `io::ErrorKind` if it is an `io::Error`.
type Reports = Arc<Mutex<Vec<(String, String, Option<io::ErrorKind>)>>>;

/// A paused-clock runtime with `policy` whose error hook records into the
/// returned `Reports`.
fn recording(policy: RootFailure) -> (Runtime, Reports) {
    let reports = Reports::default();
    let sink = reports.clone();
    let rt = Runtime::builder()
        .workers(2)
        .start_paused(true)
        .root_failure(policy)
        .on_unobserved_error(move |error: &DetachedTaskError| {
            sink.lock().unwrap().push((
                error.to_string(),
                error.location().file().to_owned(),
                error.downcast_ref::<io::Error>().map(io::Error::kind),
            ));
        })
        .build()
        .unwrap();
    (rt, reports)
}

#[test]
fn an_error_from_a_detached_root_task_is_reported_and_counted() {
    let (rt, reports) = recording(RootFailure::Report);
    rt.block_on(async {
        spawn_detached(async {
            sleep(SEC).await?;
            Err::<(), _>(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        });
        // On the paused clock this returns only after every task went
        // idle, so the detached one has ended (and been reported) by then.
        sleep(HOUR).await.unwrap();
    });
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let (report, file, kind) = &reports[0];
    assert!(
        report.starts_with("a detached task (spawned at tests/root_errors.rs:")
            && report.ends_with("returned an error: disk full"),
        "{report}"
    );
    assert_eq!(file, "tests/root_errors.rs");
    assert_eq!(*kind, Some(io::ErrorKind::StorageFull));
    let metrics = rt.metrics();
    assert_eq!(metrics.unobserved_errors, 1);
    assert_eq!(metrics.unobserved_panics, 0);
}

#[test]
fn under_report_an_error_from_a_detached_root_task_cancels_nothing() {
    let (rt, reports) = recording(RootFailure::Report);
    rt.block_on(async {
        let sibling = canopy::spawn(sleep(HOUR));
        spawn_detached(async { Err::<(), _>(io::Error::other("lost connection")) });
        // The root was not cancelled: every wait completes.
        sleep(HOUR).await.unwrap();
        sleep(SEC).await.unwrap();
        sibling.await.unwrap().unwrap();
    });
    assert_eq!(reports.lock().unwrap().len(), 1);
}

#[test]
fn an_error_from_a_detached_task_spawned_through_a_handle_from_another_thread_is_reported() {
    let (rt, reports) = recording(RootFailure::Report);
    let handle = rt.handle().clone();
    std::thread::spawn(move || {
        handle.spawn_detached(async { Err::<u64, _>(io::Error::other("from outside")) })
    })
    .join()
    .unwrap();
    rt.block_on(sleep(HOUR)).unwrap(); // every task idle afterwards
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].0.ends_with("from outside"), "{reports:?}");
}

#[test]
fn under_cancel_root_an_error_from_a_detached_root_task_cancels_the_root_and_surfaces_from_block_on()
 {
    let (rt, reports) = recording(RootFailure::CancelRoot);
    let (sibling_tx, sibling_rx) = mpsc::channel();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            // A sibling waiting in the root group (spawned here, so the
            // paused clock cannot jump its hour before the failure). It
            // propagates the root's cancellation, which is no error of its
            // own: not reported.
            spawn_detached(async move {
                let out = sleep(HOUR).await;
                sibling_tx.send(out).unwrap();
                out
            });
            spawn_detached(async {
                sleep(SEC).await?;
                Err::<(), _>(io::Error::other("the backend went away"))
            });
            // The program's main future is cancelled too.
            let cancelled = sleep(HOUR).await.unwrap_err();
            assert_eq!(cancelled.reason(), CancelReason::GroupFailed);
        })
    }));
    // block_on panics with the error's report.
    let payload = outcome.unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .expect("a panic with a message");
    assert!(
        message.contains("returned an error: the backend went away")
            && message.contains("RootFailure::CancelRoot"),
        "{message}"
    );
    let sibling = sibling_rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(sibling.unwrap_err().reason(), CancelReason::GroupFailed);
    assert_eq!(reports.lock().unwrap().len(), 1, "only the real error");
    assert_eq!(rt.metrics().unobserved_errors, 1);
    // The failure was surfaced once: the next block_on runs normally (its
    // future sees the root cancelled, as every task now does).
    let after = rt.block_on(async { sleep(SEC).await });
    assert_eq!(after.unwrap_err().reason(), CancelReason::GroupFailed);
}

#[test]
fn ok_and_unit_outputs_of_detached_tasks_report_nothing() {
    let (rt, reports) = recording(RootFailure::CancelRoot);
    rt.block_on(async {
        spawn_detached(async {});
        spawn_detached(async { Ok::<(), io::Error>(()) });
        spawn_detached(async { Ok::<u64, Cancelled>(7) });
        spawn_detached(async {
            sleep(SEC).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>("discarded")
        });
        // Not cancelled: no root failure happened.
        sleep(HOUR).await.unwrap();
    });
    assert!(reports.lock().unwrap().is_empty());
    assert_eq!(rt.metrics().unobserved_errors, 0);
    assert_eq!(rt.metrics().completed_tasks, 4);
}

#[test]
fn a_detached_task_returning_the_roots_shutdown_cancellation_reports_nothing() {
    // A real clock: on a paused one the hour would pass before the shutdown.
    let reported = Arc::new(AtomicUsize::new(0));
    let counter = reported.clone();
    let rt = Runtime::builder()
        .workers(2)
        .root_failure(RootFailure::CancelRoot)
        .on_unobserved_error(move |_| {
            counter.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (ended_tx, ended_rx) = mpsc::channel();
    for _ in 0..2 {
        let (started, ended) = (started_tx.clone(), ended_tx.clone());
        // As a bare `Cancelled`...
        rt.spawn_detached(async move {
            let waiting = sleep(HOUR);
            started.send(()).unwrap();
            let out = waiting.await;
            ended.send(out.map_err(|c| c.reason())).unwrap();
            out
        });
        let (started, ended) = (started_tx.clone(), ended_tx.clone());
        // ...and inside an `io::Error`, propagated with `?`.
        rt.spawn_detached(async move {
            let waiting = sleep(HOUR);
            started.send(()).unwrap();
            let out = waiting.await;
            ended.send(out.map_err(|c| c.reason())).unwrap();
            out?;
            Ok::<(), io::Error>(())
        });
    }
    for _ in 0..4 {
        started_rx.recv_timeout(PATIENCE).unwrap();
    }
    let handle = rt.handle().clone();
    assert!(rt.shutdown(PATIENCE), "every task ended within the grace");
    for _ in 0..4 {
        let out = ended_rx.recv_timeout(PATIENCE).unwrap();
        assert_eq!(out, Err(CancelReason::Shutdown));
    }
    assert_eq!(reported.load(SeqCst), 0);
    assert_eq!(handle.metrics().unobserved_errors, 0);
}

#[test]
fn an_error_returned_during_shutdown_is_still_reported() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    let rt = Runtime::builder()
        .workers(2)
        .on_unobserved_error(move |error| sink.lock().unwrap().push(error.to_string()))
        .build()
        .unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    rt.spawn_detached(async move {
        let waiting = sleep(HOUR);
        started_tx.send(()).unwrap();
        let _ = waiting.await; // cancelled by the shutdown
        // Cleanup that fails is a failure, shutdown or not.
        Err::<(), _>(io::Error::other("could not flush the journal"))
    });
    started_rx.recv_timeout(PATIENCE).unwrap();
    let handle = rt.handle().clone();
    assert!(rt.shutdown(PATIENCE));
    assert_eq!(handle.metrics().unobserved_errors, 1);
    let reports = reports.lock().unwrap();
    assert!(
        reports[0].ends_with("could not flush the journal"),
        "{reports:?}"
    );
}

#[test]
fn a_panic_in_a_detached_task_is_reported_as_an_unobserved_panic() {
    let panics = Arc::new(AtomicUsize::new(0));
    let counter = panics.clone();
    let rt = Runtime::builder()
        .workers(2)
        .start_paused(true)
        .on_unobserved_panic(move |_| {
            counter.fetch_add(1, SeqCst);
        })
        .on_unobserved_error(|error| panic!("not an error: {error}"))
        .build()
        .unwrap();
    rt.block_on(async {
        spawn_detached(async {
            if true {
                panic!("detached and exploded");
            }
            Ok::<(), io::Error>(())
        });
        sleep(HOUR).await.unwrap();
    });
    assert_eq!(panics.load(SeqCst), 1);
    let metrics = rt.metrics();
    assert_eq!(metrics.unobserved_panics, 1);
    assert_eq!(metrics.unobserved_errors, 0);
}

#[test]
fn a_panicking_unobserved_error_hook_does_not_kill_the_worker() {
    let rt = Runtime::builder()
        .workers(1)
        .start_paused(true)
        .on_unobserved_error(|_| panic!("the hook itself fails"))
        .build()
        .unwrap();
    rt.block_on(async {
        spawn_detached(async { Err::<(), _>(io::Error::other("first")) });
        sleep(SEC).await.unwrap();
        // The only worker still runs tasks.
        assert_eq!(canopy::spawn(async { 5 }).await.unwrap(), 5);
    });
    let metrics = rt.metrics();
    assert_eq!(metrics.unobserved_errors, 1);
    assert_eq!(
        metrics.unobserved_panics, 0,
        "the hook's panic was contained"
    );
}

#[canopy::test(start_paused = true)]
#[should_panic(expected = "returned an error: the fixture is broken")]
async fn a_detached_tasks_error_fails_a_canopy_test() {
    spawn_detached(async { Err::<(), _>(io::Error::other("the fixture is broken")) });
    // Cancelled by the failure (the root group's CancelRoot policy).
    let _ = sleep(HOUR).await;
}
