//! Several instances on one store, as behind a load balancer: a change made through one (its
//! admin API) or by the CLI is refused by the other within 1 s, measured.

use crate::harness::{Gateway, PROPAGATION};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

/// How long until `gateway` answers `want` to the key, within [`PROPAGATION`].
async fn takes(gateway: &Gateway, secret: &str, want: StatusCode) -> Duration {
    gateway
        .answers_within(secret, want, PROPAGATION)
        .await
        .unwrap_or_else(|| panic!("not {want} within {PROPAGATION:?}"))
}

/// Sends an admin API request to `gateway`; the response's status.
async fn admin(gateway: &Gateway, method: reqwest::Method, path: &str) -> StatusCode {
    reqwest::Client::new()
        .request(method, gateway.admin_url(&format!("/admin/api/v1{path}")))
        .bearer_auth(gateway.admin_token())
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_change_made_through_one_instance_is_refused_by_the_other_within_a_second() {
    let one = Gateway::start("");
    let other = Gateway::start_beside(&one, "");
    let app = one.app("api-key");
    let (key, secret) = one.key(&app, &[]);
    let (_, bystander) = one.key(&one.app("api-key"), &[]);
    for gateway in [&one, &other] {
        assert_eq!(gateway.status_with_key(&secret).await, StatusCode::OK);
        assert_eq!(gateway.status_with_key(&bystander).await, StatusCode::OK);
    }

    // Suspended through the first instance's admin API: the first refuses at once, the other
    // within a second.
    let post = reqwest::Method::POST;
    assert_eq!(
        admin(&one, post.clone(), &format!("/applications/{app}/suspend")).await,
        StatusCode::OK
    );
    assert_eq!(one.status_with_key(&secret).await, StatusCode::UNAUTHORIZED);
    let suspended = takes(&other, &secret, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        admin(&one, post.clone(), &format!("/applications/{app}/resume")).await,
        StatusCode::OK
    );
    takes(&other, &secret, StatusCode::OK).await;

    // Revoked by the CLI (another process): both instances within a second.
    one.json(&["keys", "revoke", &key]);
    let revoked_one = takes(&one, &secret, StatusCode::UNAUTHORIZED).await;
    let revoked_other = takes(&other, &secret, StatusCode::UNAUTHORIZED).await;
    for gateway in [&one, &other] {
        assert_eq!(gateway.status_with_key(&bystander).await, StatusCode::OK);
    }
    eprintln!(
        "propagation: suspend {suspended:?} to the other instance; CLI revoke {revoked_one:?} / {revoked_other:?}"
    );
}
