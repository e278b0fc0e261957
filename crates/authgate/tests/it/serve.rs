//! `authgate serve` as a newcomer meets it: no configuration, health endpoints, orderly shutdown.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, eventually, route_to};
use reqwest::StatusCode;
use std::time::Duration;

#[tokio::test]
async fn with_no_configuration_it_creates_the_store_prints_one_admin_token_and_echoes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    // The embedded defaults listen on 8080/8081; move only the ports, through the environment.
    let env = [
        ("AUTHGATE_SERVER__LISTEN", "127.0.0.1:0"),
        ("AUTHGATE_SERVER__ADMIN_LISTEN", "127.0.0.1:0"),
    ];
    let gateway = Gateway::spawn(path, &env);
    assert!(
        path.join("authgate.db").exists(),
        "./authgate.db is created"
    );
    let logs = gateway.logs();
    let token_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.starts_with("admin token: sk_admin_"))
        .collect();
    assert_eq!(token_lines.len(), 1, "{logs}");

    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let echoed: serde_json::Value = reqwest::Client::new()
        .post(gateway.url("/hello?x=1"))
        .header("X-API-Key", &secret)
        .body("four")
        .fetch_json()
        .await;
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/hello");
    assert_eq!(echoed["query"], "x=1");
    assert_eq!(echoed["body_size"], 4);
    assert_eq!(echoed["headers"]["x-authgate-application"], app.as_str());

    for base in [gateway.url(""), format!("http://{}", gateway.admin)] {
        let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
    }

    // A second start on the same store does not print a token again.
    drop(gateway);
    let again = Gateway::spawn(path, &env);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!again.logs().contains("admin token:"), "{}", again.logs());
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits() {
    let upstream = Upstream::start();
    let mut gateway = Gateway::start(&route_to(&upstream.url(), ""));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let url = gateway.url("/slow");
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .get(url)
            .header("X-API-Key", secret)
            .send()
            .await
            .map(|r| r.status())
    });
    // Wait until the slow request has reached the upstream, then ask authgate to stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    gateway.terminate();
    let refused = eventually(Duration::from_secs(2), || async {
        std::net::TcpStream::connect(gateway.addr).is_err()
    })
    .await;
    assert!(refused.is_some(), "no new connections once draining");
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        StatusCode::OK,
        "the in-flight request completes"
    );
    let exit = gateway
        .wait(Duration::from_secs(10))
        .expect("authgate exits after draining");
    assert!(exit.success());
}
