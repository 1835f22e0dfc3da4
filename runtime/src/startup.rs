//! How `Builder::build` learns that every worker thread started.
//!
//! Each worker runs the `on_thread_start` hook (user code) before it serves
//! any task, under `catch_unwind`, and reports the outcome here; `build`
//! waits for every report. A worker whose hook panicked never enters its run
//! loop: `build` then shuts the others down and returns a `BuildError`
//! carrying the panic, instead of handing out a runtime with a worker
//! missing (on one worker that runtime never ran a task; with a paused
//! clock, a missing worker was never counted idle, so time never jumped).

use std::any::Any;
use std::sync::{Condvar, Mutex};

type Payload = Box<dyn Any + Send + 'static>;

/// The workers' start reports, awaited by `build`.
#[derive(Debug)]
pub(crate) struct Startup {
    state: Mutex<State>,
    reported: Condvar,
}

#[derive(Debug)]
struct State {
    /// Workers that have not reported yet.
    pending: usize,
    /// The first worker whose start hook panicked, with the panic.
    failed: Option<(usize, Payload)>,
}

impl Startup {
    pub(crate) fn new(workers: usize) -> Self {
        Startup {
            state: Mutex::new(State {
                pending: workers,
                failed: None,
            }),
            reported: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Worker `index` ran its start hook, with this outcome.
    pub(crate) fn report(&self, index: usize, outcome: Result<(), Payload>) {
        let later_failure = {
            let mut state = self.lock();
            state.pending -= 1;
            match outcome {
                Ok(()) => None,
                Err(payload) if state.failed.is_none() => {
                    state.failed = Some((index, payload));
                    None
                }
                Err(payload) => Some(payload),
            }
        };
        self.reported.notify_all();
        // Only the first failure is returned (the panic hook has printed
        // every one). Dropping a payload runs user code: contained.
        if let Some(payload) = later_failure {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
        }
    }

    /// `count` workers will never report (their threads did not start).
    pub(crate) fn abandon(&self, count: usize) {
        self.lock().pending -= count;
        self.reported.notify_all();
    }

    /// Waits until every worker reported; the first failure, if any.
    pub(crate) fn wait(&self) -> Result<(), (usize, Payload)> {
        let mut state = self.lock();
        while state.pending > 0 {
            state = self.reported.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        match state.failed.take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }
}
