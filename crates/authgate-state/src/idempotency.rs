//! Idempotency records (SPEC §4, Stripe's semantics): the first request with a key runs, its
//! response is kept for the TTL, and a repeat gets that response again instead of running twice.

use async_trait::async_trait;
use bytes::Bytes;
use std::time::Duration;

use crate::StateError;

/// A response as it was sent, to be replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, Bytes)>,
    pub body: Bytes,
}

/// What a request with an idempotency key should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First with this key: run it, then `complete` or `release`.
    Run,
    /// The same request already ran: answer with this.
    Replay(StoredResponse),
    /// The same request is running now.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// Idempotency records by key (the caller's application and its `Idempotency-Key`).
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for a request with `fingerprint`, atomically: of N concurrent identical
    /// claims, exactly one gets [`Claim::Run`].
    async fn claim(
        &self,
        key: &str,
        fingerprint: &[u8; 32],
        ttl: Duration,
    ) -> Result<Claim, StateError>;
    /// Stores the response of a request that ran, for replay until the TTL ends.
    async fn complete(&self, key: &str, response: StoredResponse) -> Result<(), StateError>;
    /// Forgets a claim whose response is not to be replayed (5xx, 429, too large).
    async fn release(&self, key: &str) -> Result<(), StateError>;

    /// Whether the records can be reached (`/readyz`); records in this process always can.
    async fn ping(&self) -> Result<(), StateError> {
        Ok(())
    }
}
