//! The in-process credential cache, and the watcher that empties it when the store changes.
//!
//! Entries are keyed by key digest (or app id) and hold the store's answer, including "no such
//! key", so repeated bad keys do not hit the store either. Concurrent misses for one key share a
//! single lookup. The watcher polls the store's change sequence and drops every entry when it
//! moves: a suspend, revoke or regenerate made by the CLI or another instance takes effect within
//! one poll interval, while entries also expire after the configured TTL as a backstop.

use authgate_core::KeyDigest;
use authgate_store::{AppRecord, CredentialStore, KeyRecord, StoreError};
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;

const MAX_ENTRIES: u64 = 1_000_000;

/// Cached store answers for keys and applications.
#[derive(Clone)]
pub struct CredentialCache {
    store: Arc<dyn CredentialStore>,
    keys: Cache<KeyDigest, Option<Arc<KeyRecord>>>,
    apps: Cache<String, Option<Arc<AppRecord>>>,
}

impl CredentialCache {
    pub fn new(store: Arc<dyn CredentialStore>, ttl: Duration) -> Self {
        Self {
            store,
            keys: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build(),
            apps: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The key with this digest, from the cache or the store.
    pub async fn key(&self, digest: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, Arc<StoreError>> {
        let store = self.store.clone();
        let digest = *digest;
        self.keys
            .try_get_with(digest, async move {
                store.find_key(&digest).await.map(|r| r.map(Arc::new))
            })
            .await
    }

    /// The application with this id, from the cache or the store.
    pub async fn app(&self, app_id: &str) -> Result<Option<Arc<AppRecord>>, Arc<StoreError>> {
        let store = self.store.clone();
        let id = app_id.to_owned();
        self.apps
            .try_get_with_by_ref(app_id, async move {
                store.find_app(&id).await.map(|r| r.map(Arc::new))
            })
            .await
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.keys.invalidate_all();
        self.apps.invalidate_all();
    }

    /// Watches the store's change sequence until the process ends, clearing the cache when it moves.
    pub async fn watch_changes(self, interval: Duration) {
        let mut seen = self.store.change_seq().await.ok();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match self.store.change_seq().await {
                Ok(seq) if Some(seq) != seen => {
                    tracing::debug!(seq, "store changed; credential cache cleared");
                    self.clear();
                    seen = Some(seq);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read the store's change sequence"),
            }
        }
    }
}
