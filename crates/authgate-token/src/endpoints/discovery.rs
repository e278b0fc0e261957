//! Discovery (OpenID Connect Discovery 1.0, RFC 8414), the JWKS, and the Weaviate-shaped
//! pointer clients written for Weaviate start from.

use super::{
    AUTHORIZE, INTROSPECT, JWKS, OPENID_CONFIGURATION, REVOKE, TOKEN, TokenService, USERINFO,
};
use authgate_store::SigningPurpose;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::header::CACHE_CONTROL;
use serde_json::{Value, json};
use std::sync::Arc;

/// The scopes a client may ask for besides permissions (`resource:action`).
pub(crate) const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

pub(super) async fn openid_configuration(State(service): State<Arc<TokenService>>) -> Json<Value> {
    let issuer = service.issuer_url();
    // OIDC Discovery §3 requires RS256 here; `[oidc] id_token_signing_alg` is RS256 by default.
    let id_algorithms = service.ring.algorithms(SigningPurpose::IdTokens);
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE}"),
        "token_endpoint": format!("{issuer}{TOKEN}"),
        "jwks_uri": format!("{issuer}{JWKS}"),
        "revocation_endpoint": format!("{issuer}{REVOKE}"),
        "introspection_endpoint": format!("{issuer}{INTROSPECT}"),
        "userinfo_endpoint": format!("{issuer}{USERINFO}"),
        "grant_types_supported": ["authorization_code", "client_credentials", "password", "refresh_token"],
        "response_types_supported": ["code", "code id_token"],
        "response_modes_supported": ["query", "fragment"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": OIDC_SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "preferred_username", "groups", "tenant"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": id_algorithms,
    }))
}

pub(super) async fn jwks(State(service): State<Arc<TokenService>>) -> impl IntoResponse {
    (
        // Clients may cache briefly; a rotation publishes the new key before it signs.
        [(CACHE_CONTROL, "public, max-age=300")],
        Json(service.ring.jwks().as_ref().clone()),
    )
}

/// `GET /v1/.well-known/openid-configuration`, as Weaviate answers it.
pub(super) async fn weaviate(State(service): State<Arc<TokenService>>) -> Json<Value> {
    Json(json!({
        "href": format!("{}{OPENID_CONFIGURATION}", service.issuer_url()),
        "clientId": service.public_client_id,
        "scopes": ["openid", "offline_access"],
    }))
}
