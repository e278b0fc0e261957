//! Idempotency-Key: replay byte for byte without reaching the upstream, one upstream hit for
//! concurrent duplicates, 422 on reuse with another request, no replay of failures.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, route_to};
use reqwest::StatusCode;
use serde_json::Value;

async fn post(
    gateway: &Gateway,
    path: &str,
    secret: &str,
    key: &str,
    body: &'static str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(gateway.url(path))
        .header("X-API-Key", secret)
        .header("Idempotency-Key", key)
        .body(body)
        .fetch()
        .await
}

#[tokio::test]
async fn a_retry_is_replayed_byte_for_byte_and_a_mismatch_is_422() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(&route_to(&upstream.url(), ""));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);

    let first = post(&gateway, "/orders", &secret, "order-1", "{\"qty\":1}").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.bytes().await.unwrap();
    let again = post(&gateway, "/orders", &secret, "order-1", "{\"qty\":1}").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.bytes().await.unwrap(), first_body, "the same bytes");
    assert_eq!(
        upstream.hits().await,
        1,
        "the replay never reached the upstream"
    );

    let other_body = post(&gateway, "/orders", &secret, "order-1", "{\"qty\":2}").await;
    assert_eq!(other_body.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        other_body.json::<Value>().await.unwrap()["code"],
        "idempotency_mismatch"
    );
    let other_path = post(&gateway, "/elsewhere", &secret, "order-1", "{\"qty\":1}").await;
    assert_eq!(other_path.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Keys belong to the application: another one may use the same key.
    let other_app = gateway.app("api-key");
    let (_, other_secret) = gateway.key(&other_app, &[]);
    let theirs = post(&gateway, "/orders", &other_secret, "order-1", "{\"qty\":1}").await;
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    assert_eq!(upstream.hits().await, 2);
}

#[tokio::test]
async fn fifty_concurrent_duplicates_reach_the_upstream_once() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(&route_to(&upstream.url(), ""));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let requests = (0..50).map(|_| {
        let url = gateway.url("/delay");
        let secret = secret.clone();
        tokio::spawn(async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("X-API-Key", secret)
                .header("Idempotency-Key", "burst")
                .body("same")
                .fetch()
                .await;
            let replayed = response.headers().contains_key("idempotent-replayed");
            (response.status(), replayed)
        })
    });
    let mut ran = 0;
    for request in requests {
        match request.await.unwrap() {
            (StatusCode::OK, false) => ran += 1,
            (StatusCode::OK, true) | (StatusCode::CONFLICT, _) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(ran, 1, "exactly one request ran");
    assert_eq!(upstream.hits().await, 1, "the upstream saw it once");
}

#[tokio::test]
async fn failures_are_not_replayed_and_routes_may_opt_out() {
    let upstream = Upstream::start();
    let config = format!(
        "[[routes]]\nname = \"plain\"\npath_prefix = \"/plain/\"\nupstream = \"{}\"\nidempotency = false\n{}",
        upstream.url(),
        route_to(&upstream.url(), "")
    );
    let gateway = Gateway::start(&config);
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    for _ in 0..2 {
        let failed = post(&gateway, "/fail", &secret, "f-1", "x").await;
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(failed.headers().get("idempotent-replayed").is_none());
    }
    assert_eq!(
        upstream.hits().await,
        2,
        "a 500 is not stored, so the retry ran"
    );
    for _ in 0..2 {
        let plain = post(&gateway, "/plain/x", &secret, "p-1", "x").await;
        assert!(plain.headers().get("idempotent-replayed").is_none());
    }
    assert_eq!(upstream.hits().await, 4);
}
