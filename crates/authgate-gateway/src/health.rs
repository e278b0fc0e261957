//! `/healthz` (the process is up) and `/readyz` (the store and the shared state answer), on both
//! listeners.

use crate::mount::{Claim, Mount};
use authgate_state::{IdempotencyStore, RateLimiter};
use authgate_store::ChangeFeed;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";

/// What `/readyz` asks whether it answers.
#[derive(Clone)]
pub struct Readiness {
    pub store: Arc<dyn ChangeFeed>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub idempotency: Arc<dyn IdempotencyStore>,
}

/// The health routes mounted on the gateway listener, with the paths they claim.
pub fn mount(readiness: Readiness) -> Mount {
    Mount::new(
        [Claim::Exact(HEALTHZ), Claim::Exact(READYZ)],
        routes(readiness),
    )
}

/// The health routes, for merging into a listener's router.
pub fn routes(readiness: Readiness) -> Router {
    Router::new()
        .route(HEALTHZ, get(healthz))
        .route(READYZ, get(readyz))
        .with_state(readiness)
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when everything answers; else 503 naming what does (`ok`) and what does not
/// (`unreachable`), asked at once so that the answer takes no longer than the slowest.
async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, Json<Value>) {
    let (store, limits, records) = tokio::join!(
        readiness.store.ping(),
        readiness.rate_limiter.ping(),
        readiness.idempotency.ping(),
    );
    let state = limits.and(records);
    if store.is_ok() && state.is_ok() {
        return (StatusCode::OK, Json(json!({ "status": "ready" })));
    }
    if let Err(error) = &store {
        tracing::warn!(%error, "readiness check failed: the store");
    }
    if let Err(error) = &state {
        tracing::warn!(%error, "readiness check failed: shared state");
    }
    let word = |answered: bool| if answered { "ok" } else { "unreachable" };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "status": "unavailable",
            "store": word(store.is_ok()),
            "state": word(state.is_ok()),
        })),
    )
}
