//! The admin listener (SPEC §7): Prometheus `/metrics`, the admin API under `/admin/api/v1`
//! with its OpenAPI document, and the web admin UI at `/`; only admins may use the API and UI.
//!
//! Requests to the API pass [`auth::require_admin`] first (an admin token as `Bearer`, or the
//! UI's session cookie with its CSRF header); handlers in `api/` turn HTTP into calls of the
//! operations layer (`authgate-ops`, shared with the CLI and the UI), which validates, changes
//! and audits; they answer JSON, errors included ([`error::ApiError`], the gateway's error
//! shape). The OpenAPI document is generated from the handlers and types (utoipa), so it says
//! what the server does. The UI (`ui/`) renders askama templates (escaping by default) over the
//! same operations, with forms that work without JavaScript.
#![forbid(unsafe_code)]

mod api;
mod auth;
mod error;
mod extract;
mod ui;

pub use ui::UiOptions;

use authgate_ops::Operations;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use std::sync::Arc;

/// Renders the process's metrics in the Prometheus text format.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// Where the API lives on the admin listener.
pub const API_PREFIX: &str = "/admin/api/v1";

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    pub ops: Operations,
    pub ui: Arc<UiOptions>,
}

/// The admin listener's router (health is added by the caller, which owns it).
pub fn router(ops: Operations, ui: UiOptions, metrics: MetricsRenderer) -> Router {
    let state = AdminState {
        ops,
        ui: Arc::new(ui),
    };
    let (api, document) = api::routes().split_for_parts();
    let api = api
        .layer(from_fn_with_state(state.clone(), auth::require_admin))
        .with_state(state.clone());
    // Written once: the document does not change while the process runs.
    let document: Arc<str> = document
        .to_json()
        .unwrap_or_else(|error| {
            tracing::error!(%error, "cannot write the OpenAPI document");
            "{}".to_owned()
        })
        .into();
    Router::new()
        .merge(ui::routes(state))
        .route("/metrics", get(move || render(metrics.clone())))
        .nest(API_PREFIX, api)
        .route(
            &format!("{API_PREFIX}/openapi.json"),
            get(move || async move {
                (
                    [(http::header::CONTENT_TYPE, "application/json")],
                    document.to_string(),
                )
            }),
        )
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
