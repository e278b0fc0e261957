//! Bad input gets a clear answer, never a panic or a hang, and the gateway keeps serving.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, eventually, raw, route_to};
use crate::tokens::token_request;
use reqwest::StatusCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn still_serves(gateway: &Gateway, secret: &str) {
    let response = gateway.get_with_key("/", secret).await;
    assert_eq!(response.status(), StatusCode::OK);
}

fn first_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[tokio::test]
async fn malformed_requests_are_answered_and_the_gateway_survives() {
    let upstream = Upstream::start();
    let gateway = Gateway::start_with_env(
        &route_to(&upstream.url(), ""),
        &[("AUTHGATE_SERVER__HEADER_READ_TIMEOUT", "1s")],
    );
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);

    // A non-UTF-8 key is a bad credential, not a crash.
    let response = raw(
        &gateway,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-API-Key: \xff\xfe\xfd\r\nConnection: close\r\n\r\n",
        false,
    )
    .await;
    assert_eq!(first_line(&response), "HTTP/1.1 401 Unauthorized");
    assert!(
        response.contains("\"code\":\"invalid_credentials\""),
        "{response}"
    );

    // Bad percent-encoding in the query string.
    for path in ["/?user_key=%zz%", "/?%%%&&==", "/?user_key=%ff%fe"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let response = raw(&gateway, request.as_bytes(), false).await;
        assert_eq!(
            first_line(&response),
            "HTTP/1.1 401 Unauthorized",
            "{path}: {response}"
        );
    }

    // Headers far over the limit: refused, not buffered forever.
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let response = raw(&gateway, huge.as_bytes(), false).await;
    assert_eq!(
        first_line(&response),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );

    // Garbage instead of HTTP.
    let response = raw(&gateway, b"\x00\x01\x02 not http at all\r\n\r\n", false).await;
    assert_eq!(
        first_line(&response),
        "HTTP/1.1 400 Bad Request",
        "{response}"
    );

    // A body cut off mid-stream: the client promises 100 bytes, sends 10 and stops sending.
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-API-Key: {secret}\r\nContent-Length: 100\r\n\r\n0123456789"
    );
    let response = raw(&gateway, request.as_bytes(), true).await;
    assert_eq!(
        first_line(&response),
        "HTTP/1.1 400 Bad Request",
        "{response}"
    );

    // A client that never finishes its headers is disconnected after header_read_timeout.
    let mut slow = TcpStream::connect(gateway.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buffer)).await;
    assert!(closed.is_ok(), "a slow client is cut off");

    // Dot segments cannot escape a route.
    let response = raw(
        &gateway,
        b"GET /a/../b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        false,
    )
    .await;
    assert_eq!(
        first_line(&response),
        "HTTP/1.1 400 Bad Request",
        "{response}"
    );
    assert!(
        response.contains("\"code\":\"malformed_request\""),
        "{response}"
    );

    still_serves(&gateway, &secret).await;
    assert!(!gateway.logs().contains("panicked"), "{}", gateway.logs());
}

#[tokio::test]
async fn a_secret_never_appears_in_the_logs() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(&route_to(&upstream.url(), ""));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let keyed = gateway.app("app-id-key");
    let (_, app_key) = gateway.key(&keyed, &[]);
    let client = reqwest::Client::new();

    gateway.get_with_key("/", &secret).await;
    client
        .get(gateway.url(&format!("/?user_key={secret}")))
        .fetch()
        .await;
    client
        .get(gateway.url("/"))
        .header("Authorization", format!("Bearer {secret}"))
        .fetch()
        .await;
    client
        .get(gateway.url(&format!("/?app_id={keyed}&app_key={app_key}")))
        .fetch()
        .await;
    // And the refused paths: a revoked key, a suspended application.
    let (revoked_id, revoked) = gateway.key(&app, &[]);
    assert_eq!(
        gateway.get_with_key("/", &revoked).await.status(),
        StatusCode::OK
    );
    assert!(
        gateway
            .cli(&["keys", "revoke", &revoked_id])
            .status
            .success()
    );
    let refused = eventually(Duration::from_secs(2), || async {
        gateway.get_with_key("/", &revoked).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(refused.is_some(), "the revoked key was refused");
    assert!(gateway.cli(&["apps", "suspend", &app]).status.success());
    let refused = eventually(Duration::from_secs(2), || async {
        gateway.get_with_key("/", &secret).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(refused.is_some(), "the suspended application was refused");

    // The log arrives through the process's stderr, a moment after the answer.
    let logged = eventually(Duration::from_secs(5), || async {
        let logs = gateway.logs();
        logs.contains("revoked_credentials") && logs.contains("application_suspended")
    })
    .await;
    let logs = gateway.logs();
    assert!(
        logged.is_some(),
        "both refusals were logged (by code): {logs}"
    );
    assert!(
        logs.contains("authenticated"),
        "debug logging was on: {logs}"
    );
    assert!(
        logs.lines()
            // sqlx logs the migrations' text, whose comments may say the word too.
            .filter(|l| l.contains("authenticated") && !l.contains("sqlx::"))
            .all(|l| l.contains("trace_id=")),
        "every request's log line carries its trace id: {logs}"
    );
    assert!(!logs.contains(&secret), "the API key's secret was logged");
    assert!(
        !logs.contains(&revoked),
        "the revoked key's secret was logged"
    );
    assert!(!logs.contains(&app_key), "the app_key was logged");
    // What may be logged: the display prefix.
    assert!(
        logs.contains(&secret[..14]),
        "the key prefix identifies the key in logs"
    );
}

/// A huge page is resident once one byte of it is used: with them, each worker thread's partly
/// used allocator pages made memory grow with the workers (BENCHMARKS.md, memory per key).
#[tokio::test]
async fn the_gateway_runs_without_transparent_huge_pages() {
    let gateway = Gateway::start("");
    assert_eq!(gateway.process_status("THP_enabled"), "0");
}

#[tokio::test]
async fn unauthenticated_sign_ins_cannot_grow_memory_or_the_log() {
    let gateway = Gateway::start("");
    let sign_in = async |username: String| {
        token_request(
            &gateway,
            &[
                ("grant_type", "password"),
                ("client_id", "authgate-cli"),
                ("username", &username),
                ("password", "wrong"),
            ],
        )
        .await
    };
    // Warm up: the first sign-in computes the dummy hash, the allocator takes its arenas.
    for n in 0..5 {
        sign_in(format!("warm{n}")).await;
    }
    let memory_before = gateway.resident_kib();
    let log_before = gateway.logs().len();

    // A form declared over the token endpoint's limit is refused before it is read.
    for _ in 0..3 {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        let head = format!(
            "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            512 * 1024
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 4096];
        let mut read = 0;
        while !String::from_utf8_lossy(&answer[..read]).contains("\"error\"") {
            let more =
                tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer[read..]))
                    .await
                    .expect("answered")
                    .unwrap();
            assert!(more > 0, "closed without an answer");
            read += more;
        }
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.contains("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
    }
    // Names just under it are read, and refused before they are looked up, counted or logged.
    for n in 0..200 {
        let long = format!("{n}{}", "u".repeat(60 * 1024));
        let response = sign_in(long).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{body}");
    }

    let grown_kib = gateway.resident_kib().saturating_sub(memory_before);
    let logged = gateway.logs().len() - log_before;
    // 200 names of 60 KiB: kept or logged, that would be 12 MiB.
    assert!(grown_kib < 6 * 1024, "memory grew by {grown_kib} KiB");
    assert!(logged < 256 * 1024, "the log grew by {logged} bytes");
    assert!(!gateway.logs().contains(&"u".repeat(1024)));
}
