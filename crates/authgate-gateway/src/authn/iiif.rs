//! IIIF viewers' credentials: the access cookie and the access tokens issued from it, looked up
//! through `authgate_iiif::grant` and cached like access tokens. The caller is the signed-in
//! user, under an application of their own (`iiif:<user>`), so limits and usage are per viewer.

use super::Refusal;
use super::cache::{CachedToken, CredentialCache};
use crate::caller::Caller;
use authgate_core::{AuthMethod, ErrorCode, Identity, KeyDigest, time::now_unix};
use authgate_iiif::grant::{self, Presented};
use authgate_store::AccessStore;
use std::sync::Arc;

/// Proves IIIF access cookies and tokens.
#[derive(Clone)]
pub struct IiifAuthenticator {
    store: Arc<dyn AccessStore>,
}

impl IiifAuthenticator {
    pub fn new(store: Arc<dyn AccessStore>) -> Self {
        Self { store }
    }

    /// The caller of a live sign-in. A token bound to an origin is refused when a page of
    /// another origin presents it (browsers say which in `Origin`).
    pub async fn verify(
        &self,
        cache: &CredentialCache,
        presented: Presented,
        secret: &str,
        origin: Option<&str>,
    ) -> Result<Arc<Caller>, Refusal> {
        let cached = cache
            .token(KeyDigest::of(secret), || {
                self.fill(cache, presented, secret)
            })
            .await?;
        if cached.expires_at <= now_unix() {
            return Err(ErrorCode::ExpiredCredentials.into());
        }
        let foreign = matches!(
            (cached.origin.as_deref(), origin),
            (Some(bound), Some(origin)) if bound != origin
        );
        if foreign {
            return Err(ErrorCode::InvalidCredentials.into());
        }
        Ok(cached.caller.clone())
    }

    async fn fill(
        &self,
        cache: &CredentialCache,
        presented: Presented,
        secret: &str,
    ) -> Result<CachedToken, Refusal> {
        let found = grant::find(self.store.as_ref(), presented, secret)
            .await
            .map_err(|_| ErrorCode::StoreUnavailable)?
            .ok_or(ErrorCode::InvalidCredentials)?;
        let identity = Identity {
            application: format!("iiif:{}", found.user),
            subject: found.user,
            tenant: found.tenant,
            roles: found.roles,
            scopes: Vec::new(),
            method: AuthMethod::Iiif,
        };
        // The cookie opens content on pages of any site (`<img>`): the browser's SameSite=None
        // rules and the token's origin decide, not this.
        let origin = match presented {
            Presented::Token => found.origin,
            Presented::Cookie => None,
        };
        cache.token_entry(identity, found.expires_at, origin).await
    }
}
