use super::*;
use authgate_config::AuthorizationConfig;
use authgate_store::{Actor, SqliteStore};

#[path = "../../../tests/support/mod.rs"]
mod support;

/// A cache over a fresh SQLite store holding one key; returns the key's digest and id.
async fn cache_with_key(
    dir: &std::path::Path,
    ttl: Duration,
) -> (CredentialCache, Arc<SqliteStore>, KeyDigest, String) {
    let (store, secret, key_id) = support::store_with_key(dir).await;
    let store = Arc::new(store);
    let policy = Arc::new(GrantPolicy::new(&AuthorizationConfig::default()));
    let cache = CredentialCache::new(store.clone(), policy, ttl);
    (cache, store, KeyDigest::of(&secret), key_id)
}

/// Revokes a key as an operator would.
async fn revoke(store: &Arc<SqliteStore>, id: &str) {
    let tester = Actor {
        name: "tester".into(),
        source: "test".into(),
        signed_in: false,
    };
    authgate_ops::Operations::new(store.clone(), &authgate_config::Config::default())
        .revoke_key(&tester, id)
        .await
        .expect("revoke");
}

async fn revoked(cache: &CredentialCache, digest: &KeyDigest) -> bool {
    let key = cache
        .key(digest, || true)
        .await
        .expect("lookup")
        .expect("found");
    key.record.revoked
}

#[tokio::test]
async fn a_thread_s_copies_are_dropped_when_the_cache_is_cleared() {
    let dir = tempfile::tempdir().expect("dir");
    let (cache, store, digest, id) = cache_with_key(dir.path(), Duration::from_secs(60)).await;
    assert!(!revoked(&cache, &digest).await);
    assert!(
        !revoked(&cache, &digest).await,
        "served from this thread's copy"
    );
    revoke(&store, &id).await;
    assert!(
        !revoked(&cache, &digest).await,
        "cached until the cache is cleared"
    );
    cache.clear();
    assert!(revoked(&cache, &digest).await);
    assert_eq!(cache.lookups().get(), (2, 2), "copies count as hits");
}

#[tokio::test]
async fn a_thread_s_copy_expires_with_the_shared_entry() {
    let dir = tempfile::tempdir().expect("dir");
    let (cache, store, digest, id) = cache_with_key(dir.path(), Duration::from_millis(200)).await;
    assert!(!revoked(&cache, &digest).await);
    assert!(!revoked(&cache, &digest).await);
    revoke(&store, &id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        revoked(&cache, &digest).await,
        "the TTL holds for copies too"
    );
}
