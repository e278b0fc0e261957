//! Access tokens as credentials, from authgate's own token service or an `[[auth.oidc]]` issuer,
//! told apart by their (not yet verified) `iss`. authgate's own are verified by the token
//! service's [`Verifier`] and checked against the revocation list; external ones by their
//! [`ExternalIssuer`]. Either way the caller is built once per cache lifetime.
//!
//! The claims say who calls: the subject (`sub`, or the issuer's username claim), the
//! application (`client_id`/`azp`: usage and limits belong to it), roles (authgate's `roles`, or
//! the issuer's groups mapped to roles) and tenant; permission-shaped scopes (`resource:action`)
//! narrow what the roles allow, OpenID scopes (`openid`, ...) do not.

use super::Refusal;
use super::cache::{CachedToken, CredentialCache};
use crate::caller::Caller;
use authgate_core::{AuthMethod, ErrorCode, Identity, KeyDigest, time::now_unix};
use authgate_token::verify::CLOCK_SKEW;
use authgate_token::{ExternalIssuer, TokenCaller, TokenError, Verifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

/// Proves bearer JWTs.
#[derive(Clone)]
pub struct TokenAuthenticator {
    /// authgate's own issuer URL and verifier, when its token service is on.
    own: Option<(String, Verifier)>,
    external: Vec<Arc<ExternalIssuer>>,
}

impl TokenAuthenticator {
    pub fn new(own: Option<(String, Verifier)>, external: Vec<Arc<ExternalIssuer>>) -> Self {
        let own = own.map(|(issuer, verifier)| (issuer.trim_end_matches('/').to_owned(), verifier));
        Self { own, external }
    }

    /// The caller of `token`, if it is a valid, unrevoked access token whose application (when
    /// it names one) is not suspended.
    pub(super) async fn verify(
        &self,
        cache: &CredentialCache,
        token: &str,
    ) -> Result<Arc<Caller>, Refusal> {
        let cached = cache
            .token(KeyDigest::of(token), || self.fill(cache, token))
            .await?;
        // The verifier's clock skew holds for a cached token too: it expires when it would fail
        // verification.
        if cached.expires_at.saturating_add(CLOCK_SKEW as i64) < now_unix() {
            return Err(ErrorCode::ExpiredCredentials.into());
        }
        let app = cache
            .app(&cached.client_id)
            .await
            .map_err(|_| ErrorCode::StoreUnavailable)?;
        if app.is_some_and(|app| app.record.suspended) {
            return Err(Refusal {
                code: ErrorCode::ApplicationSuspended,
                application: Some(cached.client_id.clone()),
            });
        }
        Ok(cached.caller.clone())
    }

    async fn fill(&self, cache: &CredentialCache, token: &str) -> Result<CachedToken, Refusal> {
        let issuer = unverified_issuer(token).ok_or(ErrorCode::InvalidCredentials)?;
        if let Some((own, verifier)) = &self.own
            && issuer.trim_end_matches('/') == own
        {
            return self.fill_own(cache, verifier, token).await;
        }
        let external = self
            .external
            .iter()
            .find(|candidate| candidate.issuer() == issuer)
            .ok_or(ErrorCode::InvalidCredentials)?;
        let caller = external.verify(token).await.map_err(refused)?;
        cached_token(cache, caller).await
    }

    async fn fill_own(
        &self,
        cache: &CredentialCache,
        verifier: &Verifier,
        token: &str,
    ) -> Result<CachedToken, Refusal> {
        let claims = verifier.verify(token).await.map_err(refused)?;
        if cache
            .store()
            .is_token_revoked(&claims.jti)
            .await
            .map_err(|_| ErrorCode::StoreUnavailable)?
        {
            return Err(Refusal {
                code: ErrorCode::RevokedCredentials,
                application: Some(claims.client_id),
            });
        }
        cached_token(cache, claims.caller()).await
    }
}

/// The cache entry of a verified token's caller.
async fn cached_token(
    cache: &CredentialCache,
    caller: TokenCaller,
) -> Result<CachedToken, Refusal> {
    let identity = Identity {
        subject: caller.subject,
        application: caller.client_id,
        tenant: caller.tenant,
        roles: caller.roles,
        scopes: caller.scopes,
        method: AuthMethod::Jwt,
    };
    cache.token_entry(identity, caller.expires_at, None).await
}

fn refused(error: TokenError) -> Refusal {
    tracing::debug!(%error, "bearer token refused");
    match error {
        TokenError::Expired => ErrorCode::ExpiredCredentials.into(),
        TokenError::Invalid(_) => ErrorCode::InvalidCredentials.into(),
    }
}

/// The `iss` of a JWT, read before any verification only to pick the issuer that verifies it.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}
