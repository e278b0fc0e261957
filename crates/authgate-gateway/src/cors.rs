//! CORS (SPEC §2 `[cors]`): browsers on the configured origins may call the gateway.
//!
//! Preflight requests are answered here, before any authentication (a browser sends no
//! credential on a preflight). The request headers a client of authgate needs are allowed
//! (`Authorization`, the API-key and app_id/app_key names, `Idempotency-Key`, trace context,
//! `Last-Event-ID`), and the rate-limit headers are exposed to scripts.

use authgate_config::{AuthConfig, CorsConfig};
use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The CORS layer for the gateway listener, or `None` when no origin is configured.
pub fn layer(cors: &CorsConfig, auth: &AuthConfig) -> Option<CorsLayer> {
    if cors.allow_origins.is_empty() {
        return None;
    }
    let origin = if cors.allow_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            cors.allow_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    let credential_names = auth
        .api_key
        .headers
        .iter()
        .chain(&auth.api_key.params)
        .chain([&auth.app_id_key.app_id, &auth.app_id_key.app_key]);
    let allowed_headers: Vec<HeaderName> = [
        "authorization",
        "content-type",
        "idempotency-key",
        "traceparent",
        "tracestate",
        "last-event-id",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(credential_names.map(|name| name.to_ascii_lowercase()))
    .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
    .collect();
    let exposed: Vec<HeaderName> = [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "ratelimit",
        "ratelimit-policy",
        "retry-after",
        "www-authenticate",
        "idempotent-replayed",
    ]
    .into_iter()
    .map(HeaderName::from_static)
    .collect();
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(allowed_headers)
            .expose_headers(exposed)
            .allow_credentials(cors.allow_credentials)
            .max_age(cors.max_age.0),
    )
}
