//! Loom models of the scope tree's protocols (`node.rs`, `host_waker.rs`),
//! run with the very code the runtime uses:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p canopy-scope --release --lib loom_
//! ```

use crate::cancelled::CancelReason;
use crate::driver::{DeadlineDriver, NO_DEADLINE, TimerHandle};
use crate::host_waker::HostWaker;
use crate::node::{CANCEL_CALLED, EXITED, Node};
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use loom::thread;
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

/// A waker that counts its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counter() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    (count, waker)
}

fn entered() -> Arc<Node> {
    let node = Node::new(NO_DEADLINE, false);
    assert!(node.try_enter());
    node
}

/// A child linking itself under a parent that is being cancelled: the child
/// is woken by the walk, or its re-read after linking sees the cancel.
#[test]
fn loom_cancel_racing_child_link() {
    loom::model(|| {
        let parent = entered();
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || parent.cancel(CancelReason::Explicit))
        };
        let child = entered();
        let (woken, waker) = counter();
        assert!(child.host.register(&waker));
        child.link(&parent);
        let saw = !child.effective_origin().is_null();
        canceller.join().unwrap();
        assert!(
            saw || woken.0.load(SeqCst) > 0,
            "cancel lost for a linking child"
        );
        child.unlink();
        child.deactivate(false);
        assert_eq!(Arc::strong_count(&child), 1, "no reference leaked");
    });
}

/// A walker standing on a child while the child unlinks and is dropped: the
/// child's memory outlives the walker (it is retired), and is freed after.
#[test]
fn loom_cancel_racing_unlink() {
    loom::model(|| {
        let parent = entered();
        let child = entered();
        let (_woken, waker) = counter();
        assert!(child.host.register(&waker));
        child.link(&parent);
        let weak = Arc::downgrade(&child);
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || parent.cancel(CancelReason::Explicit))
        };
        child.unlink();
        child.deactivate(false);
        drop(child);
        canceller.join().unwrap();
        assert!(weak.upgrade().is_none(), "the unlinked child was not freed");
    });
}

/// Two children exiting while a cancel walks them and a third links: the
/// list stays intact (the new child is reachable and gets the cancel).
#[test]
fn loom_cancel_racing_exit_and_link() {
    loom::model(|| {
        let parent = entered();
        let leaving = entered();
        leaving.link(&parent);
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || parent.cancel(CancelReason::Explicit))
        };
        let joiner = {
            let parent = parent.clone();
            thread::spawn(move || {
                let child = entered();
                let (woken, waker) = counter();
                assert!(child.host.register(&waker));
                child.link(&parent);
                let saw = !child.effective_origin().is_null();
                (child, saw, woken)
            })
        };
        leaving.unlink();
        leaving.deactivate(false);
        canceller.join().unwrap();
        let (child, saw, woken) = joiner.join().unwrap();
        assert!(saw || woken.0.load(SeqCst) > 0);
        child.unlink();
        assert_eq!(Arc::strong_count(&leaving), 1);
        assert_eq!(Arc::strong_count(&child), 1);
    });
}

/// The shield of a child raised and lowered while its parent is cancelled:
/// the child ends effectively cancelled and its host was woken.
#[test]
fn loom_shield_toggled_while_cancelling() {
    loom::model(|| {
        let parent = entered();
        let child = entered();
        let (woken, waker) = counter();
        assert!(child.host.register(&waker));
        child.link(&parent);
        let toggler = {
            let child = child.clone();
            thread::spawn(move || {
                child.set_shield(true);
                child.set_shield(false);
            })
        };
        parent.cancel(CancelReason::Explicit);
        toggler.join().unwrap();
        assert!(!child.effective_origin().is_null());
        assert!(
            woken.0.load(SeqCst) > 0,
            "no wake for a child that became cancelled"
        );
        child.unlink();
    });
}

/// A host replacing its waker while a canceller wakes: the old or the new
/// waker is woken (a refused registration wakes the new one itself).
#[test]
fn loom_waker_registration_racing_wake() {
    loom::model(|| {
        let host = Arc::new(HostWaker::new());
        let (old, old_waker) = counter();
        let (new, new_waker) = counter();
        assert!(host.register(&old_waker));
        let waker = {
            let host = host.clone();
            thread::spawn(move || host.wake())
        };
        host.register(&new_waker);
        waker.join().unwrap().unwrap();
        assert!(old.0.load(SeqCst) + new.0.load(SeqCst) > 0, "wake lost");
    });
}

/// A fake clock and timer service: `now` in whole seconds after a base.
struct FakeDriver {
    base: Instant,
    now_secs: AtomicU64,
    armed: Arc<Mutex<Option<Instant>>>,
}

impl DeadlineDriver for FakeDriver {
    fn now(&self) -> Instant {
        self.base + Duration::from_secs(self.now_secs.load(SeqCst))
    }
    fn arm(&self, deadline: Instant, _waker: &Waker) -> TimerHandle {
        *self.armed.lock().unwrap() = Some(deadline);
        TimerHandle { slot: 0, id: 0 }
    }
    fn reset(&self, _handle: TimerHandle, deadline: Instant) -> bool {
        let mut armed = self.armed.lock().unwrap();
        let was_armed = armed.is_some();
        *armed = Some(deadline);
        was_armed
    }
    fn disarm(&self, _handle: TimerHandle) {
        *self.armed.lock().unwrap() = None;
    }
}

/// The timer fires at the deadline while another thread moves the deadline
/// later: either the scope is cancelled, or the timer is armed for the new
/// deadline — never neither.
#[test]
fn loom_deadline_moved_while_expiring() {
    loom::model(|| {
        let base = Instant::now();
        let armed = Arc::new(Mutex::new(None));
        let driver = Arc::new(FakeDriver {
            base,
            now_secs: AtomicU64::new(0),
            armed: armed.clone(),
        });
        let node = entered();
        node.set_deadline(Some(base + Duration::from_secs(10)));
        node.link_top(); // the scope waits: it is linked, its deadline armed
        let _ = node.driver.set(driver.clone());
        node.activate();
        driver.now_secs.store(10, SeqCst); // the deadline is due
        let later = base + Duration::from_secs(20);
        let mover = {
            let node = node.clone();
            thread::spawn(move || node.set_deadline(Some(later)))
        };
        node.expire(); // the timer fired
        mover.join().unwrap();
        let cancelled = node.state() & CANCEL_CALLED != 0;
        let rearmed = *armed.lock().unwrap() == Some(later);
        assert!(cancelled || rearmed, "deadline lost");
        node.deactivate(false);
    });
}

impl FakeDriver {
    /// A fake driver whose clock reads `now_secs` after `base`.
    fn at(base: Instant, now_secs: u64) -> Arc<FakeDriver> {
        Arc::new(FakeDriver {
            base,
            now_secs: AtomicU64::new(now_secs),
            armed: Arc::new(Mutex::new(None)),
        })
    }

    /// The armed timer fires: it leaves the "wheel", then wakes the node
    /// (outside the lock, as `TimerDriver::process`).
    fn fire(&self, node: &Arc<Node>) {
        let due = self.armed.lock().unwrap().take();
        if due.is_some() {
            node.expire();
        }
    }

    fn armed(&self) -> Option<Instant> {
        *self.armed.lock().unwrap()
    }
}

/// An entered, linked scope whose deadline `base + secs` is armed on
/// `driver`.
fn waiting_with_deadline(driver: &Arc<FakeDriver>, secs: u64) -> Arc<Node> {
    let node = entered();
    node.set_deadline(Some(driver.base + Duration::from_secs(secs)));
    node.link_top();
    let _ = node.driver.set(driver.clone());
    node.activate();
    node
}

/// A deadline moved later (lazily: only the value is stored) while its
/// timer fires at the old, passed deadline: the scope is cancelled, or the
/// timer is re-armed for the new deadline and cancels there; a move that
/// finished before the timer fired is never cancelled by it.
#[test]
fn loom_lazy_extension_racing_the_timer_firing() {
    loom::model(|| {
        let base = Instant::now();
        let driver = FakeDriver::at(base, 10);
        let node = waiting_with_deadline(&driver, 10);
        let later = base + Duration::from_secs(20);
        let moved = Arc::new(AtomicUsize::new(0));
        let mover = {
            let (node, moved) = (node.clone(), moved.clone());
            thread::spawn(move || {
                node.set_deadline(Some(later));
                moved.store(1, SeqCst);
            })
        };
        let moved_before_firing = moved.load(SeqCst) == 1;
        driver.fire(&node);
        mover.join().unwrap();
        let cancelled = node.state() & CANCEL_CALLED != 0;
        assert!(
            !(moved_before_firing && cancelled),
            "cancelled at the old deadline"
        );
        assert!(cancelled || driver.armed() == Some(later), "deadline lost");
        driver.now_secs.store(20, SeqCst);
        driver.fire(&node);
        assert!(
            node.state() & CANCEL_CALLED != 0,
            "the new deadline did not fire"
        );
        node.deactivate(false);
    });
}

/// Two threads move a deadline, one later (lazily) and one earlier, while
/// the armed timer fires early: a timer stays armed no later than the
/// final deadline, and nothing is cancelled before it.
#[test]
fn loom_lazy_extension_racing_an_earlier_move_and_the_firing() {
    loom::model(|| {
        let base = Instant::now();
        let driver = FakeDriver::at(base, 5);
        let node = waiting_with_deadline(&driver, 10);
        let mover = |secs| {
            let node = node.clone();
            thread::spawn(move || node.set_deadline(Some(base + Duration::from_secs(secs))))
        };
        let (later, earlier) = (mover(20), mover(8));
        driver.fire(&node);
        later.join().unwrap();
        earlier.join().unwrap();
        let deadline = node.deadline().unwrap();
        assert_eq!(node.state() & CANCEL_CALLED, 0, "cancelled early");
        let armed = driver.armed().expect("no timer armed");
        assert!(armed <= deadline, "armed past the deadline");
        driver.now_secs.store(20, SeqCst);
        driver.fire(&node);
        assert!(
            node.state() & CANCEL_CALLED != 0,
            "the deadline did not fire"
        );
        node.deactivate(false);
    });
}

/// A deadline moved later while the scope exits and its timer fires early:
/// no timer is left armed once the scope has exited.
#[test]
fn loom_lazy_extension_racing_exit_and_firing() {
    loom::model(|| {
        let base = Instant::now();
        let driver = FakeDriver::at(base, 5);
        let node = waiting_with_deadline(&driver, 10);
        let mover = {
            let node = node.clone();
            thread::spawn(move || node.set_deadline(Some(base + Duration::from_secs(20))))
        };
        let firer = {
            let (node, driver) = (node.clone(), driver.clone());
            thread::spawn(move || driver.fire(&node))
        };
        node.deactivate(false);
        mover.join().unwrap();
        firer.join().unwrap();
        assert_eq!(driver.armed(), None, "a timer outlived the scope");
        assert_eq!(node.state() & CANCEL_CALLED, 0);
    });
}

/// A task root whose waker changes while its parent is cancelled: the new
/// waker is woken, or the poll sees the task's word moved (and re-reads the
/// tree).
#[test]
fn loom_task_root_waker_change_racing_cancel() {
    loom::model(|| {
        let parent = entered();
        let root = entered();
        let word = entered();
        root.record_word(&word);
        root.link(&parent);
        let (_old, old_waker) = counter();
        assert!(root.host.register(&old_waker));
        let seen_word = word.own_word.value();
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || parent.cancel(CancelReason::Explicit))
        };
        // The task's next poll, with a new waker (as `TaskScope::poll`).
        let (new, new_waker) = counter();
        let registered = root.host.register(&new_waker);
        loom::sync::atomic::fence(SeqCst);
        let moved = word.own_word.value() != seen_word;
        canceller.join().unwrap();
        assert!(
            moved || new.0.load(SeqCst) > 0 || !registered,
            "the task neither saw the cancel nor was woken"
        );
        root.unlink();
    });
}

/// A walker whose `fetch_sub` took `readers` to 0 drains `retired`; a node
/// retired after that point for a newer walker still standing on it must not
/// be freed (found by review: it was).
#[test]
fn loom_drain_never_frees_a_node_under_a_newer_walker() {
    struct Check {
        node: std::sync::Weak<Node>,
    }
    impl Wake for Check {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            // We are inside `child.walk()` (its host's wake): the walker
            // stands on `child`. Let the others run, then check it lives.
            thread::yield_now();
            assert!(
                self.node.strong_count() > 0,
                "use-after-free: a walker stands on a node that was dropped"
            );
        }
    }
    loom::model(|| {
        let parent = entered();
        let child = entered();
        let check = Arc::new(Check {
            node: Arc::downgrade(&child),
        });
        let waker = Waker::from(check.clone());
        assert!(child.host.register(&waker));
        child.link(&parent);
        let weak = Arc::downgrade(&child);
        let old_walker = {
            let parent = parent.clone();
            thread::spawn(move || parent.walk_children(false))
        };
        let new_walker = {
            let parent = parent.clone();
            thread::spawn(move || parent.walk_children(true))
        };
        child.unlink();
        drop(child);
        old_walker.join().unwrap();
        new_walker.join().unwrap();
        assert!(weak.upgrade().is_none());
        drop(check);
    });
}

/// a task root exiting while its parent exits: one of the two must
/// unlink the root (else root and parent keep each other alive forever).
#[test]
fn loom_task_root_exit_racing_parent_exit() {
    loom::model(|| {
        let parent = entered();
        let root = entered();
        root.link_owned(&parent);
        let weak_root = Arc::downgrade(&root);
        let task = thread::spawn(move || {
            // TaskScope::drop
            root.deactivate(false);
        });
        parent.deactivate(false); // the parent scope exits
        task.join().unwrap();
        assert!(
            weak_root.upgrade().is_none(),
            "task root leaked (and its parent chain with it)"
        );
    });
}

/// The live check (DESIGN §2.2): a poll that took a snapshot of its task's
/// word, then checks while another thread cancels a scope of the task. If
/// the check sees the word unchanged, its frames may be trusted; if it sees
/// it moved, the scope's state read after it shows the cancel. And once the
/// canceller is done, the word has moved.
#[test]
fn loom_live_check_sees_a_cancel_from_another_thread() {
    loom::model(|| {
        let outer = entered();
        let inner = entered();
        let word = entered();
        inner.record_word(&word);
        inner.link(&outer);
        let seen = word.own_word.value();
        let canceller = {
            let outer = outer.clone();
            thread::spawn(move || outer.cancel(CancelReason::Explicit))
        };
        if word.own_word.value() != seen {
            assert!(
                !inner.effective_origin().is_null(),
                "the word moved but the refresh missed the cancel"
            );
        }
        canceller.join().unwrap();
        assert_ne!(
            word.own_word.value(),
            seen,
            "a cancel of an enclosing scope left the word"
        );
        inner.unlink();
        inner.deactivate(false);
    });
}

/// A task hung under a scope that is not linked yet (a group whose body is
/// still in its first poll) while an outer scope is cancelled: linking the
/// group (link, then re-read, then walk its children as `materialize` does)
/// or the canceller's walk must wake the task.
#[test]
fn loom_children_of_a_scope_linked_while_a_cancel_walks_are_woken() {
    loom::model(|| {
        let outer = entered();
        let group = entered();
        let child = entered();
        let (woken, waker) = counter();
        assert!(child.host.register(&waker));
        child.link_owned(&group);
        let canceller = {
            let outer = outer.clone();
            thread::spawn(move || outer.cancel(CancelReason::Explicit))
        };
        group.link(&outer);
        if !group.effective_origin().is_null() {
            group.walk_children(true);
        }
        canceller.join().unwrap();
        assert!(
            woken.0.load(SeqCst) > 0,
            "a child under a late-linked scope was never woken"
        );
        child.deactivate(false);
        group.unlink();
        group.deactivate(false);
    });
}

/// Reaping finished task roots while a cancel walks the same list: the walk
/// still wakes the live child, the finished one is freed exactly once, and
/// nothing is freed under the walker.
#[test]
fn loom_reaping_racing_a_walker() {
    loom::model(|| {
        let parent = entered();
        let done = entered();
        let live = entered();
        done.link_owned(&parent);
        live.link_owned(&parent);
        let (woken, waker) = counter();
        assert!(live.host.register(&waker));
        done.deactivate(false); // the finished task's root
        let weak_done = Arc::downgrade(&done);
        drop(done);
        let walker = {
            let parent = parent.clone();
            thread::spawn(move || parent.cancel(CancelReason::Explicit))
        };
        parent.reap_exited();
        walker.join().unwrap();
        assert!(woken.0.load(SeqCst) > 0, "the live child was not woken");
        assert!(weak_done.upgrade().is_none(), "a reaped root leaked");
        assert_eq!(live.state() & EXITED, 0);
        live.deactivate(false);
        parent.deactivate(false);
    });
}

/// The host waker replaced while a cancel wakes it and the host leaves: no
/// deadlock, no wake-up lost while a waker is registered, and nothing left
/// stored after `clear`.
#[test]
fn loom_host_waker_with_two_wakers_and_clear() {
    loom::model(|| {
        let host = Arc::new(HostWaker::new());
        let (first, first_waker) = counter();
        assert!(host.register(&first_waker));
        let waker_thread = {
            let host = host.clone();
            thread::spawn(move || host.wake().unwrap())
        };
        let (second, second_waker) = counter();
        let registered = host.register(&second_waker);
        waker_thread.join().unwrap();
        // The wake found the first or the second waker; a register that
        // found the slot busy woke its own waker.
        assert!(
            first.0.load(SeqCst) + second.0.load(SeqCst) > 0,
            "a wake-up was lost (registered: {registered})"
        );
        host.clear();
        host.wake().unwrap();
        let total = first.0.load(SeqCst) + second.0.load(SeqCst);
        host.wake().unwrap();
        assert_eq!(first.0.load(SeqCst) + second.0.load(SeqCst), total);
    });
}

/// An in-task scope exiting while a reaper holds the parent's
/// removal flag (busy path: the list gets a reference), while the parent
/// exits and orphans its list: the scope is released exactly once.
#[test]
fn loom_busy_unlink_racing_reap_and_parent_exit() {
    loom::model(|| {
        let parent = entered();
        let scope = entered();
        scope.link(&parent);
        let done = entered();
        done.link_owned(&parent);
        done.deactivate(false);
        let weak_done = Arc::downgrade(&done);
        drop(done);
        let weak = Arc::downgrade(&scope);
        let reaper = {
            let parent = parent.clone();
            thread::spawn(move || parent.reap_exited())
        };
        let exiting = thread::spawn(move || {
            scope.unlink();
            scope.deactivate(false);
        });
        reaper.join().unwrap();
        exiting.join().unwrap();
        parent.deactivate(false);
        drop(parent);
        assert!(weak.upgrade().is_none(), "in-task scope leaked");
        assert!(weak_done.upgrade().is_none(), "finished root leaked");
    });
}

/// A task root linked under a parent that is exiting at the same
/// moment (a spawn racing an abandoned group): nothing may leak.
#[test]
fn loom_link_owned_racing_parent_exit() {
    loom::model(|| {
        let parent = entered();
        let weak_parent = Arc::downgrade(&parent);
        let spawner = {
            let parent = parent.clone();
            thread::spawn(move || {
                let root = entered();
                root.link_owned(&parent);
                root.deactivate(false); // the task finished
                Arc::downgrade(&root)
            })
        };
        parent.deactivate(false);
        drop(parent);
        let weak_root = spawner.join().unwrap();
        assert!(
            weak_root.upgrade().is_none() && weak_parent.upgrade().is_none(),
            "root linked under an exiting parent leaked with it"
        );
    });
}

/// `Scoped::enter` for a handle records the task's word, then (after a
/// fence) reads the state to compute the frame's origin; a cancel from
/// another thread reads the word after its bit: one of the two sees the
/// other (without the fence, store buffering let both miss).
#[test]
fn loom_handle_enter_racing_cancel() {
    loom::model(|| {
        let node = Node::new(NO_DEADLINE, false);
        let word = entered();
        let canceller = {
            let node = node.clone();
            thread::spawn(move || node.cancel(CancelReason::Explicit))
        };
        assert!(node.try_enter());
        node.record_word(&word);
        loom::sync::atomic::fence(SeqCst); // as `Scoped::enter` does
        let seen_word = word.own_word.value();
        let saw = node.state() & CANCEL_CALLED != 0; // frame origin
        canceller.join().unwrap();
        assert!(
            saw || word.own_word.value() != seen_word,
            "neither the frame nor the word shows the cancel"
        );
    });
}

/// An in-task (non-owned) child orphaned by its parent's exit, then exiting
/// itself, while a walker of the parent's list stands on it: the child's
/// release goes through the parent's retirement, so it is not freed under
/// the walker (found by review: it was).
#[test]
fn loom_orphaned_in_task_child_not_freed_under_walker() {
    struct Check {
        node: std::sync::Weak<Node>,
    }
    impl Wake for Check {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            thread::yield_now();
            assert!(
                self.node.strong_count() > 0,
                "use-after-free: a walker stands on an orphaned child that was freed"
            );
        }
    }
    loom::model(|| {
        let parent = entered();
        let child = entered();
        let check = Arc::new(Check {
            node: Arc::downgrade(&child),
        });
        let waker = Waker::from(check.clone());
        assert!(child.host.register(&waker));
        child.link(&parent);
        let walker = {
            let parent = parent.clone();
            thread::spawn(move || parent.walk_children(true))
        };
        parent.deactivate(false); // the old task root exits (start() move)
        child.unlink(); // ORPHANED: returns at once
        child.deactivate(false);
        drop(child);
        walker.join().unwrap();
        drop(check);
    });
}

/// A running child (a task still being started) under a scope that is
/// cancelled from another thread while its host exits because it saw the
/// cancel — maybe before the walker read its list (found by
/// `tests/task_groups.rs` under load). The child is woken either by the
/// walker or by the exiting host's walk of its orphans.
#[test]
fn loom_cancel_racing_parent_exit_reaches_the_orphaned_child() {
    loom::model(|| {
        let parent = entered();
        let child = entered();
        let (woken, waker) = counter();
        assert!(child.host.register(&waker));
        child.link_owned(&parent);
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || parent.cancel(CancelReason::Explicit))
        };
        // The host sees the cancel bit (a live check) and exits, maybe
        // before the walker has read its list.
        while parent.state() & CANCEL_CALLED == 0 {
            thread::yield_now();
        }
        parent.deactivate(false);
        canceller.join().unwrap();
        assert!(
            woken.0.load(SeqCst) > 0,
            "the orphaned child was never woken"
        );
        child.deactivate(false);
    });
}

/// A walk two levels deep while scopes unlink at both levels: the walker
/// stands on the middle scope's list while the middle scope and its child
/// both exit and unlink. Nothing is freed under the walker (retirement),
/// nothing leaks, and a child still linked when the walk passes is woken.
#[test]
fn loom_walk_two_levels_deep_racing_unlinks_at_both_levels() {
    loom::model(|| {
        let top = entered();
        let middle = entered();
        middle.link(&top);
        let leaf = entered();
        let (woken, waker) = counter();
        assert!(leaf.host.register(&waker));
        leaf.link(&middle);
        let (weak_middle, weak_leaf) = (Arc::downgrade(&middle), Arc::downgrade(&leaf));
        let canceller = {
            let top = top.clone();
            thread::spawn(move || top.cancel(CancelReason::Explicit))
        };
        // The leaf's host exits, then the middle's (innermost first, as
        // scopes do), while the walk may be anywhere.
        let saw = !leaf.effective_origin().is_null();
        leaf.unlink();
        leaf.deactivate(false);
        drop(leaf);
        middle.unlink();
        middle.deactivate(false);
        drop(middle);
        canceller.join().unwrap();
        let _ = (saw, woken.0.load(SeqCst));
        assert!(
            weak_leaf.upgrade().is_none() && weak_middle.upgrade().is_none(),
            "scopes unlinked under a walker are freed once it leaves"
        );
        top.deactivate(false);
    });
}
