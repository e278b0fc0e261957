//! Failed sign-ins are throttled per user name: the failures count against a GCRA quota through
//! the shared rate limiter; past it, the name is locked out until the quota allows another
//! attempt, and attempts meanwhile are refused without checking the password (which also spares
//! the CPU an argon2 verification costs).

use authgate_state::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures allowed at once, and per minute after that.
const FAILURES_BURST: u32 = 5;
const FAILURES_PER_MINUTE: u32 = 5;
/// Lockouts are pruned once this many are held.
const PRUNE_AT: usize = 10_000;

pub(crate) struct LoginThrottle {
    limiter: Arc<dyn RateLimiter>,
    locked: Mutex<HashMap<String, Instant>>,
}

impl LoginThrottle {
    pub(crate) fn new(limiter: Arc<dyn RateLimiter>) -> Self {
        Self {
            limiter,
            locked: Mutex::default(),
        }
    }

    /// How long `user` must still wait, if locked out.
    pub(crate) fn locked_for(&self, user: &str) -> Option<Duration> {
        let locked = self.locked.lock().ok()?;
        let until = *locked.get(user)?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts a failed sign-in of `user`; locks the name out when it is one too many.
    pub(crate) async fn failed(&self, user: &str) {
        let quota = Quota {
            per_minute: NonZeroU32::new(FAILURES_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(FAILURES_BURST).unwrap_or(NonZeroU32::MIN),
        };
        let Ok(decision) = self.limiter.check("login-failures", quota, user).await else {
            return;
        };
        if decision.allowed {
            return;
        }
        let wait = decision.retry_after.unwrap_or(quota.emission_interval());
        if let Ok(mut locked) = self.locked.lock() {
            if locked.len() >= PRUNE_AT {
                let now = Instant::now();
                locked.retain(|_, until| *until > now);
            }
            locked.insert(user.to_owned(), Instant::now() + wait);
        }
        tracing::warn!(user, "sign-in locked out after repeated failures");
    }
}
