//! The resolver the runtime installs on its reactor: `canopy-io` cannot
//! reach the blocking pool (it sits below this crate), so `connect` and
//! `bind` call this hook to look host names up here, off the workers (see
//! `canopy-io`'s `resolve.rs`).

use canopy_io::{ResolveFuture, Resolver};
use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;

/// Runs `getaddrinfo` through [`to_thread`](super::to_thread), abandoned on
/// cancel: a cancelled `connect("host:port")` returns `Cancelled` at once
/// and the pool thread finishes the lookup alone (it has no effect to lose).
pub(crate) fn resolver() -> Resolver {
    Arc::new(|host: String, port: u16| -> ResolveFuture {
        Box::pin(async move {
            let lookup = super::to_thread(move || {
                (host.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect::<Vec<_>>)
            })
            .abandon_on_cancel();
            lookup.await.map_err(io::Error::from)?
        })
    })
}
