//! [`Mutex::lock_owned`]: a lock whose guard holds an `Arc` of the mutex, so
//! it is `'static` and can move into a spawned task. Same protocol and
//! cancellation rules as [`Mutex::lock`] (the semaphore's FIFO hand-off).

use crate::mutex::Mutex;
use crate::semaphore::AcquireWait;
use canopy_scope::Cancelled;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

impl<T: ?Sized> Mutex<T> {
    /// [`lock`](Self::lock) for a guard that owns an `Arc` of the mutex.
    /// A checkpoint, with the same rules.
    ///
    /// ```
    /// use canopy_sync::Mutex;
    /// use std::sync::Arc;
    ///
    /// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
    /// rt.block_on(async {
    ///     let log = Arc::new(Mutex::new(Vec::new()));
    ///     let mut guard = log.clone().lock_owned().await?;
    ///     let task = canopy_runtime::spawn(async move { guard.push("from a task") });
    ///     task.await.unwrap();
    ///     assert_eq!(log.lock().await?.len(), 1);
    ///     Ok::<_, canopy_scope::Cancelled>(())
    /// })
    /// .unwrap();
    /// ```
    #[track_caller]
    pub fn lock_owned(self: Arc<Self>) -> LockOwned<T> {
        LockOwned {
            mutex: Some(self),
            wait: AcquireWait::new(1, Location::caller()),
        }
    }
}

/// The future of [`Mutex::lock_owned`].
#[must_use = "futures do nothing unless awaited"]
pub struct LockOwned<T: ?Sized> {
    /// `None` once it has completed.
    mutex: Option<Arc<Mutex<T>>>,
    wait: AcquireWait,
}

impl<T: ?Sized> Future for LockOwned<T> {
    type Output = Result<OwnedMutexGuard<T>, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mutex = this
            .mutex
            .as_ref()
            .expect("`LockOwned` polled after completion");
        ready!(this.wait.poll(&mutex.sem, cx))?;
        let mutex = this.mutex.take().expect("checked above");
        Poll::Ready(Ok(OwnedMutexGuard { mutex }))
    }
}

impl<T: ?Sized> Drop for LockOwned<T> {
    fn drop(&mut self) {
        if let Some(mutex) = &self.mutex {
            self.wait.abandon(&mutex.sem);
        }
    }
}

impl<T: ?Sized> fmt::Debug for LockOwned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockOwned").finish_non_exhaustive()
    }
}

/// The lock, held through an `Arc` of the mutex (`'static`); unlocks when
/// dropped.
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
}

// SAFETY: `&OwnedMutexGuard` gives out `&T` only: sharing it across threads
// needs `T: Sync` (and `T: Send` for the mutex itself).
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    pub fn mutex(guard: &Self) -> &Arc<Mutex<T>> {
        &guard.mutex
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard stands for the mutex's one permit, so it is the
        // only guard (the invariant in mutex.rs).
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this access unique.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
