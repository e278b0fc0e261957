//! The metrics of each (route, status, decision), gathered per thread and handed to the shared
//! registry in batches. After the first request of a kind, counting one is a push into the
//! thread's own buffer: no label formatting, allocation or registry lookup, and no write to
//! the registry's atomics, which every worker would otherwise pull to its core on each request.
//! [`hand_over`] brings the registry up to date before `/metrics` is rendered.

use super::Decision;
use crate::route::Route;
use authgate_core::ErrorCode;
use authgate_core::per_thread::{PerThread, lock};
use metrics::{Counter, Histogram};
use std::sync::{Arc, LazyLock, Mutex};

/// The label of requests that matched no route.
const UNMATCHED_ROUTE: &str = "unmatched";
/// Requests of one kind a thread gathers before handing them over unasked.
const BATCH: usize = 64;

/// One kind of request: its registry handles and what is not handed over yet.
struct Kind {
    requests: Counter,
    duration: Histogram,
    /// Only for 429s of the rate limit.
    rate_limited: Option<Counter>,
    /// Holds the route, so its address (part of the key) is not reused while cached.
    _route: Option<Arc<Route>>,
    /// Durations (seconds) of the requests not handed over yet.
    pending: Vec<f64>,
}

impl Kind {
    fn hand_over(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let count = self.pending.len() as u64;
        self.requests.increment(count);
        if let Some(rate_limited) = &self.rate_limited {
            rate_limited.increment(count);
        }
        for seconds in self.pending.drain(..) {
            self.duration.record(seconds);
        }
    }
}

type Key = (usize, u16, Decision);
type Kinds = foldhash::HashMap<Key, Kind>;

static KINDS: LazyLock<PerThread<Mutex<Kinds>>> = LazyLock::new(PerThread::default);

/// Counts one request of this kind that took `seconds`.
pub(super) fn record(route: Option<&Arc<Route>>, status: u16, decision: Decision, seconds: f64) {
    let key = (
        route.map_or(0, |r| Arc::as_ptr(r) as usize),
        status,
        decision,
    );
    let mut kinds = lock(KINDS.local());
    let kind = kinds
        .entry(key)
        .or_insert_with(|| register(route, status, decision));
    kind.pending.push(seconds);
    if kind.pending.len() >= BATCH {
        kind.hand_over();
    }
}

/// Hands every thread's gathered requests to the metrics registry.
pub fn hand_over() {
    for kinds in KINDS.all() {
        lock(kinds).values_mut().for_each(Kind::hand_over);
    }
}

fn register(route: Option<&Arc<Route>>, status: u16, decision: Decision) -> Kind {
    let name = route.map_or(UNMATCHED_ROUTE.to_owned(), |r| r.name.clone());
    Kind {
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
        pending: Vec::with_capacity(BATCH),
    }
}
