//! Changes made with the CLI reach the running gateway within 1 s: suspend, resume, regenerate,
//! revoke, expiry, delete.

use crate::harness::{Gateway, PROPAGATION};
use reqwest::StatusCode;
use std::time::Duration;

async fn becomes(gateway: &Gateway, secret: &str, want: StatusCode) -> bool {
    becomes_within(gateway, secret, want, PROPAGATION).await
}

async fn becomes_within(
    gateway: &Gateway,
    secret: &str,
    want: StatusCode,
    limit: Duration,
) -> bool {
    gateway.answers_within(secret, want, limit).await.is_some()
}

#[tokio::test]
async fn suspend_refuses_within_a_second_and_resume_restores() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    assert_eq!(gateway.status_with_key(&secret).await, StatusCode::OK);

    let suspended = gateway.json(&["apps", "suspend", &app]);
    assert_eq!(suspended["suspended"], true);
    assert!(
        becomes(&gateway, &secret, StatusCode::UNAUTHORIZED).await,
        "suspend within 1 s"
    );

    let resumed = gateway.json(&["apps", "resume", &app]);
    assert_eq!(resumed["suspended"], false);
    assert!(
        becomes(&gateway, &secret, StatusCode::OK).await,
        "resume within 1 s"
    );
}

#[tokio::test]
async fn regenerate_fails_the_old_secret_and_admits_the_new_one() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (id, old) = gateway.key(&app, &[]);
    assert_eq!(gateway.status_with_key(&old).await, StatusCode::OK);

    let regenerated = gateway.json(&["keys", "regenerate", &id]);
    assert_eq!(regenerated["id"], id.as_str());
    let new = regenerated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(
        becomes(&gateway, &old, StatusCode::UNAUTHORIZED).await,
        "old secret refused within 1 s"
    );
    assert_eq!(gateway.status_with_key(&new).await, StatusCode::OK);
}

#[tokio::test]
async fn a_second_key_keeps_working_while_the_first_is_revoked() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (first_id, first) = gateway.key(&app, &[]);
    let (_, second) = gateway.key(&app, &[]);
    assert_eq!(gateway.status_with_key(&first).await, StatusCode::OK);
    assert!(gateway.cli(&["keys", "revoke", &first_id]).status.success());
    assert!(becomes(&gateway, &first, StatusCode::UNAUTHORIZED).await);
    assert_eq!(gateway.status_with_key(&second).await, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_key_is_refused_with_expired_credentials() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    // Expiry is kept in whole seconds: a "3s" key lives between 2 and 3 s.
    let (_, secret) = gateway.key(&app, &["--expires", "3s"]);
    assert_eq!(gateway.status_with_key(&secret).await, StatusCode::OK);
    assert!(
        becomes_within(
            &gateway,
            &secret,
            StatusCode::UNAUTHORIZED,
            Duration::from_secs(5)
        )
        .await
    );
    let response = gateway.get_with_key("/", &secret).await;
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "expired_credentials");
}

#[tokio::test]
async fn deleting_an_application_refuses_its_keys() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    assert_eq!(gateway.status_with_key(&secret).await, StatusCode::OK);
    assert!(gateway.cli(&["apps", "delete", &app]).status.success());
    assert!(becomes(&gateway, &secret, StatusCode::UNAUTHORIZED).await);
}

#[tokio::test]
async fn key_use_is_recorded_without_a_write_per_request() {
    // A flush interval longer than the test: nothing is written until the shutdown's flush.
    let mut gateway = Gateway::start_with_env("", &[("AUTHGATE_STORE__FLUSH_INTERVAL", "1h")]);
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let last_used = |gateway: &Gateway| {
        gateway.json(&["keys", "list", "--app", &app])[0]["last_used_at"].clone()
    };
    for _ in 0..20 {
        assert_eq!(gateway.status_with_key(&secret).await, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        last_used(&gateway).is_null(),
        "20 requests wrote nothing to the store"
    );
    gateway.terminate();
    assert!(gateway.wait(Duration::from_secs(10)).is_some());
    assert!(
        last_used(&gateway).is_i64(),
        "the batch is written when the gateway stops"
    );
}
