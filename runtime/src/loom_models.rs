//! Loom models of the wake-up protocol: the parker (`park.rs`) and the idle
//! accounting (`idle.rs`) run as they are, and so does a `block_on` call's
//! state (`block_on/state.rs`); the run queues are stood in for by
//! a mutex-protected deque, since crossbeam-deque is not loom-instrumented.
//! Each mini-worker follows the order of operations of `worker.rs`: pop, or
//! become a searcher and look again, or park (re-checking the queue if it was
//! the last searcher), and on wake-up look at its claim bit.
//!
//! Every model ends with the main thread parked until the last task has run.
//! A lost wake-up leaves every thread blocked, which loom reports as a
//! deadlock. Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p canopy-runtime --release --lib loom_`

use crate::block_on::state::CallState;
use crate::scheduler::idle::Idle;
use crate::scheduler::park::Parker;
use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst, fence};
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::cell::Cell;
use std::collections::VecDeque;

/// A task: when run, pushes `spawns` new tasks through the worker's schedule
/// path (LIFO slot, displaced task to the shared queue).
#[derive(Debug, Clone, Copy)]
struct Job {
    spawns: usize,
}

struct Model {
    idle: Idle,
    queue: Mutex<VecDeque<Job>>,
    parkers: Vec<Parker>,
    main: Parker,
    done: AtomicUsize,
    total: usize,
    closed: AtomicBool,
}

impl Model {
    fn new(workers: usize, total: usize) -> Arc<Self> {
        Arc::new(Model {
            idle: Idle::new(workers),
            queue: Mutex::new(VecDeque::new()),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
            main: Parker::new(),
            done: AtomicUsize::new(0),
            total,
            closed: AtomicBool::new(false),
        })
    }

    /// `Shared::notify_one`.
    fn notify_one(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.parkers[index].unpark();
        }
    }

    /// `Shared::schedule_remote`.
    fn push_remote(&self, job: Job) {
        self.queue.lock().unwrap().push_back(job);
        self.notify_one();
    }

    fn pop(&self) -> Option<Job> {
        self.queue.lock().unwrap().pop_front()
    }
}

/// The mini-worker: `WorkerLocal::run` with `next_task`, `steal_work`,
/// `run_task`, `schedule_local` and `park` inlined in the same order.
fn worker(model: Arc<Model>, index: usize) {
    let lifo: Cell<Option<Job>> = Cell::new(None);
    let mut searching = false;
    while !model.closed.load(SeqCst) {
        let mut job = lifo.take().or_else(|| model.pop());
        if job.is_none() && !searching && model.idle.transition_to_searching() {
            searching = true;
            job = model.pop();
        }
        if let Some(job) = job {
            if searching {
                searching = false;
                if model.idle.transition_from_searching() {
                    model.notify_one();
                }
            }
            // "Poll" the job: its spawns go through `schedule_local`.
            for _ in 0..job.spawns {
                if let Some(previous) = lifo.replace(Some(Job { spawns: 0 })) {
                    model.queue.lock().unwrap().push_back(previous);
                    model.notify_one();
                }
            }
            if model.done.fetch_add(1, SeqCst) + 1 == model.total {
                model.main.unpark();
            }
            continue;
        }
        if model.idle.transition_to_parked(index, searching)
            && !model.queue.lock().unwrap().is_empty()
        {
            model.notify_one();
        }
        loop {
            if model.closed.load(SeqCst) {
                return;
            }
            model.parkers[index].park();
            if model.idle.is_claimed(index) {
                searching = true;
                break;
            }
        }
    }
}

/// Runs `workers` mini-workers and `feed` on the main thread, then waits for
/// `total` jobs to have run and shuts down.
fn run_model(workers: usize, total: usize, feed: fn(&Model)) {
    loom::model(move || {
        let model = Model::new(workers, total);
        let threads: Vec<_> = (0..workers)
            .map(|i| {
                let model = model.clone();
                thread::spawn(move || worker(model, i))
            })
            .collect();
        feed(&model);
        while model.done.load(SeqCst) < model.total {
            model.main.park();
        }
        model.closed.store(true, SeqCst);
        for parker in &model.parkers {
            parker.unpark();
        }
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn loom_parker_never_loses_an_unpark() {
    loom::model(|| {
        let parker = Arc::new(Parker::new());
        let unparker = parker.clone();
        let t = thread::spawn(move || unparker.unpark());
        parker.park();
        t.join().unwrap();
    });
}

#[test]
fn loom_remote_spawns_wake_an_idle_worker() {
    // Two workers going idle while two tasks arrive from outside.
    run_model(2, 2, |model| {
        model.push_remote(Job { spawns: 0 });
        model.push_remote(Job { spawns: 0 });
    });
}

#[test]
fn loom_lifo_slot_hand_off_reaches_the_other_worker() {
    // One task spawns two: the first goes to the LIFO slot, the second
    // displaces it into the stealable queue and notifies. Both must run.
    run_model(2, 3, |model| model.push_remote(Job { spawns: 2 }));
}

#[test]
fn loom_single_worker_parks_and_is_woken() {
    run_model(1, 2, |model| {
        model.push_remote(Job { spawns: 0 });
        model.push_remote(Job { spawns: 0 });
    });
}

/// `Shared::maybe_auto_advance` reduced to its decision: under the lock,
/// jump if no `block_on` call is counted active.
fn maybe_jump(active: &AtomicUsize, jumped: &Mutex<bool>) {
    let mut jumped = jumped.lock().unwrap();
    if active.load(SeqCst) == 0 {
        *jumped = true;
    }
}

#[test]
fn loom_a_wake_after_its_block_on_call_returned_counts_nothing() {
    // The call's first poll is ready; its waker, kept by the future, is
    // woken from another thread before, during or after the return.
    loom::model(|| {
        let active = Arc::new(AtomicUsize::new(0));
        let call = Arc::new(CallState::new());
        call.notify(&active);
        let stale = {
            let (call, active) = (call.clone(), active.clone());
            thread::spawn(move || call.notify(&active))
        };
        call.begin_poll();
        call.leave(&active);
        stale.join().unwrap();
        assert_eq!(active.load(SeqCst), 0);
    });
}

#[test]
fn loom_a_block_on_call_woken_while_going_idle_leaves_no_count() {
    // The `block_on` loop, with a future that is ready once another thread
    // has set a flag and woken it (`BlockOnWaker::wake_by_ref`: notify,
    // then unpark). The wake races the poll and the call going idle.
    loom::model(|| {
        let active = Arc::new(AtomicUsize::new(0));
        let call = Arc::new((CallState::new(), Parker::new(), AtomicBool::new(false)));
        call.0.notify(&active);
        let waker = {
            let (call, active) = (call.clone(), active.clone());
            thread::spawn(move || {
                call.2.store(true, SeqCst);
                call.0.notify(&active);
                call.1.unpark();
            })
        };
        let (state, parker, ready) = (&call.0, &call.1, &call.2);
        loop {
            state.begin_poll();
            if ready.load(SeqCst) {
                break;
            }
            if !state.try_idle(&active) {
                continue; // woken during the poll
            }
            while !state.is_active() {
                parker.park();
            }
        }
        state.leave(&active);
        waker.join().unwrap();
        assert_eq!(active.load(SeqCst), 0);
    });
}

#[test]
fn loom_the_last_block_on_call_to_stop_moves_the_paused_clock() {
    // Call A returns while call B goes idle waiting on a timer. Whichever
    // stops last must see nobody active and jump, or B waits forever (the
    // hang of issue 15, item 5, when A's return did not check).
    loom::model(|| {
        let active = Arc::new(AtomicUsize::new(0));
        let jumped = Arc::new(Mutex::new(false));
        let (a, b) = (Arc::new(CallState::new()), Arc::new(CallState::new()));
        a.notify(&active);
        b.notify(&active);
        let returns = {
            let (active, jumped) = (active.clone(), jumped.clone());
            thread::spawn(move || {
                a.leave(&active);
                maybe_jump(&active, &jumped);
            })
        };
        let waits = {
            let (active, jumped) = (active.clone(), jumped.clone());
            thread::spawn(move || {
                b.begin_poll();
                assert!(b.try_idle(&active), "nobody woke it");
                maybe_jump(&active, &jumped);
            })
        };
        returns.join().unwrap();
        waits.join().unwrap();
        assert!(
            *jumped.lock().unwrap(),
            "B waits on the clock, and nobody moved it"
        );
    });
}

/// One step of `Shared::maybe_auto_advance`'s jump reduced to its
/// decision, as `TimerDriver::advance_to_next_deadline_while` takes it:
/// under the lock, if nobody is active, read the next deadline, then look
/// at the count *again* before moving the clock there.
fn jump_step(active: &AtomicUsize, deadline: &AtomicU64, clock: &AtomicU64, lock: &Mutex<()>) {
    let _serial = lock.lock().unwrap();
    if active.load(SeqCst) != 0 {
        return;
    }
    let next = deadline.load(SeqCst);
    if next == u64::MAX {
        return;
    }
    fence(SeqCst);
    // Without this second look, a call that started after the first one
    // and armed `next` meanwhile is jumped past while it runs.
    if active.load(SeqCst) == 0 {
        clock.store(next, SeqCst);
    }
}

#[test]
fn loom_the_clock_does_not_jump_to_a_deadline_armed_by_a_call_just_started() {
    // A worker making its first park checks whether the clock should jump
    // while a `block_on` call starts: it counts itself, arms a far timer
    // (the watchdog) and yields. While it is counted, the clock must not
    // move (the main future's first `checkpoint()` returned at the
    // watchdog's deadline).
    loom::model(|| {
        let active = Arc::new(AtomicUsize::new(0));
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        let clock = Arc::new(AtomicU64::new(0));
        let lock = Arc::new(Mutex::new(()));
        let parks = {
            let (active, deadline, clock, lock) = (
                active.clone(),
                deadline.clone(),
                clock.clone(),
                lock.clone(),
            );
            thread::spawn(move || jump_step(&active, &deadline, &clock, &lock))
        };
        let call = CallState::new();
        call.notify(&active);
        call.begin_poll();
        deadline.store(1000, SeqCst);
        // The future yields: woken during its poll, it stays counted.
        call.notify(&active);
        assert!(!call.try_idle(&active));
        call.begin_poll();
        assert_eq!(clock.load(SeqCst), 0, "the clock jumped past a yield");
        call.leave(&active);
        parks.join().unwrap();
    });
}

/// The panic hand-off between a task and its dropped handle (`join.rs`):
/// whichever side comes second reports the payload, so it is reported
/// exactly once — and never while the handle is still there.
#[test]
fn loom_join_panic_handoff_reports_exactly_once() {
    use crate::task::join::JoinState;
    loom::model(|| {
        let state = Arc::new(JoinState::new());
        let reported = Arc::new(AtomicUsize::new(0));
        let task = {
            let (state, reported) = (state.clone(), reported.clone());
            thread::spawn(move || {
                if state.publish_panic(Box::new("boom")).is_some() {
                    reported.fetch_add(1, SeqCst);
                }
            })
        };
        if state.handle_dropped().is_some() {
            reported.fetch_add(1, SeqCst);
        }
        task.join().unwrap();
        assert_eq!(reported.load(SeqCst), 1);
        assert!(state.take_panic().is_none(), "nothing left behind");
    });
}

/// A handle that stays takes the payload after the task stored it; the task
/// reports nothing.
#[test]
fn loom_join_panic_reaches_a_live_handle() {
    use crate::task::join::JoinState;
    loom::model(|| {
        let state = Arc::new(JoinState::new());
        let task = {
            let state = state.clone();
            thread::spawn(move || state.publish_panic(Box::new(7u8)).is_none())
        };
        assert!(task.join().unwrap(), "the task reports nothing");
        let payload = state.take_panic().expect("the handle receives the panic");
        assert_eq!(payload.downcast_ref::<u8>(), Some(&7));
    });
}

/// The driver role (`shared/driver.rs`): a worker that takes the
/// role and then sleeps in the poller races a thread that unparks it. The
/// poller's notification is sticky for a wait that has not begun, like a
/// parker's token, so a second `Parker` stands in for it. Either the driver
/// sees the token and does not block, or the waker sees the role and
/// notifies the poller; a lost wake-up leaves the driver blocked (deadlock).
#[test]
fn loom_unparking_the_driver_reaches_it_in_the_poller() {
    loom::model(|| {
        let driver = Arc::new(AtomicUsize::new(0));
        let parker = Arc::new(Parker::new());
        let poller = Arc::new(Parker::new());
        let waker = {
            let (driver, parker, poller) = (driver.clone(), parker.clone(), poller.clone());
            thread::spawn(move || {
                // `Shared::unpark_worker(0)`.
                parker.unpark();
                loom::sync::atomic::fence(SeqCst);
                if driver.load(SeqCst) == 1 {
                    poller.unpark();
                }
            })
        };
        // `WorkerLocal::park`, the driver's branch, once.
        assert!(driver.compare_exchange(0, 1, SeqCst, SeqCst).is_ok());
        loom::sync::atomic::fence(SeqCst);
        if !parker.take_token() {
            poller.park();
            parker.take_token();
        }
        driver.store(0, SeqCst);
        waker.join().unwrap();
    });
}

/// The hand-off: the driver leaves the role (to run tasks) while another
/// worker parks. The parking worker sets its sleeper bit before it tries to
/// take the role; the leaving driver clears the role before it looks for a
/// sleeper to wake. So the other worker either takes the role or is woken to
/// try again; it never sleeps on its parker while nobody drives.
#[test]
fn loom_a_leaving_driver_hands_the_role_to_a_parking_worker() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(2));
        let driver = Arc::new(AtomicUsize::new(1)); // worker 0 drives
        let parker = Arc::new(Parker::new());
        idle.transition_to_parked(0, false);
        let leaving = {
            let (idle, driver, parker) = (idle.clone(), driver.clone(), parker.clone());
            thread::spawn(move || {
                // Worker 0 was claimed: `stop_being_driver`, `hand_off_driver`.
                driver.store(0, SeqCst);
                if idle.parked_worker_other_than(0) == Some(1) {
                    parker.unpark();
                }
            })
        };
        // Worker 1 parks: its bit first, then one try at the role.
        idle.transition_to_parked(1, false);
        loop {
            if driver.compare_exchange(0, 2, SeqCst, SeqCst).is_ok() {
                break; // it drives now
            }
            // Someone else drives: sleep until woken, then look again.
            parker.park();
        }
        leaving.join().unwrap();
    });
}

/// The timer sentinel handed off with the driver role. Worker 0 drives,
/// asleep as the timers' sentinel until a far deadline, and is claimed: it
/// stops sleeping, leaves the role and hands it on (`finish_sleep`,
/// `stop_being_driver`, `hand_off_driver`). Worker 1 parks, takes the role
/// and sleeps until the next deadline (`WorkerLocal::park`), while a third
/// thread arms an earlier timer, whose wake-up hook unparks whoever holds
/// the role (`Shared::wake_timer_sentinel`). Worker 1 never sleeps through
/// the earlier deadline: it sees it, or is woken to look again (a lost
/// wake-up leaves it parked: a deadlock). The parker stands in for the
/// poller too (the model above checks that the two reach each other).
#[test]
fn loom_the_timer_sentinel_handed_off_with_the_driver_role_sees_an_earlier_timer() {
    use canopy_timer::TimerDriver;
    use std::time::Duration;
    loom::model(|| {
        let timers = Arc::new(TimerDriver::new(2, false));
        let idle = Arc::new(Idle::new(2));
        let role = Arc::new(AtomicUsize::new(1)); // index + 1 of the driver
        let parkers = Arc::new([Parker::new(), Parker::new()]);
        {
            let (role, parkers) = (role.clone(), parkers.clone());
            timers.set_wake_sleeper(move || {
                if let Some(index) = role.load(SeqCst).checked_sub(1) {
                    parkers[index].unpark();
                }
            });
        }
        let now = timers.now();
        timers.arm_for_loom_model(0, now + Duration::from_secs(100));
        let near = now + Duration::from_secs(1);
        idle.transition_to_parked(0, false);
        timers.prepare_sleep();
        let leaving = {
            let (timers, idle, role, parkers) =
                (timers.clone(), idle.clone(), role.clone(), parkers.clone());
            thread::spawn(move || {
                timers.finish_sleep();
                role.store(0, SeqCst);
                if idle.parked_worker_other_than(0) == Some(1) {
                    parkers[1].unpark();
                }
            })
        };
        let armer = {
            let timers = timers.clone();
            thread::spawn(move || timers.arm_for_loom_model(1, near))
        };
        idle.transition_to_parked(1, false);
        loop {
            if role.compare_exchange(0, 2, SeqCst, SeqCst).is_err() {
                parkers[1].park(); // someone else drives
                continue;
            }
            fence(SeqCst);
            let until = timers.prepare_sleep().expect("a timer is armed");
            let sees_near = until < near + Duration::from_secs(50);
            if !sees_near && !parkers[1].take_token() {
                parkers[1].park();
            }
            timers.finish_sleep();
            role.store(0, SeqCst);
            if sees_near {
                break;
            }
        }
        leaving.join().unwrap();
        armer.join().unwrap();
    });
}
