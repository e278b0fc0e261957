//! What the gateway asks of its store, seen from a store that counts key lookups and can be
//! taken down: junk never reaches it, and a store that cannot answer fails closed (503), with
//! the gateway served on a real socket.
#![allow(clippy::unwrap_used)]

mod support;

use async_trait::async_trait;
use authgate_config::Config;
use authgate_core::KeyDigest;
use authgate_core::key;
use authgate_gateway::listener::{self, ListenOptions};
use authgate_gateway::stack::Gateway;
use authgate_state::{MemoryIdempotencyStore, MemoryRateLimiter};
use authgate_store::{
    AppRecord, AuthorizationCode, CodeUse, CredentialStore, KeyRecord, PasswordRecord,
    RefreshTokenRecord, RefreshUse, SigningKeyRecord, SqliteStore, StoreError, UsageCount,
    UsageSink,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A real SQLite store behind a switch, counting `find_key` calls.
struct WatchedStore {
    inner: SqliteStore,
    key_lookups: AtomicUsize,
    down: AtomicBool,
}

impl WatchedStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
        }
        Ok(())
    }
}

#[async_trait]
impl UsageSink for WatchedStore {
    async fn record_usage(&self, counts: &[UsageCount]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.record_usage(counts).await
    }
}

#[async_trait]
impl CredentialStore for WatchedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.check()?;
        self.inner.ping().await
    }
    async fn find_key(&self, digest: &KeyDigest) -> Result<Option<KeyRecord>, StoreError> {
        self.key_lookups.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.find_key(digest).await
    }
    async fn find_app(&self, app_id: &str) -> Result<Option<AppRecord>, StoreError> {
        self.check()?;
        self.inner.find_app(app_id).await
    }
    async fn role_permissions(&self, roles: &[String]) -> Result<Vec<String>, StoreError> {
        self.check()?;
        self.inner.role_permissions(roles).await
    }
    async fn record_key_use(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.record_key_use(uses).await
    }
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self.check()?;
        self.inner.signing_keys().await
    }
    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.is_token_revoked(jti).await
    }
    async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.revoke_token(jti, expires_at).await
    }
    async fn create_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        self.check()?;
        self.inner.create_refresh_token(token).await
    }
    async fn record_family_token(
        &self,
        family_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner
            .record_family_token(family_id, jti, expires_at)
            .await
    }
    async fn use_refresh_token(
        &self,
        digest: &KeyDigest,
        now: i64,
    ) -> Result<RefreshUse, StoreError> {
        self.check()?;
        self.inner.use_refresh_token(digest, now).await
    }
    async fn revoke_refresh_token(&self, digest: &KeyDigest) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.revoke_refresh_token(digest).await
    }
    async fn redirect_uris(&self, app_id: &str) -> Result<Vec<String>, StoreError> {
        self.check()?;
        self.inner.redirect_uris(app_id).await
    }
    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        self.check()?;
        self.inner.create_authorization_code(code).await
    }
    async fn take_authorization_code(
        &self,
        digest: &KeyDigest,
        now: i64,
        family_id: &str,
    ) -> Result<CodeUse, StoreError> {
        self.check()?;
        self.inner
            .take_authorization_code(digest, now, family_id)
            .await
    }
    async fn find_password(&self, user: &str) -> Result<Option<PasswordRecord>, StoreError> {
        self.check()?;
        self.inner.find_password(user).await
    }
    async fn change_seq(&self) -> Result<i64, StoreError> {
        self.check()?;
        self.inner.change_seq().await
    }
}

/// A gateway over a watched store with one key, served on a port of its own; returns the
/// store, the key's secret and the address.
async fn serve() -> (
    Arc<WatchedStore>,
    String,
    std::net::SocketAddr,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let (inner, secret, _) = support::store_with_key(dir.path()).await;
    let store = Arc::new(WatchedStore {
        inner,
        key_lookups: AtomicUsize::new(0),
        down: AtomicBool::new(false),
    });
    let mut config = Config::default();
    config.oidc.enabled = false;
    let gateway = Gateway::new(
        &config,
        store.clone(),
        Arc::new(store.inner.clone()),
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
    (store, secret, addr, dir)
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
    let (store, secret, addr, _dir) = serve().await;
    let lookups = || store.key_lookups.load(Ordering::SeqCst);

    // One character changed: the checksum fails, the store is never asked.
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
        assert_eq!(status, 401, "{junk}");
        assert!(body.contains("invalid_credentials"), "{body}");
    }
    assert_eq!(lookups(), 0, "junk reached the store");

    // A well-formed key the store does not know is looked up; a stored one too, once, and
    // then served from the cache.
    let unknown = key::generate("test").secret;
    assert_eq!(get(addr, &unknown).await.0, 401);
    assert_eq!(lookups(), 1);
    for _ in 0..3 {
        assert_eq!(get(addr, &secret).await.0, 200);
    }
    assert_eq!(lookups(), 2);
}

#[tokio::test]
async fn a_store_that_cannot_answer_fails_closed_with_503() {
    let (store, secret, addr, _dir) = serve().await;
    store.down.store(true, Ordering::SeqCst);
    let (status, body) = get(addr, &secret).await;
    assert_eq!(status, 503);
    assert!(body.contains("\"code\":\"store_unavailable\""), "{body}");

    // Back up: the same key works (the refusal was not cached).
    store.down.store(false, Ordering::SeqCst);
    assert_eq!(get(addr, &secret).await.0, 200);
}
