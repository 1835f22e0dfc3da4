//! Deadline propagation across services as a gRPC-style `grpc-timeout`
//! header value: what is left of [`current_effective_deadline`] goes out with
//! a request, and an incoming one opens a scope.

use crate::effective_deadline::current_effective_deadline;
use crate::scope::CancelScope;
use std::fmt;
use std::time::Duration;

/// The most digits a `grpc-timeout` value may have.
const MAX_DIGITS: u64 = 99_999_999;

/// Encodes `timeout` as a `grpc-timeout` header value ("1-8 digits + unit",
/// units `n u m S M H`), in the finest unit that fits. Rounds up, so the
/// receiver never gets a shorter timeout than meant (a zero one stays "0n").
pub fn encode_grpc_timeout(timeout: Duration) -> String {
    let nanos = timeout.as_nanos();
    const UNITS: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (per, unit) in UNITS {
        let value = nanos.div_ceil(per);
        if value <= u128::from(MAX_DIGITS) {
            return format!("{value}{unit}");
        }
    }
    format!("{MAX_DIGITS}H")
}

/// The error of [`parse_grpc_timeout`] and [`CancelScope::from_grpc_timeout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidTimeout {
    value: String,
}

impl fmt::Display for InvalidTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid grpc-timeout value {:?}: expected 1 to 8 digits followed by one \
             of the units n, u, m, S, M, H (e.g. \"250m\")",
            self.value
        )
    }
}

impl std::error::Error for InvalidTimeout {}

/// Parses a `grpc-timeout` header value ("250m", "5S", ...).
pub fn parse_grpc_timeout(value: &str) -> Result<Duration, InvalidTimeout> {
    let invalid = || InvalidTimeout {
        value: value.to_owned(),
    };
    let unit = value.chars().last().ok_or_else(invalid)?;
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let amount: u64 = digits.parse().map_err(|_| invalid())?;
    Ok(match unit {
        'n' => Duration::from_nanos(amount),
        'u' => Duration::from_micros(amount),
        'm' => Duration::from_millis(amount),
        'S' => Duration::from_secs(amount),
        'M' => Duration::from_secs(amount * 60),
        'H' => Duration::from_secs(amount * 3600),
        _ => return Err(invalid()),
    })
}

/// The `grpc-timeout` value to send with an outgoing request so the callee
/// stops when we would: the time left until [`current_effective_deadline`],
/// `"0n"` ("no time left") when the caller is already cancelled, or `None`
/// when there is no deadline.
///
/// ```
/// use canopy_scope::{CancelScope, Cancelled, grpc_timeout_header};
///
/// let rt = canopy_runtime::Runtime::builder().workers(1).build().unwrap();
/// rt.block_on(async {
///     assert_eq!(grpc_timeout_header(), None);
///     let scope = CancelScope::new();
///     scope.cancel();
///     let header = scope.run(async { Ok::<_, Cancelled>(grpc_timeout_header()) });
///     assert_eq!(header.await.unwrap().flatten().as_deref(), Some("0n"));
/// });
/// ```
pub fn grpc_timeout_header() -> Option<String> {
    current_effective_deadline()
        .remaining()
        .map(encode_grpc_timeout)
}

impl CancelScope {
    /// A scope for handling an incoming request that carried a
    /// `grpc-timeout` header: its deadline is that long from now (the clock
    /// starts at this call, when the request arrived).
    ///
    /// ```
    /// use canopy_scope::{CancelScope, Cancelled, grpc_timeout_header};
    ///
    /// let rt = canopy_runtime::Runtime::builder().workers(1).start_paused(true).build().unwrap();
    /// rt.block_on(async {
    ///     let scope = CancelScope::from_grpc_timeout("250m").unwrap();
    ///     scope
    ///         .run(async {
    ///             // Calling the next service: pass on what is left.
    ///             assert_eq!(grpc_timeout_header().as_deref(), Some("250000u"));
    ///             Ok::<_, Cancelled>(())
    ///         })
    ///         .await
    ///         .unwrap();
    /// });
    /// ```
    pub fn from_grpc_timeout(value: &str) -> Result<CancelScope, InvalidTimeout> {
        Ok(CancelScope::with_timeout_from_now(parse_grpc_timeout(
            value,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_in_the_finest_unit_that_fits() {
        assert_eq!(encode_grpc_timeout(Duration::ZERO), "0n");
        assert_eq!(encode_grpc_timeout(Duration::from_nanos(999)), "999n");
        assert_eq!(encode_grpc_timeout(Duration::from_millis(250)), "250000u");
        assert_eq!(encode_grpc_timeout(Duration::from_secs(1)), "1000000u");
        assert_eq!(encode_grpc_timeout(Duration::from_secs(3600)), "3600000m");
        assert_eq!(
            encode_grpc_timeout(Duration::from_secs(86_400 * 365)),
            "31536000S"
        );
    }

    #[test]
    fn parses_and_round_trips() {
        for value in ["250m", "5S", "1H", "7M", "10u", "0n"] {
            let parsed = parse_grpc_timeout(value).unwrap();
            assert_eq!(parse_grpc_timeout(&encode_grpc_timeout(parsed)), Ok(parsed));
        }
        assert_eq!(parse_grpc_timeout("250m"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn rejects_malformed_values() {
        for value in ["", "m", "123456789m", "12x", "-1S", "1.5S", "5s"] {
            let error = parse_grpc_timeout(value).unwrap_err();
            assert!(error.to_string().contains("grpc-timeout"), "{error}");
        }
    }
}
