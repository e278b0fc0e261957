//! Shared per-request state: what must agree across requests and, with several instances,
//! across processes: rate limits and idempotency records now; token revocation joins them
//! behind a trait of its own.
//!
//! Each kind of state is a trait with an in-process implementation (`memory`), which is right
//! for one instance, and a Redis one (`redis`) that many instances share (SPEC §8); the gateway
//! sees only the traits.
#![forbid(unsafe_code)]

pub mod idempotency;
mod memory;
mod redis;

pub use idempotency::{Claim, IdempotencyStore, StoredResponse};
pub use memory::{MemoryIdempotencyStore, MemoryRateLimiter};
pub use redis::{RedisIdempotencyStore, RedisRateLimiter, RedisState};

use async_trait::async_trait;
use std::num::NonZeroU32;
use std::time::Duration;

/// A rate: `per_minute` requests on average, up to `burst` at once (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Quota {
    /// The time one request's worth of capacity takes to come back.
    pub fn emission_interval(&self) -> Duration {
        Duration::from_secs(60) / self.per_minute.get()
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Requests that could still pass at once after this one.
    pub remaining: u32,
    /// How long until the full burst is available again.
    pub reset_after: Duration,
    /// For a refused request: how long until one would pass.
    pub retry_after: Option<Duration>,
}

/// Why shared state could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    #[error("shared state unavailable: {0}")]
    Unavailable(String),
}

/// Counts requests per key against a quota. A `bucket` names an independent set of counters
/// (the default limit, or one route's own), so one key may be limited separately per bucket.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    async fn check(
        &self,
        bucket: &str,
        quota: Quota,
        key: &str,
    ) -> Result<RateDecision, StateError>;

    /// Forgets keys whose counters are full again, which is the same as never having seen
    /// them. Called now and then, so that keys a client can invent (addresses, user names)
    /// are held no longer than their counters matter. A shared store expires keys itself.
    fn forget_idle(&self) {}

    /// Whether the counters can be reached (`/readyz`); counters in this process always can.
    async fn ping(&self) -> Result<(), StateError> {
        Ok(())
    }
}
