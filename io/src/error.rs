//! The errors sockets return, worded to say what went wrong and what to do.

use canopy_scope::Cancelled;
use std::error::Error;
use std::fmt;
use std::io;

/// A socket was created or used on a thread that serves no canopy runtime.
pub(crate) fn outside_runtime() -> io::Error {
    io::Error::other(
        "a canopy socket was used outside a canopy runtime: sockets need the runtime's \
         reactor; create and use them inside Runtime::block_on or a spawned task",
    )
}

/// The socket's runtime has shut down, so nobody drives its readiness.
pub(crate) fn runtime_shut_down() -> io::Error {
    io::Error::other(
        "the canopy runtime this socket belongs to has shut down, so the socket can no \
         longer wait for readiness; use sockets only while their runtime runs (into_std \
         hands the socket over to blocking code)",
    )
}

/// Adds what was being done (and to which address) to an error, keeping its
/// kind, and for the common faults says what to do about them.
pub(crate) fn context(error: io::Error, what: impl fmt::Display) -> io::Error {
    if Cancelled::find_in_io(&error).is_some() {
        return error;
    }
    let hint = match error.kind() {
        io::ErrorKind::AddrInUse => {
            "; another socket is bound to that address: pick another port (0 lets the \
             system choose) or stop the other listener"
        }
        io::ErrorKind::ConnectionRefused => {
            "; nothing listens at that address: check the address and that the server runs"
        }
        io::ErrorKind::AddrNotAvailable => "; that address is not one of this host's",
        _ if is_out_of_descriptors(&error) => {
            "; the process ran out of file descriptors: raise `ulimit -n`, or close \
             connections; the connection stays queued in the listener's backlog, so wait a \
             moment and accept again"
        }
        _ => "",
    };
    io::Error::new(error.kind(), format!("{what}: {error}{hint}"))
}

/// Whether `error` says the process (EMFILE) or the system (ENFILE) has no
/// file descriptor left, as `accept` reports when a server is at its limit.
/// An accept loop should then report it, wait briefly and accept again: the
/// pending connection stays in the listener's backlog.
pub fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
        || error
            .get_ref()
            .and_then(|e| e.downcast_ref::<OutOfDescriptors>())
            .is_some()
}

/// The payload of an accept error caused by a lack of file descriptors, so
/// that [`is_out_of_descriptors`] still recognises it once it carries a
/// message.
#[derive(Debug)]
pub(crate) struct OutOfDescriptors(pub(crate) String);

impl fmt::Display for OutOfDescriptors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for OutOfDescriptors {}

/// The payload of the `io::Error` that `write_all` and `read_exact` return
/// when they are cancelled after part of the work was done: how many bytes
/// went out (`write_all`) or were read into the front of the buffer
/// (`read_exact`), so nothing is lost (DESIGN §2.13).
///
/// Its [`source`](Error::source) is the [`Cancelled`], so
/// [`Cancelled::find_in_io`] finds it and the cancelled scope catches the
/// error as its own cancellation. Find the count with
/// [`CancelledMidway::find_in_io`]. A call cancelled before it moved any
/// byte returns a plain `Cancelled` instead.
///
/// ```
/// use canopy_io::CancelledMidway;
/// # fn handle(error: std::io::Error, buf: &[u8]) {
/// if let Some(midway) = CancelledMidway::find_in_io(&error) {
///     let rest = &buf[midway.done()..]; // still to be sent, later or elsewhere
/// #   let _ = rest;
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelledMidway {
    done: usize,
    cancelled: Cancelled,
}

impl CancelledMidway {
    pub(crate) fn into_io(done: usize, cancelled: Cancelled) -> io::Error {
        if done == 0 {
            return cancelled.into();
        }
        io::Error::other(CancelledMidway { done, cancelled })
    }

    /// The bytes written (`write_all`) or read into `buf[..done]`
    /// (`read_exact`) before the cancellation.
    pub fn done(&self) -> usize {
        self.done
    }

    /// The cancellation that cut the call short.
    pub fn cancelled(&self) -> &Cancelled {
        &self.cancelled
    }

    /// The `CancelledMidway` inside `error`, if it is one.
    pub fn find_in_io(error: &io::Error) -> Option<&CancelledMidway> {
        error.get_ref()?.downcast_ref::<CancelledMidway>()
    }
}

impl fmt::Display for CancelledMidway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes were transferred before the call was {}",
            self.done, self.cancelled
        )
    }
}

impl Error for CancelledMidway {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cancelled)
    }
}
