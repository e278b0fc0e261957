//! Redis gone: an error comes quickly (never a hang), and state works again once Redis is back.

use crate::own_redis::{OwnRedis, free_port};
use authgate_state::{RateLimiter, RedisState};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn quota() -> authgate_state::Quota {
    let n = std::num::NonZeroU32::new(600).unwrap();
    authgate_state::Quota {
        per_minute: n,
        burst: n,
    }
}

/// How long `limiter` takes to answer, and whether it could.
async fn timed(limiter: &dyn RateLimiter) -> (Duration, bool) {
    let start = Instant::now();
    let answered = limiter.check("outage", quota(), "app").await.is_ok();
    (start.elapsed(), answered)
}

#[tokio::test]
async fn nobody_listening_is_an_error_at_once_and_then_without_trying() {
    let state = RedisState::connect(&format!("redis://127.0.0.1:{}", free_port())).unwrap();
    let limiter = state.rate_limiter();
    let (took, answered) = timed(&limiter).await;
    assert!(!answered);
    assert!(took < Duration::from_millis(500), "{took:?}");
    let (took, answered) = timed(&limiter).await;
    assert!(!answered);
    assert!(
        took < Duration::from_millis(20),
        "no new attempt yet: {took:?}"
    );
    assert!(state.ping().await.is_err());
}

#[tokio::test]
async fn a_server_that_never_answers_is_an_error_within_the_timeout() {
    // Connections complete in the backlog; nothing is ever read or answered.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let state = RedisState::connect(&url).unwrap();
    let limiter = state.rate_limiter();
    let (took, answered) = timed(&limiter).await;
    assert!(!answered);
    assert!(took < Duration::from_millis(500), "{took:?}");
    let start = Instant::now();
    assert!(state.ping().await.is_err());
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn state_works_again_once_redis_is_back() {
    let port = free_port();
    let mut redis = OwnRedis::start(port);
    let state = RedisState::connect(&format!("redis://127.0.0.1:{port}")).unwrap();
    let limiter = state.rate_limiter();
    assert!(timed(&limiter).await.1);

    drop(redis);
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(2) {
        let (took, answered) = timed(&limiter).await;
        assert!(!answered, "Redis is down");
        assert!(took < Duration::from_millis(500), "{took:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    redis = OwnRedis::start(port);
    let back = Instant::now();
    while !timed(&limiter).await.1 {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "still failing 5 s after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("answering again {:?} after Redis came back", back.elapsed());
    state.ping().await.unwrap();
    drop(redis);
}
