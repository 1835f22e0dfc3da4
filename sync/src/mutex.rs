//! An async mutex: a [`Semaphore`] with one permit guarding an `UnsafeCell`.
//!
//! The semaphore's FIFO hand-off makes the lock fair: an unlock with tasks
//! waiting hands the lock to the first of them (it is never free in
//! between, so no newcomer can barge in), and the cancellation rules are the
//! semaphore's: a `lock` cancelled while queued holds nothing; one that was
//! handed the lock before it saw the cancellation returns the guard; a
//! dropped one passes the lock on.
//!
//! Invariant: a `MutexGuard` exists iff the semaphore's one permit is out,
//! so at most one guard exists, and the data is reached only through it.

use crate::semaphore::{Acquire, Semaphore};
use canopy_scope::Cancelled;
use std::cell::UnsafeCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// An async mutex, fair (FIFO) and cancellation-safe. `lock` is a
/// checkpoint; unlocking (dropping the guard) is not.
///
/// ```
/// use canopy_sync::Mutex;
/// use std::sync::Arc;
///
/// let rt = canopy_runtime::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(async {
///     let count = Arc::new(Mutex::new(0));
///     let mut tasks = Vec::new();
///     for _ in 0..10 {
///         let count = count.clone();
///         tasks.push(canopy_runtime::spawn(async move {
///             *count.lock().await? += 1;
///             Ok::<_, canopy_scope::Cancelled>(())
///         }));
///     }
///     for task in tasks {
///         task.await.unwrap()?;
///     }
///     assert_eq!(*count.lock().await?, 10);
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub struct Mutex<T: ?Sized> {
    pub(crate) sem: Semaphore,
    pub(crate) data: UnsafeCell<T>,
}

// SAFETY: the mutex hands `&mut T` to one guard at a time (the invariant in
// the module docs), possibly on another thread: that needs `T: Send` only,
// as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above; sharing the mutex shares no `&T` except through the one
// guard.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// [`Mutex::try_lock`] found the mutex locked (or tasks queued for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the mutex is locked (or tasks are queued for it); await `lock` to wait")
    }
}

impl Error for TryLockError {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    pub fn new(value: T) -> Self {
        Mutex {
            sem: Semaphore::new(1),
            data: UnsafeCell::new(value),
        }
    }

    /// The data, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock. A checkpoint: `Err(Cancelled)` if the scope is
    /// cancelled when first polled (even if the mutex is free: it is not
    /// taken) or while queued (it leaves the queue holding nothing).
    #[track_caller]
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            acquire: self.sem.acquire(),
        }
    }

    /// A `lock` that is not a cancel point (for `Condition`'s re-lock).
    #[track_caller]
    pub(crate) fn lock_shielded(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            acquire: self.sem.acquire_shielded(1),
        }
    }

    /// Takes the lock if it is free and nobody is queued. Not a checkpoint.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire() {
            Ok(permit) => {
                permit.forget();
                Ok(MutexGuard { mutex: self })
            }
            Err(_) => Err(TryLockError(())),
        }
    }

    /// The data, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

/// The future of [`Mutex::lock`].
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    acquire: Acquire<'a>,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = Result<MutexGuard<'a, T>, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let permit = ready!(Pin::new(&mut self.acquire).poll(cx))?;
        // The guard stands for the permit from now on.
        permit.forget();
        Poll::Ready(Ok(MutexGuard { mutex: self.mutex }))
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

/// The lock, held: gives access to the data; unlocks when dropped (handing
/// the lock to the first queued task, if any). `Send` when `T: Send`.
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: `&MutexGuard` gives out `&T` only: sharing the guard across
// threads needs `T: Sync` (and `T: Send` for the mutex itself).
unsafe impl<T: ?Sized + Send + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (module invariant); it lives
        // no longer than the borrow of the mutex.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this access unique.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for `Condition`).
    pub(crate) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}
