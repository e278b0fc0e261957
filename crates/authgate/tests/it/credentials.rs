//! Every place a credential may be presented, and every 401 code of SPEC §4.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, route_to};
use reqwest::StatusCode;
use serde_json::Value;

async fn get(url: String, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.fetch().await
}

/// Asserts a 401 with the given code, the JSON shape and the challenge header.
async fn assert_401(response: reqwest::Response, code: &str, bearer_error: bool) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["content-type"], "application/json");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    if bearer_error {
        assert_eq!(
            challenge,
            r#"Bearer realm="authgate", error="invalid_token""#
        );
    } else {
        assert_eq!(challenge, r#"Bearer realm="authgate""#);
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Unauthorized");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn an_api_key_works_in_every_location() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(&route_to(&upstream.url(), ""));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);

    let bearer = format!("Bearer {secret}");
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        (gateway.url("/x"), vec![("X-API-Key", secret.as_str())]),
        (gateway.url("/x"), vec![("Authorization", bearer.as_str())]),
        (gateway.url(&format!("/x?user_key={secret}")), vec![]),
        (gateway.url("/x"), vec![("user_key", secret.as_str())]),
        (gateway.url("/x"), vec![("user-key", secret.as_str())]),
    ];
    for (url, headers) in cases {
        let response = get(url.clone(), &headers).await;
        assert_eq!(response.status(), StatusCode::OK, "{url} {headers:?}");
        let seen: Value = response.json().await.unwrap();
        assert_eq!(seen["headers"]["x-authgate-application"], app.as_str());
        assert_eq!(seen["headers"]["x-authgate-auth-method"], "api_key");
    }
    // Refused requests never reach the upstream.
    assert_eq!(
        get(gateway.url("/x"), &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(gateway.url("/x"), &[("X-API-Key", "sk_live_x")])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(upstream.hits().await, 5);
}

#[tokio::test]
async fn the_key_header_names_are_configurable() {
    let gateway = Gateway::start(
        "[auth.api_key]\nheaders = [\"X-Token\"]\nparams = [\"api_key\"]\nbearer = false\n",
    );
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    assert_eq!(
        get(gateway.url("/"), &[("X-Token", &secret)])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        get(gateway.url(&format!("/?api_key={secret}")), &[])
            .await
            .status(),
        StatusCode::OK
    );
    assert_401(
        get(gateway.url("/"), &[("X-API-Key", &secret)]).await,
        "missing_credentials",
        false,
    )
    .await;
    let bearer = format!("Bearer {secret}");
    assert_401(
        get(gateway.url("/"), &[("Authorization", &bearer)]).await,
        "missing_credentials",
        false,
    )
    .await;
}

#[tokio::test]
async fn app_id_and_app_key_in_query_or_headers() {
    let gateway = Gateway::start("");
    let app = gateway.app("app-id-key");
    let (_, app_key) = gateway.key(&app, &[]);

    let response = get(
        gateway.url(&format!("/?app_id={app}&app_key={app_key}")),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["headers"]["x-authgate-auth-method"], "app_id_key");
    assert_eq!(
        seen["query"], "",
        "app_id and app_key are hidden from the upstream"
    );

    let response = get(gateway.url("/"), &[("app_id", &app), ("app_key", &app_key)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = get(gateway.url("/"), &[("App-Id", &app), ("App-Key", &app_key)]).await;
    assert_eq!(response.status(), StatusCode::OK);

    // The app_key of this app with another app's id, the app_id alone, and the key used as an API key.
    let other = gateway.app("app-id-key");
    assert_401(
        get(
            gateway.url(&format!("/?app_id={other}&app_key={app_key}")),
            &[],
        )
        .await,
        "invalid_credentials",
        false,
    )
    .await;
    assert_401(
        get(gateway.url(&format!("/?app_id={app}")), &[]).await,
        "missing_credentials",
        false,
    )
    .await;
    assert_401(
        get(gateway.url("/"), &[("X-API-Key", &app_key)]).await,
        "invalid_credentials",
        false,
    )
    .await;
}

#[tokio::test]
async fn app_id_alone_authenticates_in_app_id_mode() {
    let gateway = Gateway::start("");
    let app = gateway.app("app-id");
    let response = get(gateway.url(&format!("/?app_id={app}")), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["headers"]["x-authgate-auth-method"], "app_id");
    assert_eq!(seen["headers"]["x-authgate-application"], app.as_str());
    for unknown in ["app_doesnotexist", "app_%00", "%0A"] {
        assert_401(
            get(gateway.url(&format!("/?app_id={unknown}")), &[]).await,
            "invalid_credentials",
            false,
        )
        .await;
    }
}

#[tokio::test]
async fn each_401_code() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    let (revoked_id, revoked) = gateway.key(&app, &[]);
    assert!(
        gateway
            .cli(&["keys", "revoke", &revoked_id])
            .status
            .success()
    );

    assert_401(
        get(gateway.url("/"), &[]).await,
        "missing_credentials",
        false,
    )
    .await;
    assert_401(
        get(gateway.url("/"), &[("Authorization", "Basic dXNlcjpwYXNz")]).await,
        "missing_credentials",
        false,
    )
    .await;
    // Malformed, bad checksum, and well-formed but unknown: all invalid, the last after a lookup.
    assert_401(
        get(gateway.url("/"), &[("X-API-Key", "not-a-key")]).await,
        "invalid_credentials",
        false,
    )
    .await;
    let mut tampered = revoked.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    assert_401(
        get(gateway.url("/"), &[("X-API-Key", &tampered)]).await,
        "invalid_credentials",
        false,
    )
    .await;
    let unknown = {
        let other = Gateway::start("");
        let other_app = other.app("api-key");
        other.key(&other_app, &[]).1
    };
    assert_401(
        get(gateway.url("/"), &[("X-API-Key", &unknown)]).await,
        "invalid_credentials",
        false,
    )
    .await;
    let bearer = format!("Bearer {unknown}");
    assert_401(
        get(gateway.url("/"), &[("Authorization", &bearer)]).await,
        "invalid_credentials",
        true,
    )
    .await;
    assert_401(
        get(gateway.url("/"), &[("X-API-Key", &revoked)]).await,
        "revoked_credentials",
        false,
    )
    .await;

    let (_, live) = gateway.key(&app, &[]);
    assert!(gateway.cli(&["apps", "suspend", &app]).status.success());
    let url = gateway.url("/");
    crate::harness::eventually(std::time::Duration::from_secs(2), || async {
        get(url.clone(), &[("X-API-Key", &live)]).await.status() == StatusCode::UNAUTHORIZED
    })
    .await
    .expect("suspension takes effect");
    assert_401(
        get(gateway.url("/"), &[("X-API-Key", &live)]).await,
        "application_suspended",
        false,
    )
    .await;
}
