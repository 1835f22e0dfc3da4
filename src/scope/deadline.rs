//! Deadline propagation between services: encode what is left of
//! [`current_effective_deadline`](super::current_effective_deadline) as a
//! gRPC-style `grpc-timeout` value for an outgoing request ("0n" when the
//! caller is already cancelled), and open a scope from an incoming one
//! ([`CancelScope::from_grpc_timeout`](super::CancelScope::from_grpc_timeout)).
//!
//! It lives under [`scope`](super) (it was `canopy::deadline`): it is the
//! cross-service half of a scope's deadline — it reads
//! `current_effective_deadline` and feeds `CancelScope` — and a
//! protocol-specific helper has no place among the crate root's daily names.
//!
//! ```
//! use canopy::{CancelScope, Cancelled, scope::deadline};
//!
//! let rt = canopy::Runtime::builder().workers(1).start_paused(true).build()?;
//! rt.block_on(async {
//!     // A request arrives with 250 ms left...
//!     let scope = CancelScope::from_grpc_timeout("250m").unwrap();
//!     scope
//!         .run(async {
//!             // ...and the call to the next service passes on what is left.
//!             assert_eq!(deadline::grpc_timeout_header().as_deref(), Some("250000u"));
//!             Ok::<_, Cancelled>(())
//!         })
//!         .await
//!         .unwrap();
//! });
//! # Ok::<(), canopy::runtime::BuildError>(())
//! ```

pub use canopy_scope::{
    InvalidTimeout, encode_grpc_timeout, grpc_timeout_header, parse_grpc_timeout,
};
