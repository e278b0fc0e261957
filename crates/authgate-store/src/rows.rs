//! What every backend makes of the values it reads: lists joined into one text, application
//! modes, usage counters. Backends decode their own rows; what follows is alike for all.

use crate::{AppMode, StoreError, UsageMinute, UsageOutcome};

/// A comma-joined list (scopes, permissions, roles), without empty items.
pub(crate) fn split_list(joined: Option<String>) -> Vec<String> {
    joined
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Redirect URIs joined by newlines (which a URI cannot contain), sorted.
pub(crate) fn redirect_uris(joined: Option<String>) -> Vec<String> {
    let mut uris: Vec<String> = joined
        .unwrap_or_default()
        .split('\n')
        .filter(|uri| !uri.is_empty())
        .map(str::to_owned)
        .collect();
    uris.sort();
    uris
}

pub(crate) fn parse_mode(text: &str) -> Result<AppMode, StoreError> {
    AppMode::parse(text)
        .ok_or_else(|| StoreError::Invalid(format!("unknown application mode `{text}` in store")))
}

/// Adds `count` requests with the stored `outcome` to `usage`.
fn add_outcome(usage: &mut UsageMinute, outcome: &str, count: i64) {
    let count = u64::try_from(count).unwrap_or(0);
    match UsageOutcome::decode(outcome) {
        Some(UsageOutcome::Allowed) => usage.allowed += count,
        Some(UsageOutcome::Denied(code)) => *usage.denied.entry(code).or_default() += count,
        Some(UsageOutcome::StatusClass(class)) => {
            *usage.status.entry(format!("{class}xx")).or_default() += count;
        }
        None => tracing::warn!(outcome, "unknown usage outcome in the store"),
    }
}

/// Usage sums (`owner`, `outcome`, `count`, in owner order) folded into one entry per owner,
/// dated `from`.
pub(crate) fn usage_sums(
    rows: Vec<(String, String, i64)>,
    from: i64,
) -> Vec<(String, UsageMinute)> {
    let mut owners: Vec<(String, UsageMinute)> = Vec::new();
    for (owner, outcome, count) in rows {
        if owners.last().is_none_or(|(last, _)| *last != owner) {
            let usage = UsageMinute {
                minute: from,
                ..UsageMinute::default()
            };
            owners.push((owner, usage));
        }
        if let Some((_, usage)) = owners.last_mut() {
            add_outcome(usage, &outcome, count);
        }
    }
    owners
}

/// Usage rows (`minute`, `outcome`, `count`, in minute order) folded into one entry per minute.
pub(crate) fn usage_minutes(rows: Vec<(i64, String, i64)>) -> Vec<UsageMinute> {
    let mut minutes: Vec<UsageMinute> = Vec::new();
    for (minute, outcome, count) in rows {
        if minutes.last().is_none_or(|last| last.minute != minute) {
            minutes.push(UsageMinute {
                minute,
                ..UsageMinute::default()
            });
        }
        if let Some(current) = minutes.last_mut() {
            add_outcome(current, &outcome, count);
        }
    }
    minutes
}
