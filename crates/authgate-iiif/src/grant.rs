//! Access cookies and tokens: issued here, and looked up by the token service, the probe and
//! the gateway alike. A presented value is checked for shape and checksum before any lookup
//! (junk never reaches the store), then looked up by its digest.

use crate::{IiifService, TOKEN_PREFIX};
use authgate_core::id::new_id;
use authgate_core::{KeyDigest, key};
use authgate_store::{
    AccessGrant, AccessStore, NewAccessSession, NewAccessToken, StoreError, User,
};

/// What a presented value claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// The access cookie's value.
    Cookie,
    /// An access token (`Authorization: Bearer`).
    Token,
}

/// The grant a presented cookie or token stands for, expired or not; `None` when it is
/// malformed or unknown.
pub async fn find(
    store: &dyn AccessStore,
    presented: Presented,
    secret: &str,
) -> Result<Option<AccessGrant>, StoreError> {
    let shaped = match presented {
        Presented::Cookie => !secret.starts_with(TOKEN_PREFIX),
        Presented::Token => secret.starts_with(TOKEN_PREFIX),
    };
    if !shaped || key::validate(secret).is_err() {
        return Ok(None);
    }
    let digest = KeyDigest::of(secret);
    let found = match presented {
        Presented::Cookie => store.find_access_session(&digest).await?,
        Presented::Token => store.find_access_token(&digest).await?,
    };
    Ok(found.filter(|grant| grant.digest.matches(&digest)))
}

/// A sign-in just started: the access cookie's value, to be set once and never stored.
pub(crate) struct StartedSession {
    pub(crate) id: String,
    pub(crate) secret: String,
    pub(crate) expires_at: i64,
}

/// A token just issued, to be posted to its origin once.
pub(crate) struct IssuedToken {
    pub(crate) token: String,
    pub(crate) expires_in: i64,
}

impl IiifService {
    /// Starts a sign-in for `user`, bound to `origin` when the viewer said it.
    pub(crate) async fn start_session(
        &self,
        user: &User,
        origin: Option<&str>,
    ) -> Result<StartedSession, StoreError> {
        let secret = key::generate("iiifsession");
        let now = self.now();
        let session = NewAccessSession {
            id: new_id("iiif"),
            digest: secret.digest,
            user: user.id.clone(),
            origin: origin.map(str::to_owned),
            expires_at: now + seconds(self.0.config.session_lifetime.0),
        };
        self.0.store.create_access_session(&session, now).await?;
        Ok(StartedSession {
            id: session.id,
            secret: secret.secret,
            expires_at: session.expires_at,
        })
    }

    /// Issues a token from the session `session_id` for `origin`; it lives no longer than the
    /// session.
    pub(crate) async fn issue_token(
        &self,
        session_id: &str,
        session_expires_at: i64,
        origin: Option<&str>,
    ) -> Result<IssuedToken, StoreError> {
        let secret = key::generate("iiif");
        let now = self.now();
        let expires_at = session_expires_at.min(now + seconds(self.0.config.token_lifetime.0));
        let token = NewAccessToken {
            digest: secret.digest,
            session_id: session_id.to_owned(),
            origin: origin.map(str::to_owned),
            expires_at,
        };
        self.0.store.create_access_token(&token, now).await?;
        Ok(IssuedToken {
            token: secret.secret,
            expires_in: expires_at - now,
        })
    }

    /// The live session of an access cookie: `Err` says why there is none.
    pub(crate) async fn session(&self, cookie: Option<&str>) -> Result<AccessGrant, Aspect> {
        let cookie = cookie.ok_or(Aspect::Missing)?;
        let grant = find(self.0.store.as_ref(), Presented::Cookie, cookie)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "cannot look an IIIF session up");
                Aspect::Unavailable
            })?
            .ok_or(Aspect::Invalid)?;
        if grant.expires_at <= self.now() {
            return Err(Aspect::Expired);
        }
        Ok(grant)
    }

    /// Ends a sign-in and its tokens, on every instance.
    pub(crate) async fn end_session(&self, session_id: &str) -> Result<(), StoreError> {
        self.0.store.end_access_session(session_id).await?;
        (self.0.signed_out)();
        Ok(())
    }
}

/// Why a request carries no usable sign-in (the token service's `*Aspect` profiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aspect {
    Missing,
    Invalid,
    Expired,
    Unavailable,
}

fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 2)
}
