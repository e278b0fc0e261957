//! Keys: create, revoke, regenerate. A secret is generated here, stored as its digest, and
//! returned once in [`WithSecret`]; audit entries carry the display prefix only.

use crate::{Operations, OpsError, entry, no_control_characters, permissions};
use authgate_core::id::new_id;
use authgate_core::key;
use authgate_core::time::now_unix;
use authgate_store::{Actor, AppMode, Key, NewCredential, NewKey};
use serde::Serialize;
use serde_json::json;
use std::time::UNIX_EPOCH;

/// The most app_keys an `app-id-key` application may hold at once (3scale's limit).
pub const MAX_APP_KEYS: u32 = 5;

/// What a new key is.
#[derive(Debug, Clone)]
pub struct CreateKey {
    pub app_id: String,
    pub name: Option<String>,
    /// A lifetime from now (`90d`) or an RFC 3339 time; it must lie in the future.
    pub expires: Option<String>,
    /// Permissions (`resource:action`) the key is narrowed to; empty: its application's.
    pub scopes: Vec<String>,
}

/// Something just made with its secret, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WithSecret<T> {
    #[serde(flatten)]
    pub item: T,
    pub secret: String,
}

impl Operations {
    pub async fn create_key(
        &self,
        actor: &Actor,
        new: CreateKey,
    ) -> Result<WithSecret<Key>, OpsError> {
        if let Some(name) = &new.name {
            no_control_characters("name", name, "a key")?;
        }
        let expires_at = new.expires.as_deref().map(parse_expiry).transpose()?;
        let scopes = permissions("scopes", &new.scopes)?;
        // An application's mode never changes, so it is safe to read before the change.
        let live_key_limit = match self.store.get_app(&new.app_id).await?.mode {
            AppMode::ApiKey => None,
            AppMode::AppIdKey => Some(MAX_APP_KEYS),
            AppMode::AppId => {
                return Err(OpsError::Conflict(format!(
                    "application {} is in app-id mode: its app_id alone authenticates, it has no keys",
                    new.app_id
                )));
            }
        };
        let secret = key::generate(&self.key_env);
        let id = new_id("key");
        let audit = entry(
            actor,
            "create",
            "key",
            &id,
            json!({
                "app_id": new.app_id,
                "name": new.name,
                "prefix": secret.display_prefix,
                "scopes": scopes,
                "expires_at": expires_at,
            }),
        );
        let key = self
            .commit(self.store.create_key(
                NewKey {
                    id,
                    app_id: new.app_id,
                    name: new.name,
                    scopes,
                    expires_at,
                    credential: credential(&secret),
                    live_key_limit,
                },
                &audit,
            ))
            .await?;
        Ok(WithSecret {
            item: key,
            secret: secret.secret,
        })
    }

    /// Revokes a key: it fails from the next request on this instance, within a second on
    /// others.
    pub async fn revoke_key(&self, actor: &Actor, id: &str) -> Result<Key, OpsError> {
        let audit = entry(actor, "revoke", "key", id, json!({}));
        self.commit(self.store.revoke_key(id, &audit)).await
    }

    /// Gives a key a new secret; the old one fails from the next request.
    pub async fn regenerate_key(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<WithSecret<Key>, OpsError> {
        let secret = key::generate(&self.key_env);
        let audit = entry(
            actor,
            "regenerate",
            "key",
            id,
            json!({ "prefix": secret.display_prefix }),
        );
        let key = self
            .commit(self.store.regenerate_key(id, &credential(&secret), &audit))
            .await?;
        Ok(WithSecret {
            item: key,
            secret: secret.secret,
        })
    }
}

fn credential(secret: &key::NewSecret) -> NewCredential {
    NewCredential {
        digest: secret.digest,
        display_prefix: secret.display_prefix.clone(),
    }
}

/// A key's expiry: a lifetime from now (`90d`) or an RFC 3339 time, in the future.
fn parse_expiry(text: &str) -> Result<i64, OpsError> {
    let at = match humantime::parse_duration(text) {
        Ok(lifetime) => {
            now_unix().saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX))
        }
        Err(_) => {
            let time = humantime::parse_rfc3339_weak(text).map_err(|_| {
                OpsError::invalid(
                    "expires",
                    format!("`{text}` is neither a lifetime like 90d nor an RFC 3339 time"),
                )
            })?;
            let secs = time
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            i64::try_from(secs).unwrap_or(i64::MAX)
        }
    };
    if at <= now_unix() {
        return Err(OpsError::invalid(
            "expires",
            format!("`{text}` is not in the future"),
        ));
    }
    Ok(at)
}
