//! What operators see of the traffic: usage per application (CLI and admin API) and Prometheus
//! metrics on the admin listener.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// An API route limited to a burst of 5, and a route needing a permission nobody here has.
fn routes(upstream: &str) -> String {
    format!(
        "[[routes]]\nname = \"api\"\npath_prefix = \"/\"\nupstream = \"{upstream}\"\n\
         rate_limit = {{ rpm = 6, burst = 5 }}\n\
         [[routes]]\nname = \"secrets\"\npath_prefix = \"/secrets\"\nupstream = \"{upstream}\"\n\
         permission = \"secrets\"\n"
    )
}

const FAST_FLUSH: [(&str, &str); 1] = [("AUTHGATE_STORE__FLUSH_INTERVAL", "100ms")];

async fn status_of(gateway: &Gateway, path: &str, secret: &str) -> StatusCode {
    gateway.get_with_key(path, secret).await.status()
}

#[tokio::test]
async fn usage_from_the_cli_equals_the_requests_sent_by_outcome() {
    let upstream = Upstream::start();
    let gateway = Gateway::start_with_env(&routes(&upstream.url()), &FAST_FLUSH);
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let (revoked_id, revoked) = gateway.key(&app, &[]);
    gateway.json(&["keys", "revoke", &revoked_id]);
    let other_app = gateway.app("api-key");
    let (_, other) = gateway.key(&other_app, &[]);

    for _ in 0..4 {
        assert_eq!(status_of(&gateway, "/ok", &secret).await, StatusCode::OK);
    }
    assert_eq!(
        status_of(&gateway, "/fail", &secret).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    for _ in 0..2 {
        assert_eq!(
            status_of(&gateway, "/ok", &secret).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    for _ in 0..3 {
        assert_eq!(
            status_of(&gateway, "/secrets/x", &secret).await,
            StatusCode::FORBIDDEN
        );
    }
    for _ in 0..2 {
        assert_eq!(
            status_of(&gateway, "/ok", &revoked).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Neither another application's request nor an unknown key is charged to this one.
    assert_eq!(status_of(&gateway, "/ok", &other).await, StatusCode::OK);
    assert_eq!(
        status_of(&gateway, "/ok", "sk_test_unknown").await,
        StatusCode::UNAUTHORIZED
    );

    let expected = json!({
        "allowed": 5,
        "denied": {"insufficient_permissions": 3, "rate_limited": 2, "revoked_credentials": 2},
        "status": {"2xx": 4, "4xx": 7, "5xx": 1},
    });
    let total = |report: &Value| {
        json!({
            "allowed": report["total"]["allowed"],
            "denied": report["total"]["denied"],
            "status": report["total"]["status"],
        })
    };
    let flushed = eventually(Duration::from_secs(5), || async {
        total(&gateway.json(&["apps", "usage", &app])) == expected
    })
    .await;
    let report = gateway.json(&["apps", "usage", &app]);
    assert!(flushed.is_some(), "usage {report:#}");
    // Per minute, the counts add up to the total (the requests may straddle a minute).
    let minutes = report["minutes"].as_array().unwrap();
    assert!((1..=2).contains(&minutes.len()), "{report:#}");
    let allowed: u64 = minutes.iter().map(|m| m["allowed"].as_u64().unwrap()).sum();
    assert_eq!(allowed, 5);
    assert_eq!(minutes[0]["minute"].as_i64().unwrap() % 60, 0);
    // The other application's request may land in a later flush than this one's last.
    let other_flushed = eventually(Duration::from_secs(5), || async {
        total(&gateway.json(&["apps", "usage", &other_app]))["allowed"] == 1
    })
    .await;
    assert!(other_flushed.is_some(), "the other application's request");

    // The text form shows the same totals.
    let text = gateway.cli(&["apps", "usage", &app]);
    let text = String::from_utf8(text.stdout).unwrap();
    let total_line = text.lines().last().unwrap();
    assert_eq!(
        total_line.split_whitespace().collect::<Vec<_>>(),
        [
            "total",
            "5",
            "7",
            "insufficient_permissions=3,rate_limited=2,revoked_credentials=2",
            "4",
            "0",
            "7",
            "1"
        ]
    );

    // A window that ends before the requests holds nothing; a bad window is refused.
    let before = gateway.json(&[
        "apps",
        "usage",
        &app,
        "--from",
        "2020-01-01T00:00:00Z",
        "--to",
        "2020-01-02T00:00:00Z",
    ]);
    assert_eq!(before["minutes"], json!([]));
    let refused = gateway.cli(&["apps", "usage", &app, "--from", "tomorrow-ish"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--from"));
    let missing = gateway.cli(&["apps", "usage", "app_missing"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));

    // The admin API answers the same report, to admins only.
    let client = reqwest::Client::new();
    let usage_url = gateway.admin_url(&format!("/admin/api/v1/applications/{app}/usage"));
    let answered: Value = client
        .get(&usage_url)
        .bearer_auth(gateway.admin_token())
        .fetch_json()
        .await;
    assert_eq!(total(&answered), expected);
    // The scheme's name is case-insensitive (RFC 7235), as it is on the gateway.
    let lower_case = client
        .get(&usage_url)
        .header("Authorization", format!("bearer {}", gateway.admin_token()))
        .fetch()
        .await;
    assert_eq!(lower_case.status(), StatusCode::OK);
    let anonymous = client.get(&usage_url).fetch().await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["code"], "missing_credentials");
    // An application key is not an admin token.
    let with_key = client.get(&usage_url).bearer_auth(&secret).fetch().await;
    assert_eq!(with_key.status(), StatusCode::UNAUTHORIZED);
    let unknown_app = client
        .get(gateway.admin_url("/admin/api/v1/applications/app_missing/usage"))
        .bearer_auth(gateway.admin_token())
        .fetch()
        .await;
    assert_eq!(unknown_app.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown_app.json::<Value>().await.unwrap()["code"],
        "not_found"
    );
}

#[tokio::test]
async fn usage_counted_before_a_shutdown_is_written_at_shutdown() {
    let upstream = Upstream::start();
    // The default flush interval (5 s) is longer than this test waits.
    let mut gateway = Gateway::start(&routes(&upstream.url()));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    for _ in 0..3 {
        assert_eq!(status_of(&gateway, "/ok", &secret).await, StatusCode::OK);
    }
    gateway.terminate();
    let exit = gateway.wait(Duration::from_secs(10)).expect("exits");
    assert!(exit.success());
    let report = gateway.json(&["apps", "usage", &app]);
    assert_eq!(report["total"]["allowed"], 3, "{report:#}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_status_and_decision() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(&routes(&upstream.url()));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    for _ in 0..7 {
        gateway.get_with_key("/ok", &secret).await;
    }
    gateway.get_with_key("/secrets/x", &secret).await;
    reqwest::get(gateway.url("/ok")).await.unwrap();

    let response = reqwest::get(gateway.admin_url("/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let value = |series: &str| -> f64 {
        sample(&text, series).unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
    };
    let requests = |route: &str, status: &str, decision: &str| {
        value(&format!(
            "authgate_requests_total{{route=\"{route}\",status=\"{status}\",decision=\"{decision}\"}}"
        ))
    };
    assert_eq!(requests("api", "200", "allowed"), 5.0);
    assert_eq!(requests("api", "429", "rate_limited"), 2.0);
    assert_eq!(requests("secrets", "403", "insufficient_permissions"), 1.0);
    assert_eq!(requests("api", "401", "missing_credentials"), 1.0);
    assert_eq!(value("authgate_rate_limited_total{route=\"api\"}"), 2.0);
    assert_eq!(
        value("authgate_request_duration_seconds_count{route=\"api\",decision=\"allowed\"}"),
        5.0
    );
    assert!(text.contains(
        "authgate_request_duration_seconds_bucket{route=\"api\",decision=\"allowed\",le=\"0.005\"}"
    ));
    // One miss filled the cache; every later lookup of the key was a hit, unless a change the
    // follower read between two requests (the first start's setup, say) dropped it once.
    let misses = value("authgate_credential_cache_lookups_total{result=\"miss\"}");
    let hits = value("authgate_credential_cache_lookups_total{result=\"hit\"}");
    assert_eq!(misses + hits, 8.0, "every key lookup is counted once");
    assert!((1.0..=2.0).contains(&misses), "{misses} misses");
    assert_eq!(
        value("authgate_credential_cache_hit_ratio"),
        hits / (hits + misses)
    );
}

/// The value of `series` (its name and labels) in a Prometheus text exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// The hit and miss counts of the credential cache, from `/metrics`.
async fn cache_lookups(gateway: &Gateway) -> (f64, f64) {
    let text = reqwest::get(gateway.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // A series not counted yet is not shown.
    let value = |series: &str| sample(&text, series).unwrap_or(0.0);
    (
        value("authgate_credential_cache_lookups_total{result=\"hit\"}"),
        value("authgate_credential_cache_lookups_total{result=\"miss\"}"),
    )
}

#[tokio::test]
async fn keys_created_for_other_applications_leave_the_keys_in_use_cached() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(&format!(
        "[[routes]]\nname = \"api\"\npath_prefix = \"/\"\nupstream = \"{}\"\n",
        upstream.url()
    ));
    let busy = gateway.app("api-key");
    let (_, secret) = gateway.key(&busy, &[]);
    let other = gateway.app("api-key");
    assert_eq!(status_of(&gateway, "/ok", &secret).await, StatusCode::OK);
    let (hits_before, misses_before) = cache_lookups(&gateway).await;

    // For 6 s, an operator creates keys for the other application through the admin API at
    // 1,000 a minute (this instance follows each change before answering it), while clients
    // use the busy application's key.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    let creator = {
        let url = gateway.admin_url(&format!("/admin/api/v1/applications/{other}/keys"));
        let token = gateway.admin_token();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ticker = tokio::time::interval(Duration::from_millis(60));
            let mut created = 0;
            while tokio::time::Instant::now() < deadline {
                ticker.tick().await;
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
                created += 1;
            }
            created
        })
    };
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (url, secret) = (gateway.url("/ok"), secret.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut sent = 0u32;
                while tokio::time::Instant::now() < deadline {
                    let response = client
                        .get(&url)
                        .header("x-api-key", &secret)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let created = creator.await.unwrap();
    let mut sent = 0;
    for client in clients {
        sent += client.await.unwrap();
    }
    assert!(created >= 90, "only {created} keys created");

    let (hits, misses) = cache_lookups(&gateway).await;
    let (hits, misses) = (hits - hits_before, misses - misses_before);
    assert!(
        f64::from(sent) <= hits + misses,
        "{sent} requests, {hits} hits, {misses} misses"
    );
    let ratio = hits / (hits + misses);
    assert!(
        ratio > 0.99,
        "hit ratio {ratio:.4} ({hits} hits, {misses} misses) over {sent} requests while {created} keys were created"
    );
}
