//! GCRA in Redis: one script reads a key's theoretical arrival time (TAT), decides on Redis's
//! own clock (so instances' clocks do not matter), and writes the new TAT, expiring when the
//! counter is full again. Decisions are the in-process limiter's for the same calls, in
//! microseconds instead of nanoseconds.
//!
//! Checks of one counter that arrive on a thread while a call for it is in flight wait for the
//! next call, which decides them all in turn: one round trip for many requests of a busy
//! application, each decided as if it had come alone (a script run costs Redis about 13 µs,
//! more than the rest of its work for a request; see BENCHMARKS.md). An idle counter's check
//! is sent at once.

use super::{RedisState, Request};
use crate::{Quota, RateDecision, RateLimiter, StateError};
use async_trait::async_trait;
use redis::Script;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;
use thread_local::ThreadLocal;
use tokio::sync::oneshot;

/// KEYS[1]: the counter. ARGV[1]: the emission interval t, ARGV[2]: the burst, both as integers
/// (microseconds, requests), ARGV[3]: how many requests to decide, in turn. Returns four
/// integers a request: allowed (0|1), remaining, reset_after, retry_after, the durations in
/// microseconds. As governor: tau = t * (burst - 1); a request passes unless now is before
/// TAT - tau, and then moves TAT to max(TAT, now) + t.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local tau = t * (burst - 1)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local passed = false
local decisions = {}
for i = 0, count - 1 do
  local earliest = tat - tau
  if now < earliest then
    decisions[i * 4 + 1] = 0
    decisions[i * 4 + 2] = 0
    decisions[i * 4 + 3] = tat - now
    decisions[i * 4 + 4] = earliest - now
  else
    tat = math.max(tat, now) + t
    passed = true
    local remaining = math.floor(math.min(now + tau + t - tat, tau + t) / t)
    decisions[i * 4 + 1] = 1
    decisions[i * 4 + 2] = remaining
    decisions[i * 4 + 3] = t * (burst - remaining)
    decisions[i * 4 + 4] = 0
  end
end
if passed then
  redis.call('SET', KEYS[1], string.format('%.0f', tat),
    'PX', math.max(1, math.ceil((tat - now) / 1000)))
end
return decisions
",
    )
});

/// Most checks one call decides; more wait for the next, so that one script run stays short.
const MAX_BATCH: usize = 64;

/// Rate limits counted in Redis, shared by every instance on the same server.
#[derive(Clone)]
pub struct RedisRateLimiter {
    state: RedisState,
    /// Each thread's counters with a call in flight, and the checks waiting for the next one.
    waiting: Arc<ThreadLocal<Arc<Waiting>>>,
}

/// Counters (their Redis key and quota) with a call in flight, each with the checks that came
/// meanwhile. A counter is here exactly while a task sends its calls (see [`send_batches`]).
type Waiting = Mutex<HashMap<(String, Quota), Vec<Waiter>>>;

/// Where one check's decision goes.
type Waiter = oneshot::Sender<Result<RateDecision, StateError>>;

impl RedisRateLimiter {
    pub(super) fn new(state: RedisState) -> Self {
        Self {
            state,
            waiting: Arc::default(),
        }
    }

    /// Queues `waiter` for the next call on `counter`, and starts the task that sends them
    /// unless one is already at work on this thread.
    fn wait_for_call(&self, counter: String, quota: Quota, waiter: Waiter) {
        let counter = (counter, quota);
        let waiting = self.waiting.get_or_default();
        let mut counters = waiting.lock().unwrap_or_else(PoisonError::into_inner);
        match counters.get_mut(&counter) {
            Some(waiters) => waiters.push(waiter),
            None => {
                counters.insert(counter.clone(), vec![waiter]);
                tokio::spawn(send_batches(
                    self.state.clone(),
                    Arc::clone(waiting),
                    counter,
                ));
            }
        }
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
        let (waiter, decision) = oneshot::channel();
        self.wait_for_call(self.state.key("rl", &[bucket, key]), quota, waiter);
        decision.await.map_err(|_| {
            StateError::Unavailable("a rate-limit call ended without an answer".into())
        })?
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.state.ping().await
    }
}

/// Sends the checks waiting on `counter`, up to [`MAX_BATCH`] a call, until none wait; then
/// takes the counter out of `waiting`. Taken out as well if this task ends early (its runtime
/// stopped), so that later checks start a task of their own instead of waiting on none.
async fn send_batches(state: RedisState, waiting: Arc<Waiting>, counter: (String, Quota)) {
    let mut ended_early = EndedEarly(Some((&waiting, &counter)));
    loop {
        let batch: Vec<Waiter> = {
            let mut counters = waiting.lock().unwrap_or_else(PoisonError::into_inner);
            match counters.get_mut(&counter) {
                Some(waiters) if !waiters.is_empty() => {
                    let take = waiters.len().min(MAX_BATCH);
                    waiters.drain(..take).collect()
                }
                _ => {
                    counters.remove(&counter);
                    ended_early.0 = None;
                    return;
                }
            }
        };
        match decide(&state, &counter.0, counter.1, batch.len()).await {
            Ok(decisions) => {
                for (waiter, decision) in batch.into_iter().zip(decisions) {
                    let _ = waiter.send(Ok(decision));
                }
            }
            Err(error) => {
                for waiter in batch {
                    let _ = waiter.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Takes a counter out of its map when [`send_batches`] is dropped before it ended; its
/// waiters then get an error instead of waiting for ever.
struct EndedEarly<'a>(Option<(&'a Waiting, &'a (String, Quota))>);

impl Drop for EndedEarly<'_> {
    fn drop(&mut self) {
        if let Some((waiting, counter)) = self.0 {
            let mut counters = waiting.lock().unwrap_or_else(PoisonError::into_inner);
            counters.remove(counter);
        }
    }
}

/// `count` requests on `counter`, decided in turn in one call.
async fn decide(
    state: &RedisState,
    counter: &str,
    quota: Quota,
    count: usize,
) -> Result<Vec<RateDecision>, StateError> {
    // At least 1 µs, as governor's interval is at least 1 ns.
    let interval = quota.emission_interval().as_micros().max(1);
    let mut invocation = GCRA.key(counter);
    invocation.arg(u64::try_from(interval).unwrap_or(u64::MAX));
    invocation.arg(quota.burst.get());
    invocation.arg(count);
    let numbers: Vec<u64> = state.send(Request::Script(invocation)).await?;
    if numbers.len() != count * 4 {
        return Err(StateError::Unavailable(
            "unexpected answer to a rate-limit call".into(),
        ));
    }
    Ok(numbers
        .chunks_exact(4)
        .map(|decision| {
            let allowed = decision[0] == 1;
            RateDecision {
                allowed,
                remaining: u32::try_from(decision[1]).unwrap_or(u32::MAX),
                reset_after: Duration::from_micros(decision[2]),
                retry_after: (!allowed).then(|| Duration::from_micros(decision[3])),
            }
        })
        .collect())
}
