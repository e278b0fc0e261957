//! Who may use the admin API: an admin token (`Authorization: Bearer`) of a user holding the
//! `admin` role. No token or a bad one: 401; a token of a user who is not an admin: 403. An
//! admitted request carries its `Actor` (the token's user, from the client's address) for the
//! audit log.
//!
//! Like the gateway, the token's shape is checked first, then only its SHA-256 digest is looked
//! up and compared in constant time; logs carry its display prefix at most.

use crate::AdminState;
use crate::error::ApiError;
use authgate_core::{KeyDigest, bearer, key};
use authgate_store::Actor;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;
use http::header::AUTHORIZATION;
use std::net::SocketAddr;

/// The middleware in front of every admin API route.
pub(crate) async fn require_admin(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let unauthorized =
        |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message);
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer::token)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_credentials",
                "The admin API needs an admin token as `Authorization: Bearer`.",
            )
        })?;
    key::validate(token).map_err(|_| unauthorized("The admin token is not valid."))?;
    let digest = KeyDigest::of(token);
    let record = state
        .ops
        .store()
        .find_admin_token(&digest)
        .await?
        .filter(|record| record.digest.matches(&digest))
        .ok_or_else(|| unauthorized("The admin token is not valid."))?;
    if record.revoked {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "revoked_credentials",
            "The admin token has been revoked.",
        ));
    }
    if !record.roles.iter().any(|role| role == "admin") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_permissions",
            "Only admins may use the admin API.",
        ));
    }
    tracing::debug!(user = %record.user, method = %request.method(), path = %request.uri().path(), "admin request");
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |peer| peer.0.ip().to_string());
    request.extensions_mut().insert(Actor {
        name: record.user,
        source,
        signed_in: true,
    });
    Ok(next.run(request).await)
}
