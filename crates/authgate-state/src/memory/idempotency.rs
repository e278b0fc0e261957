//! In-process idempotency records: a map under one lock, expired entries swept as new claims
//! arrive.

use crate::StateError;
use crate::idempotency::{Claim, IdempotencyStore, StoredResponse};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many claims pass between sweeps of expired records.
const SWEEP_EVERY: u64 = 1024;

struct Record {
    fingerprint: [u8; 32],
    response: Option<StoredResponse>,
    expires_at: Instant,
}

#[derive(Default)]
struct Records {
    by_key: HashMap<String, Record>,
    claims_since_sweep: u64,
}

/// Idempotency records kept in this process.
#[derive(Default)]
pub struct MemoryIdempotencyStore {
    records: Mutex<Records>,
}

impl MemoryIdempotencyStore {
    fn with_records<T>(&self, f: impl FnOnce(&mut Records) -> T) -> Result<T, StateError> {
        let mut records = self
            .records
            .lock()
            .map_err(|_| StateError::Unavailable("idempotency records lock poisoned".into()))?;
        Ok(f(&mut records))
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &[u8; 32],
        ttl: Duration,
    ) -> Result<Claim, StateError> {
        let now = Instant::now();
        self.with_records(|records| {
            records.claims_since_sweep += 1;
            if records.claims_since_sweep >= SWEEP_EVERY {
                records.by_key.retain(|_, record| record.expires_at > now);
                records.claims_since_sweep = 0;
            }
            match records.by_key.get(key) {
                Some(record) if record.expires_at > now => {
                    if record.fingerprint != *fingerprint {
                        Claim::Mismatch
                    } else {
                        match &record.response {
                            Some(response) => Claim::Replay(response.clone()),
                            None => Claim::InFlight,
                        }
                    }
                }
                _ => {
                    let record = Record {
                        fingerprint: *fingerprint,
                        response: None,
                        expires_at: now + ttl,
                    };
                    records.by_key.insert(key.to_owned(), record);
                    Claim::Run
                }
            }
        })
    }

    async fn complete(&self, key: &str, response: StoredResponse) -> Result<(), StateError> {
        self.with_records(|records| {
            if let Some(record) = records.by_key.get_mut(key) {
                record.response = Some(response);
            }
        })
    }

    async fn release(&self, key: &str) -> Result<(), StateError> {
        self.with_records(|records| {
            records.by_key.remove(key);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response() -> StoredResponse {
        StoredResponse {
            status: 201,
            headers: vec![("content-type".into(), "application/json".into())],
            body: "{\"id\":1}".into(),
        }
    }

    #[tokio::test]
    async fn run_once_then_replay_mismatch_and_release() {
        let store = MemoryIdempotencyStore::default();
        let ttl = Duration::from_secs(60);
        assert_eq!(
            store.claim("app:k", &[1; 32], ttl).await.unwrap(),
            Claim::Run
        );
        assert_eq!(
            store.claim("app:k", &[1; 32], ttl).await.unwrap(),
            Claim::InFlight
        );
        assert_eq!(
            store.claim("app:k", &[2; 32], ttl).await.unwrap(),
            Claim::Mismatch
        );
        store.complete("app:k", response()).await.unwrap();
        assert_eq!(
            store.claim("app:k", &[1; 32], ttl).await.unwrap(),
            Claim::Replay(response())
        );
        assert_eq!(
            store.claim("other:k", &[1; 32], ttl).await.unwrap(),
            Claim::Run,
            "keys are scoped"
        );
        store.release("other:k").await.unwrap();
        assert_eq!(
            store.claim("other:k", &[1; 32], ttl).await.unwrap(),
            Claim::Run
        );
    }

    #[tokio::test]
    async fn records_expire() {
        let store = MemoryIdempotencyStore::default();
        assert_eq!(
            store
                .claim("k", &[1; 32], Duration::from_millis(1))
                .await
                .unwrap(),
            Claim::Run
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(
            store
                .claim("k", &[2; 32], Duration::from_secs(1))
                .await
                .unwrap(),
            Claim::Run
        );
    }
}
