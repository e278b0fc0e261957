//! One suite for every implementation, through the traits: the in-process state and Redis
//! (the server `TEST_REDIS_URL` names; `scripts/test.sh` starts one). Each test uses
//! names of its own, so tests run in parallel on one server.

// Test code unwraps (a panic is a failed test).
#![allow(clippy::unwrap_used)]

use authgate_state::{
    Claim, IdempotencyStore, MemoryIdempotencyStore, MemoryRateLimiter, Quota, RateDecision,
    RateLimiter, RedisState, StoredResponse,
};
use bytes::Bytes;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod outage;
#[path = "../support/own_redis.rs"]
mod own_redis;

/// The Redis server the suite runs against.
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").expect(
        "TEST_REDIS_URL must name a Redis server (scripts/test.sh starts one); \
         the Redis tests do not skip without it",
    )
}

/// A name no other test, nor an earlier run, uses.
fn unique(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{name}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    Quota {
        per_minute: NonZeroU32::new(per_minute).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
    }
}

fn memory_limiter() -> Arc<dyn RateLimiter> {
    Arc::new(MemoryRateLimiter::new())
}

fn redis_limiter() -> Arc<dyn RateLimiter> {
    Arc::new(RedisState::connect(&redis_url()).unwrap().rate_limiter())
}

fn memory_records() -> Arc<dyn IdempotencyStore> {
    Arc::new(MemoryIdempotencyStore::default())
}

fn redis_records() -> Arc<dyn IdempotencyStore> {
    Arc::new(
        RedisState::connect(&redis_url())
            .unwrap()
            .idempotency_store(),
    )
}

/// Runs each listed test on the in-process state and on Redis.
macro_rules! conformance {
    ($backend:ident, $limiter:expr, $records:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn a_burst_passes_then_the_rate_holds_and_recovers() {
                super::a_burst_passes_then_the_rate_holds_and_recovers($limiter).await;
            }

            #[tokio::test]
            async fn keys_and_buckets_are_counted_apart() {
                super::keys_and_buckets_are_counted_apart($limiter).await;
            }

            #[tokio::test]
            async fn a_long_key_is_counted_like_any_other() {
                super::a_long_key_is_counted_like_any_other($limiter).await;
            }

            #[tokio::test]
            async fn concurrent_checks_are_each_decided_once() {
                super::concurrent_checks_are_each_decided_once($limiter).await;
            }

            #[tokio::test]
            async fn state_answers_pings() {
                $limiter.ping().await.unwrap();
                $records.ping().await.unwrap();
            }

            #[tokio::test]
            async fn a_key_runs_once_then_replays_and_refuses_other_requests() {
                super::a_key_runs_once_then_replays_and_refuses_other_requests($records).await;
            }

            #[tokio::test]
            async fn records_expire_with_the_ttl_of_their_claim() {
                super::records_expire_with_the_ttl_of_their_claim($records).await;
            }

            #[tokio::test]
            async fn a_released_key_is_free_and_stores_no_late_response() {
                super::a_released_key_is_free_and_stores_no_late_response($records).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn of_concurrent_identical_claims_exactly_one_runs() {
                super::of_concurrent_identical_claims_exactly_one_runs($records).await;
            }
        }
    };
}

conformance!(in_memory, memory_limiter(), memory_records());
conformance!(in_redis, redis_limiter(), redis_records());

async fn check(limiter: &dyn RateLimiter, bucket: &str, q: Quota, key: &str) -> RateDecision {
    limiter.check(bucket, q, key).await.unwrap()
}

/// 60 a minute, 3 at once: one request's worth comes back each second.
async fn a_burst_passes_then_the_rate_holds_and_recovers(limiter: Arc<dyn RateLimiter>) {
    let bucket = unique("burst");
    let q = quota(60, 3);
    let second = Duration::from_secs(1);
    for (used, remaining) in [(1, 2), (2, 1), (3, 0)] {
        let decision = check(limiter.as_ref(), &bucket, q, "app_a").await;
        assert!(decision.allowed);
        assert_eq!(decision.remaining, remaining);
        assert_eq!(
            decision.reset_after,
            second * used,
            "full again after {used} s"
        );
        assert_eq!(decision.retry_after, None);
    }
    let refused = check(limiter.as_ref(), &bucket, q, "app_a").await;
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    let wait = refused.retry_after.unwrap();
    assert!(
        wait > Duration::from_millis(800) && wait <= second,
        "one request's worth is about a second away: {wait:?}"
    );
    assert_eq!(
        refused.reset_after,
        wait + second * 2,
        "the whole burst is back two intervals after the next request's"
    );

    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    let after = check(limiter.as_ref(), &bucket, q, "app_a").await;
    assert!(after.allowed, "one request's worth came back");
    assert_eq!(after.remaining, 0);
    assert_eq!(after.reset_after, second * 3);
    assert!(
        !check(limiter.as_ref(), &bucket, q, "app_a").await.allowed,
        "and only one"
    );
}

/// 400 checks at once (more than Redis is asked in one call), on two counters in turn, 50 at
/// once allowed: on each counter exactly 50 pass, each told a different number of requests
/// left, as if they came one by one.
async fn concurrent_checks_are_each_decided_once(limiter: Arc<dyn RateLimiter>) {
    let bucket = unique("concurrent");
    let q = quota(1, 50);
    let mut checks = tokio::task::JoinSet::new();
    for n in 0..400 {
        let limiter = limiter.clone();
        let bucket = bucket.clone();
        let app = if n % 2 == 0 { "app_a" } else { "app_b" };
        checks.spawn(async move { (app, check(limiter.as_ref(), &bucket, q, app).await) });
    }
    let decisions = checks.join_all().await;
    for app in ["app_a", "app_b"] {
        let mut remaining: Vec<u32> = decisions
            .iter()
            .filter(|(of, decision)| *of == app && decision.allowed)
            .map(|(_, decision)| decision.remaining)
            .collect();
        remaining.sort_unstable();
        assert_eq!(remaining, (0..50).collect::<Vec<u32>>(), "{app}");
    }
    assert!(
        decisions
            .iter()
            .filter(|(_, decision)| !decision.allowed)
            .all(|(_, decision)| decision.retry_after.is_some() && decision.remaining == 0)
    );
}

async fn keys_and_buckets_are_counted_apart(limiter: Arc<dyn RateLimiter>) {
    let (default, route) = (unique("default"), unique("route:tasks"));
    let q = quota(60, 1);
    assert!(check(limiter.as_ref(), &default, q, "app_a").await.allowed);
    assert!(!check(limiter.as_ref(), &default, q, "app_a").await.allowed);
    assert!(check(limiter.as_ref(), &default, q, "app_b").await.allowed);
    assert!(check(limiter.as_ref(), &route, q, "app_a").await.allowed);
}

async fn a_long_key_is_counted_like_any_other(limiter: Arc<dyn RateLimiter>) {
    let bucket = unique("login");
    let q = quota(60, 1);
    let long = "u".repeat(10_000);
    let longer = "u".repeat(10_001);
    assert!(check(limiter.as_ref(), &bucket, q, &long).await.allowed);
    assert!(!check(limiter.as_ref(), &bucket, q, &long).await.allowed);
    assert!(check(limiter.as_ref(), &bucket, q, &longer).await.allowed);
}

fn response(body: &'static [u8]) -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            (
                "content-type".into(),
                Bytes::from_static(b"application/json"),
            ),
            ("set-cookie".into(), Bytes::from_static(b"a=1")),
            ("set-cookie".into(), Bytes::from_static(b"b=\x80\xff")),
        ],
        body: Bytes::from_static(body),
    }
}

async fn a_key_runs_once_then_replays_and_refuses_other_requests(
    records: Arc<dyn IdempotencyStore>,
) {
    let (key, other) = (unique("app:k"), unique("other:k"));
    let ttl = Duration::from_secs(60);
    let stored = response(b"{\"id\":1}\x00\xff binary");
    assert_eq!(
        records.claim(&key, &[1; 32], ttl).await.unwrap(),
        Claim::Run
    );
    assert_eq!(
        records.claim(&key, &[1; 32], ttl).await.unwrap(),
        Claim::InFlight
    );
    assert_eq!(
        records.claim(&key, &[2; 32], ttl).await.unwrap(),
        Claim::Mismatch
    );
    records.complete(&key, stored.clone()).await.unwrap();
    assert_eq!(
        records.claim(&key, &[1; 32], ttl).await.unwrap(),
        Claim::Replay(stored),
        "byte for byte"
    );
    assert_eq!(
        records.claim(&key, &[2; 32], ttl).await.unwrap(),
        Claim::Mismatch
    );
    assert_eq!(
        records.claim(&other, &[1; 32], ttl).await.unwrap(),
        Claim::Run,
        "keys are apart"
    );
}

async fn records_expire_with_the_ttl_of_their_claim(records: Arc<dyn IdempotencyStore>) {
    let (in_flight, completed) = (unique("k"), unique("k"));
    let ttl = Duration::from_millis(300);
    let claimed = Instant::now();
    assert_eq!(
        records.claim(&in_flight, &[1; 32], ttl).await.unwrap(),
        Claim::Run
    );
    assert_eq!(
        records.claim(&completed, &[1; 32], ttl).await.unwrap(),
        Claim::Run
    );
    records
        .complete(&completed, response(b"done"))
        .await
        .unwrap();
    assert!(matches!(
        records.claim(&completed, &[1; 32], ttl).await.unwrap(),
        Claim::Replay(_)
    ));
    // Completing does not start the TTL again.
    tokio::time::sleep((claimed + ttl + Duration::from_millis(100)) - Instant::now()).await;
    for key in [&in_flight, &completed] {
        assert_eq!(
            records
                .claim(key, &[2; 32], Duration::from_secs(1))
                .await
                .unwrap(),
            Claim::Run,
            "{key} expired"
        );
    }
}

async fn a_released_key_is_free_and_stores_no_late_response(records: Arc<dyn IdempotencyStore>) {
    let key = unique("k");
    let ttl = Duration::from_secs(60);
    assert_eq!(
        records.claim(&key, &[1; 32], ttl).await.unwrap(),
        Claim::Run
    );
    records.release(&key).await.unwrap();
    records.complete(&key, response(b"late")).await.unwrap();
    assert_eq!(
        records.claim(&key, &[2; 32], ttl).await.unwrap(),
        Claim::Run,
        "released, and nothing stored after"
    );
    records.release(&key).await.unwrap();
    records.release(&key).await.unwrap();
}

async fn of_concurrent_identical_claims_exactly_one_runs(records: Arc<dyn IdempotencyStore>) {
    let key = unique("k");
    let claims: Vec<_> = (0..64)
        .map(|_| {
            let (records, key) = (records.clone(), key.clone());
            tokio::spawn(async move {
                records
                    .claim(&key, &[7; 32], Duration::from_secs(60))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut runs = 0;
    for claim in claims {
        match claim.await.unwrap() {
            Claim::Run => runs += 1,
            Claim::InFlight => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(runs, 1);
}

/// Redis decides as the in-process limiter does: the same calls at the same moments get the same
/// answers. 600 a minute (one every 100 ms), 5 at once; the calls are made between the moments
/// a request's worth comes back, so that the two limiters cannot be on either side of one.
#[tokio::test]
async fn redis_decides_as_the_in_process_limiter() {
    let memory = memory_limiter();
    let redis = redis_limiter();
    let bucket = unique("same");
    let q = quota(600, 5);
    let start = Instant::now();
    let mut compared = 0;
    for (at, calls) in [
        (0, 8),
        (250, 3),
        (650, 2),
        (1_450, 7),
        (1_500, 1),
        (3_050, 6),
    ] {
        tokio::time::sleep(
            (start + Duration::from_millis(at)).saturating_duration_since(Instant::now()),
        )
        .await;
        for call in 0..calls {
            let expected = check(memory.as_ref(), &bucket, q, "app").await;
            let got = check(redis.as_ref(), &bucket, q, "app").await;
            let context = format!("at {at} ms, call {call}: {expected:?} / {got:?}");
            assert_eq!(got.allowed, expected.allowed, "{context}");
            assert_eq!(got.remaining, expected.remaining, "{context}");
            assert!(close(got.reset_after, expected.reset_after), "{context}");
            match (got.retry_after, expected.retry_after) {
                (None, None) => {}
                (Some(got), Some(expected)) => assert!(close(got, expected), "{context}"),
                _ => panic!("{context}"),
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 27);
}

/// Within the time two calls made one after the other can be apart.
fn close(a: Duration, b: Duration) -> bool {
    a.abs_diff(b) <= Duration::from_millis(20)
}

/// Redis's keys: namespaced, bounded however long the client's part, and expiring when the
/// counter is full again.
#[tokio::test]
async fn redis_keys_are_namespaced_bounded_and_expire() {
    let limiter = redis_limiter();
    let bucket = unique("route:api");
    let q = quota(60, 2);
    let long = "k".repeat(1_000);
    check(limiter.as_ref(), &bucket, q, "app_1").await;
    check(limiter.as_ref(), &bucket, q, &long).await;
    check(limiter.as_ref(), &bucket, q, &long).await;

    let client = redis::Client::open(redis_url()).unwrap();
    let connection = client.get_multiplexed_async_connection().await.unwrap();
    let ttl = |key: String| {
        let mut connection = connection.clone();
        async move {
            redis::cmd("PTTL")
                .arg(key)
                .query_async::<i64>(&mut connection)
                .await
                .unwrap()
        }
    };
    let one_used = ttl(format!("authgate:rl:{bucket}:app_1")).await;
    assert!(
        (1..=1_000).contains(&one_used),
        "full again in 1 s: {one_used}"
    );
    use sha2::Digest as _;
    let hashed = format!(
        "authgate:rl:{bucket}:sha256={}",
        hex::encode(sha2::Sha256::digest(long.as_bytes()))
    );
    let two_used = ttl(hashed).await;
    assert!(
        (1_000..=2_000).contains(&two_used),
        "full again in 2 s: {two_used}"
    );
    let idempotency = RedisState::connect(&redis_url())
        .unwrap()
        .idempotency_store();
    let key = unique("app_1:order");
    idempotency
        .claim(&key, &[1; 32], Duration::from_secs(60))
        .await
        .unwrap();
    let record = ttl(format!("authgate:idem:{key}")).await;
    assert!((59_000..=60_000).contains(&record), "{record}");
}

/// A request that gives up while its claim is on the way to Redis does not leave the key in
/// flight until the TTL ends.
#[tokio::test]
async fn redis_releases_a_claim_whose_request_gave_up() {
    let records = redis_records();
    let key = unique("app:abandoned");
    let ttl = Duration::from_secs(60);
    // Polled once (which sends it), then dropped.
    let mut claim = records.claim(&key, &[1; 32], ttl);
    let first_poll =
        std::future::poll_fn(|cx| std::task::Poll::Ready(claim.as_mut().poll(cx))).await;
    assert!(first_poll.is_pending(), "the claim was still on its way");
    drop(claim);
    let mut claim = Claim::InFlight;
    for _ in 0..50 {
        claim = records.claim(&key, &[2; 32], ttl).await.unwrap();
        if claim == Claim::Run {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(claim, Claim::Run, "released, so another request may run");
}
