//! The observe stage: what became of each request, for usage per application and per route,
//! and for metrics.
//!
//! It wraps the whole pipeline and reads the outcome from the response's extensions, where the
//! stages left it: the route, the caller or the application a refused credential belongs to
//! ([`Outcome`]), and the refusal's [`ErrorCode`]. A response without a refusal code was
//! forwarded (or replayed): allowed. Nothing here touches the store or memory other workers
//! write: usage is counted per thread and written in batches by [`UsageRecorder::run`];
//! metrics are gathered per thread and handed to the registry by [`hand_over_metrics`] (before
//! each `/metrics` render) or every 64 requests of a kind.

mod handles;
mod usage;

pub use handles::hand_over as hand_over_metrics;
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
    let route = outcome.and_then(|o| o.route.as_ref());
    handles::record(route, status, decision, started.elapsed().as_secs_f64());

    let application = outcome.and_then(|outcome| match &outcome.caller {
        Some(caller) => matches!(
            caller.method(),
            AuthMethod::ApiKey | AuthMethod::AppIdKey | AuthMethod::AppId
        )
        .then_some(caller.application()),
        None => outcome.refused_application.as_deref(),
    });
    let route = route.map(|route| route.name.as_str());
    if application.is_some() || route.is_some() {
        usage.record(application, route, decision, status);
    }
    response
}

stage!(UsageRecorder, run);
