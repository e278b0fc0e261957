//! `/healthz` (the process is up) and `/readyz` (the store answers), on both listeners.

use crate::mount::{Claim, Mount};
use authgate_store::ChangeFeed;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";

/// The health routes mounted on the gateway listener, with the paths they claim.
pub fn mount(store: Arc<dyn ChangeFeed>) -> Mount {
    Mount::new([Claim::Exact(HEALTHZ), Claim::Exact(READYZ)], routes(store))
}

/// The health routes, for merging into a listener's router.
pub fn routes(store: Arc<dyn ChangeFeed>) -> Router {
    Router::new()
        .route(HEALTHZ, get(healthz))
        .route(READYZ, get(readyz))
        .with_state(store)
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(store): State<Arc<dyn ChangeFeed>>) -> (StatusCode, Json<Value>) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "store": "unreachable" })),
            )
        }
    }
}
