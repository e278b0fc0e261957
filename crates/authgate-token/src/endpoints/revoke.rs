//! `POST /oauth/revoke` (RFC 7009): an access token stops working at once on this instance (its
//! gateway's caches are cleared before the answer) and within a poll interval at every other
//! gateway on the store (the revocation moves the change sequence, which clears their caches).

use super::{FormBody, OAuthError, TokenService, form};
use crate::verify::TokenError;
use authgate_core::KeyDigest;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use std::sync::Arc;

pub(super) async fn revoke(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    match revoke_token(&service, &headers, &body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn revoke_token(
    service: &TokenService,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), OAuthError> {
    let params = form(headers, body)?;
    let client = service.client(headers, &params).await?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    // A refresh token revokes its family; anything else is tried as an access token.
    // RFC 7009 §2.1: its family's access tokens go with it.
    if token.starts_with("rt_") {
        let revoked = service
            .store
            .revoke_refresh_token(&KeyDigest::of(token))
            .await
            .map_err(|_| OAuthError::temporarily_unavailable())?;
        if revoked {
            (service.on_revoke)();
        }
        return Ok(());
    }
    // RFC 7009 §2.2: an invalid or expired token needs no revoking; the answer is still 200.
    let claims = match service.verifier.verify(token).await {
        Ok(claims) => claims,
        Err(TokenError::Expired | TokenError::Invalid(_)) => return Ok(()),
    };
    if claims.client_id != client.id() {
        return Err(OAuthError::unauthorized_client(
            "the token was issued to another client",
        ));
    }
    let revoked = service
        .store
        .revoke_token(&claims.jti, claims.exp)
        .await
        .map_err(|_| OAuthError::temporarily_unavailable())?;
    // Only a new revocation clears the caches: revoking again must not be a way to empty them.
    if revoked {
        (service.on_revoke)();
    }
    tracing::info!(
        jti = claims.jti,
        client_id = claims.client_id,
        "token revoked"
    );
    Ok(())
}
