//! Sample statistics: nearest-rank percentiles of durations, and number formatting.

use std::time::Duration;

/// Durations of one series, in the order measured.
#[derive(Debug, Clone, Default)]
pub struct Series {
    samples: Vec<Duration>,
}

impl Series {
    pub fn push(&mut self, d: Duration) {
        self.samples.push(d);
    }

    pub fn samples(&self) -> impl Iterator<Item = Duration> + '_ {
        self.samples.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Nearest-rank percentile (`p` in 0..=100) in milliseconds: with fewer than 100
    /// samples, p99 is the slowest one.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        let idx = rank.clamp(1, sorted.len()) - 1;
        Some(sorted[idx].as_secs_f64() * 1000.0)
    }

    pub fn median_ms(&self) -> Option<f64> {
        self.percentile_ms(50.0)
    }

    pub fn p99_ms(&self) -> Option<f64> {
        self.percentile_ms(99.0)
    }

    pub fn min_ms(&self) -> Option<f64> {
        self.samples.iter().min().map(|d| d.as_secs_f64() * 1000.0)
    }

    pub fn max_ms(&self) -> Option<f64> {
        self.samples.iter().max().map(|d| d.as_secs_f64() * 1000.0)
    }
}

/// Milliseconds with precision that suits their size.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), ms)
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut s = Series::default();
        for i in 1..=100 {
            s.push(Duration::from_millis(i));
        }
        assert_eq!(s.median_ms(), Some(50.0));
        assert_eq!(s.p99_ms(), Some(99.0));
        let mut few = Series::default();
        for i in [3, 1, 2] {
            few.push(Duration::from_millis(i));
        }
        assert_eq!(few.median_ms(), Some(2.0));
        assert_eq!(few.p99_ms(), Some(3.0));
    }

    #[test]
    fn formatting() {
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(100), "100");
        assert_eq!(ms(1.234), "1.23");
        assert_eq!(ms(123.4), "123");
    }
}
