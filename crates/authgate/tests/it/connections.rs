//! What a connection may cost the gateway: silent sockets are closed, slow uploads get their own
//! timeout, a body the client cuts short is the client's fault, and errors the HTTP layer
//! answers itself have the JSON shape of every other error.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, raw, route_to};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection; how long that took, or `None` within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Reads one whole final answer (head and `Content-Length` bytes of body) from `stream`,
/// passing over an interim `100 Continue`.
async fn one_response(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let complete = |answer: &[u8]| {
        let text = String::from_utf8_lossy(answer);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let length = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length: ")?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        body.len() >= length
    };
    loop {
        if complete(&answer) {
            let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
            if !answer.starts_with(interim) {
                break;
            }
            answer.drain(..interim.len());
            continue;
        }
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(read > 0, "closed before the answer was complete");
        answer.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status line and the JSON body of a raw HTTP/1.1 answer; the content type must be JSON.
fn status_and_json(response: &str) -> (&str, Value) {
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{response}"
    );
    let status = head.lines().next().unwrap();
    (status, serde_json::from_str(body).expect("a JSON body"))
}

#[tokio::test]
async fn silent_connections_are_closed_and_health_checks_still_answer() {
    let gateway = Gateway::start_with_env(
        "",
        &[
            ("AUTHGATE_SERVER__HEADER_READ_TIMEOUT", "1s"),
            ("AUTHGATE_SERVER__IDLE_TIMEOUT", "1s"),
            ("AUTHGATE_SERVER__MAX_CONNECTIONS", "40"),
            ("AUTHGATE_SERVER__WORKERS", "2"),
        ],
    );

    // Many more silent sockets than the cap: idle ones are closed to make room for newcomers.
    let mut silent = Vec::new();
    for _ in 0..120 {
        silent.push(TcpStream::connect(gateway.addr).await.unwrap());
    }
    let started = Instant::now();
    let health = reqwest::Client::new()
        .get(gateway.url("/healthz"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .expect("/healthz answers while silent sockets fill the gateway");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Every one of them is closed, none later than twice the header timeout.
    for stream in &mut silent {
        assert!(
            closed_within(stream, Duration::from_secs(4))
                .await
                .is_some(),
            "a socket that never sent a byte stays open"
        );
    }
}

#[tokio::test]
async fn a_newcomer_is_answered_even_when_the_listener_is_full() {
    // One slot: every newcomer finds it taken by a silent socket, and the listener asks idle
    // connections to make room the moment it accepts the newcomer. The newcomer, whose request
    // is on its way but not read yet, must not be taken for one of them.
    let gateway = Gateway::start_with_env(
        "",
        &[
            ("AUTHGATE_SERVER__HEADER_READ_TIMEOUT", "2s"),
            ("AUTHGATE_SERVER__MAX_CONNECTIONS", "1"),
            ("AUTHGATE_SERVER__WORKERS", "1"),
        ],
    );
    let mut silent = Vec::new();
    for attempt in 0..10 {
        silent.push(TcpStream::connect(gateway.addr).await.unwrap());
        let answer = raw(
            &gateway,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            false,
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "attempt {attempt}: {answer:?}"
        );
    }
}

#[tokio::test]
async fn idle_keep_alive_and_http2_connections_are_closed() {
    let gateway = Gateway::start_with_env(
        "",
        &[
            ("AUTHGATE_SERVER__HEADER_READ_TIMEOUT", "1s"),
            ("AUTHGATE_SERVER__IDLE_TIMEOUT", "1s"),
        ],
    );

    // HTTP/1.1: one request answered, then nothing more.
    let mut keep_alive = TcpStream::connect(gateway.addr).await.unwrap();
    keep_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    keep_alive.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(
        closed_within(&mut keep_alive, Duration::from_secs(4))
            .await
            .is_some(),
        "an idle keep-alive connection stays open"
    );

    // HTTP/2: the preface and empty settings, then silence.
    let mut h2 = TcpStream::connect(gateway.addr).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    assert!(
        closed_within(&mut h2, Duration::from_secs(4))
            .await
            .is_some(),
        "an idle HTTP/2 connection stays open"
    );

    // A long response in progress is not idle: server-sent events outlive the idle timeout.
    let upstream = Upstream::start();
    let streaming = Gateway::start_with_env(
        &route_to(&upstream.url(), ""),
        &[("AUTHGATE_SERVER__IDLE_TIMEOUT", "1s")],
    );
    let app = streaming.app("api-key");
    let (_, secret) = streaming.key(&app, &[]);
    let response = streaming.get_with_key("/sse", &secret).await;
    let mut events = response.bytes_stream();
    use futures_util::StreamExt as _;
    let first = events.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("first"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    reqwest::get(format!("{}/release", upstream.url()))
        .await
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&second).contains("second"));
}

#[tokio::test]
async fn errors_of_the_http_layer_are_json() {
    let gateway = Gateway::start("");

    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let response = raw(&gateway, huge.as_bytes(), false).await;
    let (status, body) = status_and_json(&response);
    assert!(status.starts_with("HTTP/1.1 431"), "{response}");
    assert_eq!(body["code"], "headers_too_large");
    assert_eq!(body["error"], "Request Header Fields Too Large");

    let response = raw(&gateway, b"\x00\x01\x02 not http at all\r\n\r\n", false).await;
    let (status, body) = status_and_json(&response);
    assert!(status.starts_with("HTTP/1.1 400"), "{response}");
    assert_eq!(body["code"], "malformed_request");

    // The same on a keep-alive connection after a good request.
    let response = raw(
        &gateway,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost x\r\n\r\n",
        false,
    )
    .await;
    let second = format!("HTTP/1.1 {}", response.rsplit_once("HTTP/1.1 ").unwrap().1);
    let (status, body) = status_and_json(&second);
    assert!(status.starts_with("HTTP/1.1 400"), "{response}");
    assert_eq!(body["code"], "malformed_request");

    // The token endpoint's body limit: a form declared larger is refused before it is sent.
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(
            b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 3145728\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let response = one_response(&mut stream).await;
    let (status, body) = status_and_json(&response);
    assert!(status.starts_with("HTTP/1.1 413"), "{response}");
    assert_eq!(body["error"], "invalid_request", "{body}");
}

/// A body sent in `chunks` pieces of `size` bytes, `pause` apart.
fn slow_body(chunks: usize, size: usize, pause: Duration) -> reqwest::Body {
    let stream = futures_util::stream::unfold(0, move |sent| async move {
        if sent == chunks {
            return None;
        }
        tokio::time::sleep(pause).await;
        Some((Ok::<_, std::io::Error>(vec![b'x'; size]), sent + 1))
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test]
async fn the_route_timeout_starts_once_the_upload_is_done() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(&route_to(&upstream.url(), "timeout = \"1s\""));
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);

    // 3 MiB at about 1 MiB/s: three times the route's timeout, and the upstream answers at once.
    let seen: Value = reqwest::Client::new()
        .post(gateway.url("/upload"))
        .header("X-API-Key", &secret)
        .body(slow_body(48, 64 * 1024, Duration::from_millis(60)))
        .fetch_json()
        .await;
    assert_eq!(seen["body_size"], 3 * 1024 * 1024, "{seen}");
}

#[tokio::test]
async fn a_stalled_upload_is_408_and_a_cut_one_400() {
    let upstream = Upstream::start();
    let gateway = Gateway::start_with_env(
        &route_to(&upstream.url(), ""),
        &[("AUTHGATE_SERVER__BODY_TIMEOUT", "1s")],
    );
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let head = |framing: &str| {
        format!("POST /upload HTTP/1.1\r\nHost: x\r\nX-API-Key: {secret}\r\n{framing}\r\n\r\n")
    };

    // 10 of 100 promised bytes, then nothing (the connection stays open).
    let mut stalled = TcpStream::connect(gateway.addr).await.unwrap();
    stalled
        .write_all(format!("{}0123456789", head("Content-Length: 100")).as_bytes())
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stalled.read(&mut answer))
        .await
        .expect("a stalled upload is answered")
        .unwrap();
    let (status, body) = status_and_json(std::str::from_utf8(&answer[..read]).unwrap());
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    assert_eq!(body["code"], "request_timeout");

    // 10 of 100 promised bytes, then the client closes its side.
    let mut cut = TcpStream::connect(gateway.addr).await.unwrap();
    cut.write_all(format!("{}0123456789", head("Content-Length: 100")).as_bytes())
        .await
        .unwrap();
    cut.shutdown().await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), cut.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let (status, body) = status_and_json(std::str::from_utf8(&response).unwrap());
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    assert_eq!(body["code"], "malformed_request");

    // A chunked body whose chunk size is not hex.
    let response = raw(
        &gateway,
        format!("{}5\r\nhello\r\nZZ\r\n", head("Transfer-Encoding: chunked")).as_bytes(),
        false,
    )
    .await;
    let (status, body) = status_and_json(&response);
    assert!(status.starts_with("HTTP/1.1 400"), "{response}");
    assert_eq!(body["code"], "malformed_request");

    let logs = gateway.logs();
    assert!(
        !logs.contains("upstream unavailable"),
        "the client's fault is not logged as the upstream's: {logs}"
    );
}
