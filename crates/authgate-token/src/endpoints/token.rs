//! `POST /oauth/token` (RFC 6749 §3.2): the client_credentials, password, authorization_code
//! (PKCE S256 required) and refresh_token grants. A user's grant with `offline_access` also gets
//! a refresh token, rotated on each use; one with `openid` an ID token.

use super::discovery::OIDC_SCOPES;
use super::{FormBody, OAuthError, TokenService, form};
use crate::client::Client;
use crate::issue::Grant;
use authgate_core::id::new_id;
use authgate_core::time::now_unix;
use authgate_core::{KeyDigest, Permission};
use authgate_store::{CodeUse, RefreshTokenRecord, RefreshUse};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::HeaderMap;
use http::header::{CACHE_CONTROL, PRAGMA};
use rand::RngCore as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq as _;

pub(super) async fn token(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    FormBody(body): FormBody,
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
    let client = service.client(headers, &params).await?;
    let requested = requested_scopes(&params)?;
    // The refresh-token family the response continues (or starts), for users' grants, and
    // the nonce the ID token repeats.
    let (grant, family, nonce) = match grant_type.as_str() {
        "client_credentials" => (client_credentials(&client, requested)?, None, None),
        "password" => (
            password(service, &client, &params, requested).await?,
            Some(new_id("rtf")),
            params.get("nonce").cloned(),
        ),
        "authorization_code" => {
            let family = new_id("rtf");
            let (grant, nonce) = authorization_code(service, &client, &params, &family).await?;
            (grant, Some(family), nonce)
        }
        "refresh_token" => {
            let (grant, family) = refresh(service, &client, &params, requested).await?;
            (grant, Some(family), None)
        }
        other => return Err(OAuthError::unsupported_grant_type(other)),
    };
    let access = service
        .issuer
        .access_token(&grant)
        .map_err(|e| OAuthError::server_error(e.to_string()))?;
    if let Some(family) = &family {
        service
            .store
            .record_family_token(family, &access.claims.jti, access.claims.exp)
            .await
            .map_err(|_| OAuthError::temporarily_unavailable())?;
    }
    let mut body = json!({
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": access.expires_in,
    });
    if !grant.scopes.is_empty() {
        body["scope"] = json!(grant.scopes.join(" "));
    }
    if let Some(family) = family
        && grant.scopes.iter().any(|s| s == "offline_access")
    {
        body["refresh_token"] = json!(service.refresh_token(&grant, family).await?);
    }
    if grant.scopes.iter().any(|s| s == "openid") {
        let id_token = service
            .issuer
            .id_token(&grant, nonce, None)
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

impl TokenService {
    /// A new refresh token of `family` for `grant`, stored by digest.
    async fn refresh_token(&self, grant: &Grant, family: String) -> Result<String, OAuthError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("rt_{}", URL_SAFE_NO_PAD.encode(bytes));
        let record = RefreshTokenRecord {
            id: new_id("rtk"),
            digest: KeyDigest::of(&token),
            family_id: family,
            subject: grant.subject.clone(),
            client_id: grant.client_id.clone(),
            scopes: grant.scopes.clone(),
            expires_at: now_unix().saturating_add(self.refresh_ttl),
        };
        self.store
            .create_refresh_token(&record)
            .await
            .map_err(|_| OAuthError::temporarily_unavailable())?;
        Ok(token)
    }
}

/// An authorization code for tokens (RFC 6749 §4.1.3, RFC 7636 §4.6): the code works once,
/// for the client it was issued to, with the same redirect URI, and only with the verifier
/// whose S256 hash is the challenge the authorization request carried.
async fn authorization_code(
    service: &TokenService,
    client: &Client,
    params: &HashMap<String, String>,
    family: &str,
) -> Result<(Grant, Option<String>), OAuthError> {
    let required = |name: &str| {
        params
            .get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    };
    let code = required("code")?;
    let redirect_uri = required("redirect_uri")?;
    let verifier = required("code_verifier")?;
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43 to 128 unreserved characters (RFC 7636 §4.1)",
        ));
    }
    let refused = || OAuthError::invalid_grant("the code is invalid, expired or already used");
    let taken = service
        .store
        .take_authorization_code(&KeyDigest::of(code), now_unix(), family)
        .await
        .map_err(|_| OAuthError::temporarily_unavailable())?;
    let stored = match taken {
        CodeUse::Fresh(stored) => stored,
        CodeUse::Reused => {
            // RFC 6749 §4.1.2: the tokens issued from it are revoked, here at once.
            (service.on_revoke)();
            return Err(refused());
        }
        CodeUse::Refused => return Err(refused()),
    };
    if stored.client_id != client.id() {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if stored.redirect_uri != *redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !bool::from(challenge.as_bytes().ct_eq(stored.code_challenge.as_bytes())) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the challenge",
        ));
    }
    let grant = user_grant(service, &stored.subject, stored.client_id, stored.scopes).await?;
    Ok((grant, stored.nonce))
}

/// A refresh token for new tokens (RFC 6749 §6): same client, same or fewer scopes, and the
/// user's roles as they are now. The presented token is used up; its successor continues the
/// family.
async fn refresh(
    service: &TokenService,
    client: &Client,
    params: &HashMap<String, String>,
    requested: Vec<String>,
) -> Result<(Grant, String), OAuthError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let digest = KeyDigest::of(presented);
    let refused = || {
        OAuthError::invalid_grant("the refresh token is invalid, expired, revoked or already used")
    };
    let record = match service.store.use_refresh_token(&digest, now_unix()).await {
        Ok(RefreshUse::Fresh(record)) => record,
        Ok(RefreshUse::Reused) => {
            // RFC 9700 §4.14.2: its family, access tokens included, is revoked; here at once.
            (service.on_revoke)();
            return Err(refused());
        }
        Ok(RefreshUse::Refused | RefreshUse::Unknown) => return Err(refused()),
        Err(_) => return Err(OAuthError::temporarily_unavailable()),
    };
    if record.client_id != client.id() {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let scopes = if requested.is_empty() {
        record.scopes.clone()
    } else if requested.iter().all(|s| record.scopes.contains(s)) {
        requested
    } else {
        return Err(OAuthError::invalid_scope(
            "a refresh may keep or narrow the scopes, never add to them",
        ));
    };
    let grant = user_grant(service, &record.subject, record.client_id, scopes).await?;
    Ok((grant, record.family_id))
}

/// A grant for `subject` with the roles and tenant the user has now (a code or refresh token
/// outlives role changes; its tokens must not).
async fn user_grant(
    service: &TokenService,
    subject: &str,
    client_id: String,
    scopes: Vec<String>,
) -> Result<Grant, OAuthError> {
    let user = service
        .store
        .find_password(subject)
        .await
        .map_err(|_| OAuthError::temporarily_unavailable())?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?
        .user;
    Ok(Grant {
        subject: user.name,
        client_id,
        scopes,
        roles: user.roles,
        tenant: user.tenant,
    })
}

/// The `scope` parameter: OpenID scopes and permissions (`resource:action`), nothing else.
pub(crate) fn requested_scopes(
    params: &HashMap<String, String>,
) -> Result<Vec<String>, OAuthError> {
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
    let user = service.sign_in.check(username, password).await?;
    Ok(Grant {
        subject: user.name,
        client_id: client.id().to_owned(),
        scopes,
        roles: user.roles,
        tenant: user.tenant,
    })
}
