//! GCRA in Redis: one script reads a key's theoretical arrival time (TAT), decides on Redis's
//! own clock (so instances' clocks do not matter), and writes the new TAT, expiring when the
//! counter is full again. Decisions are the in-process limiter's for the same calls, in
//! microseconds instead of nanoseconds.
//!
//! Each thread has at most one call in flight; checks that arrive meanwhile wait and go
//! together in the next call, which decides them in the order they came, whatever their
//! counters, each as if it had come alone. A script run costs Redis far more than one more
//! check in it (see BENCHMARKS.md), so under load a call carries many; a check on an idle
//! thread is sent at once.

use super::{RedisState, Request};
use crate::{Quota, RateDecision, RateLimiter, StateError};
use async_trait::async_trait;
use authgate_core::per_thread::lock;
use redis::Script;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use thread_local::ThreadLocal;
use tokio::sync::oneshot;

/// KEYS: the counters, one a check (a counter may come more than once). ARGV: two integers a
/// check, its emission interval t in microseconds and its burst. Returns four integers a check:
/// allowed (0|1), remaining, reset_after, retry_after, the durations in microseconds. As
/// governor: tau = t * (burst - 1); a check passes unless now is before TAT - tau, and then
/// moves TAT to max(TAT, now) + t. Each counter is read once and written once.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tats = {}
local moved = {}
local decisions = {}
for i, counter in ipairs(KEYS) do
  local t = tonumber(ARGV[i * 2 - 1])
  local burst = tonumber(ARGV[i * 2])
  local tau = t * (burst - 1)
  local tat = tats[counter]
  if tat == nil then
    tat = tonumber(redis.call('GET', counter) or now)
  end
  local earliest = tat - tau
  local at = (i - 1) * 4
  if now < earliest then
    decisions[at + 1] = 0
    decisions[at + 2] = 0
    decisions[at + 3] = tat - now
    decisions[at + 4] = earliest - now
  else
    tat = math.max(tat, now) + t
    moved[counter] = true
    local remaining = math.floor(math.min(now + tau + t - tat, tau + t) / t)
    decisions[at + 1] = 1
    decisions[at + 2] = remaining
    decisions[at + 3] = t * (burst - remaining)
    decisions[at + 4] = 0
  end
  tats[counter] = tat
end
for counter in pairs(moved) do
  local tat = tats[counter]
  redis.call('SET', counter, string.format('%.0f', tat),
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
    /// Each thread's checks waiting for a call.
    queues: Arc<ThreadLocal<Arc<Mutex<Queue>>>>,
}

/// One thread's checks waiting for a call, and whether a task is sending them.
#[derive(Default)]
struct Queue {
    sending: bool,
    waiting: Vec<Check>,
}

/// One check: its counter's Redis key, its quota, and where its decision goes.
struct Check {
    counter: String,
    quota: Quota,
    answer: oneshot::Sender<Result<RateDecision, StateError>>,
}

impl RedisRateLimiter {
    pub(super) fn new(state: RedisState) -> Self {
        Self {
            state,
            queues: Arc::default(),
        }
    }

    /// Queues `check` for the next call, and starts the task that sends the calls unless one
    /// is already at work for this thread.
    fn enqueue(&self, check: Check) {
        let queue = self.queues.get_or_default();
        let mut waiting = lock(queue);
        waiting.waiting.push(check);
        if !waiting.sending {
            waiting.sending = true;
            tokio::spawn(send_calls(self.state.clone(), Arc::clone(queue)));
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
        let (answer, decision) = oneshot::channel();
        self.enqueue(Check {
            counter: self.state.key("rl", &[bucket, key]),
            quota,
            answer,
        });
        decision.await.map_err(|_| {
            StateError::Unavailable("a rate-limit call ended without an answer".into())
        })?
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.state.ping().await
    }
}

/// Sends the checks waiting in `queue`, up to [`MAX_BATCH`] a call, one call at a time, until
/// none wait. If this task is dropped before (its runtime stopped), the checks still waiting
/// are answered with an error and the next check starts a task of its own.
async fn send_calls(state: RedisState, queue: Arc<Mutex<Queue>>) {
    let mut ended_early = EndedEarly(Some(&queue));
    loop {
        let batch: Vec<Check> = {
            let mut waiting = lock(&queue);
            if waiting.waiting.is_empty() {
                waiting.sending = false;
                ended_early.0 = None;
                return;
            }
            let take = waiting.waiting.len().min(MAX_BATCH);
            waiting.waiting.drain(..take).collect()
        };
        match decide(&state, &batch).await {
            Ok(decisions) => {
                for (check, decision) in batch.into_iter().zip(decisions) {
                    let _ = check.answer.send(Ok(decision));
                }
            }
            Err(error) => {
                for check in batch {
                    let _ = check.answer.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Frees a queue whose [`send_calls`] was dropped before it ended.
struct EndedEarly<'a>(Option<&'a Mutex<Queue>>);

impl Drop for EndedEarly<'_> {
    fn drop(&mut self) {
        if let Some(queue) = self.0 {
            let mut waiting = lock(queue);
            waiting.sending = false;
            waiting.waiting.clear();
        }
    }
}

/// The checks of `batch`, decided in turn in one call.
async fn decide(state: &RedisState, batch: &[Check]) -> Result<Vec<RateDecision>, StateError> {
    let mut invocation = GCRA.prepare_invoke();
    for check in batch {
        // At least 1 µs, as governor's interval is at least 1 ns.
        let interval = check.quota.emission_interval().as_micros().max(1);
        invocation.key(&check.counter);
        invocation.arg(u64::try_from(interval).unwrap_or(u64::MAX));
        invocation.arg(check.quota.burst.get());
    }
    let numbers: Vec<u64> = state.send_from_task(Request::Script(invocation)).await?;
    if numbers.len() != batch.len() * 4 {
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
