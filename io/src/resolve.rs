//! Addresses, and name resolution that never blocks a worker.
//!
//! [`ToSocketAddrs`] is what `connect` and `bind` take: a socket address, an
//! `(ip, port)` pair, or a `"host:port"` string. An IP address needs no
//! lookup. A host name does, and `getaddrinfo(3)` blocks (for as long as the
//! resolver takes: seconds when a DNS server is slow), so it must not run on
//! a worker.
//!
//! # The resolver hook
//!
//! `canopy-io` sits below `canopy-runtime` (scope ← io ← runtime), so it
//! cannot reach the blocking pool itself. Instead the runtime installs a
//! [`Resolver`] on its [`Reactor`](crate::Reactor) when it is built (as it
//! installs the timer driver's hooks): a function that runs the lookup on
//! the blocking pool (`canopy::blocking::to_thread`, abandoned on cancel) and
//! returns its future. A lookup is therefore a checkpoint: cancelled, it
//! returns `Cancelled` at once and the pool thread finishes the lookup
//! alone, its result dropped (a lookup has no effect to lose). A reactor
//! without a resolver (one not made by canopy's runtime) resolves on the
//! calling thread, as `std::net` does.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::sync::Arc;

/// The future a [`Resolver`] returns.
pub type ResolveFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// Looks a host name and port up without blocking the caller, for the
/// runtime to install with [`Reactor::set_resolver`](crate::Reactor::set_resolver).
pub type Resolver = Arc<dyn Fn(String, u16) -> ResolveFuture + Send + Sync>;

/// What an address argument stands for: addresses already, or a name to
/// look up.
#[doc(hidden)]
#[derive(Debug)]
pub enum Lookup {
    /// No lookup needed.
    Ready(Vec<SocketAddr>),
    /// A host name and a port.
    Name(String, u16),
}

/// An address `connect` and `bind` accept: [`SocketAddr`] (and its V4/V6
/// forms), `(IpAddr, u16)`, `(&str, u16)`, `(String, u16)`, `"host:port"`
/// as `&str` or `String`, or a slice of `SocketAddr`s. The same types as
/// `std::net::ToSocketAddrs`; unlike it, a host name is looked up on the
/// runtime's blocking pool, not on the worker (module docs).
///
/// Sealed: the lookup is canopy's to run.
pub trait ToSocketAddrs: sealed::Sealed {
    /// Parses what can be parsed; a name is left for the resolver.
    #[doc(hidden)]
    fn to_lookup(&self) -> io::Result<Lookup>;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! ready_addrs {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl ToSocketAddrs for $ty {
            fn to_lookup(&self) -> io::Result<Lookup> {
                Ok(Lookup::Ready(vec![SocketAddr::from(*self)]))
            }
        }
    )*};
}

ready_addrs!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl sealed::Sealed for [SocketAddr] {}
impl ToSocketAddrs for [SocketAddr] {
    fn to_lookup(&self) -> io::Result<Lookup> {
        Ok(Lookup::Ready(self.to_vec()))
    }
}

impl sealed::Sealed for (&str, u16) {}
impl ToSocketAddrs for (&str, u16) {
    fn to_lookup(&self) -> io::Result<Lookup> {
        let (host, port) = *self;
        Ok(match host.parse::<IpAddr>() {
            Ok(ip) => Lookup::Ready(vec![SocketAddr::new(ip, port)]),
            Err(_) => Lookup::Name(host.to_owned(), port),
        })
    }
}

impl sealed::Sealed for (String, u16) {}
impl ToSocketAddrs for (String, u16) {
    fn to_lookup(&self) -> io::Result<Lookup> {
        (self.0.as_str(), self.1).to_lookup()
    }
}

impl sealed::Sealed for str {}
impl ToSocketAddrs for str {
    fn to_lookup(&self) -> io::Result<Lookup> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(Lookup::Ready(vec![addr]));
        }
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "`{self}` is not an address: write `host:port` (`localhost:8080`, \
                     `127.0.0.1:0`, `[::1]:443`)"
                ),
            )
        };
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port: u16 = port.parse().map_err(|_| invalid())?;
        Ok(Lookup::Name(host.to_owned(), port))
    }
}

impl sealed::Sealed for String {}
impl ToSocketAddrs for String {
    fn to_lookup(&self) -> io::Result<Lookup> {
        self.as_str().to_lookup()
    }
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_lookup(&self) -> io::Result<Lookup> {
        (**self).to_lookup()
    }
}

/// The addresses `addr` stands for, looking a name up through the current
/// runtime's resolver (module docs). Never empty on success.
pub(crate) async fn resolve(lookup: Lookup) -> io::Result<Vec<SocketAddr>> {
    let (host, port) = match lookup {
        Lookup::Ready(addrs) => return non_empty(addrs, &"the address list"),
        Lookup::Name(host, port) => (host, port),
    };
    let what = format!("{host}:{port}");
    let resolver = crate::context::current()?.resolver();
    let addrs = match resolver {
        Some(resolver) => resolver(host, port).await,
        None => {
            std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(Iterator::collect)
        }
    };
    match addrs {
        Ok(addrs) => non_empty(addrs, &what),
        Err(e) if canopy_scope::Cancelled::find_in_io(&e).is_some() => Err(e),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!(
                "could not resolve `{what}`: {e}; check the host name, or pass an IP \
                 address"
            ),
        )),
    }
}

/// `attempt` on each address `lookup` resolves to, in order, until one
/// succeeds: its value, or the last error (at once if one is a
/// cancellation). What `bind` and `connect` do with a name.
pub(crate) async fn first_ok<T, F, Fut>(lookup: io::Result<Lookup>, mut attempt: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in resolve(lookup?).await? {
        match attempt(addr).await {
            Ok(value) => return Ok(value),
            Err(e) if canopy_scope::Cancelled::find_in_io(&e).is_some() => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

fn non_empty(addrs: Vec<SocketAddr>, what: &dyn fmt::Display) -> io::Result<Vec<SocketAddr>> {
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} resolved to no address"),
        ));
    }
    Ok(addrs)
}
