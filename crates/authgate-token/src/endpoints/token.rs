//! `POST /oauth/token` (RFC 6749 §3.2): the client_credentials and password grants.

use super::discovery::OIDC_SCOPES;
use super::{OAuthError, TokenService, form};
use crate::client::{self, Client};
use crate::issue::Grant;
use authgate_core::Permission;
use authgate_core::password::verify_password;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use http::header::{CACHE_CONTROL, PRAGMA};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

pub(super) async fn token(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match issue(&service, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn issue(
    service: &TokenService,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, OAuthError> {
    let params = form(headers, body)?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let client = client::authenticate(
        service.store.as_ref(),
        &service.public_client_id,
        headers,
        &params,
    )
    .await?;
    let requested = requested_scopes(&params)?;
    let grant = match grant_type.as_str() {
        "client_credentials" => client_credentials(&client, requested)?,
        "password" => password(service, &client, &params, requested).await?,
        other => return Err(OAuthError::unsupported_grant_type(other)),
    };
    let access = service
        .issuer
        .access_token(&grant)
        .map_err(|e| OAuthError::server_error(e.to_string()))?;
    let mut body = json!({
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": access.expires_in,
    });
    if !grant.scopes.is_empty() {
        body["scope"] = json!(grant.scopes.join(" "));
    }
    if grant.scopes.iter().any(|s| s == "openid") {
        let id_token = service
            .issuer
            .id_token(&grant, params.get("nonce").cloned())
            .map_err(|e| OAuthError::server_error(e.to_string()))?;
        body["id_token"] = json!(id_token);
    }
    tracing::info!(
        grant_type = grant_type.as_str(),
        client_id = grant.client_id,
        subject = grant.subject,
        jti = access.claims.jti,
        "token issued"
    );
    Ok((
        [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
        Json(body),
    )
        .into_response())
}

/// The `scope` parameter: OpenID scopes and permissions (`resource:action`), nothing else.
fn requested_scopes(params: &HashMap<String, String>) -> Result<Vec<String>, OAuthError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in params
        .get("scope")
        .map(String::as_str)
        .unwrap_or_default()
        .split_ascii_whitespace()
    {
        if !OIDC_SCOPES.contains(&scope) && Permission::parse(scope).is_err() {
            return Err(OAuthError::invalid_scope(format!(
                "`{scope}` is neither an OpenID scope nor a permission (resource:action)"
            )));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    Ok(scopes)
}

/// A machine acting for itself: the application's key is the secret; the token carries what the
/// key may do (its scopes), narrowed further by the requested scopes.
fn client_credentials(client: &Client, requested: Vec<String>) -> Result<Grant, OAuthError> {
    let Client::Application(key) = client else {
        return Err(OAuthError::unauthorized_client(
            "the public client cannot use client_credentials; authenticate as an application",
        ));
    };
    if requested.iter().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope(
            "client_credentials tokens have no user: `openid` does not apply",
        ));
    }
    let scopes = if requested.is_empty() {
        key.scopes.clone()
    } else if key.scopes.is_empty() {
        requested
    } else {
        let allowed: Vec<Permission> = key
            .scopes
            .iter()
            .filter_map(|s| Permission::parse(s).ok())
            .collect();
        for scope in &requested {
            let wanted = Permission::parse(scope).map_err(|e| OAuthError::invalid_scope(e.0))?;
            if !allowed.iter().any(|p| p.grants(&wanted)) {
                return Err(OAuthError::invalid_scope(format!(
                    "the key's scopes do not include `{scope}`"
                )));
            }
        }
        requested
    };
    let app = &key.app;
    Ok(Grant {
        subject: app.owner.clone().unwrap_or_else(|| app.id.clone()),
        client_id: app.id.clone(),
        scopes,
        roles: app.roles.clone(),
        tenant: app.tenant.clone(),
    })
}

/// A user's name and password (RFC 6749 §4.3), through the public client or an application.
async fn password(
    service: &TokenService,
    client: &Client,
    params: &HashMap<String, String>,
    scopes: Vec<String>,
) -> Result<Grant, OAuthError> {
    let (Some(username), Some(password)) = (params.get("username"), params.get("password")) else {
        return Err(OAuthError::invalid_request(
            "the password grant needs username and password",
        ));
    };
    if let Some(wait) = service.throttle.locked_for(username) {
        return Err(OAuthError::locked_out(wait));
    }
    let record = service
        .store
        .find_password(username)
        .await
        .map_err(|_| OAuthError::temporarily_unavailable())?;
    let hash = record.as_ref().and_then(|r| r.password_hash.clone());
    let password = password.clone();
    // argon2 takes tens of milliseconds of CPU: off the async threads. Unknown users are
    // checked against nothing but still counted, so names cannot be probed by timing alone.
    let verified = tokio::task::spawn_blocking(move || {
        hash.is_some_and(|hash| verify_password(&password, &hash))
    })
    .await
    .unwrap_or(false);
    let Some(record) = record.filter(|_| verified) else {
        service.throttle.failed(username).await;
        tracing::info!(user = username.as_str(), "password grant refused");
        return Err(OAuthError::invalid_grant("wrong username or password"));
    };
    Ok(Grant {
        subject: record.user.name,
        client_id: client.id().to_owned(),
        scopes,
        roles: record.user.roles,
        tenant: record.user.tenant,
    })
}
