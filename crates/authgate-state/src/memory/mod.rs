//! In-process state: rate limits (governor's GCRA, one keyed limiter per bucket and quota) and
//! idempotency records.

mod idempotency;

pub use idempotency::MemoryIdempotencyStore;

use crate::{Quota, RateDecision, RateLimiter, StateError};
use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

type Keyed<C> =
    governor::RateLimiter<String, DashMapStateStore<String>, C, StateInformationMiddleware>;
/// One limiter per bucket name and quota.
type Limiters<C> = HashMap<(String, Quota), Arc<Keyed<C>>>;

/// Rate limits kept in this process.
pub struct MemoryRateLimiter<C: Clock = DefaultClock> {
    clock: C,
    limiters: RwLock<Limiters<C>>,
}

impl MemoryRateLimiter {
    pub fn new() -> Self {
        Self::with_clock(DefaultClock::default())
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock + Clone> MemoryRateLimiter<C> {
    /// A limiter on `clock`: tests pass a fake one to move time by hand.
    pub fn with_clock(clock: C) -> Self {
        Self {
            clock,
            limiters: RwLock::default(),
        }
    }

    fn limiter(&self, bucket: &str, quota: Quota) -> Arc<Keyed<C>> {
        let id = (bucket.to_owned(), quota);
        if let Some(limiter) = self
            .limiters
            .read()
            .ok()
            .and_then(|map| map.get(&id).cloned())
        {
            return limiter;
        }
        let mut map = match self.limiters.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(id)
            .or_insert_with(|| {
                let gcra = governor::Quota::per_minute(quota.per_minute).allow_burst(quota.burst);
                Arc::new(
                    governor::RateLimiter::dashmap_with_clock(gcra, self.clock.clone())
                        .with_middleware::<StateInformationMiddleware>(),
                )
            })
            .clone()
    }
}

#[async_trait]
impl<C> RateLimiter for MemoryRateLimiter<C>
where
    C: Clock + Clone + Send + Sync + 'static,
    C::Instant: Send + Sync,
{
    async fn check(
        &self,
        bucket: &str,
        quota: Quota,
        key: &str,
    ) -> Result<RateDecision, StateError> {
        let interval = quota.emission_interval();
        let burst = quota.burst.get();
        Ok(
            match self.limiter(bucket, quota).check_key(&key.to_owned()) {
                Ok(snapshot) => {
                    let remaining = snapshot.remaining_burst_capacity();
                    RateDecision {
                        allowed: true,
                        remaining,
                        reset_after: interval * (burst - remaining),
                        retry_after: None,
                    }
                }
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    RateDecision {
                        allowed: false,
                        remaining: 0,
                        reset_after: wait + interval * (burst - 1),
                        retry_after: Some(wait),
                    }
                }
            },
        )
    }
}

#[cfg(test)]
mod tests;
