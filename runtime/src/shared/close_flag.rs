//! The runtime's `closed` flag and its hand-shake with tasks scheduled from
//! outside the workers as the runtime closes (shutdown protocol, steps 1, 3
//! and 4 in `shutdown.rs`): a task is pushed to the global queue, then the
//! flag is read again; the closer sets the flag, then drains the queue. Either
//! the pusher sees the flag and drains the queue itself, or the closer's
//! drain finds the task: nothing stays queued in a closed runtime.

use crate::loom::atomic::{AtomicBool, Ordering, fence};

#[derive(Debug)]
pub(crate) struct CloseFlag {
    closed: AtomicBool,
}

impl CloseFlag {
    pub(crate) fn new() -> Self {
        CloseFlag {
            closed: AtomicBool::new(false),
        }
    }

    /// Whether the runtime has closed, read with `ordering` (`Relaxed` where
    /// a late answer only costs another loop, as in a worker's run loop).
    pub(crate) fn is_closed(&self, ordering: Ordering) -> bool {
        self.closed.load(ordering)
    }

    /// Step 1. The closer drains the global queue after this (step 3).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Step 4: `push` a task into the global queue, then look at the flag
    /// again. Returns `true` if the runtime has closed: the caller then
    /// drains the queue itself, since the closer's drain may have run
    /// before the push.
    pub(crate) fn push_then_check(&self, push: impl FnOnce()) -> bool {
        push();
        // The Dekker pair with `close` and the closer's drain (whose
        // emptiness check follows a SeqCst fence in crossbeam's `Injector`).
        // Explicit, as in `unpark_worker`, so that loom, which models SeqCst
        // accesses as acquire/release only, checks the real guarantee.
        fence(Ordering::SeqCst);
        self.closed.load(Ordering::SeqCst)
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::CloseFlag;
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst, fence};
    use loom::thread;

    /// A stand-in for crossbeam's `Injector` (not loom-instrumented) with
    /// its orderings where the protocol relies on them: a push is a SeqCst
    /// read-modify-write of the tail; a steal looks at the tail after a
    /// SeqCst fence. One slot per task: slot `i` holds task `i` once pushed.
    struct Injector {
        tail: AtomicUsize,
        slots: [AtomicUsize; 2],
        head: AtomicUsize,
    }

    const EMPTY: usize = 0;
    const QUEUED: usize = 1;
    const TAKEN: usize = 2;

    impl Injector {
        fn new() -> Self {
            Injector {
                tail: AtomicUsize::new(0),
                slots: [AtomicUsize::new(EMPTY), AtomicUsize::new(EMPTY)],
                head: AtomicUsize::new(0),
            }
        }

        fn push(&self) {
            let index = self.tail.fetch_add(1, SeqCst);
            self.slots[index].store(QUEUED, SeqCst);
        }

        /// Takes the oldest task, if the tail says there is one (waiting for
        /// a push that claimed its slot but has not written it yet, as
        /// crossbeam does).
        fn steal(&self) -> bool {
            loop {
                let head = self.head.load(SeqCst);
                fence(SeqCst);
                if head == self.tail.load(SeqCst) {
                    return false;
                }
                if self
                    .head
                    .compare_exchange(head, head + 1, SeqCst, SeqCst)
                    .is_ok()
                {
                    while self.slots[head]
                        .compare_exchange(QUEUED, TAKEN, SeqCst, SeqCst)
                        .is_err()
                    {
                        thread::yield_now();
                    }
                    return true;
                }
            }
        }

        /// `Shared::drain_injector`: steal until empty, dropping each task.
        fn drain(&self, dropped: &AtomicUsize) {
            while self.steal() {
                dropped.fetch_add(1, SeqCst);
            }
        }
    }

    /// Two tasks scheduled from outside (`Shared::schedule_remote`) while
    /// the runtime closes (`begin_shutdown`, then `finish_shutdown`'s
    /// drain). Every task is dropped exactly once, by its pusher or by the
    /// closer, and none is left in the queue.
    #[test]
    fn loom_closing_racing_remote_schedules_leaves_no_task_queued() {
        loom::model(|| {
            let flag = Arc::new(CloseFlag::new());
            let queue = Arc::new(Injector::new());
            let dropped = Arc::new(AtomicUsize::new(0));
            let pushers: Vec<_> = (0..2)
                .map(|_| {
                    let (flag, queue, dropped) = (flag.clone(), queue.clone(), dropped.clone());
                    thread::spawn(move || {
                        if flag.push_then_check(|| queue.push()) {
                            queue.drain(&dropped);
                        }
                    })
                })
                .collect();
            flag.close();
            queue.drain(&dropped);
            for pusher in pushers {
                pusher.join().unwrap();
            }
            assert_eq!(dropped.load(SeqCst), 2, "every task dropped, once");
            assert!(!queue.steal(), "nothing left queued");
        });
    }
}
