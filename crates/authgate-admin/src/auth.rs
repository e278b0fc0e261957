//! Who may use the admin API: an admin token (`Authorization: Bearer`) or the web UI's session
//! cookie, of a user holding the `admin` role. None or a bad one: 401; a user who is not an
//! admin: 403. A change made with the cookie must also carry the session's CSRF token in
//! `X-CSRF-Token` (a page of another site can make the browser send the cookie, never the
//! header). An admitted request carries its `Actor` (the user, from the client's address) for
//! the audit log.
//!
//! Like the gateway, a secret's shape is checked first, then only its SHA-256 digest is looked
//! up and compared in constant time; logs carry its display prefix at most.

use crate::AdminState;
use crate::error::ApiError;
use crate::ui::SESSION_COOKIE;
use authgate_core::permission::is_admin;
use authgate_core::{KeyDigest, bearer, key};
use authgate_store::Actor;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use http::StatusCode;
use http::header::AUTHORIZATION;
use std::net::SocketAddr;

/// The header a cookie-authenticated change carries its session's CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The middleware in front of every admin API route.
pub(crate) async fn require_admin(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let user = match request.headers().get(AUTHORIZATION) {
        Some(header) => {
            let token = header
                .to_str()
                .ok()
                .and_then(bearer::token)
                .ok_or_else(|| unauthorized("The admin token is not valid."))?;
            token_user(&state, token).await?
        }
        None => session_user(&state, request.headers(), request.method()).await?,
    };
    tracing::debug!(user = %user, method = %request.method(), path = %request.uri().path(), "admin request");
    let source = client_address(&request);
    request.extensions_mut().insert(Actor {
        name: user,
        source,
        signed_in: true,
    });
    Ok(next.run(request).await)
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
}

fn not_admin() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_permissions",
        "Only admins may use the admin API.",
    )
}

/// The client's address, as audit entries record it.
pub(crate) fn client_address(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |peer| peer.0.ip().to_string())
}

/// The admin whose admin token `token` is.
async fn token_user(state: &AdminState, token: &str) -> Result<String, ApiError> {
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
    if !is_admin(&record.roles) {
        return Err(not_admin());
    }
    Ok(record.user)
}

/// The admin signed in to the web UI with the request's session cookie; a change must carry
/// the session's CSRF token too.
async fn session_user(
    state: &AdminState,
    headers: &http::HeaderMap,
    method: &http::Method,
) -> Result<String, ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_credentials",
            "The admin API needs an admin token as `Authorization: Bearer`, or a signed-in session.",
        )
    };
    let jar = CookieJar::from_headers(headers);
    let secret = jar.get(SESSION_COOKIE).ok_or_else(missing)?;
    let session = state
        .ops
        .session(secret.value())
        .await?
        .ok_or_else(|| unauthorized("The session has ended; sign in again."))?;
    if !session.is_admin() {
        return Err(not_admin());
    }
    if !method.is_safe() {
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !session.csrf_matches(presented) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_mismatch",
                "A change made with the session cookie must carry the session's CSRF token in `X-CSRF-Token`.",
            ));
        }
    }
    Ok(session.user)
}
