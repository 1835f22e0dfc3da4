//! An async reader-writer lock: a [`Semaphore`] with `MAX_READERS` permits
//! guarding an `UnsafeCell` (tokio's construction). A reader takes one
//! permit, a writer all of them.
//!
//! The semaphore's FIFO queue makes the lock fair: a queued writer blocks
//! readers that come after it (no writer starvation), and the waiters are
//! served in arrival order. Cancellation follows the semaphore's rules: a
//! `read`/`write` cancelled while queued holds nothing (and its leaving may
//! let those behind it in); one that was granted the lock before it saw the
//! cancellation returns its guard; a dropped one passes the lock on.
//!
//! Invariant: while a write guard exists, all `MAX_READERS` permits are out
//! with it, so no other guard exists; a read guard holds one permit, so no
//! write guard can exist alongside it.

use crate::semaphore::{Acquire, Semaphore};
use canopy_scope::Cancelled;
use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// How many readers can hold the lock at once (tokio's bound).
const MAX_READERS: usize = (u32::MAX >> 3) as usize;

/// An async reader-writer lock, fair (FIFO) and cancellation-safe. `read`
/// and `write` are checkpoints; dropping a guard is not.
///
/// ```
/// use canopy_sync::RwLock;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let lock = RwLock::new(5);
///     {
///         let a = lock.read().await?;
///         let b = lock.read().await?; // readers share
///         assert_eq!(*a + *b, 10);
///     }
///     *lock.write().await? += 1;
///     assert_eq!(*lock.read().await?, 6);
///     Ok::<_, canopy_scope::Cancelled>(())
/// })
/// .unwrap();
/// ```
pub struct RwLock<T: ?Sized> {
    sem: Semaphore,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands `&mut T` to one writer at a time, possibly on
// another thread: moving the lock needs `T: Send`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: shared, it gives `&T` to readers on several threads at once (needs
// `T: Sync`) and `&mut T` to a writer on any thread (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new, unlocked lock.
    pub fn new(value: T) -> Self {
        RwLock {
            sem: Semaphore::new(MAX_READERS),
            data: UnsafeCell::new(value),
        }
    }

    /// The data, consuming the lock.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared access. A checkpoint: `Err(Cancelled)` if the scope
    /// is cancelled when first polled (even if the lock is free) or while
    /// queued.
    #[track_caller]
    pub fn read(&self) -> Read<'_, T> {
        Read {
            lock: self,
            acquire: self.sem.acquire_many(1),
        }
    }

    /// Waits for exclusive access. A checkpoint, like [`read`](Self::read).
    #[track_caller]
    pub fn write(&self) -> Write<'_, T> {
        Write {
            lock: self,
            acquire: self.sem.acquire_many(MAX_READERS),
        }
    }

    /// Shared access if it needs no waiting (and no writer is queued). Not a
    /// checkpoint.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let permit = self.sem.try_acquire_many(1).ok()?;
        permit.forget();
        Some(RwLockReadGuard { lock: self })
    }

    /// Exclusive access if it needs no waiting. Not a checkpoint.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let permit = self.sem.try_acquire_many(MAX_READERS).ok()?;
        permit.forget();
        Some(RwLockWriteGuard { lock: self })
    }

    /// The data, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The future of [`RwLock::read`].
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    acquire: Acquire<'a>,
}

impl<'a, T: ?Sized> Future for Read<'a, T> {
    type Output = Result<RwLockReadGuard<'a, T>, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let permit = ready!(Pin::new(&mut self.acquire).poll(cx))?;
        permit.forget(); // the guard stands for it now
        Poll::Ready(Ok(RwLockReadGuard { lock: self.lock }))
    }
}

/// The future of [`RwLock::write`].
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    acquire: Acquire<'a>,
}

impl<'a, T: ?Sized> Future for Write<'a, T> {
    type Output = Result<RwLockWriteGuard<'a, T>, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let permit = ready!(Pin::new(&mut self.acquire).poll(cx))?;
        permit.forget(); // the guard stands for them now
        Poll::Ready(Ok(RwLockWriteGuard { lock: self.lock }))
    }
}

impl<T: ?Sized> fmt::Debug for Read<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Read").finish_non_exhaustive()
    }
}

impl<T: ?Sized> fmt::Debug for Write<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write").finish_non_exhaustive()
    }
}

/// Shared access; released on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a read guard holds a permit, so no write guard exists
        // (module invariant); readers only read.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access; released on drop (handing the lock to the next queued
/// task or tasks).
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the write guard holds every permit, so it is the only
        // guard (module invariant).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this access unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(MAX_READERS);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
