//! The little program language the model and the real runtime both run, and
//! the observations they are compared on.
//!
//! Time is in whole virtual seconds from the program's start. Every op that
//! can be observed carries an `id` (unique in the program), so the two logs
//! line up op by op.

/// A program: the main task's body, and a table of scope handles created
/// before anything runs (so an op may cancel a scope before it is entered,
/// while it runs, or after it exited — DESIGN §2.5).
#[derive(Clone, Debug)]
pub struct Program {
    /// One entry per scope handle, indexed by `Op::Scope::scope`.
    pub scopes: Vec<ScopeDef>,
    /// The main task's body.
    pub main: Vec<Op>,
}

/// How a scope handle is made: shielded or not, with a deadline or not.
#[derive(Clone, Debug)]
pub struct ScopeDef {
    /// `with_shield(true)`.
    pub shield: bool,
    /// `with_deadline(start + secs)`; may already be past when entered.
    pub deadline: Option<u64>,
}

/// One step of a task.
#[derive(Clone, Debug)]
pub enum Op {
    /// `sleep(secs)`; with `prop`, a `Cancelled` is returned with `?`,
    /// otherwise it is recorded and the body goes on (level-triggering).
    Sleep { id: u32, secs: u64, prop: bool },
    /// `checkpoint()`.
    Checkpoint { id: u32, prop: bool },
    /// `current_effective_deadline()`, observed.
    Deadline { id: u32 },
    /// `checkpoint_if_cancelled()`.
    CheckIfCancelled { id: u32, prop: bool },
    /// Sleeps of these lengths polled together in a `FuturesUnordered`.
    Unordered { id: u32, secs: Vec<u64>, prop: bool },
    /// `scopes[scope].run(body)`, or with `fail`, `run_or_fail(body)` (its
    /// own deadline's expiry becomes `TimedOut`).
    Scope {
        id: u32,
        scope: usize,
        fail: bool,
        body: Vec<Op>,
    },
    /// `scopes[scope].cancel()` from this task.
    Cancel { scope: usize },
    /// `scopes[scope].cancel()` from a plain OS thread (spawned and joined).
    ThreadCancel { scope: usize },
    /// `scopes[scope].set_shield(on)`.
    SetShield { scope: usize, on: bool },
    /// `scopes[scope].set_deadline(at)`, `at` absolute (maybe in the past).
    SetDeadline { scope: usize, at: Option<u64> },
    /// `task_group(body)`; `Spawn` and `Start` in `body` (and in scopes
    /// nested in it, in the same task) go to this group.
    Group { id: u32, body: Vec<Op> },
    /// `tg.spawn(before ++ after)` into the innermost group of this task.
    Spawn(Child),
    /// `tg.start(|status| { before; status.started(id); after })`, awaited;
    /// its error is returned with `?`.
    Start(Child),
    /// `return Err(User(id))`.
    Fail { id: u32 },
    /// `panic!` (only in a child task; the generator turns it into `Fail`
    /// elsewhere).
    Panic { id: u32 },
}

/// A child task of a group.
#[derive(Clone, Debug)]
pub struct Child {
    pub id: u32,
    pub before: Vec<Op>,
    pub after: Vec<Op>,
}

/// Why a scope was cancelled (the `CancelReason`s a program can cause).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Explicit,
    Deadline,
    GroupFailed,
}

/// A scope, named by the program: `Scope(i)` is `scopes[i]`, `Group(id)`
/// the scope of the group op `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sid {
    Scope(usize),
    Group(u32),
    /// A scope the program does not name (a bug if ever seen).
    Unknown,
}

/// One failure in a group, as the program sees it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fail {
    User(u32),
    Panic(u32),
    /// A child that panicked before `started`, re-raised by `start`.
    Panicked(u32),
    NotStarted,
    /// `run_or_fail`'s own deadline expired.
    TimedOut,
    Group(Vec<Fail>),
}

/// How a body, scope, group or `start` ended.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Ok,
    /// `Ok(None)`: the scope caught its own cancellation.
    Caught,
    Cancelled(Sid, Reason),
    Failed(Fail),
}

/// What one op reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Obs {
    Check(Result<(), (Sid, Reason)>),
    /// `current_effective_deadline()`: `None`, `Some(Ok(secs))` for an
    /// instant to come, `Some(Err(()))` for `Cancelled`.
    Deadline(Option<Result<u64, ()>>),
    Unordered(Vec<Result<(), (Sid, Reason)>>),
    Exit {
        outcome: Outcome,
        cancel_called: bool,
        cancelled_caught: bool,
    },
    Start(Outcome),
    Main(Outcome),
}

/// The op id the main body's end is recorded under.
pub const MAIN_ID: u32 = u32::MAX;

/// A whole run: `(op id, virtual second, what it reported)`, sorted by id.
pub type Log = Vec<(u32, u64, Obs)>;

/// Sorts a group's failures (they are listed in the order they happened,
/// which the program does not fix when two happen at the same moment).
pub fn sorted(mut fails: Vec<Fail>) -> Vec<Fail> {
    fails.sort();
    fails
}
