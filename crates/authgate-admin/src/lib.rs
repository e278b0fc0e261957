//! The admin listener (SPEC §7): health, Prometheus `/metrics`, and the admin API under
//! `/admin/api/v1`, which only admins may use.
//!
//! Requests to the API pass [`auth::require_admin`] first (an admin token as `Bearer`); handlers
//! in `api/` then work on the store through its traits and answer JSON, errors included
//! ([`error::ApiError`], the gateway's error shape).
#![forbid(unsafe_code)]

mod api;
mod auth;
mod error;

use authgate_gateway::health;
use authgate_store::Store;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use std::sync::Arc;

/// Renders the process's metrics in the Prometheus text format.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn Store>,
}

/// The admin listener's router.
pub fn router(store: Arc<dyn Store>, metrics: MetricsRenderer) -> Router {
    let state = AdminState {
        store: store.clone(),
    };
    let api = api::routes()
        .layer(from_fn_with_state(state.clone(), auth::require_admin))
        .with_state(state);
    health::routes(store)
        .route("/metrics", get(move || render(metrics.clone())))
        .nest("/admin/api/v1", api)
}

async fn render(metrics: MetricsRenderer) -> impl axum::response::IntoResponse {
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics(),
    )
}
