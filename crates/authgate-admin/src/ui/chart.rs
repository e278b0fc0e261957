//! Usage as an inline SVG bar chart, drawn on the server: allowed and denied requests stacked
//! per bucket (a minute over the last hour, an hour over the last day). The chart has a title
//! and each bar its numbers, and the page lists the totals beside it, so it needs no script
//! and reads without sight.

use authgate_core::time::format_rfc3339;
use authgate_store::UsageMinute;

/// The drawing's size in SVG units; CSS scales it to the page.
const WIDTH: u32 = 600;
const HEIGHT: u32 = 120;

pub(crate) struct Chart {
    pub(crate) title: String,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) bars: Vec<Bar>,
    /// The tallest bar's count, for the axis label.
    pub(crate) max: u64,
    pub(crate) allowed: u64,
    pub(crate) denied: u64,
    pub(crate) first_label: String,
    pub(crate) last_label: String,
}

pub(crate) struct Bar {
    pub(crate) x: u32,
    pub(crate) width: u32,
    pub(crate) allowed_y: u32,
    pub(crate) allowed_height: u32,
    pub(crate) denied_y: u32,
    pub(crate) denied_height: u32,
    /// "2026-12-03T10:05:00Z: 12 allowed, 1 denied".
    pub(crate) label: String,
}

impl Chart {
    /// `buckets` buckets of `bucket_seconds` each, the first starting at `from`, filled from
    /// per-minute usage.
    pub(crate) fn new(
        title: &str,
        usage: &[UsageMinute],
        from: i64,
        bucket_seconds: i64,
        buckets: usize,
    ) -> Self {
        let mut counts = vec![(0u64, 0u64); buckets];
        for minute in usage {
            let index = (minute.minute - from).div_euclid(bucket_seconds);
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| counts.get_mut(i)) {
                slot.0 += minute.allowed;
                slot.1 += minute.denied.values().sum::<u64>();
            }
        }
        let max = counts.iter().map(|(a, d)| a + d).max().unwrap_or(0);
        let slot = WIDTH / u32::try_from(buckets.max(1)).unwrap_or(1);
        let scale = |count: u64| -> u32 {
            if max == 0 {
                return 0;
            }
            u32::try_from(count * u64::from(HEIGHT) / max).unwrap_or(HEIGHT)
        };
        let bars = counts
            .iter()
            .enumerate()
            .map(|(i, &(allowed, denied))| {
                let x = u32::try_from(i).unwrap_or(0) * slot;
                let allowed_height = scale(allowed);
                let denied_height = scale(allowed + denied) - allowed_height;
                let start = from + i64::try_from(i).unwrap_or(0) * bucket_seconds;
                Bar {
                    x,
                    width: slot.saturating_sub(1).max(1),
                    allowed_y: HEIGHT - allowed_height,
                    allowed_height,
                    denied_y: HEIGHT - allowed_height - denied_height,
                    denied_height,
                    label: format!(
                        "{}: {allowed} allowed, {denied} denied",
                        format_rfc3339(start)
                    ),
                }
            })
            .collect();
        let end = from + i64::try_from(buckets).unwrap_or(0) * bucket_seconds;
        Self {
            title: title.to_owned(),
            width: WIDTH,
            height: HEIGHT,
            bars,
            max,
            allowed: counts.iter().map(|(a, _)| a).sum(),
            denied: counts.iter().map(|(_, d)| d).sum(),
            first_label: format_rfc3339(from),
            last_label: format_rfc3339(end),
        }
    }
}

/// Refusals by reason over `usage`, most first.
pub(crate) fn refusals(usage: &[UsageMinute]) -> Vec<(String, u64)> {
    let mut total = UsageMinute::default();
    for minute in usage {
        total.add(minute);
    }
    let mut reasons: Vec<(String, u64)> = total.denied.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn minute(at: i64, allowed: u64, denied: u64) -> UsageMinute {
        UsageMinute {
            minute: at,
            allowed,
            denied: BTreeMap::from([("invalid_credentials".to_owned(), denied)]),
            status: BTreeMap::new(),
        }
    }

    #[test]
    fn minutes_fall_into_their_buckets_and_the_tallest_bar_fills_the_height() {
        let from = 1_800_000_000;
        let usage = [
            minute(from, 3, 1),
            minute(from + 60, 2, 0),
            minute(from + 3600, 8, 0),
            minute(from - 60, 100, 0),
            minute(from + 4 * 3600, 100, 0),
        ];
        let chart = Chart::new("t", &usage, from, 3600, 4);
        assert_eq!(chart.bars.len(), 4);
        assert_eq!((chart.allowed, chart.denied, chart.max), (13, 1, 8));
        let first = &chart.bars[0];
        assert_eq!(first.allowed_height, 5 * HEIGHT / 8);
        assert_eq!(first.denied_height, 6 * HEIGHT / 8 - 5 * HEIGHT / 8);
        assert_eq!(chart.bars[1].allowed_height, HEIGHT);
        assert_eq!(chart.bars[1].allowed_y, 0);
        assert!(first.label.ends_with("5 allowed, 1 denied"));
        assert_eq!(chart.bars[3].allowed_height, 0);
    }

    #[test]
    fn refusals_are_summed_by_reason_most_first() {
        let mut other = minute(0, 0, 1);
        other.denied.insert("rate_limited".into(), 5);
        let reasons = refusals(&[minute(0, 1, 2), other]);
        assert_eq!(
            reasons,
            [
                ("rate_limited".to_owned(), 5),
                ("invalid_credentials".to_owned(), 3)
            ]
        );
    }
}
