//! The observe stage: what became of each request, for usage per application and for metrics.
//!
//! It wraps the whole pipeline and reads the outcome from the response's extensions, where the
//! stages left it: the route, the caller or the application a refused credential belongs to
//! ([`Outcome`]), and the refusal's [`ErrorCode`]. A
//! response without a refusal code was forwarded (or replayed): allowed. Nothing here touches
//! the store; usage is counted in memory and written in batches by [`UsageRecorder::run`].

mod handles;
mod usage;

pub use usage::UsageRecorder;

use crate::chain::{Next, stage};
use crate::context::Outcome;
use crate::{Request, Response};
use authgate_core::{AuthMethod, ErrorCode};
use std::time::Instant;

/// What a request came to: allowed through, or refused with a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allowed,
    Denied(ErrorCode),
}

impl Decision {
    /// The decision of a response, from the refusal code the respond module left on it.
    pub fn of(response: &Response) -> Self {
        match response.extensions().get::<ErrorCode>() {
            Some(code) if code.is_refusal() => Self::Denied(*code),
            _ => Self::Allowed,
        }
    }

    /// The metrics label: `allowed` or the refusal's code.
    pub fn label(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied(code) => code.as_str(),
        }
    }
}

/// The observe stage, outermost.
async fn run(usage: &UsageRecorder, request: Request, next: Next<'_>) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let decision = Decision::of(&response);
    let status = response.status().as_u16();
    let outcome = Outcome::of(&response);
    handles::with(
        outcome.and_then(|o| o.route.as_ref()),
        status,
        decision,
        |handles| {
            handles.requests.increment(1);
            handles.duration.record(started.elapsed().as_secs_f64());
            if let Some(rate_limited) = &handles.rate_limited {
                rate_limited.increment(1);
            }
        },
    );

    let application = outcome.and_then(|outcome| match &outcome.caller {
        Some(caller) => matches!(
            caller.identity.method,
            AuthMethod::ApiKey | AuthMethod::AppIdKey | AuthMethod::AppId
        )
        .then_some(caller.identity.application.as_str()),
        None => outcome.refused_application.as_deref(),
    });
    if let Some(application) = application {
        usage.record(application, decision, status);
    }
    response
}

stage!(UsageRecorder, run);
