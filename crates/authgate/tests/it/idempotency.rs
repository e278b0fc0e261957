//! Idempotency-Key: replay byte for byte without reaching the upstream, one upstream hit for
//! concurrent duplicates, 422 on reuse with another request, no replay of failures, and no key
//! left in flight by a client that gave up.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, eventually, route_to};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;

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

/// Waits until the upstream has received `count` counted requests.
async fn upstream_received(upstream: &Upstream, count: u64) {
    let arrived = eventually(Duration::from_secs(5), || async {
        upstream.hits().await == count
    })
    .await;
    assert!(arrived.is_some(), "the upstream never saw request {count}");
}

#[tokio::test]
async fn duplicates_while_the_first_runs_are_409_and_after_it_replayed() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(&route_to(&upstream.url(), ""));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let first = {
        let (url, secret) = (gateway.url("/hold"), secret.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .header("X-API-Key", secret)
                .header("Idempotency-Key", "burst")
                .body("same")
                .fetch()
                .await
        })
    };
    upstream_received(&upstream, 1).await;

    // 49 duplicates while the upstream holds the first: every one is 409.
    let duplicates = (0..49).map(|_| post(&gateway, "/hold", &secret, "burst", "same"));
    for duplicate in futures_util::future::join_all(duplicates).await {
        assert_eq!(duplicate.status(), StatusCode::CONFLICT);
        assert_eq!(
            duplicate.json::<Value>().await.unwrap()["code"],
            "idempotency_in_flight"
        );
    }
    reqwest::get(format!("{}/release", upstream.url()))
        .await
        .unwrap();
    let first = first.await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first = first.bytes().await.unwrap();

    // Once it has answered, a duplicate is its replay.
    let replay = post(&gateway, "/hold", &secret, "burst", "same").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.bytes().await.unwrap(), first);
    assert_eq!(upstream.hits().await, 1, "the upstream saw it once");
}

#[tokio::test]
async fn a_client_that_gives_up_does_not_leave_its_key_in_flight() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(&route_to(&upstream.url(), ""));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);

    // The client sends its request and goes away while the upstream still works on it.
    let mut gone = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    gone.write_all(
        format!(
            "POST /hold HTTP/1.1\r\nHost: x\r\nX-API-Key: {secret}\r\n\
             Idempotency-Key: gone-1\r\nContent-Length: 4\r\n\r\nsame"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    upstream_received(&upstream, 1).await;
    drop(gone);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Still running upstream: a retry now is told so.
    let early = post(&gateway, "/hold", &secret, "gone-1", "same").await;
    assert_eq!(early.status(), StatusCode::CONFLICT);

    // The upstream finishes: the retry gets its answer, and the upstream is not asked again.
    reqwest::get(format!("{}/release", upstream.url()))
        .await
        .unwrap();
    let replayed = eventually(Duration::from_secs(5), || async {
        post(&gateway, "/hold", &secret, "gone-1", "same")
            .await
            .headers()
            .contains_key("idempotent-replayed")
    })
    .await;
    assert!(replayed.is_some(), "the finished request is replayed");
    assert_eq!(upstream.hits().await, 1);

    // A first request the upstream never answers (it is down) releases its key: the retry
    // runs.
    let down = Gateway::start(&route_to("http://127.0.0.1:9", ""));
    let app = down.app("api-key");
    let (_, secret) = down.key(&app, &[]);
    for _ in 0..2 {
        let failed = post(&down, "/x", &secret, "never-1", "x").await;
        assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    }
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
