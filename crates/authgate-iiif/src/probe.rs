//! The probe service (§5): always HTTP 200 with an `AuthProbeResult2` whose `status` is what
//! the resource would answer, so a viewer learns whether to show it, and readable from any
//! origin (viewers fetch it with CORS, with or without a bearer token).

use crate::page::json_error;
use crate::{IiifService, Probe};
use authgate_core::ErrorCode;
use authgate_core::bearer;
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ORIGIN,
};
use http::{HeaderMap, StatusCode};
use std::sync::Arc;

/// `GET /iiif/probe/<resource path>`.
pub(crate) async fn result(
    State(service): State<IiifService>,
    Extension(probe): Extension<Arc<dyn Probe>>,
    Path(resource): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer::token);
    let origin = headers.get(ORIGIN).and_then(|value| value.to_str().ok());
    let path = format!("/{resource}");
    let Some(status) = probe.status(&path, token, origin).await else {
        return (cors(), json_error(ErrorCode::RouteNotFound)).into_response();
    };
    (
        cors(),
        [
            (CONTENT_TYPE, "application/ld+json"),
            (CACHE_CONTROL, "no-store"),
        ],
        service.probe_result(status).to_string(),
    )
        .into_response()
}

/// `OPTIONS /iiif/probe/...`: a viewer's preflight for a probe with a token.
pub(crate) async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        cors(),
        [
            (ACCESS_CONTROL_ALLOW_METHODS, "GET, OPTIONS"),
            (ACCESS_CONTROL_ALLOW_HEADERS, "Authorization, Accept"),
            (ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response()
}

/// Any origin may read a probe's answer: it names no secret, and real viewers send no
/// credentials with it.
fn cors() -> [(http::HeaderName, &'static str); 1] {
    [(ACCESS_CONTROL_ALLOW_ORIGIN, "*")]
}
