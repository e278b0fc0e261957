//! The metric handles of each (route, status, decision), kept per worker thread: after the first
//! request of a kind, counting it is an atomic add, with no label formatting, allocation or
//! registry lookup on the request path.

use super::Decision;
use crate::route::Route;
use authgate_core::ErrorCode;
use metrics::{Counter, Histogram};
use std::cell::RefCell;
use std::sync::Arc;

/// The label of requests that matched no route.
const UNMATCHED_ROUTE: &str = "unmatched";

/// What one kind of request updates.
pub(super) struct Handles {
    pub(super) requests: Counter,
    pub(super) duration: Histogram,
    /// Only for 429s of the rate limit.
    pub(super) rate_limited: Option<Counter>,
    /// Holds the route, so its address (part of the key) is not reused while cached.
    _route: Option<Arc<Route>>,
}

type Kind = (usize, u16, Decision);

thread_local! {
    static HANDLES: RefCell<foldhash::HashMap<Kind, Handles>> = RefCell::default();
}

/// Runs `update` with the handles of this kind of request, registering them the first time.
pub(super) fn with(
    route: Option<&Arc<Route>>,
    status: u16,
    decision: Decision,
    update: impl FnOnce(&Handles),
) {
    let kind = (
        route.map_or(0, |r| Arc::as_ptr(r) as usize),
        status,
        decision,
    );
    HANDLES.with_borrow_mut(|handles| {
        let entry = handles
            .entry(kind)
            .or_insert_with(|| register(route, status, decision));
        update(entry);
    });
}

fn register(route: Option<&Arc<Route>>, status: u16, decision: Decision) -> Handles {
    let name = route.map_or(UNMATCHED_ROUTE.to_owned(), |r| r.name.clone());
    Handles {
        requests: metrics::counter!(
            "authgate_requests_total",
            "route" => name.clone(),
            "status" => status.to_string(),
            "decision" => decision.label(),
        ),
        duration: metrics::histogram!(
            "authgate_request_duration_seconds",
            "route" => name.clone(),
            "decision" => decision.label(),
        ),
        rate_limited: (decision == Decision::Denied(ErrorCode::RateLimited))
            .then(|| metrics::counter!("authgate_rate_limited_total", "route" => name)),
        _route: route.cloned(),
    }
}
