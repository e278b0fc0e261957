//! `last_used_at` for keys, written in batches: a request only notes the time in memory, and a
//! background task writes what accumulated every few seconds (and once more at shutdown).

use authgate_store::KeyStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Notes key use in memory until the next flush.
#[derive(Clone)]
pub struct KeyUseRecorder {
    pending: Arc<Mutex<HashMap<String, i64>>>,
    store: Arc<dyn KeyStore>,
}

impl KeyUseRecorder {
    pub fn new(store: Arc<dyn KeyStore>) -> Self {
        Self {
            pending: Arc::default(),
            store,
        }
    }

    /// Notes that the key was used at `now` (Unix seconds).
    pub fn record(&self, key_id: &str, now: i64) {
        if let Ok(mut pending) = self.pending.lock() {
            match pending.get_mut(key_id) {
                Some(at) => *at = (*at).max(now),
                None => {
                    pending.insert(key_id.to_owned(), now);
                }
            }
        }
    }

    /// Writes what accumulated since the last flush.
    pub async fn flush(&self) {
        // Taken, not drained: a drained map would keep the room of the busiest interval's keys.
        let batch: Vec<(String, i64)> = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending).into_iter().collect(),
            Err(_) => return,
        };
        if batch.is_empty() {
            return;
        }
        if let Err(error) = self.store.record_key_use(&batch).await {
            tracing::warn!(%error, keys = batch.len(), "cannot record key use");
        }
    }

    /// Flushes every `interval` until the process ends.
    pub async fn run(self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            self.flush().await;
        }
    }
}
