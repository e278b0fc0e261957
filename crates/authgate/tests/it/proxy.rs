//! What the upstream receives, and how its answers (and failures) come back.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, route_to};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

fn setup(upstream: &Upstream, route_extra: &str, config_extra: &str) -> (Gateway, String) {
    setup_with_env(upstream, route_extra, config_extra, &[])
}

fn setup_with_env(
    upstream: &Upstream,
    route_extra: &str,
    config_extra: &str,
    env: &[(&str, &str)],
) -> (Gateway, String) {
    let config = format!("{config_extra}\n{}", route_to(&upstream.url(), route_extra));
    let gateway = Gateway::start_with_env(&config, env);
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    (gateway, secret)
}

#[tokio::test]
async fn credentials_are_not_forwarded_and_identity_is_added() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup(&upstream, "", "");
    let client = reqwest::Client::new();

    let seen: Value = client
        .post(gateway.url("/tasks?keep=1"))
        .header("X-API-Key", &secret)
        .header("X-Authgate-Subject", "mallory")
        .header("X-Authgate-Roles", "admin")
        .header("X-Authgate-Whatever", "x")
        .header("Last-Event-ID", "17")
        .body("hello world")
        .fetch_json()
        .await;
    let headers = &seen["headers"];
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/tasks");
    assert_eq!(seen["query"], "keep=1");
    assert_eq!(seen["body_size"], 11);
    assert!(headers.get("x-api-key").is_none(), "{headers}");
    assert!(headers.get("x-authgate-whatever").is_none(), "{headers}");
    assert_ne!(headers["x-authgate-subject"], "mallory");
    assert!(
        headers.get("x-authgate-roles").is_none(),
        "an ownerless application has no roles"
    );
    assert_eq!(headers["x-authgate-tenant"], "default");
    assert_eq!(headers["x-authgate-auth-method"], "api_key");
    assert_eq!(headers["last-event-id"], "17");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], gateway.addr.to_string());
    assert_eq!(headers["host"], format!("127.0.0.1:{}", upstream.port));

    for (url, header) in [
        (
            gateway.url("/x"),
            Some(("Authorization", format!("Bearer {secret}"))),
        ),
        (gateway.url(&format!("/x?a=1&user_key={secret}")), None),
    ] {
        let mut request = client.get(url);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let seen: Value = request.fetch_json().await;
        assert!(seen["headers"].get("authorization").is_none(), "{seen}");
        assert!(
            !seen["query"].as_str().unwrap().contains("user_key"),
            "{seen}"
        );
        assert!(
            !seen.to_string().contains(&secret),
            "the secret reached the upstream: {seen}"
        );
    }
}

#[tokio::test]
async fn hide_credentials_false_forwards_them() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup(&upstream, "", "[auth]\nhide_credentials = false\n");
    let seen: Value = gateway.echo("/", &secret).await;
    assert_eq!(seen["headers"]["x-api-key"], secret.as_str());
}

#[tokio::test]
async fn paths_beside_authgate_s_own_reach_the_upstream() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup(&upstream, "", "");
    let client = reqwest::Client::new();
    // Under the prefixes of authgate's own endpoints but none of them, or one of them only by
    // its first letters.
    for path in [
        "/oauth/elsewhere",
        "/.well-known/security.txt",
        "/_authgate/verifying",
        "/healthz/deep",
        "/readyzz",
    ] {
        let seen: Value = gateway.echo(path, &secret).await;
        assert_eq!(seen["path"], path);
        let refused = client.get(gateway.url(path)).fetch().await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let health: Value = client.get(gateway.url("/healthz")).fetch_json().await;
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn routes_strip_prefixes_and_refuse_unknown_paths_and_methods() {
    let upstream = Upstream::start();
    let config = format!(
        "[[routes]]\nname = \"tasks\"\npath_prefix = \"/api/v1/\"\nmethods = [\"GET\", \"POST\"]\n\
         upstream = \"{}\"\nstrip_prefix = true\n",
        upstream.url()
    );
    let gateway = Gateway::start(&config);
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let client = reqwest::Client::new();

    let seen: Value = gateway.echo("/api/v1/tasks/7", &secret).await;
    assert_eq!(seen["path"], "/tasks/7");

    let missing = client.get(gateway.url("/elsewhere")).fetch().await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "route_not_found");
    assert_eq!(body["error"], "Not Found");

    let delete = client
        .delete(gateway.url("/api/v1/tasks/7"))
        .header("X-API-Key", &secret)
        .fetch()
        .await;
    assert_eq!(delete.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(delete.headers()["allow"], "GET, POST");
    assert_eq!(
        delete.json::<Value>().await.unwrap()["code"],
        "method_not_allowed"
    );
}

#[tokio::test]
async fn server_sent_events_stream_event_by_event() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup(&upstream, "", "");
    let response = reqwest::Client::new()
        .get(gateway.url("/sse"))
        .header("X-API-Key", &secret)
        .header("Last-Event-ID", "41")
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();
    let mut received = String::new();
    // The upstream holds its second event until /release: the first must arrive on its own.
    while !received.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("the first event arrives before the stream ends")
            .expect("a chunk")
            .unwrap();
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(received, "id: 1\ndata: first after 41\n\n");
    reqwest::get(format!("{}/release", upstream.url()))
        .await
        .unwrap();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
    {
        received.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    assert_eq!(
        received,
        "id: 1\ndata: first after 41\n\nid: 2\ndata: second\n\n"
    );
}

#[tokio::test]
async fn an_unreachable_upstream_is_502_json() {
    // A port held for the whole test: nothing listens there.
    let reserved = crate::harness::reserve_port();
    let gateway = Gateway::start(&route_to(
        &format!("http://127.0.0.1:{}", reserved.port),
        "",
    ));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let response = gateway.get_with_key("/", &secret).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "upstream_unavailable");
    assert_eq!(body["error"], "Bad Gateway");
}

#[tokio::test]
async fn a_slow_upstream_is_504_json() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup(&upstream, "timeout = \"500ms\"", "");
    let response = gateway.get_with_key("/slow", &secret).await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "upstream_timeout"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_whether_declared_or_streamed() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup_with_env(
        &upstream,
        "",
        "",
        &[("AUTHGATE_SERVER__MAX_BODY_SIZE", "1024")],
    );
    let client = reqwest::Client::new();
    let declared = client
        .post(gateway.url("/"))
        .header("X-API-Key", &secret)
        .body(vec![b'x'; 2048])
        .fetch()
        .await;
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        declared.json::<Value>().await.unwrap()["code"],
        "payload_too_large"
    );

    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..4).map(|_| Ok(vec![b'y'; 512])).collect();
    let streamed = client
        .post(gateway.url("/"))
        .header("X-API-Key", &secret)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .fetch()
        .await;
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let small = client
        .post(gateway.url("/"))
        .header("X-API-Key", &secret)
        .body("ok")
        .fetch()
        .await;
    assert_eq!(small.status(), StatusCode::OK);
}

#[tokio::test]
async fn upstream_connections_are_reused_and_a_stale_one_is_replaced() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup_with_env(&upstream, "", "", &[("AUTHGATE_SERVER__WORKERS", "1")]);
    let mut ports = Vec::new();
    for _ in 0..5 {
        let seen: Value = gateway.echo("/", &secret).await;
        ports.push(seen["peer_port"].as_u64().unwrap());
    }
    ports.dedup();
    assert_eq!(
        ports.len(),
        1,
        "one keep-alive connection served all five: {ports:?}"
    );

    // The upstream drops the connection after answering, without a word; the next request
    // must not fail on the dead connection.
    for _ in 0..3 {
        let dropped = gateway.get_with_key("/drop", &secret).await;
        assert_eq!(dropped.status(), StatusCode::OK);
        let next = gateway.get_with_key("/", &secret).await;
        assert_eq!(next.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn the_upstream_sees_the_caller_s_trace_continued_or_a_fresh_one() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup(&upstream, "", "");
    let traced = |traceparent: &'static str| {
        let secret = secret.clone();
        let url = gateway.url("/");
        async move {
            let seen: Value = reqwest::Client::new()
                .get(url)
                .header("X-API-Key", secret)
                .header("traceparent", traceparent)
                .header("tracestate", "congo=t61rcWkgMzE")
                .fetch_json()
                .await;
            let parent = seen["headers"]["traceparent"].as_str().unwrap().to_owned();
            let state = seen["headers"]["tracestate"].as_str().unwrap().to_owned();
            (parent, state)
        }
    };
    let (parent, state) = traced("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").await;
    let fields: Vec<&str> = parent.split('-').collect();
    assert_eq!(
        fields[..2],
        ["00", "4bf92f3577b34da6a3ce929d0e0e4736"],
        "{parent}"
    );
    assert_ne!(
        fields[2], "00f067aa0ba902b7",
        "authgate's own span is the parent"
    );
    assert_eq!(fields[3], "01");
    assert_eq!(state, format!("authgate={},congo=t61rcWkgMzE", fields[2]));

    for malformed in [
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "nonsense",
    ] {
        let (parent, state) = traced(malformed).await;
        let fields: Vec<&str> = parent.split('-').collect();
        assert_eq!(fields.len(), 4, "{parent}");
        assert_eq!(fields[1].len(), 32);
        assert!(
            !malformed.to_lowercase().contains(fields[1]),
            "a fresh trace for {malformed}"
        );
        assert_eq!(
            state,
            format!("authgate={}", fields[2]),
            "tracestate dropped with a bad traceparent"
        );
    }
    let seen = gateway.echo("/", &secret).await;
    assert!(
        seen["headers"]["traceparent"]
            .as_str()
            .unwrap()
            .starts_with("00-"),
        "a trace even when the caller sent none"
    );
}

#[tokio::test]
async fn every_accepted_credential_is_hidden_whether_used_or_not() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup(&upstream, "", "");
    let keyed = gateway.app("app-id-key");
    let (_, app_key) = gateway.key(&keyed, &[]);
    let client = reqwest::Client::new();

    // The key in X-API-Key is used; the bearer value, the user_key parameter and header and the
    // app_id/app_key pair are credentials the route accepts too, and go as well.
    let seen: Value = client
        .get(gateway.url(&format!(
            "/x?keep=1&user_key=other&app_id={keyed}&app_key={app_key}"
        )))
        .header("X-API-Key", &secret)
        .header("Authorization", "Bearer sk_test_unused")
        .header("User-Key", "another")
        .header("App-Key", &app_key)
        .fetch_json()
        .await;
    let headers = &seen["headers"];
    for name in ["x-api-key", "authorization", "user-key", "app-key"] {
        assert!(
            headers.get(name).is_none(),
            "{name} reached the upstream: {seen}"
        );
    }
    assert_eq!(seen["query"], "keep=1", "{seen}");
    assert_eq!(
        headers["x-authgate-auth-method"], "app_id_key",
        "the first found won"
    );

    // Another scheme is not a credential authgate accepts: it passes.
    let seen: Value = client
        .get(gateway.url("/x"))
        .header("X-API-Key", &secret)
        .header("Authorization", "Basic dXNlcjpwdw==")
        .fetch_json()
        .await;
    assert_eq!(seen["headers"]["authorization"], "Basic dXNlcjpwdw==");
}

#[tokio::test]
async fn a_credential_sent_twice_with_different_values_is_400() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup(&upstream, "", "");
    let client = reqwest::Client::new();
    let ambiguous = [
        client
            .get(gateway.url("/"))
            .header("X-API-Key", &secret)
            .header("X-API-Key", "sk_test_other"),
        client
            .get(gateway.url("/"))
            .header("Authorization", format!("Bearer {secret}"))
            .header("Authorization", "Bearer sk_test_other"),
        client.get(gateway.url(&format!("/?user_key={secret}&user_key=sk_test_other"))),
    ];
    for request in ambiguous {
        let response = request.fetch().await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "ambiguous_credentials");
    }
    assert_eq!(upstream.hits().await, 0);
    let same_twice = client
        .get(gateway.url("/"))
        .header("X-API-Key", &secret)
        .header("X-API-Key", &secret)
        .fetch()
        .await;
    assert_eq!(same_twice.status(), StatusCode::OK);
}

/// Sends `request` on a fresh connection and returns the status line.
async fn raw_status(gateway: &Gateway, request: &str) -> String {
    let answer = crate::harness::raw(gateway, request.as_bytes(), false).await;
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn http_1_1_needs_exactly_one_host() {
    let upstream = Upstream::start();
    let (gateway, secret) = setup(&upstream, "", "");
    let with = |host_lines: &str, version: &str| {
        format!("GET / {version}\r\n{host_lines}X-API-Key: {secret}\r\nConnection: close\r\n\r\n")
    };
    assert_eq!(
        raw_status(&gateway, &with("", "HTTP/1.1")).await,
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(
        raw_status(&gateway, &with("Host: a\r\nHost: b\r\n", "HTTP/1.1")).await,
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(upstream.hits().await, 0);
    assert_eq!(
        raw_status(&gateway, &with("Host: a\r\n", "HTTP/1.1")).await,
        "HTTP/1.1 200 OK"
    );
    assert_eq!(
        raw_status(&gateway, &with("", "HTTP/1.0")).await,
        "HTTP/1.0 200 OK",
        "HTTP/1.0 may omit Host"
    );
}

#[tokio::test]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let upstream = Upstream::start();
    let spoofed = |gateway: &Gateway, secret: &str| {
        reqwest::Client::new()
            .get(gateway.url("/"))
            .header("X-API-Key", secret)
            .header("X-Forwarded-For", "6.6.6.6")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "evil.example")
            .header("X-Real-IP", "6.6.6.6")
            .header("Forwarded", "for=6.6.6.6")
            .fetch_json::<Value>()
    };
    let (gateway, secret) = setup(&upstream, "", "");
    let seen = spoofed(&gateway, &secret).await;
    let headers = &seen["headers"];
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], gateway.addr.to_string());
    assert!(headers.get("x-real-ip").is_none(), "{seen}");
    assert!(headers.get("forwarded").is_none(), "{seen}");

    let (behind_proxy, secret) = setup_with_env(
        &upstream,
        "",
        "",
        &[("AUTHGATE_SERVER__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]")],
    );
    let seen = spoofed(&behind_proxy, &secret).await;
    let headers = &seen["headers"];
    assert_eq!(headers["x-forwarded-for"], "6.6.6.6, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "https");
    assert_eq!(headers["x-forwarded-host"], "evil.example");
    assert_eq!(headers["x-real-ip"], "6.6.6.6");
    assert_eq!(headers["forwarded"], "for=6.6.6.6");
}
