//! Runs a program on the real runtime (paused clock) and records what each
//! op reported, in the model's terms.

use super::program::*;
use canopy::time::{Instant, now, sleep};
use canopy::{
    CancelScope, Cancelled, Runtime,
    scope::{CancelError, CancelReason, EffectiveDeadline, ScopeId},
    task::{Failure, StartError, TaskGroup, TaskStatus},
    task_group,
};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The error type the program's bodies return.
#[derive(Debug)]
pub enum PErr {
    Cancelled(Cancelled),
    Failed(Fail),
}

impl CancelError for PErr {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        match self {
            PErr::Cancelled(c) => Some(c),
            PErr::Failed(_) => None,
        }
    }
}

impl From<canopy::scope::TimedOut> for PErr {
    fn from(_: canopy::scope::TimedOut) -> Self {
        PErr::Failed(Fail::TimedOut)
    }
}

impl From<Cancelled> for PErr {
    fn from(c: Cancelled) -> Self {
        PErr::Cancelled(c)
    }
}

/// The harness's watchdog deadline, in seconds: no program runs this long,
/// so a lost wake-up shows as a difference at t = 1000, not as a hang.
pub const WATCHDOG: u64 = 1000;

/// The prefix of every panic a program raises (a test's panic hook keeps
/// them off stderr).
pub const PANIC_PREFIX: &str = "model-panic ";

struct Ctx {
    start: Instant,
    scopes: Vec<CancelScope>,
    ids: Mutex<HashMap<ScopeId, Sid>>,
    log: Mutex<Log>,
}

type BoxFut = Pin<Box<dyn Future<Output = Result<(), PErr>> + Send>>;

impl Ctx {
    fn secs(&self) -> u64 {
        // Rounded: the timer wheel may fire a hair after the exact second.
        (now() - self.start + Duration::from_millis(500)).as_secs()
    }

    fn at(&self, secs: u64) -> Instant {
        self.start + Duration::from_secs(secs)
    }

    fn record(&self, id: u32, obs: Obs) {
        let secs = self.secs();
        self.log.lock().unwrap().push((id, secs, obs));
    }

    fn named(&self, c: &Cancelled) -> (Sid, Reason) {
        let sid = *self
            .ids
            .lock()
            .unwrap()
            .get(&c.scope())
            .unwrap_or(&Sid::Unknown);
        let reason = match c.reason() {
            CancelReason::Explicit => Reason::Explicit,
            CancelReason::Deadline => Reason::Deadline,
            CancelReason::GroupFailed => Reason::GroupFailed,
            other => panic!("a program cannot cause {other:?}"),
        };
        (sid, reason)
    }

    fn outcome(&self, e: &PErr) -> Outcome {
        match e {
            PErr::Cancelled(c) => {
                let (sid, reason) = self.named(c);
                Outcome::Cancelled(sid, reason)
            }
            PErr::Failed(f) => Outcome::Failed(f.clone()),
        }
    }
}

/// Runs `program` on a fresh runtime with `workers` workers.
pub fn run(program: &Program, workers: usize) -> Log {
    let rt = Runtime::builder()
        .workers(workers)
        .start_paused(true)
        .build()
        .unwrap();
    let program = program.clone();
    rt.block_on(async move {
        let start = now();
        let mut ids = HashMap::new();
        let scopes: Vec<CancelScope> = program
            .scopes
            .iter()
            .enumerate()
            .map(|(i, def)| {
                let mut scope = CancelScope::new().with_shield(def.shield);
                if let Some(at) = def.deadline {
                    scope = scope.with_deadline(start + Duration::from_secs(at));
                }
                ids.insert(scope.id(), Sid::Scope(i));
                scope
            })
            .collect();
        let ctx = Arc::new(Ctx {
            start,
            scopes,
            ids: Mutex::new(ids),
            log: Mutex::new(Vec::new()),
        });
        // A watchdog: a lost wake-up ends in a mismatch at t=1000, not a hang.
        let watchdog = CancelScope::new().with_deadline(start + Duration::from_secs(WATCHDOG));
        let r = match watchdog.run(run_ops(ctx.clone(), program.main, None)).await {
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        let outcome = match &r {
            Ok(()) => Outcome::Ok,
            Err(e) => ctx.outcome(e),
        };
        ctx.record(MAIN_ID, Obs::Main(outcome));
        let mut log = std::mem::take(&mut *ctx.log.lock().unwrap());
        log.sort_by_key(|entry| entry.0);
        log
    })
}

fn run_ops(ctx: Arc<Ctx>, ops: Vec<Op>, group: Option<TaskGroup<PErr>>) -> BoxFut {
    Box::pin(async move {
        for op in ops {
            run_op(&ctx, op, &group).await?;
        }
        Ok(())
    })
}

fn checked(ctx: &Ctx, id: u32, r: Result<(), Cancelled>, prop: bool) -> Result<(), PErr> {
    ctx.record(id, Obs::Check(r.map_err(|c| ctx.named(&c))));
    match r {
        Err(c) if prop => Err(PErr::Cancelled(c)),
        _ => Ok(()),
    }
}

async fn run_op(ctx: &Arc<Ctx>, op: Op, group: &Option<TaskGroup<PErr>>) -> Result<(), PErr> {
    match op {
        Op::Sleep { id, secs, prop } => {
            let r = sleep(Duration::from_secs(secs)).await;
            checked(ctx, id, r, prop)
        }
        Op::Checkpoint { id, prop } => {
            let r = canopy::checkpoint().await;
            checked(ctx, id, r, prop)
        }
        Op::CheckIfCancelled { id, prop } => {
            let r = canopy::scope::checkpoint_if_cancelled().await;
            checked(ctx, id, r, prop)
        }
        Op::Deadline { id } => {
            let d = match canopy::scope::current_effective_deadline() {
                EffectiveDeadline::None => None,
                EffectiveDeadline::Cancelled => Some(Err(())),
                EffectiveDeadline::At(d) if d >= ctx.at(WATCHDOG) => None, // the harness's
                EffectiveDeadline::At(d) => {
                    Some(Ok((d - ctx.start + Duration::from_millis(500)).as_secs()))
                }
            };
            ctx.record(id, Obs::Deadline(d));
            Ok(())
        }
        Op::Unordered { id, secs, prop } => {
            let mut sleeps: FuturesUnordered<_> = secs
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let s = sleep(Duration::from_secs(*s));
                    async move { (i, s.await) }
                })
                .collect();
            let mut results: Vec<Option<Cancelled>> = vec![None; secs.len()];
            while let Some((i, r)) = sleeps.next().await {
                results[i] = r.err();
            }
            let out = results
                .iter()
                .map(|r| r.as_ref().map_or(Ok(()), |c| Err(ctx.named(c))))
                .collect();
            ctx.record(id, Obs::Unordered(out));
            match results.into_iter().flatten().next() {
                Some(c) if prop => Err(PErr::Cancelled(c)),
                _ => Ok(()),
            }
        }
        Op::Scope {
            id,
            scope,
            fail,
            body,
        } => {
            let s = ctx.scopes[scope].clone();
            let body = run_ops(ctx.clone(), body, group.clone());
            let r = if fail {
                s.run_or_fail(body).await
            } else {
                s.run(body).await
            };
            let (outcome, ret) = match r {
                Ok(Some(())) => (Outcome::Ok, Ok(())),
                Ok(None) => (Outcome::Caught, Ok(())),
                Err(e) => (ctx.outcome(&e), Err(e)),
            };
            ctx.record(
                id,
                Obs::Exit {
                    outcome,
                    cancel_called: s.cancel_called(),
                    cancelled_caught: s.cancelled_caught(),
                },
            );
            ret
        }
        Op::Cancel { scope } => {
            ctx.scopes[scope].cancel();
            Ok(())
        }
        Op::ThreadCancel { scope } => {
            let s = ctx.scopes[scope].clone();
            std::thread::spawn(move || s.cancel()).join().unwrap();
            Ok(())
        }
        Op::SetShield { scope, on } => {
            ctx.scopes[scope].set_shield(on);
            Ok(())
        }
        Op::SetDeadline { scope, at } => {
            ctx.scopes[scope].set_deadline(at.map(|a| ctx.at(a)));
            Ok(())
        }
        Op::Group { id, body } => group_op(ctx, id, body).await,
        Op::Spawn(child) => {
            let tg = group.as_ref().expect("Spawn in a group");
            let ctx = ctx.clone();
            tg.spawn(async move {
                run_ops(ctx.clone(), child.before, None).await?;
                run_ops(ctx, child.after, None).await
            });
            Ok(())
        }
        Op::Start(child) => {
            let tg = group.as_ref().expect("Start in a group");
            let id = child.id;
            let c2 = ctx.clone();
            let r = tg
                .start(move |status: TaskStatus<u32>| async move {
                    run_ops(c2.clone(), child.before, None).await?;
                    status.started(id);
                    run_ops(c2, child.after, None).await
                })
                .await;
            let outcome = match &r {
                Ok(v) => {
                    assert_eq!(*v, id, "start() handed over another child's value");
                    Outcome::Ok
                }
                Err(StartError::Cancelled(c)) => ctx.outcome(&PErr::Cancelled(*c)),
                Err(StartError::Failed(Failure::Error(e))) => ctx.outcome(e),
                Err(StartError::Failed(Failure::Panic(j))) => {
                    Outcome::Failed(Fail::Panicked(panic_id(j.panic_message())))
                }
                Err(StartError::NotStarted) => Outcome::Failed(Fail::NotStarted),
            };
            ctx.record(id, Obs::Start(outcome.clone()));
            match r {
                Ok(_) => Ok(()),
                Err(StartError::Cancelled(c)) => Err(PErr::Cancelled(c)),
                Err(StartError::Failed(Failure::Error(e))) => Err(e),
                Err(_) => match outcome {
                    Outcome::Failed(f) => Err(PErr::Failed(f)),
                    _ => unreachable!(),
                },
            }
        }
        Op::Fail { id } => Err(PErr::Failed(Fail::User(id))),
        Op::Panic { id } => panic!("{PANIC_PREFIX}{id}"),
    }
}

async fn group_op(ctx: &Arc<Ctx>, id: u32, body: Vec<Op>) -> Result<(), PErr> {
    let own: Arc<Mutex<Option<CancelScope>>> = Arc::default();
    let own2 = own.clone();
    let c2 = ctx.clone();
    let r = task_group(move |tg: TaskGroup<PErr>| {
        let scope = tg.cancel_scope();
        c2.ids.lock().unwrap().insert(scope.id(), Sid::Group(id));
        *own2.lock().unwrap() = Some(scope);
        run_ops(c2, body, Some(tg))
    })
    .await;
    let scope = own.lock().unwrap().take().expect("the body ran");
    let ret = match r {
        Ok(()) => Ok(()),
        Err(error) if error.failures().is_empty() => Err(PErr::Cancelled(
            *error
                .cancelled()
                .expect("an empty GroupError carries a cancellation"),
        )),
        Err(error) => {
            let fails = error.into_failures().into_iter().map(fail_of).collect();
            Err(PErr::Failed(Fail::Group(sorted(fails))))
        }
    };
    let outcome = match &ret {
        Ok(()) => Outcome::Ok,
        Err(e) => ctx.outcome(e),
    };
    ctx.record(
        id,
        Obs::Exit {
            outcome,
            cancel_called: scope.cancel_called(),
            cancelled_caught: scope.cancelled_caught(),
        },
    );
    ret
}

fn fail_of(failure: Failure<PErr>) -> Fail {
    match failure {
        Failure::Error(PErr::Failed(f)) => f,
        // A cancellation is never a failure; if one shows up, make it loud.
        Failure::Error(PErr::Cancelled(c)) => panic!("a group listed {c:?} as a failure"),
        Failure::Panic(j) => Fail::Panic(panic_id(j.panic_message())),
    }
}

fn panic_id(message: Option<&str>) -> u32 {
    message
        .and_then(|m| m.strip_prefix(PANIC_PREFIX))
        .and_then(|id| id.parse().ok())
        .unwrap_or(u32::MAX)
}
