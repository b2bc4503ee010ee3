//! Order statistics of a sample: min / p50 / p95 / p99 / max, as every figure of the suite reports.

use serde::{Deserialize, Serialize};

/// The five figures (and count and mean) of a set of measurements, in the measurements' unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// Summarises `values` (nearest-rank percentiles); all zero when empty. NaNs are ignored.
    pub fn of(values: &[f64]) -> Summary {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        if sorted.is_empty() {
            return Summary::default();
        }
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let n = sorted.len();
            let index = ((p / 100.0) * n as f64).ceil() as usize;
            sorted[index.clamp(1, n) - 1]
        };
        Summary {
            count: sorted.len(),
            min: sorted[0],
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: sorted[sorted.len() - 1],
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        }
    }

    /// The same summary of integer milliseconds.
    pub fn of_ms(values: &[u64]) -> Summary {
        Summary::of(&values.iter().map(|v| *v as f64).collect::<Vec<_>>())
    }

    /// `min/p50/p95/p99/max` with `decimals` digits.
    pub fn five(&self, decimals: usize) -> String {
        format!(
            "{:.d$} / {:.d$} / {:.d$} / {:.d$} / {:.d$}",
            self.min,
            self.p50,
            self.p95,
            self.p99,
            self.max,
            d = decimals
        )
    }

    /// Whether the figures are ordered and positive (a sanity check of a measurement).
    pub fn is_sane(&self) -> bool {
        self.count > 0
            && self.min > 0.0
            && self.min <= self.p50
            && self.p50 <= self.p95
            && self.p95 <= self.p99
            && self.p99 <= self.max
            && self.max.is_finite()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Summary::of(&values);
        assert_eq!((s.count, s.min, s.p50, s.p95, s.p99, s.max), (100, 1.0, 50.0, 95.0, 99.0, 100.0));
        assert!((s.mean - 50.5).abs() < 1e-9);
        assert!(s.is_sane());
        let one = Summary::of(&[7.0]);
        assert_eq!((one.min, one.p50, one.p99, one.max), (7.0, 7.0, 7.0, 7.0));
        assert_eq!(Summary::of(&[]).count, 0);
        assert!(!Summary::of(&[]).is_sane());
    }
}
