//! `POST /oauth/introspect` (RFC 7662) and `GET|POST /oauth/userinfo` (OpenID Connect Core
//! §5.3): what a valid, unrevoked access token says.

use super::{FormBody, OAuthError, TokenService, form};
use crate::claims::AccessClaims;
use crate::client::Client;
use authgate_core::bearer;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;
use std::sync::Arc;

impl TokenService {
    /// The claims of an access token that verifies and was not revoked.
    async fn active_claims(&self, token: &str) -> Result<Option<AccessClaims>, OAuthError> {
        let Ok(claims) = self.verifier.verify(token).await else {
            return Ok(None);
        };
        let revoked = self
            .store
            .is_token_revoked(&claims.jti)
            .await
            .map_err(|_| OAuthError::temporarily_unavailable())?;
        Ok((!revoked).then_some(claims))
    }
}

pub(super) async fn introspect(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let answer = async {
        let params = form(&headers, &body)?;
        // Only applications (confidential clients) may introspect.
        let client = service.client(&headers, &params).await?;
        if matches!(client, Client::Public(_)) {
            return Err(OAuthError::invalid_client(
                false,
                "introspection needs an application's credentials",
            ));
        }
        let token = params
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let body = match service.active_claims(token).await? {
            Some(claims) => json!({
                "active": true,
                "scope": claims.scope,
                "client_id": claims.client_id,
                "username": claims.sub,
                "token_type": "Bearer",
                "exp": claims.exp,
                "iat": claims.iat,
                "sub": claims.sub,
                "aud": claims.aud,
                "iss": claims.iss,
                "jti": claims.jti,
                "roles": claims.roles,
                "tenant": claims.tenant,
            }),
            None => json!({ "active": false }),
        };
        Ok(([(CACHE_CONTROL, "no-store")], Json(body)).into_response())
    };
    answer.await.unwrap_or_else(OAuthError::into_response)
}

pub(super) async fn userinfo(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
) -> Response {
    let challenge = |status: StatusCode, error: &'static str| {
        let value = format!(r#"Bearer realm="authgate", error="{error}""#);
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    };
    let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer::token)
    else {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_request" })),
        )
            .into_response();
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="authgate""#),
        );
        return response;
    };
    let claims = match service.active_claims(token.trim()).await {
        Ok(Some(claims)) => claims,
        Ok(None) => return challenge(StatusCode::UNAUTHORIZED, "invalid_token"),
        Err(error) => return error.into_response(),
    };
    if !claims.scopes().any(|s| s == "openid") {
        return challenge(StatusCode::FORBIDDEN, "insufficient_scope");
    }
    Json(json!({
        "sub": claims.sub,
        "preferred_username": claims.sub,
        "groups": claims.roles,
        "tenant": claims.tenant,
    }))
    .into_response()
}
