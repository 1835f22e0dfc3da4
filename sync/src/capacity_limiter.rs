//! A pool of tokens that knows who holds them (Trio's `CapacityLimiter`).
//!
//! It is a [`Semaphore`] (FIFO, with its cancellation rules: an acquire
//! cancelled while queued holds nothing, one granted before it saw the
//! cancellation returns its token, a dropped one passes the token on), plus
//! the set of borrowers that hold a token now, under a small lock of its
//! own. A borrower holds at most one token: asking for a second is an error
//! (Trio raises `RuntimeError`), found at the call and again when the token
//! is granted (two tasks racing for the same borrower: the second gives its
//! token straight back).
//!
//! The total can be changed at any time. Raising it lets queued tasks in at
//! once; lowering it takes free tokens out of the pool, and the rest as
//! borrowers give theirs back (`debt`), so no borrower loses a token it holds.

use crate::loom::{Mutex, lock};
use crate::semaphore::{Semaphore, SemaphorePermit};
use canopy_scope::Cancelled;
use std::collections::HashSet;
use std::error::Error;
use std::fmt;
use std::hash::Hash;

/// A limit on how many borrowers (tasks, connections, jobs: any `B` you
/// name them by) do something at once, that knows who they are.
///
/// ```
/// use canopy_sync::CapacityLimiter;
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     let limiter = CapacityLimiter::new(2);
///     let a = limiter.acquire_on_behalf_of("a").await.unwrap();
///     assert!(limiter.acquire_on_behalf_of("a").await.is_err(), "one token each");
///     let _b = limiter.acquire_on_behalf_of("b").await.unwrap();
///     assert_eq!(limiter.borrowed_tokens(), 2);
///     assert!(limiter.borrowers().contains(&"a"));
///     drop(a);
///     assert_eq!(limiter.available_tokens(), 1);
/// });
/// ```
pub struct CapacityLimiter<B> {
    sem: Semaphore,
    state: Mutex<State<B>>,
}

struct State<B> {
    total: usize,
    /// Tokens to take out of the pool as borrowers give them back.
    debt: usize,
    borrowers: HashSet<B>,
}

/// Why [`CapacityLimiter::acquire_on_behalf_of`] gave no token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimiterError {
    /// The scope was cancelled first; no token is held.
    Cancelled(Cancelled),
    /// This borrower already holds a token of this limiter (each borrower
    /// holds at most one).
    AlreadyBorrowing,
}

impl fmt::Display for LimiterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimiterError::Cancelled(cancelled) => {
                write!(f, "acquiring a capacity token was cancelled ({cancelled})")
            }
            LimiterError::AlreadyBorrowing => f.write_str(
                "this borrower already holds a token of this CapacityLimiter; \
                 give it back (drop the token) before asking again",
            ),
        }
    }
}

impl Error for LimiterError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            LimiterError::Cancelled(cancelled) => Some(cancelled),
            LimiterError::AlreadyBorrowing => None,
        }
    }
}

impl From<Cancelled> for LimiterError {
    fn from(cancelled: Cancelled) -> Self {
        LimiterError::Cancelled(cancelled)
    }
}

impl canopy_scope::CancelError for LimiterError {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        match self {
            LimiterError::Cancelled(cancelled) => Some(cancelled),
            LimiterError::AlreadyBorrowing => None,
        }
    }
}

impl<B: Eq + Hash + Clone> CapacityLimiter<B> {
    /// A limiter with `total` tokens.
    pub fn new(total: usize) -> Self {
        CapacityLimiter {
            sem: Semaphore::new(total),
            state: Mutex::new(State {
                total,
                debt: 0,
                borrowers: HashSet::new(),
            }),
        }
    }

    /// Waits for a token for `borrower`. A checkpoint, with the semaphore's
    /// cancellation rules; `Err(AlreadyBorrowing)` if `borrower` holds one.
    #[track_caller]
    pub fn acquire_on_behalf_of(
        &self,
        borrower: B,
    ) -> impl Future<Output = Result<CapacityToken<'_, B>, LimiterError>> + '_ {
        let acquire = self.sem.acquire_many(1);
        async move {
            if lock(&self.state).borrowers.contains(&borrower) {
                return Err(LimiterError::AlreadyBorrowing);
            }
            let permit = acquire.await?;
            self.admit(borrower, permit)
        }
    }

    /// A token for `borrower` if one is free (and nobody is queued). Not a
    /// checkpoint. `Ok(None)`: none free.
    pub fn try_acquire_on_behalf_of(
        &self,
        borrower: B,
    ) -> Result<Option<CapacityToken<'_, B>>, LimiterError> {
        if lock(&self.state).borrowers.contains(&borrower) {
            return Err(LimiterError::AlreadyBorrowing);
        }
        match self.sem.try_acquire() {
            Ok(permit) => self.admit(borrower, permit).map(Some),
            Err(_) => Ok(None),
        }
    }

    fn admit(
        &self,
        borrower: B,
        permit: SemaphorePermit<'_>,
    ) -> Result<CapacityToken<'_, B>, LimiterError> {
        if !lock(&self.state).borrowers.insert(borrower.clone()) {
            // Raced with itself: the permit goes back (to the next waiter).
            drop(permit);
            return Err(LimiterError::AlreadyBorrowing);
        }
        permit.forget(); // the token stands for it now
        Ok(CapacityToken {
            limiter: self,
            borrower: Some(borrower),
        })
    }

    /// The current total.
    pub fn total_tokens(&self) -> usize {
        lock(&self.state).total
    }

    /// Changes the total. Raising it admits queued borrowers at once;
    /// lowering it never takes a token from a borrower: the pool shrinks as
    /// tokens come back.
    pub fn set_total_tokens(&self, total: usize) {
        let mut state = lock(&self.state);
        if total >= state.total {
            let mut more = total - state.total;
            state.total = total;
            let paid = more.min(state.debt);
            state.debt -= paid;
            more -= paid;
            drop(state);
            self.sem.add_permits(more);
        } else {
            let mut fewer = state.total - total;
            state.total = total;
            while fewer > 0 {
                match self.sem.try_acquire() {
                    Ok(permit) => permit.forget(),
                    Err(_) => break,
                }
                fewer -= 1;
            }
            state.debt += fewer;
        }
    }

    /// How many tokens are held now.
    pub fn borrowed_tokens(&self) -> usize {
        lock(&self.state).borrowers.len()
    }

    /// How many tokens are free now.
    pub fn available_tokens(&self) -> usize {
        let state = lock(&self.state);
        state.total.saturating_sub(state.borrowers.len())
    }

    /// Who holds a token now (a snapshot).
    pub fn borrowers(&self) -> Vec<B> {
        lock(&self.state).borrowers.iter().cloned().collect()
    }

    fn give_back(&self, borrower: &B) {
        let mut state = lock(&self.state);
        state.borrowers.remove(borrower);
        if state.debt > 0 {
            state.debt -= 1; // the pool shrinks by this token
            return;
        }
        drop(state);
        self.sem.add_permits(1);
    }
}

impl<B> fmt::Debug for CapacityLimiter<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("CapacityLimiter")
            .field("total", &state.total)
            .field("borrowed", &state.borrowers.len())
            .finish()
    }
}

/// A token of a [`CapacityLimiter`], held by one borrower; given back on
/// drop.
#[must_use = "the token is given back as soon as it is dropped"]
pub struct CapacityToken<'a, B: Eq + Hash + Clone> {
    limiter: &'a CapacityLimiter<B>,
    borrower: Option<B>,
}

impl<B: Eq + Hash + Clone> CapacityToken<'_, B> {
    /// Who holds it.
    pub fn borrower(&self) -> &B {
        self.borrower.as_ref().expect("held until dropped")
    }
}

impl<B: Eq + Hash + Clone> Drop for CapacityToken<'_, B> {
    fn drop(&mut self) {
        if let Some(borrower) = self.borrower.take() {
            self.limiter.give_back(&borrower);
        }
    }
}

impl<B: Eq + Hash + Clone + fmt::Debug> fmt::Debug for CapacityToken<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapacityToken")
            .field("borrower", self.borrower())
            .finish()
    }
}
