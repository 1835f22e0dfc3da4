//! The reference model: a single-threaded interpreter of DESIGN §2 for the
//! program language of `program.rs`.
//!
//! Each task of the program is an `async` block run by a tiny executor that
//! polls every task again and again until none moves, then advances the
//! virtual clock to the next sleep's end or deadline. No wakers, no threads:
//! a wait is a condition re-read on every poll, so the model cannot lose a
//! wake-up and is easy to check by reading.
//!
//! Besides what each op reports, the model keeps a log of events (every
//! observation and every mutation of a scope or `start` slot) with vector
//! clocks, to reject programs whose outcome would depend on the order of
//! two things happening at the same virtual instant in different tasks
//! (which the real runtime, on two workers, does not fix).

use super::program::*;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Waker};

/// A scope node: a program scope, a group's scope, or a task's root (which
/// is never cancelled; a started child's root moves from its caller's scope
/// to its group's).
pub(super) struct Node {
    pub(super) sid: Sid,
    pub(super) parent: Option<usize>,
    pub(super) shield: bool,
    pub(super) deadline: Option<u64>,
    /// The first reason it was cancelled: `cancel_called()` (§2.4).
    pub(super) cancelled: Option<Reason>,
    /// Entered (a program scope once its `run` starts; groups and task
    /// roots from birth): only then does its deadline fire.
    pub(super) entered: bool,
    pub(super) exited: bool,
    /// Mutations `(time, sequence, vector clock)`, for causality.
    pub(super) muts: Vec<(u64, u64, Vec<u32>)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Res {
    Node(usize),
    Slot(usize),
}

pub(super) enum Kind {
    Obs(Vec<Res>),
    Mut(Res),
}

pub(super) struct Event {
    pub(super) time: u64,
    pub(super) task: usize,
    pub(super) vc: Vec<u32>,
    pub(super) kind: Kind,
}

pub(super) struct Group {
    pub(super) node: usize,
    pub(super) live: usize,
    pub(super) failures: Vec<Fail>,
    pub(super) passing: Option<(Sid, Reason)>,
    pub(super) ends: Vec<u32>,
}

#[derive(Clone, PartialEq)]
pub(super) enum SlotState {
    Waiting,
    CallerCancelled,
    Started,
    Ended(Outcome),
    Taken,
}

pub(super) struct Slot {
    pub(super) state: SlotState,
    pub(super) vc: Vec<u32>,
    /// When it was settled.
    pub(super) at: u64,
}

pub(super) struct TaskState {
    pub(super) vc: Vec<u32>,
    pub(super) current: usize,
}

/// The internal error a body returns: `Cancelled`, a user error, or a panic
/// unwinding (which skips the observations on its way).
#[derive(Clone, Debug)]
pub(super) enum MErr {
    Cancelled(Sid, Reason),
    Failed(Fail),
    Panic(u32),
}

pub(super) const MAX_TASKS: usize = 64;
pub(super) const CLOCK: usize = 0;

pub(super) struct State {
    pub(super) now: u64,
    pub(super) nodes: Vec<Node>,
    pub(super) tasks: Vec<TaskState>,
    pub(super) groups: Vec<Group>,
    pub(super) slots: Vec<Slot>,
    pub(super) events: Vec<Event>,
    pub(super) log: Log,
    pub(super) wakes: Vec<u64>,
    pub(super) progress: u64,
    pub(super) ambiguous: Option<String>,
    pub(super) spawned: Vec<(usize, TaskFut)>,
    /// `(task, root, group node)`: a started child's move, made when its
    /// current poll ends (see `groups::START_MOVES_AT_NEXT_POLL`).
    pub(super) pending_moves: Vec<(usize, usize, usize)>,
}

#[derive(Clone)]
pub(super) struct M(pub(super) Rc<RefCell<State>>);

/// A model task: its id and its body.
pub(super) type TaskFut = Pin<Box<dyn Future<Output = ()>>>;

pub(super) type BoxFut = Pin<Box<dyn Future<Output = Result<(), MErr>>>>;

/// Runs `program` in the model: `Ok(log)`, or `Err(why)` when its outcome
/// is not fixed by the contract (two same-instant actions in different
/// tasks whose order matters), or the program is too big.
pub fn run(program: &Program) -> Result<Log, String> {
    let nodes = program
        .scopes
        .iter()
        .enumerate()
        .map(|(i, def)| Node {
            sid: Sid::Scope(i),
            parent: None,
            shield: def.shield,
            deadline: def.deadline,
            cancelled: None,
            entered: false,
            exited: false,
            muts: Vec::new(),
        })
        .collect();
    let m = M(Rc::new(RefCell::new(State {
        now: 0,
        nodes,
        tasks: vec![TaskState {
            vc: vec![0; MAX_TASKS],
            current: usize::MAX,
        }],
        groups: Vec::new(),
        slots: Vec::new(),
        events: Vec::new(),
        log: Vec::new(),
        wakes: Vec::new(),
        progress: 0,
        ambiguous: None,
        spawned: Vec::new(),
        pending_moves: Vec::new(),
    })));
    // Deadlines already past at the start fire before the main task runs.
    m.fire_deadlines();
    let main_task = m.new_task(CLOCK, None);
    let mm = m.clone();
    let main_ops = program.main.clone();
    let mut tasks: Vec<(usize, TaskFut)> = vec![(
        main_task,
        Box::pin(async move {
            let out = mm.run_ops(main_task, main_ops, None).await;
            let outcome = match out {
                Ok(()) => Outcome::Ok,
                Err(e) => outcome_of(&e),
            };
            mm.record(MAIN_ID, Obs::Main(outcome));
        }),
    )];
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    loop {
        loop {
            let before = m.0.borrow().progress;
            m.0.borrow_mut().wakes.clear();
            let mut i = 0;
            while i < tasks.len() {
                let task = tasks[i].0;
                if tasks[i].1.as_mut().poll(&mut cx).is_ready() {
                    drop(tasks.swap_remove(i));
                    m.0.borrow_mut().progress += 1;
                } else {
                    i += 1;
                }
                let mut s = m.0.borrow_mut();
                let moves: Vec<_> = s
                    .pending_moves
                    .iter()
                    .filter(|mv| mv.0 == task)
                    .copied()
                    .collect();
                s.pending_moves.retain(|mv| mv.0 != task);
                for (_, root, group_node) in moves {
                    s.nodes[root].parent = Some(group_node);
                    s.progress += 1;
                }
                drop(s);
                tasks.append(&mut m.0.borrow_mut().spawned);
            }
            if m.0.borrow().progress == before {
                break;
            }
        }
        if tasks.is_empty() {
            break;
        }
        let next = {
            let s = m.0.borrow();
            let deadlines = s
                .nodes
                .iter()
                .filter(|n| n.entered && !n.exited && n.cancelled.is_none())
                .filter_map(|n| n.deadline);
            s.wakes
                .iter()
                .copied()
                .chain(deadlines)
                .filter(|&t| t > s.now)
                .min()
        };
        let Some(next) = next else {
            return Err("the model deadlocked (a generator bug)".into());
        };
        m.0.borrow_mut().now = next;
        m.fire_deadlines();
    }
    let mut s = m.0.borrow_mut();
    if let Some(why) = s.ambiguous.take() {
        return Err(why);
    }
    if let Some(why) = conflict(&s.events) {
        return Err(why);
    }
    let mut log = std::mem::take(&mut s.log);
    log.sort_by_key(|entry| entry.0);
    Ok(log)
}

/// Two events at the same instant, in different tasks, neither causally
/// before the other, one changing what the other reads or changes.
fn conflict(events: &[Event]) -> Option<String> {
    let before = |a: &[u32], b: &[u32]| a.iter().zip(b).all(|(x, y)| x <= y);
    for (i, a) in events.iter().enumerate() {
        for b in &events[i + 1..] {
            if a.time != b.time || a.task == b.task {
                continue;
            }
            if before(&a.vc, &b.vc) || before(&b.vc, &a.vc) {
                continue;
            }
            let clash = match (&a.kind, &b.kind) {
                (Kind::Mut(x), Kind::Mut(y)) => x == y,
                (Kind::Mut(x), Kind::Obs(ys)) | (Kind::Obs(ys), Kind::Mut(x)) => ys.contains(x),
                (Kind::Obs(_), Kind::Obs(_)) => false,
            };
            if clash {
                return Some(format!(
                    "tasks {} and {} race at t={}",
                    a.task, b.task, a.time
                ));
            }
        }
    }
    None
}

pub(super) fn outcome_of(e: &MErr) -> Outcome {
    match e {
        MErr::Cancelled(sid, reason) => Outcome::Cancelled(*sid, *reason),
        MErr::Failed(fail) => Outcome::Failed(fail.clone()),
        MErr::Panic(id) => Outcome::Failed(Fail::Panic(*id)),
    }
}

pub(super) fn join(into: &mut [u32], from: &[u32]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a = (*a).max(*b);
    }
}
