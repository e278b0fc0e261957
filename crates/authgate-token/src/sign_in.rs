//! Signing in with a user name and password: the one check behind the password grant, the
//! authorization endpoint's sign-in page and the web admin UI, which share its throttle.
//!
//! Failed sign-ins are throttled per user name: the failures count against a GCRA quota through
//! the shared rate limiter; past it, the name is locked out until the quota allows another
//! attempt, and attempts meanwhile are refused without checking the password (which also spares
//! the CPU an argon2 verification costs). An unknown name is checked against a dummy hash, so
//! that it takes as long as a known one and names cannot be probed by timing.
//!
//! Everything here is reachable without credentials, so it is bounded: names and passwords
//! longer than any real one are refused before they are looked up, counted or logged, and the
//! lockouts held are capped (past the cap, the one ending soonest makes room).

use authgate_core::password::{
    MAX_PASSWORD_BYTES, MAX_USERNAME_BYTES, hash_password, verify_password,
};
use authgate_state::{Quota, RateLimiter};
use authgate_store::{User, UserStore};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Failures allowed at once, and per minute after that.
const FAILURES_BURST: u32 = 5;
const FAILURES_PER_MINUTE: u32 = 5;
/// Lockouts held at most.
const MAX_LOCKED: usize = 10_000;

struct LoginThrottle {
    limiter: Arc<dyn RateLimiter>,
    locked: Mutex<HashMap<String, Instant>>,
}

impl LoginThrottle {
    fn new(limiter: Arc<dyn RateLimiter>) -> Self {
        Self {
            limiter,
            locked: Mutex::default(),
        }
    }

    /// How long `user` must still wait, if locked out.
    fn locked_for(&self, user: &str) -> Option<Duration> {
        let locked = self.locked.lock().ok()?;
        let until = *locked.get(user)?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts a failed sign-in of `user`; locks the name out when it is one too many.
    async fn failed(&self, user: &str) {
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
            make_room(&mut locked, user);
            locked.insert(user.to_owned(), Instant::now() + wait);
        }
        tracing::warn!(user, "sign-in locked out after repeated failures");
    }
}

/// Keeps the lockouts under [`MAX_LOCKED`] once `user` is added: expired ones go first, then
/// the one ending soonest.
fn make_room(locked: &mut HashMap<String, Instant>, user: &str) {
    if locked.len() < MAX_LOCKED || locked.contains_key(user) {
        return;
    }
    let now = Instant::now();
    locked.retain(|_, until| *until > now);
    if locked.len() >= MAX_LOCKED
        && let Some(soonest) = locked
            .iter()
            .min_by_key(|(_, until)| **until)
            .map(|(name, _)| name.clone())
    {
        locked.remove(&soonest);
    }
}

/// Why a sign-in failed.
#[derive(Debug)]
pub enum SignInError {
    /// Too many failures for this name: wait this long.
    LockedOut(Duration),
    WrongCredentials,
    /// Longer than any real name or password: refused before it is looked up.
    TooLong,
    StoreUnavailable,
}

/// Checks user names and passwords against the store, throttling failures per name. Clones
/// share one throttle.
#[derive(Clone)]
pub struct PasswordSignIn {
    store: Arc<dyn UserStore>,
    throttle: Arc<LoginThrottle>,
}

impl PasswordSignIn {
    /// Failures count against `limiter`, the gateway's shared rate limiter.
    pub fn new(store: Arc<dyn UserStore>, limiter: Arc<dyn RateLimiter>) -> Self {
        Self {
            store,
            throttle: Arc::new(LoginThrottle::new(limiter)),
        }
    }

    /// The user `username` if `password` is theirs; failures count toward a lockout.
    pub async fn check(&self, username: &str, password: &str) -> Result<User, SignInError> {
        if username.len() > MAX_USERNAME_BYTES || password.len() > MAX_PASSWORD_BYTES {
            return Err(SignInError::TooLong);
        }
        // No user's name has one: operators cannot create such names.
        if username.chars().any(char::is_control) {
            return Err(SignInError::WrongCredentials);
        }
        if let Some(wait) = self.throttle.locked_for(username) {
            return Err(SignInError::LockedOut(wait));
        }
        let record = self
            .store
            .find_password(username)
            .await
            .map_err(|_| SignInError::StoreUnavailable)?;
        let hash = record
            .as_ref()
            .and_then(|r| r.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_owned());
        let known = record.as_ref().is_some_and(|r| r.password_hash.is_some());
        let password = password.to_owned();
        // argon2 takes tens of milliseconds of CPU: off the async threads.
        let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        match record.filter(|_| verified && known) {
            Some(record) => Ok(record.user),
            None => {
                self.throttle.failed(username).await;
                tracing::info!(user = username, "sign-in refused");
                Err(SignInError::WrongCredentials)
            }
        }
    }
}

/// A hash of no one's password, to verify unknown names against.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no user has this password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_held_are_capped_and_the_soonest_ending_goes_first() {
        let mut locked = HashMap::new();
        let now = Instant::now();
        for n in 0..MAX_LOCKED {
            locked.insert(format!("user{n}"), now + Duration::from_secs(60 + n as u64));
        }
        locked.insert("expired".into(), now - Duration::from_secs(1));
        locked.remove("user0");
        make_room(&mut locked, "newcomer");
        assert!(!locked.contains_key("expired"), "expired lockouts go first");
        assert_eq!(locked.len(), MAX_LOCKED - 1);
        locked.insert("newcomer".into(), now + Duration::from_secs(600));
        make_room(&mut locked, "another");
        assert_eq!(locked.len(), MAX_LOCKED - 1);
        assert!(
            !locked.contains_key("user1"),
            "the one ending soonest made room"
        );
        assert!(locked.contains_key("newcomer"));
    }
}
