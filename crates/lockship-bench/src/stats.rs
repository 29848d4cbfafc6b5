//! Medians and the interleaved schedule.

use serde::{Deserialize, Serialize};

use crate::BenchError;

/// One figure over its runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples.
    pub runs: usize,
}

impl Summary {
    /// Summarises `samples`; `what` names the figure in the error.
    pub fn of(samples: &[f64], what: &str) -> Result<Summary, BenchError> {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return Err(BenchError::NoSamples {
                what: what.to_string(),
            });
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Ok(Summary {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            runs: n,
        })
    }
}

/// The order of rounds: every contender once per run, in the same order
/// (A B C A B C …), so slow drift (a warming disk, a busy network) falls on
/// every contender alike. Returns `(run, contender index)`.
pub fn interleave(contenders: usize, runs: usize) -> Vec<(usize, usize)> {
    (0..runs)
        .flat_map(|run| (0..contenders).map(move |c| (run, c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_median_is_the_middle() {
        let s = Summary::of(&[3.0, 1.0, 2.0], "x").unwrap();
        assert_eq!((s.median, s.min, s.max, s.runs), (2.0, 1.0, 3.0, 3));
    }

    #[test]
    fn even_median_is_the_mean_of_the_middle_two() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0], "x").unwrap();
        assert_eq!(s.median, 2.5);
    }

    #[test]
    fn no_sample_is_an_error_never_a_zero() {
        assert!(matches!(
            Summary::of(&[], "x"),
            Err(BenchError::NoSamples { .. })
        ));
        assert!(Summary::of(&[f64::NAN], "x").is_err());
    }

    #[test]
    fn rounds_alternate() {
        assert_eq!(
            interleave(2, 3),
            vec![(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
        );
        assert!(interleave(3, 0).is_empty());
    }
}
