//! The values cancellation travels as: `Cancelled` (what every checkpoint
//! returns), `TimedOut` (what `fail_after` turns its own expiry into), and the
//! `CancelError` trait by which a scope recognises a cancellation inside a
//! user's error type.

use std::error::Error;
use std::fmt;
use std::io;
use std::panic::Location;

/// Why a scope was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// [`CancelScope::cancel`](crate::CancelScope::cancel) was called.
    Explicit,
    /// The scope's deadline passed.
    Deadline,
    /// A task in the scope's task group failed, so the group cancelled its
    /// other members.
    GroupFailed,
    /// The runtime is shutting down.
    Shutdown,
    /// The process received SIGINT or SIGTERM.
    Signal,
}

impl CancelReason {
    pub(crate) fn to_bits(self) -> u32 {
        match self {
            CancelReason::Explicit => 1,
            CancelReason::Deadline => 2,
            CancelReason::GroupFailed => 3,
            CancelReason::Shutdown => 4,
            CancelReason::Signal => 5,
        }
    }

    pub(crate) fn from_bits(bits: u32) -> Self {
        match bits {
            2 => CancelReason::Deadline,
            3 => CancelReason::GroupFailed,
            4 => CancelReason::Shutdown,
            5 => CancelReason::Signal,
            _ => CancelReason::Explicit,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            CancelReason::Explicit => "cancel() was called",
            CancelReason::Deadline => "its deadline passed",
            CancelReason::GroupFailed => "a task in its group failed",
            CancelReason::Shutdown => "the runtime is shutting down",
            CancelReason::Signal => "the process received a termination signal",
        }
    }
}

/// Identifies a cancel scope in logs and in [`Cancelled::scope`]: unique for
/// the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeId(pub(crate) u64);

impl fmt::Display for ScopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scope#{}", self.0)
    }
}

/// The error every checkpoint returns once its scope is (effectively)
/// cancelled. Propagate it with `?`; the scope that was cancelled catches it
/// when the code returns out of it.
///
/// It says why ([`reason`](Self::reason)), which scope was cancelled
/// ([`scope`](Self::scope)), and where the task was when it noticed
/// ([`location`](Self::location): the source line of the checkpoint), so a
/// log line can tell what cut a request short and where it was waiting.
///
/// `Cancelled` converts into an [`io::Error`] (kind `Other`, with the
/// `Cancelled` inside), so socket code composes with `?`, and can be found in
/// one again with [`Cancelled::find_in_io`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Cancelled {
    reason: CancelReason,
    scope: ScopeId,
    location: &'static Location<'static>,
}

impl Cancelled {
    pub(crate) fn new(
        reason: CancelReason,
        scope: ScopeId,
        location: &'static Location<'static>,
    ) -> Self {
        Cancelled {
            reason,
            scope,
            location,
        }
    }

    /// Why the scope was cancelled.
    pub fn reason(&self) -> CancelReason {
        self.reason
    }

    /// The scope whose cancellation this is: the outermost cancelled scope
    /// the checkpoint could see, which is also the one that will catch it.
    pub fn scope(&self) -> ScopeId {
        self.scope
    }

    /// The source location of the checkpoint that delivered the
    /// cancellation (the `sleep`, `checkpoint`, read... that was awaited).
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// Whether `error` carries a `Cancelled` (made by `From<Cancelled> for
    /// io::Error`), and which. The error's payload is searched along its
    /// [`source`](Error::source) chain, so a payload that wraps a
    /// cancellation with more detail (canopy-io's `CancelledMidway`, which
    /// says how many bytes a cancelled `write_all` sent) is found too.
    pub fn find_in_io(error: &io::Error) -> Option<&Cancelled> {
        let mut current: &(dyn Error + 'static) = error.get_ref()?;
        loop {
            if let Some(cancelled) = current.downcast_ref::<Cancelled>() {
                return Some(cancelled);
            }
            current = current.source()?;
        }
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cancelled: {} was cancelled because {} (noticed at {})",
            self.scope,
            self.reason.describe(),
            self.location
        )
    }
}

impl fmt::Debug for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("reason", &self.reason)
            .field("scope", &self.scope)
            .field("location", &format_args!("{}", self.location))
            .finish()
    }
}

impl Error for Cancelled {}

impl From<Cancelled> for io::Error {
    fn from(cancelled: Cancelled) -> Self {
        io::Error::other(cancelled)
    }
}

/// The error `fail_after`/`fail_at` return when *their own* deadline cut the
/// work short. Cancellation from an outer scope is not a `TimedOut`: it goes
/// through as the `Cancelled` it is.
///
/// Converts into an [`io::Error`] of kind [`io::ErrorKind::TimedOut`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut {
    scope: ScopeId,
}

impl TimedOut {
    pub(crate) fn new(scope: ScopeId) -> Self {
        TimedOut { scope }
    }

    /// The scope whose deadline passed.
    pub fn scope(&self) -> ScopeId {
        self.scope
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out: the deadline of {} passed before the work finished",
            self.scope
        )
    }
}

impl Error for TimedOut {}

impl From<TimedOut> for io::Error {
    fn from(timed_out: TimedOut) -> Self {
        io::Error::new(io::ErrorKind::TimedOut, timed_out)
    }
}

/// An error type that may carry a [`Cancelled`]. A scope's
/// [`run`](crate::CancelScope::run) and the timeouts accept any body returning
/// `Result<T, E>` with `E: CancelError`, and use this to tell a cancellation
/// (which they may catch) from a real failure (which always goes through).
///
/// Implemented for `Cancelled`, `io::Error` (a `Cancelled` inside it, see
/// [`Cancelled::find_in_io`]) and boxed errors. Implement it for your own
/// error type by pointing at the `Cancelled` it holds:
///
/// ```
/// use canopy_scope::{CancelError, Cancelled};
///
/// enum AppError {
///     Cancelled(Cancelled),
///     BadRequest(String),
/// }
///
/// impl From<Cancelled> for AppError {
///     fn from(c: Cancelled) -> Self {
///         AppError::Cancelled(c)
///     }
/// }
///
/// impl CancelError for AppError {
///     fn as_cancelled(&self) -> Option<&Cancelled> {
///         match self {
///             AppError::Cancelled(c) => Some(c),
///             _ => None,
///         }
///     }
/// }
/// ```
///
/// With `io::Error`, `?` on a checkpoint wraps the `Cancelled` inside the
/// `io::Error`, and the scope still recognises it as its own cancellation:
///
/// ```
/// use std::{io, time::Duration};
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
/// let out: io::Result<Option<()>> = rt.block_on(canopy_scope::move_on_after(
///     Duration::from_millis(10),
///     async {
///         canopy_timer::sleep(Duration::from_secs(60)).await?; // Cancelled -> io::Error
///         Ok(())
///     },
/// ));
/// assert_eq!(out.unwrap(), None); // caught by the timeout's scope
/// ```
///
/// An `anyhow`-style error (one opaque type wrapping any error) implements it
/// with a downcast, as `Box<dyn Error + Send + Sync>` does here:
///
/// ```
/// use canopy_scope::{CancelError, Cancelled};
///
/// struct Opaque(Box<dyn std::error::Error + Send + Sync>);
///
/// impl CancelError for Opaque {
///     fn as_cancelled(&self) -> Option<&Cancelled> {
///         self.0.as_cancelled() // downcasts, also through an io::Error inside
///     }
/// }
/// ```
pub trait CancelError {
    /// The cancellation this error carries, if it is one.
    fn as_cancelled(&self) -> Option<&Cancelled>;
}

impl CancelError for Cancelled {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        Some(self)
    }
}

impl CancelError for io::Error {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        Cancelled::find_in_io(self)
    }
}

fn find_in_dyn<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a Cancelled> {
    if let Some(cancelled) = error.downcast_ref::<Cancelled>() {
        return Some(cancelled);
    }
    error
        .downcast_ref::<io::Error>()
        .and_then(Cancelled::find_in_io)
}

impl CancelError for Box<dyn Error + Send + Sync> {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        find_in_dyn(&**self)
    }
}

impl CancelError for Box<dyn Error> {
    fn as_cancelled(&self) -> Option<&Cancelled> {
        find_in_dyn(&**self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn sample() -> Cancelled {
        Cancelled::new(CancelReason::Deadline, ScopeId(7), Location::caller())
    }

    #[test]
    fn io_round_trip_keeps_the_cancellation() {
        let cancelled = sample();
        let error: io::Error = cancelled.into();
        assert_eq!(Cancelled::find_in_io(&error), Some(&cancelled));
        assert_eq!(error.as_cancelled(), Some(&cancelled));
        let other = io::Error::other("disk on fire");
        assert_eq!(other.as_cancelled(), None);
    }

    #[test]
    fn a_cancellation_wrapped_in_a_payload_is_found_through_its_source() {
        #[derive(Debug)]
        struct Midway(Cancelled);
        impl fmt::Display for Midway {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "midway: {}", self.0)
            }
        }
        impl Error for Midway {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let cancelled = sample();
        let error = io::Error::other(Midway(cancelled));
        assert_eq!(error.as_cancelled(), Some(&cancelled));
    }

    #[test]
    fn boxed_errors_are_searched_through_io_errors() {
        let cancelled = sample();
        let boxed: Box<dyn Error + Send + Sync> = Box::new(io::Error::from(cancelled));
        assert_eq!(boxed.as_cancelled(), Some(&cancelled));
        let boxed: Box<dyn Error + Send + Sync> = Box::new(cancelled);
        assert_eq!(boxed.as_cancelled(), Some(&cancelled));
    }

    #[test]
    fn display_says_why_which_and_where() {
        let text = sample().to_string();
        assert!(text.contains("scope#7"), "{text}");
        assert!(text.contains("deadline"), "{text}");
        assert!(text.contains("cancelled.rs"), "{text}");
    }

    #[test]
    fn timed_out_is_an_io_timeout() {
        let error: io::Error = TimedOut::new(ScopeId(3)).into();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn reasons_round_trip_through_bits() {
        for reason in [
            CancelReason::Explicit,
            CancelReason::Deadline,
            CancelReason::GroupFailed,
            CancelReason::Shutdown,
            CancelReason::Signal,
        ] {
            assert_eq!(CancelReason::from_bits(reason.to_bits()), reason);
        }
    }
}
