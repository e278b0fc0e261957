//! The web UI's sessions: started when an admin signs in, checked on every request, ended on
//! sign-out or when idle or too old. The cookie carries a secret of the same form as keys (so a
//! forged one is refused by its checksum before any lookup); the store keeps its digest only.
//!
//! Each session has a CSRF token, derived from its secret so that it needs no storage: only
//! the holder of the cookie (which scripts cannot read, `HttpOnly`) can know it, and a page
//! of another site cannot read it from ours.

use crate::{Operations, OpsError, entry};
use authgate_core::id::new_id;
use authgate_core::{KeyDigest, key};
use authgate_store::{Actor, NewSession, SessionRecord, User};
use serde_json::json;
use subtle::ConstantTimeEq;

/// A signed-in admin's session, as a request finds it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user: String,
    pub roles: Vec<String>,
    /// What every form and every cookie-authenticated API change must carry.
    pub csrf_token: String,
}

impl Session {
    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf_token
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into()
    }

    pub fn is_admin(&self) -> bool {
        authgate_core::permission::is_admin(&self.roles)
    }
}

/// A session just started: the cookie's secret, to be set once and never stored.
pub struct StartedSession {
    pub secret: String,
    pub session: Session,
    /// Seconds the cookie should live: the session's absolute lifetime.
    pub max_age: i64,
}

/// How often at most a session's idle expiry is pushed forward, in seconds: a write per
/// request would be wasted on a precision nobody needs.
const TOUCH_EVERY: i64 = 60;

impl Operations {
    /// Starts a session for `user`, who has just proven their password.
    pub async fn start_session(
        &self,
        user: &User,
        source: &str,
    ) -> Result<StartedSession, OpsError> {
        let secret = key::generate("session");
        let now = self.clock.now_unix();
        let lifetime = seconds(self.sessions.session_lifetime.0);
        let new = NewSession {
            id: new_id("ses"),
            digest: secret.digest,
            user: user.id.clone(),
            idle_expires_at: now + seconds(self.sessions.session_idle_timeout.0),
            expires_at: now + lifetime,
        };
        let actor = Actor {
            name: user.name.clone(),
            source: source.to_owned(),
            signed_in: true,
        };
        let audit = entry(&actor, "sign_in", "session", &new.id, json!({}));
        self.store.create_session(&new, now, &audit).await?;
        Ok(StartedSession {
            session: Session {
                id: new.id,
                user: user.name.clone(),
                roles: user.roles.clone(),
                csrf_token: csrf_token(&secret.secret),
            },
            secret: secret.secret,
            max_age: lifetime,
        })
    }

    /// The live session whose cookie carries `secret`; `None` for a malformed, unknown,
    /// ended or expired one.
    pub async fn session(&self, secret: &str) -> Result<Option<Session>, OpsError> {
        let Some(record) = self.live_session(secret).await? else {
            return Ok(None);
        };
        let now = self.clock.now_unix();
        let idle_expires_at = now + seconds(self.sessions.session_idle_timeout.0);
        if idle_expires_at - record.idle_expires_at >= TOUCH_EVERY {
            self.store
                .touch_session(&record.digest, idle_expires_at)
                .await?;
        }
        Ok(Some(Session {
            id: record.id,
            user: record.user,
            roles: record.roles,
            csrf_token: csrf_token(secret),
        }))
    }

    /// Signs out: the session ends at once, everywhere.
    pub async fn end_session(&self, secret: &str, source: &str) -> Result<(), OpsError> {
        let Some(record) = self.live_session(secret).await? else {
            return Ok(());
        };
        let actor = Actor {
            name: record.user,
            source: source.to_owned(),
            signed_in: true,
        };
        let audit = entry(&actor, "sign_out", "session", &record.id, json!({}));
        self.store.end_session(&record.digest, &audit).await?;
        Ok(())
    }

    async fn live_session(&self, secret: &str) -> Result<Option<SessionRecord>, OpsError> {
        if key::validate(secret).is_err() {
            return Ok(None);
        }
        let digest = KeyDigest::of(secret);
        let now = self.clock.now_unix();
        Ok(self.store.find_session(&digest).await?.filter(|record| {
            record.digest.matches(&digest)
                && record.idle_expires_at > now
                && record.expires_at > now
        }))
    }
}

/// The CSRF token of the session whose secret is `secret`: a digest no one can compute
/// without the secret, and distinct from the digest the store keeps.
fn csrf_token(secret: &str) -> String {
    hex::encode(KeyDigest::of(&format!("csrf:{secret}")).0)
}

fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 2)
}
