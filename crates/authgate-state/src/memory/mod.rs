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
use std::sync::RwLock;

type Keyed<C> =
    governor::RateLimiter<String, DashMapStateStore<String>, C, StateInformationMiddleware>;
/// Limiters by bucket name, one per quota the bucket was asked about.
type Limiters<C> = HashMap<String, Vec<(Quota, Keyed<C>)>>;

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

    /// Runs `check` on the limiter of `bucket` and `quota`, creating it on first use. The
    /// common case only takes the read lock, and finding the limiter allocates nothing.
    fn with_limiter<T>(&self, bucket: &str, quota: Quota, check: impl Fn(&Keyed<C>) -> T) -> T {
        let find = |map: &Limiters<C>| {
            map.get(bucket)?
                .iter()
                .find(|(q, _)| *q == quota)
                .map(|(_, limiter)| check(limiter))
        };
        let read = match self.limiters.read() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(decided) = find(&read) {
            return decided;
        }
        drop(read);
        let mut map = match self.limiters.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        let limiters = map.entry(bucket.to_owned()).or_default();
        let position = match limiters.iter().position(|(q, _)| *q == quota) {
            Some(position) => position,
            None => {
                let gcra = governor::Quota::per_minute(quota.per_minute).allow_burst(quota.burst);
                let limiter = governor::RateLimiter::dashmap_with_clock(gcra, self.clock.clone())
                    .with_middleware::<StateInformationMiddleware>();
                limiters.push((quota, limiter));
                limiters.len() - 1
            }
        };
        check(&limiters[position].1)
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
        let outcome =
            self.with_limiter(bucket, quota, |limiter| limiter.check_key(&key.to_owned()));
        Ok(match outcome {
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
        })
    }
}

#[cfg(test)]
mod tests;
