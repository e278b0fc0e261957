//! The extract and authenticate stages: who is calling?
//!
//! The stage ([`Authenticator`] as a [`crate::chain::Stage`]) takes the credential the
//! [`extract`] module finds, proves it with the [`Authenticator`], and puts the [`Caller`] and
//! where the credential was found into the request's context for the stages after it.
//!
//! **Security-sensitive.** This module is the only one that sees a secret. A secret is checked
//! for shape and checksum first (no lookup for junk), then reduced to its SHA-256 digest; only
//! the digest is looked up, cached and compared (in constant time). Logs get the key's display
//! prefix, never the secret. A store that cannot answer fails closed with 503.

mod cache;
pub mod extract;
mod iiif;
mod jwt;
mod key_use;

pub use cache::{CachedApp, CachedKey, CachedToken, CredentialCache, LookupCounts};
pub use iiif::IiifAuthenticator;
pub use jwt::TokenAuthenticator;
pub use key_use::KeyUseRecorder;

use crate::caller::Caller;
use crate::chain::{Next, stage};
use crate::context::{Outcome, RequestContext};
use crate::respond::Rejection;
use crate::route::Route;
use crate::{Request, Response};
use authgate_config::AuthKind;
use authgate_core::{AuthMethod, ErrorCode, Grants, Identity, KeyDigest, key, time::now_unix};
use authgate_iiif::grant::Presented;
use authgate_store::AppMode;
use extract::{Credential, Extractor, Source};
use http::{HeaderMap, Method};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Why a credential was refused, and the application it belongs to when that is known (an
/// expired, revoked or suspended one), so usage can charge the refusal to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub application: Option<String>,
}

impl From<ErrorCode> for Refusal {
    fn from(code: ErrorCode) -> Self {
        Self {
            code,
            application: None,
        }
    }
}

/// Proves credentials against the store, through the cache. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator(Arc<Inner>);

struct Inner {
    extractor: Extractor,
    cache: CredentialCache,
    key_use: KeyUseRecorder,
    /// Requests without a credential pass as anonymous on every route.
    anonymous_everywhere: bool,
    /// Authentication is off: every request is this anonymous admin.
    skipped: Option<Arc<Caller>>,
    /// Keys from the configuration, by digest.
    static_keys: foldhash::HashMap<KeyDigest, Arc<Caller>>,
    /// Bearer JWTs; `None` when no issuer is trusted (`[oidc] enabled = false`).
    tokens: Option<TokenAuthenticator>,
    /// IIIF access cookies and tokens; `None` when no route is protected by IIIF.
    iiif: Option<IiifAuthenticator>,
}

/// How the authenticator treats requests without a credential.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnonymousPolicy {
    /// `[auth] anonymous`: allowed on every route (routes may also allow it one by one).
    pub everywhere: bool,
    /// `[auth] skip` / `GATEWAY_SKIP_AUTH`: no authentication at all.
    pub skip_authentication: bool,
}

impl Authenticator {
    pub fn new(
        extractor: Extractor,
        cache: CredentialCache,
        key_use: KeyUseRecorder,
        anonymous: AnonymousPolicy,
        static_keys: foldhash::HashMap<KeyDigest, Arc<Caller>>,
        tokens: Option<TokenAuthenticator>,
        iiif: Option<IiifAuthenticator>,
    ) -> Self {
        let skipped = anonymous.skip_authentication.then(|| {
            let identity = Identity::anonymous(AuthMethod::Skipped, vec!["admin".into()]);
            Arc::new(Caller::new(identity, Grants::everything()))
        });
        Self(Arc::new(Inner {
            extractor,
            cache,
            key_use,
            anonymous_everywhere: anonymous.everywhere,
            skipped,
            static_keys,
            tokens,
            iiif,
        }))
    }

    /// A copy for one worker thread: the same cache, key-use batch and token verification, with
    /// the header names it looks for and the callers it hands out copied, so that requests on
    /// different workers share no reference counts.
    pub fn for_worker(&self) -> Self {
        let inner = &self.0;
        Self(Arc::new(Inner {
            extractor: inner.extractor.thread_copy(),
            cache: inner.cache.clone(),
            key_use: inner.key_use.clone(),
            anonymous_everywhere: inner.anonymous_everywhere,
            skipped: inner
                .skipped
                .as_ref()
                .map(|caller| Arc::new(caller.thread_copy())),
            static_keys: inner
                .static_keys
                .iter()
                .map(|(digest, caller)| (*digest, Arc::new(caller.thread_copy())))
                .collect(),
            tokens: inner.tokens.clone(),
            iiif: inner.iiif.clone(),
        }))
    }

    /// The anonymous caller, for a request without a credential on `route`, if allowed there.
    pub async fn anonymous_on(&self, route: &Route) -> Option<Result<Arc<Caller>, Rejection>> {
        if !self.0.anonymous_everywhere && !route.auth.contains(&AuthKind::Anonymous) {
            return None;
        }
        Some(
            self.0
                .cache
                .anonymous()
                .await
                .map_err(|_| Rejection::new(ErrorCode::StoreUnavailable)),
        )
    }

    /// Finds and proves the credential of a request on `route`.
    pub async fn authenticate(
        &self,
        method: &Method,
        headers: &HeaderMap,
        query: Option<&str>,
        route: &Route,
    ) -> Result<(Arc<Caller>, Vec<Source>), (Rejection, Option<String>)> {
        let credential = self
            .0
            .extractor
            .extract(headers, query, &route.auth)
            .map_err(|_| (Rejection::new(ErrorCode::AmbiguousCredentials), None))?
            // A browser sends the IIIF cookie with requests any site makes it send: it may
            // read, never change anything.
            .filter(|credential| {
                !matches!(credential, Credential::IiifCookie { .. }) || method.is_safe()
            })
            .ok_or_else(|| (Rejection::new(ErrorCode::MissingCredentials), None))?;
        let bearer = credential.sources().contains(&Source::Bearer);
        // Only an IIIF token is bound to a page's origin: other credentials skip the lookup.
        let origin = match credential {
            Credential::IiifToken { .. } => headers
                .get(http::header::ORIGIN)
                .and_then(|value| value.to_str().ok()),
            _ => None,
        };
        let caller = self.verify(&credential, origin).await.map_err(|refusal| {
            let rejection = Rejection {
                bearer,
                ..Rejection::new(refusal.code)
            };
            (rejection, refusal.application)
        })?;
        Ok((caller, credential.sources().to_vec()))
    }

    /// Proves one credential, presented by a page on `origin` when a browser said so.
    pub async fn verify(
        &self,
        credential: &Credential,
        origin: Option<&str>,
    ) -> Result<Arc<Caller>, Refusal> {
        match credential {
            Credential::ApiKey { secret, .. } => {
                // With static keys configured the digest is needed first; it is computed once.
                let digest = (!self.0.static_keys.is_empty()).then(|| KeyDigest::of(secret));
                if let Some(caller) = digest.as_ref().and_then(|d| self.0.static_keys.get(d)) {
                    return Ok(caller.clone());
                }
                let key = self.verify_secret(secret, digest).await?;
                if key.mode != AppMode::ApiKey {
                    return Err(ErrorCode::InvalidCredentials.into());
                }
                Ok(key.caller.clone())
            }
            Credential::AppIdKey {
                app_id, app_key, ..
            } => {
                let key = self.verify_secret(app_key, None).await?;
                if key.app_id() != *app_id || key.mode != AppMode::AppIdKey {
                    return Err(ErrorCode::InvalidCredentials.into());
                }
                Ok(key.caller.clone())
            }
            Credential::AppId { app_id, .. } => {
                // No stored id has one (PostgreSQL cannot even look such text up).
                if app_id.chars().any(char::is_control) {
                    return Err(ErrorCode::InvalidCredentials.into());
                }
                let app = self
                    .0
                    .cache
                    .app(app_id)
                    .await
                    .map_err(|_| ErrorCode::StoreUnavailable)?
                    .ok_or(ErrorCode::InvalidCredentials)?;
                match app.record.mode {
                    AppMode::AppId => {}
                    AppMode::AppIdKey => return Err(ErrorCode::MissingCredentials.into()),
                    AppMode::ApiKey => return Err(ErrorCode::InvalidCredentials.into()),
                }
                if app.record.suspended {
                    return Err(Refusal {
                        code: ErrorCode::ApplicationSuspended,
                        application: Some(app.record.id.clone()),
                    });
                }
                Ok(app.caller.clone())
            }
            // Boxed: the token path's future is large, and would otherwise make every key
            // verification's future (and the authn stage's) that large too.
            Credential::Jwt { token } => match &self.0.tokens {
                Some(tokens) => Box::pin(tokens.verify(&self.0.cache, token)).await,
                None => Err(ErrorCode::InvalidCredentials.into()),
            },
            Credential::IiifToken { token } => {
                self.verify_iiif(Presented::Token, token, origin).await
            }
            Credential::IiifCookie { secret } => {
                self.verify_iiif(Presented::Cookie, secret, origin).await
            }
        }
    }

    /// Proves an IIIF access cookie or token. Boxed, as for JWTs: rare next to keys.
    pub async fn verify_iiif(
        &self,
        presented: Presented,
        secret: &str,
        origin: Option<&str>,
    ) -> Result<Arc<Caller>, Refusal> {
        match &self.0.iiif {
            Some(iiif) => Box::pin(iiif.verify(&self.0.cache, presented, secret, origin)).await,
            None => Err(ErrorCode::InvalidCredentials.into()),
        }
    }

    /// Digest, cache lookup, shape and checksum before any store lookup, constant-time
    /// compare, then the key's and app's state. A cache hit skips the checksum: only a stored
    /// key, whose checksum was checked before, can be found by its digest.
    async fn verify_secret(
        &self,
        secret: &str,
        digest: Option<KeyDigest>,
    ) -> Result<Arc<CachedKey>, Refusal> {
        if secret.len() > key::MAX_SECRET_LEN {
            return Err(ErrorCode::InvalidCredentials.into());
        }
        let digest = digest.unwrap_or_else(|| KeyDigest::of(secret));
        let key = self
            .0
            .cache
            .key(&digest, || key::validate(secret).is_ok())
            .await
            .map_err(|_| ErrorCode::StoreUnavailable)?
            .ok_or(ErrorCode::InvalidCredentials)?;
        if !key.matches(&digest) {
            return Err(ErrorCode::InvalidCredentials.into());
        }
        tracing::debug!(key_prefix = %key::display_prefix(secret), "key found");
        let now = now_unix();
        if let Some(code) = key.refusal(now) {
            return Err(Refusal {
                code,
                application: Some(key.app_id().to_owned()),
            });
        }
        // Read before writing: a write on every request would pull the key's cache line away
        // from the other workers each time.
        let second = now as u32;
        if key.last_noted.load(Ordering::Relaxed) != second
            && key.last_noted.swap(second, Ordering::Relaxed) != second
        {
            self.0.key_use.record(&key.id, now);
        }
        Ok(key)
    }
}

/// The stage: authenticates the request on its route, or answers 401 (503 when the store is down). A
/// request without any credential passes as anonymous where that is allowed.
async fn run(authenticator: &Authenticator, mut request: Request, next: Next<'_>) -> Response {
    let Some(route) = RequestContext::of(&request).route.clone() else {
        return Rejection::new(ErrorCode::InternalError).into_response();
    };
    let (caller, presented) = match &authenticator.0.skipped {
        Some(skipped) => (skipped.clone(), Vec::new()),
        None => {
            let outcome = authenticator
                .authenticate(
                    request.method(),
                    request.headers(),
                    request.uri().query(),
                    &route,
                )
                .await;
            match outcome {
                Ok((caller, presented)) => (caller, presented),
                Err((rejection, _)) if rejection.code == ErrorCode::MissingCredentials => {
                    match Box::pin(authenticator.anonymous_on(&route)).await {
                        Some(Ok(anonymous)) => (anonymous, Vec::new()),
                        Some(Err(unavailable)) => return unavailable.into_response(),
                        None => return rejection.into_response(),
                    }
                }
                Err((rejection, application)) => {
                    tracing::debug!(route = %route.name, code = %rejection.code, "refused");
                    let mut response = rejection.into_response();
                    if application.is_some() {
                        Outcome::of_mut(&mut response).refused_application = application;
                    }
                    return response;
                }
            }
        }
    };
    tracing::debug!(
        route = %route.name,
        application = %caller.application(),
        method = caller.method().as_str(),
        "authenticated"
    );
    let context = RequestContext::of_mut(&mut request);
    if let Some(trail) = &context.trail {
        trail.note(|t| t.caller = Some(caller.clone()));
    }
    context.caller = Some(caller.clone());
    context.presented = presented;
    let mut response = next.run(request).await;
    // Usage and metrics read who the response was for.
    Outcome::of_mut(&mut response).caller = Some(caller);
    response
}

stage!(Authenticator, run);
