//! The statistics the table shows: median, min and max of a runtime's
//! samples, and ratios between runtimes' medians.
//!
//! The median, not the mean: on a shared, noisy machine one descheduled
//! iteration can double a mean, while the median moves only if most
//! iterations were slow.

use std::time::Duration;

/// What a runtime's samples of one workload come to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The middle sample (the mean of the two middle ones for an even count).
    pub median: Duration,
    /// The fastest sample.
    pub min: Duration,
    /// The slowest sample.
    pub max: Duration,
    /// How many samples there were.
    pub samples: usize,
}

impl Summary {
    /// Summarizes `samples`; `None` if there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
        };
        Some(Summary {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            samples: n,
        })
    }

    /// The median cost of one operation, in nanoseconds, when an iteration
    /// performs `ops` of them.
    pub fn per_op_ns(&self, ops: usize) -> f64 {
        self.median.as_nanos() as f64 / ops.max(1) as f64
    }
}

/// `this / other`: above 1 means `this` took longer. `None` if `other` is
/// zero (nothing to compare with).
pub fn ratio(this: Duration, other: Duration) -> Option<f64> {
    if other.is_zero() {
        None
    } else {
        Some(this.as_secs_f64() / other.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn odd_count_median_is_the_middle_sample() {
        let s = Summary::of(&ms(&[9, 1, 5])).unwrap();
        assert_eq!(s.median, Duration::from_millis(5));
        assert_eq!(s.min, Duration::from_millis(1));
        assert_eq!(s.max, Duration::from_millis(9));
        assert_eq!(s.samples, 3);
    }

    #[test]
    fn even_count_median_is_the_mean_of_the_middle_two() {
        let s = Summary::of(&ms(&[4, 1, 2, 100])).unwrap();
        assert_eq!(s.median, Duration::from_millis(3));
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn per_op_divides_the_median() {
        let s = Summary::of(&ms(&[2])).unwrap();
        assert_eq!(s.per_op_ns(1_000), 2_000.0);
        assert_eq!(s.per_op_ns(0), 2_000_000.0);
    }

    #[test]
    fn ratios() {
        let (a, b) = (Duration::from_millis(3), Duration::from_millis(2));
        assert_eq!(ratio(a, b), Some(1.5));
        assert_eq!(ratio(b, b), Some(1.0));
        assert_eq!(ratio(a, Duration::ZERO), None);
    }
}
