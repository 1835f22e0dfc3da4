//! A SIGINT that arrives while a runtime with `handle_signals(true)` is
//! being built applies to that runtime (issue 15 item 10). Before, it was
//! recorded but applied to no runtime: the program went on as if Ctrl-C had
//! not been pressed.
//!
//! The signal is raised from the thread naming function, which `build`
//! runs after it started catching signals and before the runtime exists,
//! and the function waits until the signal thread has recorded it: the
//! signal is then certain to have been delivered before the runtime could
//! be found. Each test raises real signals, so it runs in a child process
//! (this test binary, re-run for that one test) whose exit status and
//! output it checks.
#![cfg(unix)]

use canopy::{Runtime, checkpoint, scope::CancelReason};
use signal_hook::consts::SIGINT;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

const CHILD: &str = "CANOPY_SIGNALS_DURING_BUILD_CHILD";

/// Runs the test `name` alone in a child process and returns its output;
/// `None` in the child, which runs the body instead.
fn child_output(name: &str) -> Option<Output> {
    if std::env::var_os(CHILD).is_some() {
        return None;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs again");
    Some(out)
}

/// Builds a runtime with `handle_signals(true)` whose thread naming
/// function raises SIGINT `count` times and waits until each was recorded.
fn build_raising(count: usize) -> Runtime {
    // Only to see when the signal thread has recorded each signal.
    let log = Mutex::new(canopy::signal::signals());
    Runtime::builder()
        .workers(2)
        .handle_signals(true)
        .thread_name_fn(move |index| {
            if index == 0 {
                let mut log = log.lock().unwrap();
                for _ in 0..count {
                    signal_hook::low_level::raise(SIGINT).unwrap();
                    let start = Instant::now();
                    while log
                        .poll_recv(&mut Context::from_waker(Waker::noop()))
                        .is_pending()
                    {
                        assert!(start.elapsed() < Duration::from_secs(10), "never recorded");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            format!("worker-{index}")
        })
        .build()
        .unwrap()
}

#[test]
fn a_sigint_during_build_shuts_the_new_runtime_down_gracefully() {
    let Some(out) = child_output("a_sigint_during_build_shuts_the_new_runtime_down_gracefully")
    else {
        let rt = build_raising(1);
        assert!(
            rt.was_interrupted(),
            "the signal applied to the new runtime"
        );
        let cancelled = rt.block_on(checkpoint()).unwrap_err();
        assert_eq!(cancelled.reason(), CancelReason::Signal);
        println!("the runtime was interrupted");
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && stdout.contains("the runtime was interrupted")
            && stderr.contains("canopy: received SIGINT; shutting down gracefully"),
        "child ended with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

#[test]
fn a_second_sigint_during_build_exits_at_once() {
    let Some(out) = child_output("a_second_sigint_during_build_exits_at_once") else {
        let _rt = build_raising(2);
        println!("build returned");
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(canopy::signal::INTERRUPTED_EXIT_CODE)
            && !stdout.contains("build returned")
            && stderr.contains("canopy: received SIGINT again; exiting at once"),
        "child ended with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}
