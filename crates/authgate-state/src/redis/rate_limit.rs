//! GCRA in Redis: one script reads a key's theoretical arrival time (TAT), decides on Redis's
//! own clock (so instances' clocks do not matter), and writes the new TAT, expiring when the
//! counter is full again. Decisions are the in-process limiter's for the same calls, in
//! microseconds instead of nanoseconds.

use super::{RedisState, Request};
use crate::{Quota, RateDecision, RateLimiter, StateError};
use async_trait::async_trait;
use redis::Script;
use std::sync::LazyLock;
use std::time::Duration;

/// KEYS[1]: the counter. ARGV[1]: the emission interval t, ARGV[2]: the burst, both as integers
/// (microseconds, requests). Returns {allowed (0|1), remaining, reset_after, retry_after}, the
/// durations in microseconds. As governor: tau = t * (burst - 1); a request passes unless now is
/// before TAT - tau, and then moves TAT to max(TAT, now) + t.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tau = t * (burst - 1)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local earliest = tat - tau
if now < earliest then
  return {0, 0, tat - now, earliest - now}
end
local next_tat = math.max(tat, now) + t
local remaining = math.floor(math.min(now + tau + t - next_tat, tau + t) / t)
redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
  'PX', math.max(1, math.ceil((next_tat - now) / 1000)))
return {1, remaining, t * (burst - remaining), 0}
",
    )
});

/// Rate limits counted in Redis, shared by every instance on the same server.
#[derive(Clone)]
pub struct RedisRateLimiter {
    state: RedisState,
}

impl RedisRateLimiter {
    pub(super) fn new(state: RedisState) -> Self {
        Self { state }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(
        &self,
        bucket: &str,
        quota: Quota,
        key: &str,
    ) -> Result<RateDecision, StateError> {
        // At least 1 µs, as governor's interval is at least 1 ns.
        let interval = quota.emission_interval().as_micros().max(1);
        let counter = self.state.key("rl", &[bucket, key]);
        let mut invocation = GCRA.key(counter);
        invocation.arg(u64::try_from(interval).unwrap_or(u64::MAX));
        invocation.arg(quota.burst.get());
        let (allowed, remaining, reset_after, retry_after): (u8, u32, u64, u64) =
            self.state.send(Request::Script(invocation)).await?;
        Ok(RateDecision {
            allowed: allowed == 1,
            remaining,
            reset_after: Duration::from_micros(reset_after),
            retry_after: (allowed == 0).then(|| Duration::from_micros(retry_after)),
        })
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.state.ping().await
    }
}
