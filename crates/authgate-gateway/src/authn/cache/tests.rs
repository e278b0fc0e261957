use super::*;
use authgate_config::AuthorizationConfig;
use authgate_store::{AppStore as _, ChangeFeed, SqliteStore};

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
    let cache = CredentialCache::new(store.clone(), policy, ttl, Duration::ZERO);
    (cache, store, KeyDigest::of(&secret), key_id)
}

/// Revokes a key as an operator would.
async fn revoke(store: &Arc<SqliteStore>, id: &str) {
    authgate_ops::Operations::new(store.clone(), &authgate_config::Config::default())
        .revoke_key(&support::tester(), id)
        .await
        .expect("revoke");
}

async fn revoked(cache: &CredentialCache, digest: &KeyDigest) -> bool {
    let key = cache
        .key(digest, || true)
        .await
        .expect("lookup")
        .expect("found");
    key.refusal(0) == Some(ErrorCode::RevokedCredentials)
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

/// Applies to `cache` every change the store recorded after `since`; returns the newest seq.
async fn forget_changes(cache: &CredentialCache, store: &SqliteStore, since: i64) -> i64 {
    let changes = store.changes_since(since, 100).await.expect("changes");
    cache.forget(&changes);
    changes.last().map_or(since, |change| change.seq)
}

async fn found(cache: &CredentialCache, digest: &KeyDigest) -> Arc<CachedKey> {
    cache
        .key(digest, || true)
        .await
        .expect("lookup")
        .expect("found")
}

#[tokio::test]
async fn a_change_drops_only_the_entries_it_touches() {
    let dir = tempfile::tempdir().expect("dir");
    let (cache, store, first, _) = cache_with_key(dir.path(), Duration::from_secs(60)).await;
    let ops = authgate_ops::Operations::new(store.clone(), &authgate_config::Config::default());
    let tester = support::tester();
    let other_app = support::add_app(&ops, "other").await;
    let (other_secret, other_id) = support::add_key(&ops, &other_app).await;
    let second = KeyDigest::of(&other_secret);
    let mut seen = store.change_seq().await.expect("seq");
    let first_app = found(&cache, &first).await.app_id().to_owned();
    found(&cache, &second).await;
    assert_eq!(cache.lookups().get(), (0, 2));

    // A key created and one revoked for the other application: the first key stays cached.
    support::add_key(&ops, &other_app).await;
    ops.revoke_key(&tester, &other_id).await.expect("revoke");
    seen = forget_changes(&cache, &store, seen).await;
    assert_eq!(found(&cache, &first).await.refusal(0), None);
    assert_eq!(
        found(&cache, &second).await.refusal(0),
        Some(ErrorCode::RevokedCredentials)
    );
    assert_eq!(
        cache.lookups().get(),
        (1, 3),
        "only the revoked key was asked again"
    );

    // Suspending the first key's application drops its keys, not the other's.
    ops.set_app_suspended(&tester, &first_app, true)
        .await
        .expect("suspend");
    seen = forget_changes(&cache, &store, seen).await;
    assert_eq!(
        found(&cache, &first).await.refusal(0),
        Some(ErrorCode::ApplicationSuspended)
    );
    found(&cache, &second).await;
    assert_eq!(cache.lookups().get(), (2, 4));

    // A role changes what anyone may do: everything goes.
    ops.create_role(&tester, "reader", &["tasks:read".into()])
        .await
        .expect("role");
    forget_changes(&cache, &store, seen).await;
    found(&cache, &first).await;
    found(&cache, &second).await;
    assert_eq!(cache.lookups().get(), (2, 6));
}

#[tokio::test]
async fn an_application_s_creation_drops_only_an_answer_that_it_did_not_exist() {
    let dir = tempfile::tempdir().expect("dir");
    let (cache, store, digest, _) = cache_with_key(dir.path(), Duration::from_secs(60)).await;
    found(&cache, &digest).await;
    // Ids are random, so no lookup could have asked for one before it was made; a store
    // written to by other means may still be given a chosen one.
    let id = "app_chosen";
    assert!(cache.app(id).await.expect("lookup").is_none());
    let seen = store.change_seq().await.expect("seq");
    let generation = cache.generation.load(Ordering::Acquire);
    let new_app = authgate_store::NewApp {
        id: id.into(),
        name: "chosen".into(),
        tenant: authgate_store::DEFAULT_TENANT.into(),
        owner: None,
        mode: AppMode::AppId,
        roles: Vec::new(),
        redirect_uris: Vec::new(),
    };
    let audit = authgate_store::AuditEntry {
        actor: support::tester(),
        action: "application.create".into(),
        target_type: "application".into(),
        target_id: id.into(),
        details: serde_json::json!({}),
    };
    store.create_app(new_app, &audit).await.expect("app");
    forget_changes(&cache, &store, seen).await;

    assert!(cache.app(id).await.expect("lookup").is_some());
    assert_eq!(
        cache.generation.load(Ordering::Acquire),
        generation,
        "the threads' key copies are kept"
    );
    found(&cache, &digest).await;
    assert_eq!(
        cache.lookups().get(),
        (1, 3),
        "the key was not asked again; the application twice"
    );
}

#[tokio::test]
async fn the_keys_of_one_application_share_its_caller_until_it_changes() {
    let dir = tempfile::tempdir().expect("dir");
    let (cache, store, first, _) = cache_with_key(dir.path(), Duration::from_secs(60)).await;
    let ops = authgate_ops::Operations::new(store.clone(), &authgate_config::Config::default());
    let app = found(&cache, &first).await.app_id().to_owned();
    let (second, _) = support::add_key(&ops, &app).await;
    let scoped = ops
        .create_key(
            &support::tester(),
            authgate_ops::CreateKey {
                app_id: app.clone(),
                name: None,
                expires: None,
                scopes: vec!["tasks:read".into()],
            },
        )
        .await
        .expect("scoped key");
    let [first, second, scoped] = [first, KeyDigest::of(&second), KeyDigest::of(&scoped.secret)];
    let seen = store.change_seq().await.expect("seq");
    // The shared entries' callers (a thread's copies have callers of their own).
    let callers = async || {
        let mut callers = Vec::new();
        for digest in [&first, &second, &scoped] {
            found(&cache, digest).await;
            let shared = cache
                .keys
                .get(digest)
                .expect("shared entry")
                .expect("found")
                .expect("a key");
            callers.push(shared.caller.clone());
        }
        callers
    };

    let before = callers().await;
    assert!(Arc::ptr_eq(&before[0], &before[1]), "one caller for both");
    assert!(!Arc::ptr_eq(&before[0], &before[2]), "scopes make another");
    assert!(before[0].roles().is_empty());
    assert_eq!(before[2].scopes(), ["tasks:read"]);

    // The application's roles change: its keys act with the new ones.
    let changes = authgate_store::AppChanges {
        roles: Some(vec!["viewer".into()]),
        ..Default::default()
    };
    ops.update_app(&support::tester(), &app, changes)
        .await
        .expect("update");
    forget_changes(&cache, &store, seen).await;
    let after = callers().await;
    assert!(Arc::ptr_eq(&after[0], &after[1]));
    assert_eq!(after[0].roles(), ["viewer"]);
    assert_eq!(after[2].roles(), ["viewer"]);
}

#[test]
fn a_cached_key_fits_a_128_byte_allocation() {
    // An `Arc`'s block is the value and two counts; past 128 bytes the allocator's next size is
    // 160, 32 bytes more for each of a million keys.
    assert!(std::mem::size_of::<CachedKey>() + 2 * std::mem::size_of::<usize>() <= 128);
}
