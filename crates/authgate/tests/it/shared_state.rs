//! Two instances sharing rate limits and idempotency records through Redis (`[state] backend =
//! "redis"`): the server `TEST_REDIS_URL` names (`scripts/test.sh` starts one), or,
//! to stop and start it, a `redis-server` of the test's own.

use crate::harness::{
    Gateway, NO_HANG, Upstream, background_load, client_waiting, eventually, route_to,
};
use crate::own_redis::{OwnRedis, free_port};
use reqwest::StatusCode;
use serde_json::Value;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").expect(
        "TEST_REDIS_URL must name a Redis server (scripts/test.sh starts one); \
         these tests do not skip without it",
    )
}

/// `[state]` on the Redis at `url`, then `routes`.
fn on_redis(url: &str, on_error: &str, routes: &str) -> String {
    format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{url}\"\non_error = \"{on_error}\"\n{routes}"
    )
}

/// Redis's clock (`TIME`), which the limiter decides on.
fn redis_clock(url: &str) -> Duration {
    let out = Command::new("redis-cli")
        .args(["-u", url, "TIME"])
        .output()
        .expect("redis-cli (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    let (seconds, micros) = (numbers.next().unwrap(), numbers.next().unwrap());
    Duration::from_secs(seconds) + Duration::from_micros(micros)
}

fn client() -> reqwest::Client {
    client_waiting(NO_HANG)
}

#[tokio::test]
async fn a_limit_holds_across_both_instances_under_load() {
    // 600 a minute (one every 100 ms), 20 at once, counted for one application on two
    // instances; far more is sent, spread over both.
    let config = on_redis(
        &redis_url(),
        "open",
        &route_to("builtin:echo", "rate_limit = { rpm = 600, burst = 20 }"),
    );
    let one = Gateway::start(&config);
    let other = Gateway::start_beside(&one, &config);
    let app = one.app("api-key");
    let (_, secret) = one.key(&app, &[]);

    let client = client();
    let redis_start = redis_clock(&redis_url());
    let start = Instant::now();
    let load = Duration::from_secs(5);
    let sent = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..8)
        .map(|n| {
            let urls = [one.url("/"), other.url("/")];
            let (client, secret, sent) = (client.clone(), secret.clone(), sent.clone());
            tokio::spawn(async move {
                let mut passed = [0u64; 2];
                let mut i = n;
                while start.elapsed() < load {
                    let which = i % 2;
                    i += 1;
                    let response = client
                        .get(&urls[which])
                        .header("X-API-Key", &secret)
                        .send()
                        .await
                        .unwrap();
                    sent.fetch_add(1, Ordering::Relaxed);
                    match response.status() {
                        StatusCode::OK
                            if response.headers().get("x-ratelimit-remaining").is_none() =>
                        {
                            panic!("passed uncounted: the limiter did not answer")
                        }
                        StatusCode::OK => passed[which] += 1,
                        StatusCode::TOO_MANY_REQUESTS => {}
                        other => panic!("{other}"),
                    }
                }
                passed
            })
        })
        .collect();
    let mut passed = [0u64; 2];
    for sender in senders {
        let counts = sender.await.unwrap();
        passed[0] += counts[0];
        passed[1] += counts[1];
    }
    let elapsed = start.elapsed();
    // Over the time Redis's clock saw pass: a step of the system clock (as when a virtual
    // machine is paused) refills the bucket as if that time had passed.
    let on_redis = redis_clock(&redis_url()).saturating_sub(redis_start);
    let total = passed[0] + passed[1];
    let allowed = 20.0 + on_redis.as_secs_f64() * 10.0;
    let sent = sent.load(Ordering::Relaxed);
    eprintln!(
        "shared limit: {total} passed ({} + {}) of {sent} sent in {elapsed:?} ({on_redis:?} on \
         Redis's clock); the quota allows {allowed:.1}",
        passed[0], passed[1]
    );
    assert!(
        sent as f64 > allowed * 5.0,
        "far more than allowed was sent"
    );
    assert!(
        (total as f64 - allowed).abs() <= allowed * 0.05,
        "{total} passed, {allowed:.1} allowed"
    );
    assert!(
        passed[0] > 0 && passed[1] > 0,
        "both instances let requests through"
    );
}

async fn post(
    client: &reqwest::Client,
    gateway: &Gateway,
    path: &str,
    secret: &str,
    key: &str,
) -> reqwest::Response {
    client
        .post(gateway.url(path))
        .header("X-API-Key", secret)
        .header("Idempotency-Key", key)
        .body("{\"qty\":1}")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_idempotency_key_used_on_one_instance_is_replayed_by_the_other() {
    let upstream = Upstream::start();
    let config = on_redis(&redis_url(), "open", &route_to(&upstream.url(), ""));
    let one = Gateway::start(&config);
    let other = Gateway::start_beside(&one, &config);
    let app = one.app("api-key");
    let (_, secret) = one.key(&app, &[]);
    let client = client();

    let first = post(&client, &one, "/orders", &secret, "order-1").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.bytes().await.unwrap();
    let again = post(&client, &other, "/orders", &secret, "order-1").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first_body, "the same bytes");
    assert_eq!(upstream.hits().await, 1);

    // Concurrent duplicates spread over both instances, while the first takes 300 ms: one
    // reaches the upstream; the others are told it is in flight, or get its answer.
    let duplicates: Vec<_> = (0..20)
        .map(|n| {
            let gateway = if n % 2 == 0 { &one } else { &other };
            post(&client, gateway, "/delay", &secret, "order-2")
        })
        .collect();
    let mut ran = 0;
    for response in futures_util::future::join_all(duplicates).await {
        match response.status() {
            StatusCode::OK if response.headers().get("idempotent-replayed").is_none() => ran += 1,
            StatusCode::OK | StatusCode::CONFLICT => {}
            status => panic!("{status}"),
        }
    }
    assert_eq!(ran, 1);
    assert_eq!(
        upstream.hits().await,
        2,
        "the duplicates reached the upstream once"
    );
    let later = post(&client, &other, "/delay", &secret, "order-2").await;
    assert_eq!(later.headers()["idempotent-replayed"], "true");
}

/// Load on both instances for as long as `running`: every answer's status and the slowest.
async fn readiness(client: &reqwest::Client, url: String) -> (StatusCode, Value) {
    let response = client.get(url).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn redis_stopped_and_started_mid_load_fails_open_then_everything_returns() {
    let upstream = Upstream::start();
    let port = free_port();
    let mut redis = OwnRedis::start(port);
    let routes = format!(
        "{}[[routes]]\nname = \"limited\"\npath_prefix = \"/limited\"\nupstream = \"{}\"\n\
         rate_limit = {{ rpm = 600000, burst = 10000 }}\n",
        route_to(&upstream.url(), ""),
        upstream.url()
    );
    let config = on_redis(&format!("redis://127.0.0.1:{port}"), "open", &routes);
    let one = Gateway::start(&config);
    let other = Gateway::start_beside(&one, &config);
    let app = one.app("api-key");
    let (_, secret) = one.key(&app, &[]);
    let client = client();
    let limited = client
        .get(one.url("/limited"))
        .header("X-API-Key", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::OK);
    assert!(limited.headers().get("x-ratelimit-remaining").is_some());

    let running = Arc::new(AtomicBool::new(true));
    let urls = [&one, &other].map(|gateway| gateway.url("/limited"));
    let load = background_load(urls.into(), &secret, running.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    drop(redis);
    let stopped = Instant::now();
    for gateway in [&one, &other] {
        // Limited requests pass, unlimited (no headers: nothing was counted).
        let response = client
            .get(gateway.url("/limited"))
            .header("X-API-Key", &secret)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("x-ratelimit-remaining").is_none());
        // An idempotent request is refused: it may have run already.
        let refused = post(&client, gateway, "/orders", &secret, "while-down").await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "state_unavailable");
        assert_eq!(
            body["message"],
            "Shared state is unavailable; try again shortly."
        );
        for url in [gateway.url("/readyz"), gateway.admin_url("/readyz")] {
            let (status, body) = readiness(&client, url).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(body["state"], "unreachable", "{body}");
            assert_eq!(body["store"], "ok", "{body}");
        }
    }
    // Down for a while under load, then back.
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(stopped.elapsed())).await;
    redis = OwnRedis::start(port);
    let back = Instant::now();
    for gateway in [&one, &other] {
        let ready = eventually(Duration::from_secs(5), || async {
            readiness(&client, gateway.url("/readyz")).await.0 == StatusCode::OK
        })
        .await;
        assert!(ready.is_some(), "ready again within 5 s of Redis");
        let counted = eventually(Duration::from_secs(5), || async {
            client
                .get(gateway.url("/limited"))
                .header("X-API-Key", &secret)
                .send()
                .await
                .unwrap()
                .headers()
                .get("x-ratelimit-remaining")
                .is_some()
        })
        .await;
        assert!(counted.is_some(), "counted again");
        let key = format!("after-{}", gateway.addr.port());
        let ran = post(&client, gateway, "/orders", &secret, &key).await;
        assert_eq!(ran.status(), StatusCode::OK);
    }
    eprintln!(
        "everything answered again {:?} after Redis came back",
        back.elapsed()
    );
    let replayed = post(
        &client,
        &one,
        "/orders",
        &secret,
        &format!("after-{}", other.addr.port()),
    )
    .await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");

    running.store(false, Ordering::Relaxed);
    let (statuses, slowest) = load.await.unwrap();
    eprintln!(
        "background load: {} requests, slowest {slowest:?}",
        statuses.len()
    );
    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "limits failed open"
    );
    assert!(
        slowest < Duration::from_secs(2),
        "slowest answer {slowest:?}"
    );
    let logs = one.logs();
    // Each request that met the outage, at most one warning every 5 s.
    let warnings = logs.matches("authgate_gateway::state_outage").count();
    assert!(
        (1..=2).contains(&warnings),
        "warned, but not for every request: {warnings}\n{}",
        logs.lines()
            .filter(|line| line.contains("WARN"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(redis);
}

#[tokio::test]
async fn with_on_error_closed_a_limited_route_is_503_until_redis_answers() {
    let port = free_port();
    let routes = format!(
        "[[routes]]\nname = \"limited\"\npath_prefix = \"/limited\"\nupstream = \"builtin:echo\"\n\
         rate_limit = {{ rpm = 600, burst = 100 }}\n{}",
        route_to("builtin:echo", "")
    );
    // Started while nothing listens there.
    let gateway = Gateway::start(&on_redis(
        &format!("redis://127.0.0.1:{port}"),
        "closed",
        &routes,
    ));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let client = client();
    let get = |path: &'static str| {
        client
            .get(gateway.url(path))
            .header("X-API-Key", &secret)
            .send()
    };

    let refused = get("/limited").await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["content-type"], "application/json");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "state_unavailable");
    assert_eq!(body["error"], "Service Unavailable");
    assert_eq!(
        get("/open").await.unwrap().status(),
        StatusCode::OK,
        "unlimited routes pass"
    );

    let _redis = OwnRedis::start(port);
    let back = eventually(Duration::from_secs(5), || async {
        get("/limited").await.unwrap().status() == StatusCode::OK
    })
    .await;
    assert!(
        back.is_some(),
        "limited again, not refused, once Redis answers"
    );
}
