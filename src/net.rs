//! Sockets: TCP, UDP and Unix, every operation a checkpoint; a read or
//! write that returns `Cancelled` moved no bytes.
//!
//! ```
//! use canopy::net::{TcpListener, TcpStream};
//!
//! let rt = canopy::Runtime::builder().workers(2).build()?;
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!     client.write_all(b"hi").await?;
//!     let mut buf = [0; 2];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"hi");
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use canopy_io::{
    CancelledMidway, TcpListener, TcpStream, ToSocketAddrs, UdpSocket, UnixDatagram, UnixListener,
    UnixStream, is_out_of_descriptors, tcp, udp, unix,
};
