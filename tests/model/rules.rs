//! The model's rules, each with the DESIGN §2 item it implements, and the
//! interpretation of every op.

use super::interp::*;
use super::program::*;
use std::future::poll_fn;
use std::task::Poll;

impl M {
    /// §2.3: cancelled itself, or its parent is and it is not shielded.
    pub(super) fn effectively_cancelled(&self, node: usize) -> bool {
        let s = self.0.borrow();
        let mut cur = node;
        loop {
            let n = &s.nodes[cur];
            if n.cancelled.is_some() {
                return true;
            }
            match n.parent {
                Some(p) if !n.shield => cur = p,
                _ => return false,
            }
        }
    }

    /// §2.2/§2.4: what a checkpoint under `node` returns — the outermost
    /// cancelled scope visible from it (up to and including the nearest
    /// shield), which is the scope that will catch it.
    pub(super) fn catcher(&self, node: usize) -> Option<usize> {
        let s = self.0.borrow();
        let mut cur = node;
        let mut found = None;
        loop {
            let n = &s.nodes[cur];
            if n.cancelled.is_some() {
                found = Some(cur);
            }
            match n.parent {
                Some(p) if !n.shield => cur = p,
                _ => return found,
            }
        }
    }

    /// §2.6: the earliest deadline among the enclosing scopes up to (and
    /// including) the nearest shield; `Err` (`Cancelled`) when cancelled.
    fn effective_deadline(&self, task: usize) -> Option<Result<u64, ()>> {
        let current = self.0.borrow().tasks[task].current;
        if self.catcher(current).is_some() {
            return Some(Err(()));
        }
        let s = self.0.borrow();
        let mut cur = current;
        let mut earliest: Option<u64> = None;
        loop {
            let n = &s.nodes[cur];
            if let Some(d) = n.deadline {
                earliest = Some(earliest.map_or(d, |e| e.min(d)));
            }
            match n.parent {
                Some(p) if !n.shield => cur = p,
                _ => return earliest.map(Ok),
            }
        }
    }

    /// §2.4: a scope catches at exit iff it is effectively cancelled and its
    /// parent's cancellation is not visible to it.
    fn catches(&self, node: usize) -> bool {
        let (shield, parent) = {
            let s = self.0.borrow();
            (s.nodes[node].shield, s.nodes[node].parent)
        };
        self.effectively_cancelled(node)
            && (shield || parent.is_none_or(|p| !self.effectively_cancelled(p)))
    }

    /// §2.2: the cancel check of every checkpoint.
    pub(super) fn check(&self, task: usize) -> Result<(), (Sid, Reason)> {
        let current = self.0.borrow().tasks[task].current;
        match self.catcher(current) {
            None => Ok(()),
            Some(c) => {
                let s = self.0.borrow();
                Err((s.nodes[c].sid, s.nodes[c].cancelled.expect("cancelled")))
            }
        }
    }

    /// A task that was waiting and is woken by a cancellation is ordered
    /// after the changes made to its scopes at this instant (a check that
    /// did not wait is not: it may have run before them).
    pub(super) fn join_causes(&self, task: usize) {
        let mut s = self.0.borrow_mut();
        let now = s.now;
        let mut cur = Some(s.tasks[task].current);
        // Only the first change of this instant is surely before the wake:
        // the woken task may run before any later one (so those stay
        // concurrent with it, and a clash with them is caught).
        let mut first: Option<(u64, Vec<u32>)> = None;
        while let Some(n) = cur {
            for (t, seq, vc) in &s.nodes[n].muts {
                if *t == now && first.as_ref().is_none_or(|f| *seq < f.0) {
                    first = Some((*seq, vc.clone()));
                }
            }
            cur = s.nodes[n].parent;
        }
        if let Some((_, vc)) = first {
            join(&mut s.tasks[task].vc, &vc);
        }
    }

    fn chain(&self, task: usize) -> Vec<Res> {
        let s = self.0.borrow();
        let mut out = Vec::new();
        let mut cur = Some(s.tasks[task].current);
        while let Some(n) = cur {
            out.push(Res::Node(n));
            cur = s.nodes[n].parent;
        }
        out
    }

    pub(super) fn event(&self, task: usize, kind: Kind) {
        let mut s = self.0.borrow_mut();
        s.tasks[task].vc[task] += 1;
        let (time, vc) = (s.now, s.tasks[task].vc.clone());
        s.events.push(Event {
            time,
            task,
            vc,
            kind,
        });
        s.progress += 1;
    }

    pub(super) fn observe(&self, task: usize, extra: Option<Res>) {
        let mut chain = self.chain(task);
        chain.extend(extra);
        self.event(task, Kind::Obs(chain));
    }

    /// A change to a scope by `by` (a task, or the clock).
    fn mutate(&self, by: usize, node: usize, change: impl FnOnce(&mut Node, u64)) {
        self.event(by, Kind::Mut(Res::Node(node)));
        let mut s = self.0.borrow_mut();
        let (now, vc, seq) = (s.now, s.tasks[by].vc.clone(), s.events.len() as u64);
        s.nodes[node].muts.push((now, seq, vc));
        change(&mut s.nodes[node], now);
    }

    /// §2.5/§2.4: `cancel()` works before entry, inside, or after exit (then
    /// it only sets `cancel_called`); the first reason stays.
    pub(super) fn cancel(&self, by: usize, node: usize, reason: Reason) {
        self.mutate(by, node, |n, _| {
            n.cancelled.get_or_insert(reason);
        });
    }

    /// §2.4/§2.5: a deadline at or before now cancels at once, unless the
    /// scope exited; moving it later does not undo a cancellation.
    fn set_deadline(&self, by: usize, node: usize, at: Option<u64>) {
        self.mutate(by, node, |n, now| {
            n.deadline = at;
            if n.entered && !n.exited && at.is_some_and(|at| at <= now) {
                n.cancelled.get_or_insert(Reason::Deadline);
            }
        });
    }

    /// §2.4: deadlines that passed fire (not for exited scopes).
    pub(super) fn fire_deadlines(&self) {
        let due: Vec<usize> = {
            let s = self.0.borrow();
            (0..s.nodes.len())
                .filter(|&i| {
                    let n = &s.nodes[i];
                    n.entered
                        && !n.exited
                        && n.cancelled.is_none()
                        && n.deadline.is_some_and(|d| d <= s.now)
                })
                .collect()
        };
        for node in due {
            self.cancel(CLOCK, node, Reason::Deadline);
        }
    }

    pub(super) fn record(&self, id: u32, obs: Obs) {
        let mut s = self.0.borrow_mut();
        let now = s.now;
        s.log.push((id, now, obs));
    }

    /// A new task whose root scope hangs under `root_parent`; its clock
    /// starts from its spawner's (spawning happens before all it does).
    pub(super) fn new_task(&self, spawner: usize, root_parent: Option<usize>) -> usize {
        let mut s = self.0.borrow_mut();
        let id = s.tasks.len();
        assert!(id < MAX_TASKS, "program too big for the model");
        let node = s.nodes.len();
        s.nodes.push(Node {
            sid: Sid::Unknown,
            parent: root_parent,
            shield: false,
            deadline: None,
            cancelled: None,
            entered: true,
            exited: false,
            muts: Vec::new(),
        });
        let vc = s.tasks[spawner].vc.clone();
        s.tasks.push(TaskState { vc, current: node });
        id
    }

    /// §2.1/§2.2: `sleep` is a cancel point when polled and is woken by a
    /// cancellation at once.
    async fn sleep(&self, task: usize, secs: u64) -> Result<(), (Sid, Reason)> {
        let wake = self.0.borrow().now + secs;
        let mut waited = false;
        poll_fn(|_| match self.check(task) {
            Err(c) => {
                self.racing_timer(wake);
                if waited {
                    self.join_causes(task);
                }
                Poll::Ready(Err(c))
            }
            Ok(()) if self.0.borrow().now >= wake => Poll::Ready(Ok(())),
            Ok(()) => {
                waited = true;
                self.0.borrow_mut().wakes.push(wake);
                Poll::Pending
            }
        })
        .await
    }

    /// §2.2: each sleep inside a `FuturesUnordered` is woken by the
    /// cancellation too.
    async fn unordered(&self, task: usize, secs: &[u64]) -> Vec<Result<(), (Sid, Reason)>> {
        let now = self.0.borrow().now;
        let wakes: Vec<u64> = secs.iter().map(|s| now + s).collect();
        let mut out: Vec<Option<Result<(), (Sid, Reason)>>> = vec![None; secs.len()];
        let mut waited = false;
        poll_fn(|_| {
            let now = self.0.borrow().now;
            for (i, slot) in out.iter_mut().enumerate() {
                if slot.is_some() {
                    continue;
                }
                match self.check(task) {
                    Err(c) => {
                        self.racing_timer(wakes[i]);
                        if waited {
                            self.join_causes(task);
                        }
                        *slot = Some(Err(c));
                    }
                    Ok(()) if now >= wakes[i] => *slot = Some(Ok(())),
                    Ok(()) => {
                        self.0.borrow_mut().wakes.push(wakes[i]);
                        continue;
                    }
                }
                self.observe(task, None);
            }
            waited = true;
            if out.iter().all(Option::is_some) {
                Poll::Ready(out.iter().map(|r| r.expect("done")).collect())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// A sleep whose timer ends at the very instant it sees a cancellation:
    /// the contract does not order the two (a deadline or a cancel at the
    /// same instant as the sleep's own timer), so the program is skipped.
    fn racing_timer(&self, wake: u64) {
        let mut s = self.0.borrow_mut();
        if s.now >= wake {
            s.ambiguous = Some(format!("a sleep ends as it is cancelled, at t={wake}"));
        }
    }

    pub(super) fn run_ops(&self, task: usize, ops: Vec<Op>, group: Option<usize>) -> BoxFut {
        let m = self.clone();
        Box::pin(async move {
            for op in ops {
                m.run_op(task, op, group).await?;
            }
            Ok(())
        })
    }

    async fn run_op(&self, task: usize, op: Op, group: Option<usize>) -> Result<(), MErr> {
        let checked = |id, r: Result<(), (Sid, Reason)>, prop| {
            self.observe(task, None);
            self.record(id, Obs::Check(r));
            match r {
                Err((sid, reason)) if prop => Err(MErr::Cancelled(sid, reason)),
                _ => Ok(()),
            }
        };
        match op {
            Op::Sleep { id, secs, prop } => {
                let r = self.sleep(task, secs).await;
                checked(id, r, prop)
            }
            // §2.8: both are cancel points (`checkpoint` also yields).
            Op::Checkpoint { id, prop } | Op::CheckIfCancelled { id, prop } => {
                let r = self.check(task);
                checked(id, r, prop)
            }
            Op::Deadline { id } => {
                let d = self.effective_deadline(task);
                self.observe(task, None);
                self.record(id, Obs::Deadline(d));
                Ok(())
            }
            Op::Unordered { id, secs, prop } => {
                let rs = self.unordered(task, &secs).await;
                self.record(id, Obs::Unordered(rs.clone()));
                match rs.into_iter().find_map(Result::err) {
                    Some((sid, reason)) if prop => Err(MErr::Cancelled(sid, reason)),
                    _ => Ok(()),
                }
            }
            Op::Scope {
                id,
                scope,
                fail,
                body,
            } => self.scope(task, id, scope, fail, body, group).await,
            Op::Cancel { scope } | Op::ThreadCancel { scope } => {
                self.cancel(task, scope, Reason::Explicit);
                Ok(())
            }
            Op::SetShield { scope, on } => {
                self.mutate(task, scope, |n, _| n.shield = on);
                Ok(())
            }
            Op::SetDeadline { scope, at } => {
                self.set_deadline(task, scope, at);
                Ok(())
            }
            Op::Group { id, body } => self.group(task, id, body).await,
            Op::Spawn(child) => {
                let g = group.expect("the generator puts Spawn in groups");
                self.spawn_child(task, g, child, false);
                Ok(())
            }
            Op::Start(child) => {
                let g = group.expect("the generator puts Start in groups");
                let id = child.id;
                let slot = self.spawn_child(task, g, child, true).expect("a slot");
                let outcome = self.wait_started(task, slot).await;
                self.observe(task, Some(Res::Slot(slot)));
                self.record(id, Obs::Start(outcome.clone()));
                match outcome {
                    Outcome::Ok => Ok(()),
                    Outcome::Cancelled(sid, reason) => Err(MErr::Cancelled(sid, reason)),
                    Outcome::Failed(f) => Err(MErr::Failed(f)),
                    Outcome::Caught => unreachable!(),
                }
            }
            Op::Fail { id } => Err(MErr::Failed(Fail::User(id))),
            Op::Panic { id } => Err(MErr::Panic(id)),
        }
    }

    /// §2.4 (which scope catches), §2.7 (`Ok(None)` when it caught its own),
    /// §2.8 (entering and leaving are not checkpoints).
    async fn scope(
        &self,
        task: usize,
        id: u32,
        scope: usize,
        fail: bool,
        body: Vec<Op>,
        group: Option<usize>,
    ) -> Result<(), MErr> {
        let parent = {
            let mut s = self.0.borrow_mut();
            let parent = s.tasks[task].current;
            s.nodes[scope].parent = Some(parent);
            s.nodes[scope].entered = true;
            s.tasks[task].current = scope;
            parent
        };
        // §2.5: a deadline already past when the scope is entered cancels it
        // at entry (as in Trio, an unentered scope's deadline fires nothing).
        let due = {
            let s = self.0.borrow();
            let n = &s.nodes[scope];
            n.cancelled.is_none() && n.deadline.is_some_and(|d| d <= s.now)
        };
        if due {
            self.cancel(task, scope, Reason::Deadline);
        }
        let r = self.run_ops(task, body, group).await;
        let leave = |m: &M| {
            let mut s = m.0.borrow_mut();
            s.nodes[scope].exited = true;
            s.tasks[task].current = parent;
        };
        if let Err(MErr::Panic(_)) = r {
            leave(self); // unwinding: nothing observed
            return r;
        }
        self.observe(task, None);
        let (outcome, ret, caught) = match r {
            Ok(()) => (Outcome::Ok, Ok(()), false),
            // §2.7: `run_or_fail` turns its own deadline's expiry into
            // `TimedOut`; an explicit cancel still ends in `Ok(None)`.
            Err(MErr::Cancelled(..))
                if fail
                    && self.catches(scope)
                    && self.0.borrow().nodes[scope].cancelled == Some(Reason::Deadline) =>
            {
                let e = MErr::Failed(Fail::TimedOut);
                (outcome_of(&e), Err(e), true)
            }
            Err(MErr::Cancelled(..)) if self.catches(scope) => (Outcome::Caught, Ok(()), true),
            Err(e) => (outcome_of(&e), Err(e), false),
        };
        leave(self);
        let cancel_called = self.0.borrow().nodes[scope].cancelled.is_some();
        self.record(
            id,
            Obs::Exit {
                outcome,
                cancel_called,
                cancelled_caught: caught,
            },
        );
        ret
    }
}
