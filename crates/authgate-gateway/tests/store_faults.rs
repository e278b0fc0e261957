//! What the gateway asks of its store, seen from a real SQLite store that a second connection
//! breaks (its key table renamed away) and mends: junk never reaches the store, a store that
//! cannot answer fails closed (503), and a key verified before the fault is served from the
//! cache; the gateway is served on a real socket.
#![allow(clippy::unwrap_used)]

mod support;

use authgate_config::Config;
use authgate_core::key;
use authgate_gateway::listener::{self, ListenOptions};
use authgate_gateway::stack::Gateway;
use authgate_state::{MemoryIdempotencyStore, MemoryRateLimiter};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The store's SQLite file, reached through a connection of its own.
struct StoreFile(PathBuf);

impl StoreFile {
    /// Takes the key table away: every key lookup fails as it would with the store down.
    async fn break_keys(&self) {
        self.run("ALTER TABLE api_keys RENAME TO api_keys_away")
            .await;
    }

    async fn mend_keys(&self) {
        self.run("ALTER TABLE api_keys_away RENAME TO api_keys")
            .await;
    }

    async fn run(&self, statement: &str) {
        let url = format!("sqlite://{}", self.0.display());
        let mut connection = SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(statement)
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    }
}

/// A gateway over a SQLite store with one key, served on a port of its own; returns the
/// store's file, the key's secret and the address.
async fn serve() -> (StoreFile, String, std::net::SocketAddr, tempfile::TempDir) {
    serve_with(Config::default()).await
}

async fn serve_with(
    mut config: Config,
) -> (StoreFile, String, std::net::SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (store, secret, _) = support::store_with_key(dir.path()).await;
    config.oidc.enabled = false;
    let gateway = Gateway::new(
        &config,
        Arc::new(store),
        Arc::new(MemoryRateLimiter::new()),
        Arc::new(MemoryIdempotencyStore::default()),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ListenOptions {
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        drain_timeout: Duration::from_secs(1),
        max_connections: 64,
        trusted_proxies: Arc::new([]),
    };
    tokio::spawn(listener::serve(
        listener,
        gateway.service(),
        options,
        std::future::pending(),
    ));
    let file = StoreFile(dir.path().join(support::STORE_FILE));
    (file, secret, addr, dir)
}

/// `GET /` with `X-API-Key: key` on a fresh connection: the status and the body.
async fn get(addr: std::net::SocketAddr, key: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET / HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[tokio::test]
async fn a_malformed_key_is_refused_without_asking_the_store() {
    let (file, secret, addr, _dir) = serve().await;
    // The stored key is verified once, before the fault.
    assert_eq!(get(addr, &secret).await.0, 200);
    file.break_keys().await;

    // One character changed: the checksum fails and the store is never asked, so the broken
    // store makes no difference: a plain 401.
    let mut typo = secret.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'x' { 'y' } else { 'x' });
    for junk in [
        typo.as_str(),
        "sk_test_short",
        "not-a-key",
        &"k".repeat(4096),
    ] {
        let (status, body) = get(addr, junk).await;
        assert_eq!(status, 401, "{junk}: {body}");
        assert!(body.contains("invalid_credentials"), "{body}");
    }

    // A well-formed key the cache does not know is looked up, and the broken store answers it
    // with 503; the key verified before the fault is served from the cache.
    let unknown = key::generate("test").secret;
    assert_eq!(get(addr, &unknown).await.0, 503);
    for _ in 0..3 {
        assert_eq!(get(addr, &secret).await.0, 200);
    }
}

#[tokio::test]
async fn a_store_that_cannot_answer_fails_closed_with_503() {
    let (file, secret, addr, _dir) = serve().await;
    file.break_keys().await;
    let (status, body) = get(addr, &secret).await;
    assert_eq!(status, 503);
    assert!(body.contains("\"code\":\"store_unavailable\""), "{body}");

    // Back up: the same key works (the refusal was not cached).
    file.mend_keys().await;
    assert_eq!(get(addr, &secret).await.0, 200);
}

#[tokio::test]
async fn a_key_verified_before_an_outage_works_through_its_grace_and_then_fails_closed() {
    let mut config = Config::default();
    config.auth.cache_ttl = authgate_config::Duration(Duration::from_millis(200));
    config.store.outage_grace = authgate_config::Duration(Duration::from_millis(1_500));
    let (file, secret, addr, _dir) = serve_with(config).await;
    assert_eq!(get(addr, &secret).await.0, 200);
    file.break_keys().await;

    // Past the cache's TTL: looked up again in the background, which fails; still served.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get(addr, &secret).await.0, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get(addr, &secret).await.0, 200, "within the grace");

    // Past TTL and grace: asked of the store, which cannot answer.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let (status, body) = get(addr, &secret).await;
    assert_eq!(status, 503, "{body}");

    // The store is back: so is the key.
    file.mend_keys().await;
    assert_eq!(get(addr, &secret).await.0, 200);
}
