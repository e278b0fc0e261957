//! Following the store's change feed: what this process cached is dropped when the store
//! changes, here or anywhere else (the CLI, another instance).
//!
//! [`ChangeFollower::catch_up`] reads the changes after the last one it saw and has the
//! credential cache forget what each touched ([`CredentialCache::forget`]); signing-key changes
//! reload the key ring too. When it cannot tell what it missed (more changes than one read
//! takes, a gap in the sequence: changes pruned, or a sequence number a failed transaction
//! took), it drops everything instead. `serve` runs it every `store.change_poll_interval` and
//! after each change this process commits, before the change is answered.

use crate::authn::CredentialCache;
use authgate_store::{Change, ChangeKind, Store, StoreError};
use authgate_token::KeyRing;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;

/// The most changes one catch-up applies one by one; past it, everything is dropped.
const CHANGES_PER_READ: u32 = 1_000;

/// Where this process is in the store's change feed.
pub struct ChangeFollower {
    store: Arc<dyn Store>,
    cache: CredentialCache,
    ring: Option<KeyRing>,
    /// The last change applied; `None` until the feed could be read.
    seen: Mutex<Option<i64>>,
    /// Whether the last read of the feed failed: an outage is logged when it starts and when
    /// it ends, not at every poll.
    failing: AtomicBool,
}

impl ChangeFollower {
    /// Starts at the store's latest change: the cache is empty, so nothing before it matters.
    pub async fn new(store: Arc<dyn Store>, cache: CredentialCache, ring: Option<KeyRing>) -> Self {
        let seen = match store.change_seq().await {
            Ok(seq) => Some(seq),
            Err(error) => {
                tracing::warn!(%error, "cannot read the store's changes; cached credentials are kept meanwhile");
                None
            }
        };
        Self {
            store,
            cache,
            ring,
            failing: AtomicBool::new(seen.is_none()),
            seen: Mutex::new(seen),
        }
    }

    /// Catches up every `interval` until the process ends.
    pub async fn follow(&self, interval: std::time::Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.catch_up().await;
            self.cache.run_pending_tasks().await;
        }
    }

    /// Applies every change committed since the last catch-up.
    pub async fn catch_up(&self) {
        let mut seen = self.seen.lock().await;
        let Some(last) = *seen else {
            // Never read the feed (the store was down at the start): trust nothing cached.
            if let Ok(seq) = self.read_seq().await {
                self.drop_everything().await;
                *seen = Some(seq);
            }
            return;
        };
        let changes = match self.store.changes_since(last, CHANGES_PER_READ).await {
            Ok(changes) => {
                self.note_reachable();
                changes
            }
            Err(error) => {
                self.note_failure(&error);
                return;
            }
        };
        let Some(newest) = changes.last().map(|change| change.seq) else {
            return;
        };
        let complete = changes.len() < CHANGES_PER_READ as usize
            && changes.first().is_some_and(|first| first.seq == last + 1)
            && changes
                .windows(2)
                .all(|pair| pair[1].seq == pair[0].seq + 1);
        if complete {
            tracing::debug!(
                count = changes.len(),
                newest,
                "store changed; cache entries dropped"
            );
            self.cache.forget(&changes);
            if changes.iter().any(touches_signing_keys) {
                self.reload_signing_keys().await;
            }
            *seen = Some(newest);
        } else {
            tracing::debug!(
                newest,
                "store changed past what one read tells; cache cleared"
            );
            self.drop_everything().await;
            *seen = Some(self.read_seq().await.unwrap_or(newest).max(newest));
        }
    }

    async fn read_seq(&self) -> Result<i64, ()> {
        match self.store.change_seq().await {
            Ok(seq) => {
                self.note_reachable();
                Ok(seq)
            }
            Err(error) => {
                self.note_failure(&error);
                Err(())
            }
        }
    }

    fn note_failure(&self, error: &StoreError) {
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "cannot read the store's changes; cached credentials are kept meanwhile");
        }
    }

    fn note_reachable(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("the store's changes can be read again");
        }
    }

    async fn drop_everything(&self) {
        self.cache.clear();
        self.reload_signing_keys().await;
    }

    async fn reload_signing_keys(&self) {
        if let Some(ring) = &self.ring
            && let Err(error) = ring.reload().await
        {
            tracing::warn!(%error, "cannot reload the signing keys");
        }
    }
}

fn touches_signing_keys(change: &Change) -> bool {
    matches!(change.kind, ChangeKind::SigningKey | ChangeKind::Unknown)
}
