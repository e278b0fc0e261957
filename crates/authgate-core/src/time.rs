//! Time as the store keeps it: whole seconds since the Unix epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Where time comes from: the system's clock, or one a test moves itself.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        now_unix()
    }
}

/// A moment given by a person: an RFC 3339 time (`2026-11-23T10:00:00Z`), Unix seconds, or a
/// span before `now` (`90m`, `2d`: that long ago).
pub fn parse_moment(text: &str, now: i64) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(now.saturating_sub(i64::try_from(ago.as_secs()).unwrap_or(i64::MAX)));
    }
    let time = humantime::parse_rfc3339_weak(text).map_err(|_| {
        format!("`{text}` is neither an RFC 3339 time, Unix seconds, nor a span like 90m")
    })?;
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// The window a usage report covers when none is asked for: the last day.
pub const DEFAULT_WINDOW: i64 = 24 * 3600;

/// A `from..to` window (Unix seconds) given by a person, each end in any form
/// [`parse_moment`] reads; by default the last day up to and including the current minute.
/// Errors name the end they are about (`from`, `to`).
pub fn parse_window(from: Option<&str>, to: Option<&str>, now: i64) -> Result<(i64, i64), String> {
    let end = |text: Option<&str>, default: i64, name: &str| match text {
        Some(text) => parse_moment(text, now).map_err(|e| format!("{name}: {e}")),
        None => Ok(default),
    };
    let from = end(from, now - DEFAULT_WINDOW, "from")?;
    let to = end(to, now + 1, "to")?;
    if from >= to {
        return Err("from must be before to".into());
    }
    Ok((from, to))
}

/// Unix seconds as RFC 3339 (`2026-11-23T10:00:00Z`).
pub fn format_rfc3339(at: i64) -> String {
    let seconds = u64::try_from(at).unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_read_in_each_form() {
        let now = 1_800_000_000;
        assert_eq!(parse_moment("1700000000", now), Ok(1_700_000_000));
        assert_eq!(parse_moment("90m", now), Ok(now - 5400));
        assert_eq!(parse_moment("2026-11-23T00:00:00Z", now), Ok(1_795_392_000));
        assert!(parse_moment("yesterday", now).is_err());
        assert_eq!(format_rfc3339(1_795_392_000), "2026-11-23T00:00:00Z");
        assert_eq!(
            parse_window(None, None, now),
            Ok((now - DEFAULT_WINDOW, now + 1))
        );
        assert_eq!(
            parse_window(Some("2h"), Some("1h"), now),
            Ok((now - 7200, now - 3600))
        );
        assert!(parse_window(Some("1h"), Some("2h"), now).is_err());
        assert!(
            parse_window(Some("soon"), None, now)
                .unwrap_err()
                .starts_with("from:")
        );
    }
}
