//! Changes made with the CLI reach the running gateway within 1 s: suspend, resume, regenerate,
//! revoke, expiry, delete.

use crate::harness::{Gateway, eventually};
use reqwest::StatusCode;
use std::time::Duration;

/// How long a change may take to reach the gateway (SPEC §1: within 1 s).
const PROPAGATION: Duration = Duration::from_secs(1);

async fn status(gateway: &Gateway, secret: &str) -> StatusCode {
    gateway.get_with_key("/", secret).await.status()
}

async fn becomes(gateway: &Gateway, secret: &str, want: StatusCode) -> bool {
    eventually(PROPAGATION, || async {
        status(gateway, secret).await == want
    })
    .await
    .is_some()
}

#[tokio::test]
async fn suspend_refuses_at_once_and_resume_restores() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    assert_eq!(status(&gateway, &secret).await, StatusCode::OK);

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
    assert_eq!(status(&gateway, &old).await, StatusCode::OK);

    let regenerated = gateway.json(&["keys", "regenerate", &id]);
    assert_eq!(regenerated["id"], id.as_str());
    let new = regenerated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(
        becomes(&gateway, &old, StatusCode::UNAUTHORIZED).await,
        "old secret refused within 1 s"
    );
    assert_eq!(status(&gateway, &new).await, StatusCode::OK);
}

#[tokio::test]
async fn a_second_key_keeps_working_while_the_first_is_revoked() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (first_id, first) = gateway.key(&app, &[]);
    let (_, second) = gateway.key(&app, &[]);
    assert_eq!(status(&gateway, &first).await, StatusCode::OK);
    assert!(gateway.cli(&["keys", "revoke", &first_id]).status.success());
    assert!(becomes(&gateway, &first, StatusCode::UNAUTHORIZED).await);
    assert_eq!(status(&gateway, &second).await, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_key_is_refused_with_expired_credentials() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &["--expires", "2s"]);
    assert_eq!(status(&gateway, &secret).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let response = gateway.get_with_key("/", &secret).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "expired_credentials");
}

#[tokio::test]
async fn deleting_an_application_refuses_its_keys() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    assert_eq!(status(&gateway, &secret).await, StatusCode::OK);
    assert!(gateway.cli(&["apps", "delete", &app]).status.success());
    assert!(becomes(&gateway, &secret, StatusCode::UNAUTHORIZED).await);
}

#[tokio::test]
async fn key_use_is_recorded_without_a_write_per_request() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    for _ in 0..20 {
        assert_eq!(status(&gateway, &secret).await, StatusCode::OK);
    }
    let recorded = eventually(Duration::from_secs(8), || async {
        gateway.json(&["keys", "list", "--app", &app])[0]["last_used_at"].is_i64()
    })
    .await;
    assert!(
        recorded.is_some(),
        "last_used_at is written by the batch flush"
    );
}
