//! Shared state (rate limits, idempotency records) that cannot answer: each stage decides what
//! the request gets; this says so in the log at most once per [`WARN_EVERY_SECS`], however many
//! requests meet the outage, and counts every one in `authgate_state_errors_total{stage}`.

use authgate_core::time::now_unix;
use authgate_state::StateError;
use std::sync::atomic::{AtomicI64, Ordering};

const WARN_EVERY_SECS: i64 = 5;

/// When the last warning was logged (Unix seconds).
static LAST_WARNING: AtomicI64 = AtomicI64::new(0);

/// Notes that `stage` met `error`, and what the request got instead (`outcome`).
pub(crate) fn note(stage: &'static str, error: &StateError, outcome: &'static str) {
    metrics::counter!("authgate_state_errors_total", "stage" => stage).increment(1);
    let now = now_unix();
    let last = LAST_WARNING.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= WARN_EVERY_SECS
        && LAST_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            %error,
            stage,
            outcome,
            "shared state unavailable (logged at most every {WARN_EVERY_SECS} s)"
        );
    }
}
