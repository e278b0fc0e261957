//! Access tokens as credentials: verified by the token service's [`Verifier`] (RFC 8725 rules),
//! checked against the revocation list, and turned into a [`Caller`] once per cache lifetime.
//!
//! The token's claims say who calls: `sub` the subject, `client_id` the application (usage and
//! limits belong to it), `roles` and `tenant` as issued; permission-shaped scopes
//! (`resource:action`) narrow what the roles allow, OpenID scopes (`openid`, ...) do not.

use super::Refusal;
use super::cache::{CachedToken, CredentialCache};
use crate::caller::Caller;
use authgate_core::{AuthMethod, ErrorCode, Identity, KeyDigest, time::now_unix};
use authgate_token::{TokenError, Verifier};
use std::sync::Arc;

/// Proves bearer JWTs.
#[derive(Clone)]
pub struct TokenAuthenticator {
    verifier: Verifier,
}

impl TokenAuthenticator {
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }

    /// The caller of `token`, if it is a valid, unrevoked access token whose application (when
    /// it names one) is not suspended.
    pub(super) async fn verify(
        &self,
        cache: &CredentialCache,
        token: &str,
    ) -> Result<Arc<Caller>, Refusal> {
        let cached = cache
            .token(KeyDigest::of(token), self.fill(cache, token))
            .await?;
        if cached.expires_at <= now_unix() {
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
        let claims = self.verifier.verify(token).await.map_err(|error| {
            tracing::debug!(%error, "bearer token refused");
            match error {
                TokenError::Expired => ErrorCode::ExpiredCredentials,
                TokenError::Invalid(_) => ErrorCode::InvalidCredentials,
            }
        })?;
        let store = cache.store();
        if store
            .is_token_revoked(&claims.jti)
            .await
            .map_err(|_| ErrorCode::StoreUnavailable)?
        {
            return Err(Refusal {
                code: ErrorCode::RevokedCredentials,
                application: Some(claims.client_id),
            });
        }
        let identity = Identity {
            subject: claims.sub.clone(),
            application: claims.client_id.clone(),
            tenant: claims.tenant.clone(),
            roles: claims.roles.clone(),
            scopes: claims
                .scopes()
                .filter(|scope| scope.contains(':'))
                .map(str::to_owned)
                .collect(),
            method: AuthMethod::Jwt,
            key_id: None,
            key_prefix: None,
        };
        let grants = cache
            .policy()
            .grants(&identity, store.as_ref())
            .await
            .map_err(|_| ErrorCode::StoreUnavailable)?;
        Ok(CachedToken {
            caller: Arc::new(Caller::new(identity, grants)),
            expires_at: claims.exp,
            client_id: claims.client_id,
        })
    }
}
