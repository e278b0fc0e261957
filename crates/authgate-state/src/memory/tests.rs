use super::*;
use governor::clock::FakeRelativeClock;
use std::num::NonZeroU32;
use std::time::Duration;

fn quota(per_minute: u32, burst: u32) -> Quota {
    Quota {
        per_minute: NonZeroU32::new(per_minute).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
    }
}

#[tokio::test]
async fn a_burst_passes_then_the_rate_holds_and_recovers() {
    let clock = FakeRelativeClock::default();
    let limiter = MemoryRateLimiter::with_clock(clock.clone());
    let q = quota(60, 3);
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let d = limiter.check("default", q, "app_a").await.unwrap();
        assert!(d.allowed);
        remaining.push(d.remaining);
    }
    assert_eq!(remaining, vec![2, 1, 0]);
    let refused = limiter.check("default", q, "app_a").await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.retry_after, Some(Duration::from_secs(1)));

    clock.advance(Duration::from_secs(1));
    let after = limiter.check("default", q, "app_a").await.unwrap();
    assert!(
        after.allowed,
        "one request's worth came back after the emission interval"
    );
    assert_eq!(after.remaining, 0);
    assert_eq!(after.reset_after, Duration::from_secs(3));
}

#[tokio::test]
async fn keys_and_buckets_are_counted_apart() {
    let limiter = MemoryRateLimiter::with_clock(FakeRelativeClock::default());
    let q = quota(60, 1);
    assert!(limiter.check("default", q, "app_a").await.unwrap().allowed);
    assert!(!limiter.check("default", q, "app_a").await.unwrap().allowed);
    assert!(limiter.check("default", q, "app_b").await.unwrap().allowed);
    assert!(
        limiter
            .check("route:tasks", q, "app_a")
            .await
            .unwrap()
            .allowed
    );
}

#[tokio::test]
async fn keys_whose_counters_are_full_again_are_forgotten() {
    let clock = FakeRelativeClock::default();
    let limiter = MemoryRateLimiter::with_clock(clock.clone());
    let q = quota(60, 2);
    for n in 0..1000 {
        limiter
            .check("login", q, &format!("user{n}"))
            .await
            .unwrap();
    }
    limiter.check("login", q, "busy").await.unwrap();
    limiter.check("login", q, "busy").await.unwrap();
    let held = |limiter: &MemoryRateLimiter<FakeRelativeClock>| -> usize {
        lock(&limiter.limiters)
            .values()
            .flatten()
            .map(|(_, keyed)| keyed.len())
            .sum()
    };
    assert_eq!(held(&limiter), 1001);

    limiter.forget_idle();
    assert_eq!(held(&limiter), 1001, "counters not yet full again are kept");
    // One request's worth comes back each second: the single requests' keys are full again
    // (governor keeps a key one interval past that), the busy key is still one short.
    clock.advance(Duration::from_millis(2500));
    limiter.forget_idle();
    assert_eq!(
        held(&limiter),
        1,
        "only the key still below its burst is held"
    );
}
