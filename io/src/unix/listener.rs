//! `UnixListener`: bind to a path and accept.

use super::UnixStream;
use crate::error::context;
use crate::readiness::Direction;
use crate::registered::Registered;
use std::future::Future;
use std::io;
use std::os::unix::net::SocketAddr;
use std::panic::Location;
use std::path::Path;

/// A Unix stream socket listening at a path.
///
/// ```
/// use canopy_io::{UnixListener, UnixStream};
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// let dir = std::env::temp_dir().join(format!("canopy-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("listener.sock");
/// # let _ = std::fs::remove_file(&path);
/// rt.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let client = UnixStream::connect(&path).await?;
///     let (server, _) = listener.accept().await?;
///     client.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct UnixListener {
    io: Registered<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` and listens. (No waiting, so no checkpoint; the
    /// path must not exist yet.)
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the path exists, outside a runtime, and the system's
    /// others.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let listener = std::os::unix::net::UnixListener::bind(path)
            .map_err(|e| context(e, format_args!("could not listen on {}", path.display())))?;
        UnixListener::from_std(listener)
    }

    /// Waits for a connection and accepts it. A checkpoint: a cancelled
    /// accept took no connection.
    #[track_caller]
    pub fn accept(&self) -> impl Future<Output = io::Result<(UnixStream, SocketAddr)>> + Send + '_ {
        let location = Location::caller();
        async move {
            let (stream, peer) = self
                .io
                .op(
                    Direction::Read,
                    location,
                    |l: &std::os::unix::net::UnixListener| l.accept(),
                )
                .await
                .map_err(|e| context(e, "accept failed"))?;
            stream.set_nonblocking(true)?;
            let io = Registered::with_reactor(stream, self.io.reactor().clone())?;
            Ok((UnixStream::from_registered(io), peer))
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Takes over a std listener (made non-blocking here).
    ///
    /// # Errors
    ///
    /// Outside a runtime, or when the socket cannot be registered.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: Registered::new(listener)?,
        })
    }

    /// Hands the socket back as a std listener (still non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(self.io.into_inner())
    }
}

crate::registered::impl_as_fd!(UnixListener);
