//! Rate limits per application: honest headers, 429 with Retry-After, recovery, per-route buckets.

use crate::harness::{Gateway, Upstream, eventually, route_to};
use reqwest::StatusCode;
use std::time::Duration;

async fn get(gateway: &Gateway, path: &str, secret: &str) -> reqwest::Response {
    gateway.get_with_key(path, secret).await
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The `t` of a `RateLimit` field: seconds until the bucket is full again.
fn full_in(response: &reqwest::Response) -> i64 {
    let field = header(response, "ratelimit");
    field.rsplit_once(";t=").unwrap().1.parse().unwrap()
}

#[tokio::test]
async fn a_burst_beyond_the_limit_gets_429_and_the_limit_recovers() {
    let upstream = Upstream::start();
    // 20 a minute: one request's worth every 3 s, slow enough that no step below races it.
    let gateway = Gateway::start(&route_to(
        &upstream.url(),
        "rate_limit = { rpm = 20, burst = 3 }",
    ));
    let app = gateway.app("api-key");
    let (_, first) = gateway.key(&app, &[]);
    let (_, second) = gateway.key(&app, &[]);

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = get(&gateway, "/", &first).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-ratelimit-limit"), "20");
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"route:api\";q=20;w=60"
        );
        let left = header(&response, "x-ratelimit-remaining");
        assert!(
            header(&response, "ratelimit").starts_with(&format!("\"route:api\";r={left};t=")),
            "{}",
            header(&response, "ratelimit")
        );
        // The bucket is full again once the used requests' worth has come back, 3 s each.
        let used = 3 - left.parse::<i64>().unwrap();
        let t = full_in(&response);
        assert!(
            (3 * used - 1..=3 * used).contains(&t),
            "t={t} after {used} used"
        );
        // X-RateLimit-Reset names the same moment as a Unix time.
        let reset: i64 = header(&response, "x-ratelimit-reset").parse().unwrap();
        assert!((reset - unix_now() - t).abs() <= 1, "reset {reset}, t {t}");
        remaining.push(left);
    }
    assert_eq!(remaining, ["2", "1", "0"]);

    // The limit belongs to the application: its other key is refused too. Retry-After is
    // when one more request would pass, which comes before the whole burst is back.
    let refused = get(&gateway, "/", &second).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=3).contains(&retry_after), "{retry_after}");
    assert!(retry_after <= full_in(&refused));
    assert_eq!(header(&refused, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&refused, "content-type"), "application/json");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["error"], "Too Many Requests");
    assert_eq!(
        upstream.hits().await,
        3,
        "a refused request never reaches the upstream"
    );

    // Another application has its own counters.
    let other = gateway.app("api-key");
    let (_, other_key) = gateway.key(&other, &[]);
    assert_eq!(
        get(&gateway, "/", &other_key).await.status(),
        StatusCode::OK
    );

    // One request's worth comes back (within Retry-After), and only one.
    let recovered = eventually(Duration::from_secs(5), || async {
        get(&gateway, "/", &first).await.status() == StatusCode::OK
    })
    .await;
    assert!(recovered.is_some(), "the limit recovers");
    assert_eq!(
        get(&gateway, "/", &first).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_default_limit_comes_from_the_environment_and_routes_override_it() {
    let upstream = Upstream::start();
    let config = format!(
        "[[routes]]\nname = \"open\"\npath_prefix = \"/open/\"\nupstream = \"{0}\"\nrate_limit = {{ rpm = 6000 }}\n\
         [[routes]]\nname = \"rest\"\npath_prefix = \"/\"\nupstream = \"{0}\"\n",
        upstream.url()
    );
    let gateway = Gateway::start_with_env(
        &config,
        &[("RATE_LIMIT_RPM", "60"), ("RATE_LIMIT_BURST", "2")],
    );
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);

    assert_eq!(get(&gateway, "/a", &secret).await.status(), StatusCode::OK);
    assert_eq!(get(&gateway, "/b", &secret).await.status(), StatusCode::OK);
    let refused = get(&gateway, "/c", &secret).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        "\"default\";q=60;w=60"
    );

    for _ in 0..5 {
        let response = get(&gateway, "/open/x", &secret).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "the route's own bucket is counted apart"
        );
        assert_eq!(header(&response, "x-ratelimit-limit"), "6000");
    }
}

#[tokio::test]
async fn without_a_limit_no_rate_headers_are_sent() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let response = get(&gateway, "/", &secret).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-ratelimit-limit").is_none());
}
