//! The rate-limit stage: rate limits per application (SPEC §4).
//!
//! A route counts against its own bucket when it sets `rate_limit`, else against the default
//! `[rate_limit]` bucket, else is not limited. Counters belong to the application, not the key,
//! so rotating keys does not reset a limit (3scale). Every limited response carries
//! `X-RateLimit-Limit`, `-Remaining`, `-Reset` (Unix seconds) and the IETF `RateLimit-Policy` /
//! `RateLimit` fields; a refusal is 429 `rate_limited` with `Retry-After`. `Retry-After` is when
//! one more request would pass; `X-RateLimit-Reset` and `RateLimit`'s `t` both name when the
//! whole burst is back (the same moment, as a Unix time and as seconds). When the shared state
//! cannot answer, the request passes without rate-limit headers (fail open, as Kong's
//! `fault_tolerant`: a limiter outage should not become an API outage), or with
//! `[state] on_error = "closed"` is refused with 503 `state_unavailable`; a warning is logged at
//! most every few seconds.

use crate::chain::{Next, stage};
use crate::context::RequestContext;
use crate::respond::Rejection;
use crate::{Request, Response};
use authgate_config::{OnStateError, RateLimitConfig};
use authgate_core::ErrorCode;
use authgate_core::time::now_unix;
use authgate_state::{Quota, RateDecision, RateLimiter};
use bytes::BytesMut;
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::borrow::Cow;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A set of counters with its quota: the default limit, or one route's own.
#[derive(Debug)]
pub struct RateBucket {
    pub name: String,
    pub quota: Quota,
    limit_header: HeaderValue,
    policy_header: HeaderValue,
}

impl RateBucket {
    /// The bucket for a configured limit; `None` when it sets no rate.
    pub fn new(name: &str, config: &RateLimitConfig) -> Option<Self> {
        let per_minute = NonZeroU32::new(config.rpm?)?;
        let burst = config.burst.and_then(NonZeroU32::new).unwrap_or(per_minute);
        Some(Self {
            name: name.to_owned(),
            quota: Quota { per_minute, burst },
            limit_header: HeaderValue::from(per_minute.get()),
            policy_header: HeaderValue::from_str(&format!("\"{name}\";q={per_minute};w=60"))
                .ok()?,
        })
    }

    /// A copy for one worker thread, sharing no memory with this one.
    pub(crate) fn thread_copy(&self) -> Self {
        Self {
            name: self.name.clone(),
            quota: self.quota,
            limit_header: crate::thread_copy::header_value(&self.limit_header),
            policy_header: crate::thread_copy::header_value(&self.policy_header),
        }
    }

    /// Sets the rate-limit headers of one decision (replacing any the upstream sent).
    fn write_headers(&self, decision: &RateDecision, headers: &mut HeaderMap) {
        let reset_secs = whole_seconds(decision.reset_after);
        let reset_at = now_unix().saturating_add_unsigned(reset_secs);
        headers.reserve(5);
        headers.insert(X_RATELIMIT_LIMIT.clone(), self.limit_header.clone());
        headers.insert(
            X_RATELIMIT_REMAINING.clone(),
            HeaderValue::from(decision.remaining),
        );
        headers.insert(X_RATELIMIT_RESET.clone(), HeaderValue::from(reset_at));
        headers.insert(RATELIMIT_POLICY.clone(), self.policy_header.clone());
        // `"name";r=remaining;t=seconds`, without the formatting machinery.
        let mut numbers = itoa::Buffer::new();
        let mut current = BytesMut::with_capacity(self.name.len() + 32);
        current.extend_from_slice(b"\"");
        current.extend_from_slice(self.name.as_bytes());
        current.extend_from_slice(b"\";r=");
        current.extend_from_slice(numbers.format(decision.remaining).as_bytes());
        current.extend_from_slice(b";t=");
        current.extend_from_slice(numbers.format(reset_secs).as_bytes());
        if let Ok(value) = HeaderValue::from_maybe_shared(current.freeze()) {
            headers.insert(RATELIMIT.clone(), value);
        }
    }
}

/// Seconds, rounded up: a client told to wait 0 s would retry too early.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// The rate-limit stage: counts each authenticated request against its route's bucket, and
/// answers 429 past the limit.
pub struct RateLimit {
    pub limiter: Arc<dyn RateLimiter>,
    /// What a request gets when the limiter cannot answer.
    pub on_error: OnStateError,
}

async fn run(stage: &RateLimit, request: Request, next: Next<'_>) -> Response {
    let limiter = &stage.limiter;
    let context = RequestContext::of(&request);
    let bucket = context
        .route
        .as_ref()
        .and_then(|route| route.rate_limit.clone());
    let caller = context.caller.clone();
    let (Some(bucket), Some(caller)) = (bucket, caller) else {
        return next.run(request).await;
    };
    // Limits belong to the application; anonymous callers are counted by address.
    let application: Cow<'_, str> = match caller.application() {
        "" => match &context.peer {
            Some(peer) => format!("ip:{}", peer.addr.ip()).into(),
            None => "ip:unknown".into(),
        },
        id => id.into(),
    };
    let decision = limiter
        .check(&bucket.name, bucket.quota, &application)
        .await;
    if let (Some(trail), Ok(decision)) = (&context.trail, &decision) {
        trail.note(|t| t.rate = Some((bucket.name.clone(), *decision)));
    }
    match decision {
        Ok(decision) if decision.allowed => {
            let mut response = next.run(request).await;
            bucket.write_headers(&decision, response.headers_mut());
            response
        }
        Ok(decision) => {
            let wait = whole_seconds(decision.retry_after.unwrap_or_default()).max(1);
            let rejection = Rejection::new(ErrorCode::RateLimited)
                .with_header(RETRY_AFTER, HeaderValue::from(wait));
            tracing::debug!(%application, bucket = %bucket.name, "rate limited");
            let mut response = rejection.into_response();
            bucket.write_headers(&decision, response.headers_mut());
            response
        }
        Err(error) => match stage.on_error {
            OnStateError::Open => {
                crate::state_outage::note("rate_limit", &error, "passed unlimited");
                next.run(request).await
            }
            OnStateError::Closed => {
                crate::state_outage::note("rate_limit", &error, "refused (503)");
                Rejection::new(ErrorCode::StateUnavailable).into_response()
            }
        },
    }
}

stage!(RateLimit, run);
