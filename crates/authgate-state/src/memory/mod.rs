//! In-process state: rate limits (governor's GCRA, one keyed limiter per bucket and quota) and
//! idempotency records.

mod idempotency;

pub use idempotency::MemoryIdempotencyStore;

use crate::{Quota, RateDecision, RateLimiter, StateError};
use async_trait::async_trait;
use authgate_core::per_thread::{PerThread, lock};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use std::sync::{Arc, Mutex};

type Keyed<C> =
    governor::RateLimiter<String, DashMapStateStore<String>, C, StateInformationMiddleware>;
/// Limiters by bucket name, one per quota the bucket was asked about.
type Limiters<C> = foldhash::HashMap<String, Vec<(Quota, Arc<Keyed<C>>)>>;

/// Rate limits kept in this process.
pub struct MemoryRateLimiter<C: Clock = DefaultClock> {
    clock: C,
    /// Every limiter, created on first use.
    limiters: Mutex<Limiters<C>>,
    /// Each thread's own map of the same limiters: finding one on a request touches no memory
    /// that other threads write.
    known: PerThread<Mutex<Limiters<C>>>,
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
            limiters: Mutex::default(),
            known: PerThread::default(),
        }
    }

    /// Runs `check` on the limiter of `bucket` and `quota`, creating it on first use. Once a
    /// thread has met the limiter, finding it again allocates nothing and takes only that
    /// thread's own lock.
    fn with_limiter<T>(&self, bucket: &str, quota: Quota, check: impl Fn(&Keyed<C>) -> T) -> T {
        let mut known = lock(self.known.local());
        if let Some(limiter) = find(&known, bucket, quota) {
            return check(limiter);
        }
        let limiter = self.shared(bucket, quota);
        let limiters = known.entry(bucket.to_owned()).or_default();
        limiters.push((quota, limiter));
        check(&limiters[limiters.len() - 1].1)
    }

    /// The one limiter of `bucket` and `quota` all threads share.
    fn shared(&self, bucket: &str, quota: Quota) -> Arc<Keyed<C>> {
        let mut all = lock(&self.limiters);
        if let Some(limiter) = all
            .get(bucket)
            .and_then(|limiters| limiters.iter().find(|(q, _)| *q == quota))
        {
            return limiter.1.clone();
        }
        let gcra = governor::Quota::per_minute(quota.per_minute).allow_burst(quota.burst);
        let limiter = Arc::new(
            governor::RateLimiter::dashmap_with_clock(gcra, self.clock.clone())
                .with_middleware::<StateInformationMiddleware>(),
        );
        all.entry(bucket.to_owned())
            .or_default()
            .push((quota, limiter.clone()));
        limiter
    }
}

fn find<'a, C: Clock>(
    limiters: &'a Limiters<C>,
    bucket: &str,
    quota: Quota,
) -> Option<&'a Keyed<C>> {
    limiters
        .get(bucket)?
        .iter()
        .find(|(q, _)| *q == quota)
        .map(|(_, limiter)| limiter.as_ref())
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

    fn forget_idle(&self) {
        for limiter in lock(&self.limiters).values().flatten() {
            limiter.1.retain_recent();
            limiter.1.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests;
