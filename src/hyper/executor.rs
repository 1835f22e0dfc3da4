//! `hyper::rt::Executor`: hyper's background tasks as children of a task
//! group.

use crate::{
    scope::CancelError,
    task::{ChildOutput, TaskGroup},
};
use std::fmt;
use std::future::Future;

/// Spawns the futures hyper hands it (an HTTP/2 connection's stream tasks,
/// a client connection's driver) into a [`TaskGroup`], so they live under
/// that group's scope: cancelled with it, waited for by it, and a panic in
/// one fails the group rather than going unseen.
///
/// Give each connection a group of its own (a `task_group` around
/// `serve_connection`) to keep its streams under the connection's scope.
///
/// A future handed over after the group closed (its body and children all
/// finished, so whatever it belonged to is over) is dropped unpolled.
pub struct Executor<E> {
    group: TaskGroup<E>,
}

impl<E: CancelError + Send + 'static> Executor<E> {
    /// An executor spawning into `group`.
    pub fn new(group: TaskGroup<E>) -> Self {
        Executor { group }
    }

    /// Spawns `future` into the group, as hyper does (dropped if the group
    /// has closed).
    #[track_caller]
    pub fn spawn<F>(&self, future: F)
    where
        F: Future + Send + 'static,
        F::Output: ChildOutput<E>,
    {
        // A closed group: what the future belonged to is over (type docs).
        let _ = self.group.try_spawn(future);
    }
}

impl<E> Clone for Executor<E> {
    fn clone(&self) -> Self {
        Executor {
            group: self.group.clone(),
        }
    }
}

impl<E> fmt::Debug for Executor<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor").finish_non_exhaustive()
    }
}

impl<E, F> hyper::rt::Executor<F> for Executor<E>
where
    E: CancelError + Send + 'static,
    F: Future + Send + 'static,
    F::Output: ChildOutput<E>,
{
    #[track_caller]
    fn execute(&self, future: F) {
        self.spawn(future);
    }
}
