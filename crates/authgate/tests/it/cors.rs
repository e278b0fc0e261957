//! CORS: preflights answered without authentication for allowed origins only; the rate-limit
//! headers exposed to scripts.

use crate::harness::Fetch as _;
use crate::harness::Gateway;
use reqwest::StatusCode;

const CONFIG: &str = "[cors]\nallow_origins = [\"https://app.example.com\"]\n[rate_limit]\nrpm = 600\n\
[[routes]]\nname = \"tasks\"\npath_prefix = \"/\"\nupstream = \"builtin:echo\"\n";

async fn preflight(gateway: &Gateway, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, gateway.url("/tasks"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "x-api-key, idempotency-key, traceparent",
        )
        .fetch()
        .await
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_lowercase())
}

#[tokio::test]
async fn preflights_from_allowed_origins_pass_without_credentials() {
    let gateway = Gateway::start(CONFIG);
    let allowed = preflight(&gateway, "https://app.example.com").await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    let headers = header(&allowed, "access-control-allow-headers").unwrap();
    for needed in [
        "authorization",
        "x-api-key",
        "idempotency-key",
        "traceparent",
        "tracestate",
        "last-event-id",
    ] {
        assert!(headers.contains(needed), "{needed} in {headers}");
    }
    assert!(
        header(&allowed, "access-control-allow-methods")
            .unwrap()
            .contains("post")
    );

    let refused = preflight(&gateway, "https://evil.example.net").await;
    assert!(header(&refused, "access-control-allow-origin").is_none());

    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let actual = reqwest::Client::new()
        .get(gateway.url("/tasks"))
        .header("Origin", "https://app.example.com")
        .header("X-API-Key", &secret)
        .fetch()
        .await;
    assert_eq!(actual.status(), StatusCode::OK);
    assert_eq!(
        header(&actual, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    let exposed = header(&actual, "access-control-expose-headers").unwrap();
    for name in [
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
        "ratelimit",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
}

#[tokio::test]
async fn without_cors_configuration_there_are_no_cors_headers() {
    let gateway = Gateway::start("");
    let response = preflight(&gateway, "https://app.example.com").await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "an OPTIONS request is an ordinary request then"
    );
    assert!(header(&response, "access-control-allow-origin").is_none());
}

#[test]
fn a_wildcard_origin_with_credentials_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("authgate.toml"),
        "[cors]\nallow_origins = [\"*\"]\nallow_credentials = true\n",
    )
    .unwrap();
    let out = crate::harness::cli_in(dir.path(), &["config", "check"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cors.allow_origins[0]"));
}
