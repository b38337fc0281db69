//! Counts in buckets and bar charts as inline SVG geometry. Buckets follow the 1-2-5
//! series (0, 1, 2, 5, 10, 20, 50…), so any range of lengths or row counts fits a dozen
//! bars, and memory is a few counters whatever the number of rows.

use serde::Serialize;

/// Counts of values in 1-2-5 buckets.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    /// Values counted.
    pub n: u64,
    /// Their sum, for the mean.
    pub sum: u64,
    /// The largest.
    pub max: u64,
}

/// The lower bound of bucket `i`: 0, 1, 2, 5, 10, 20, 50, …
fn lower(i: usize) -> u64 {
    if i == 0 {
        return 0;
    }
    let step = [1, 2, 5][(i - 1) % 3];
    step * 10u64.pow(((i - 1) / 3) as u32)
}

impl Histogram {
    /// Counts one value.
    pub fn add(&mut self, value: u64) {
        let mut i = 0;
        while lower(i + 1) <= value {
            i += 1;
        }
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.n += 1;
        self.sum += value;
        self.max = self.max.max(value);
    }

    /// The mean, 0 for none.
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum as f64 / self.n as f64
        }
    }

    /// `(label, count)` per bucket from the first to the last non-empty one.
    pub fn buckets(&self) -> Vec<(String, u64)> {
        let first = self.counts.iter().position(|&c| c > 0).unwrap_or(0);
        (first..self.counts.len())
            .map(|i| {
                let (lo, hi) = (lower(i), lower(i + 1));
                let label = if hi - lo == 1 {
                    lo.to_string()
                } else {
                    format!("{lo}–{}", hi - 1)
                };
                (label, self.counts[i])
            })
            .collect()
    }
}

/// A bar chart, laid out for an SVG of `width` × `height` units.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub width: u32,
    pub height: u32,
    /// Where the bucket labels go.
    pub label_y: f64,
    pub bars: Vec<Bar>,
}

/// One bar and its labels.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// The bar's middle, where its labels are centred.
    pub cx: f64,
    /// Where its count goes, just above it.
    pub count_y: f64,
    /// The bucket, under the bar.
    pub label: String,
    /// The count, above the bar.
    pub count: u64,
}

const WIDTH: u32 = 560;
const HEIGHT: u32 = 170;
/// Room under the bars for labels, and above for counts.
const BOTTOM: f64 = 34.0;
const TOP: f64 = 16.0;
/// The widest a bar's slot gets.
const MAX_SLOT: f64 = 64.0;

/// Vertical bars for `(label, count)` pairs, scaled to the largest count.
pub fn bars(buckets: &[(String, u64)]) -> Chart {
    let top = buckets.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1) as f64;
    // A few buckets get bars of a readable width, not the whole chart between them.
    let slot = (f64::from(WIDTH) / buckets.len().max(1) as f64).min(MAX_SLOT);
    let room = f64::from(HEIGHT) - BOTTOM - TOP;
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, (label, count))| {
            let h = (*count as f64 / top * room).max(if *count > 0 { 1.0 } else { 0.0 });
            Bar {
                x: round(i as f64 * slot + slot * 0.1),
                y: round(TOP + room - h),
                cx: round(i as f64 * slot + slot * 0.5),
                count_y: round(TOP + room - h - 3.0),
                w: round(slot * 0.8),
                h: round(h),
                label: label.clone(),
                count: *count,
            }
        })
        .collect();
    Chart {
        width: WIDTH,
        height: HEIGHT,
        label_y: round(f64::from(HEIGHT) - BOTTOM + 14.0),
        bars,
    }
}

/// Two decimals are plenty for an SVG and keep the page's bytes the same on every machine.
fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fall_in_1_2_5_buckets() {
        let mut h = Histogram::default();
        for v in [0, 1, 1, 3, 4, 5, 19, 20, 120] {
            h.add(v);
        }
        let buckets = h.buckets();
        assert_eq!(buckets[0], ("0".to_string(), 1));
        assert_eq!(buckets[1], ("1".to_string(), 2));
        assert_eq!(buckets[2], ("2–4".to_string(), 2));
        assert_eq!(buckets[3], ("5–9".to_string(), 1));
        assert_eq!(buckets[4], ("10–19".to_string(), 1));
        assert_eq!(buckets[5], ("20–49".to_string(), 1));
        assert_eq!(buckets.last(), Some(&("100–199".to_string(), 1)));
        assert_eq!((h.n, h.max), (9, 120));
    }

    #[test]
    fn buckets_start_at_the_first_value() {
        let mut h = Histogram::default();
        h.add(60);
        h.add(70);
        assert_eq!(h.buckets(), vec![("50–99".to_string(), 2)]);
    }

    #[test]
    fn the_tallest_bar_fills_the_chart() {
        let chart = bars(&[("a".into(), 10), ("b".into(), 5), ("c".into(), 0)]);
        let room = f64::from(HEIGHT) - BOTTOM - TOP;
        assert_eq!(chart.bars[0].h, round(room));
        assert_eq!(chart.bars[1].h, round(room / 2.0));
        assert_eq!(chart.bars[2].h, 0.0);
        assert!(chart.bars.iter().all(|b| b.x + b.w <= f64::from(WIDTH)));
    }
}
