//! A panicking worker-thread hook never leaves a runtime that hangs (issue
//! 15 item 7): a panicking `on_thread_start` (or thread naming function)
//! fails `build()` with the hook's panic, and a panicking `on_thread_stop`
//! is contained and reported.
//!
//! Before, `build()` returned `Ok` and the runtime then hung: with one
//! worker no task ever ran; with two, the paused clock never jumped, since
//! the dead worker was never counted idle.

use canopy::{Runtime, runtime::RuntimeMetrics};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

#[test]
fn a_panicking_thread_start_hook_fails_build_with_its_panic() {
    for workers in [1, 2, 4] {
        let calls = Arc::new(AtomicUsize::new(0));
        let stops = Arc::new(AtomicUsize::new(0));
        let (started, stopped) = (calls.clone(), stops.clone());
        let error = Runtime::builder()
            .workers(workers)
            .on_thread_start(move || {
                // Only the last worker to start fails.
                if started.fetch_add(1, SeqCst) + 1 == workers {
                    panic!("cannot open the log file");
                }
            })
            .on_thread_stop(move || {
                stopped.fetch_add(1, SeqCst);
            })
            .build()
            .expect_err("build must not hand out a runtime missing a worker");
        assert_eq!(error.panic_message(), Some("cannot open the log file"));
        let text = error.to_string();
        assert!(
            text.contains("on_thread_start hook panicked")
                && text.contains("cannot open the log file")
                && text.contains("fix the hook"),
            "says what happened and what to do: {text}"
        );
        assert_eq!(calls.load(SeqCst), workers, "every worker ran the hook");
        assert_eq!(
            stops.load(SeqCst),
            workers - 1,
            "the workers that started stopped (and were joined) before build returned"
        );
        let payload = error.try_into_panic().expect("the error carries the panic");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"cannot open the log file")
        );
    }
}

#[test]
fn a_runtime_whose_start_hook_succeeded_runs_on_every_worker() {
    // The wait for the hooks leaves nothing behind: a paused clock jumps,
    // which needs every worker counted idle.
    let rt = Runtime::builder()
        .workers(2)
        .start_paused(true)
        .on_thread_start(|| {})
        .build()
        .unwrap();
    let slept = rt.block_on(async {
        let task = canopy::spawn(canopy::time::sleep(std::time::Duration::from_secs(60)));
        task.await.unwrap()
    });
    assert!(slept.is_ok());
}

#[test]
fn a_panicking_thread_name_function_fails_build_with_its_panic() {
    let error = Runtime::builder()
        .workers(3)
        .thread_name_fn(|index| {
            assert!(index < 2, "only two names configured");
            format!("server-{index}")
        })
        .build()
        .expect_err("no runtime with an unnamed worker");
    assert_eq!(error.panic_message(), Some("only two names configured"));
    assert!(
        error
            .to_string()
            .contains("naming function panicked for worker 2")
    );
}

#[test]
fn a_panicking_thread_stop_hook_is_contained_and_reported() {
    let reported = Arc::new(Mutex::new(Vec::new()));
    let log = reported.clone();
    let rt = Runtime::builder()
        .workers(2)
        .on_thread_stop(|| panic!("cannot flush the log file"))
        .on_unobserved_panic(move |payload| {
            log.lock()
                .unwrap()
                .push(payload.downcast_ref::<&str>().copied().unwrap_or("?"));
        })
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    assert_eq!(
        rt.block_on(async { canopy::spawn(async { 1 }).await })
            .unwrap(),
        1
    );
    drop(rt);
    // Dropping joined the workers, so both hooks have run.
    assert_eq!(
        *reported.lock().unwrap(),
        ["cannot flush the log file", "cannot flush the log file"]
    );
    let metrics: RuntimeMetrics = handle.metrics();
    assert_eq!(metrics.unobserved_panics, 2);
}
