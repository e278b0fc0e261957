//! The store's contract, checked through its traits only, so that every backend runs the same
//! suite: each test below is a function of `&dyn Store` (or, to check opening, of the URL of a new
//! database), and `conformance!` instantiates it once per backend. The PostgreSQL backend needs a
//! server: scripts/test.sh starts one.
#![allow(clippy::unwrap_used)]

use authgate_core::KeyDigest;
use authgate_core::key;
use authgate_core::time::now_unix;
use authgate_store::*;
use futures_util::future::join_all;
use std::sync::atomic::{AtomicBool, Ordering};

/// A new, empty database of one backend, not yet opened, and what keeps it.
struct Database {
    url: String,
    place: Place,
}

enum Place {
    /// A temporary directory holding the SQLite file.
    Directory(tempfile::TempDir),
    /// A database created for the test on the PostgreSQL server `server` (a URL of its
    /// maintenance database).
    Server { server: String, name: String },
}

/// Where the PostgreSQL tests find their server.
const POSTGRES_URL_VARIABLE: &str = "TEST_POSTGRES_URL";

impl Database {
    /// A fresh SQLite file.
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        Self {
            url,
            place: Place::Directory(dir),
        }
    }

    /// A fresh database on the server named by `TEST_POSTGRES_URL`. Without one the
    /// test fails, never skips: a skipped backend would pass CI untested.
    async fn postgres() -> Self {
        let server = std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_URL_VARIABLE} is not set: run the tests with scripts/test.sh, which \
                 starts a PostgreSQL server for them (or set it to the URL of the `postgres` \
                 database of a server where you may create databases)"
            )
        });
        let name = format!(
            "authgate_test_{}",
            authgate_core::id::new_id("db").to_lowercase()
        );
        Self::on_server(&server, &format!("CREATE DATABASE {name}")).await;
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(&name);
        Self {
            url: url.into(),
            place: Place::Server { server, name },
        }
    }

    /// Removes the database. A test that failed keeps its PostgreSQL database for a look
    /// (scripts/test.sh removes its whole server at the end).
    async fn remove(self) {
        match self.place {
            Place::Directory(dir) => dir.close().unwrap(),
            // Forced: the store's pool may not have closed its connections yet.
            Place::Server { server, name } => {
                Self::on_server(&server, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
            }
        }
    }

    /// Runs `statement` on the server's maintenance database.
    async fn on_server(server: &str, statement: &str) {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(server)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VARIABLE}={server}: {e}"));
        sqlx::raw_sql(statement)
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    }
}

/// One `#[tokio::test]` per backend and test function: `stores` tests get a store opened on a
/// fresh database, `databases` tests the URL of a fresh database nothing opened yet.
macro_rules! conformance {
    (stores: [$($test:ident),* $(,)?], databases: [$($url_test:ident),* $(,)?] $(,)?) => {
        conformance!(@backend sqlite, [$($test),*], [$($url_test),*]);
        conformance!(@backend postgres, [$($test),*], [$($url_test),*]);
    };
    (@backend $backend:ident, [$($test:ident),*], [$($url_test:ident),*]) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $test() {
                    let database = super::Database::$backend().await;
                    let store = authgate_store::open(&database.url).await.unwrap();
                    super::$test(store.as_ref()).await;
                    drop(store);
                    database.remove().await;
                }
            )*
            $(
                #[tokio::test]
                async fn $url_test() {
                    let database = super::Database::$backend().await;
                    super::$url_test(&database.url).await;
                    database.remove().await;
                }
            )*
        }
    };
}

conformance!(
    stores: [
        text_with_a_nul_is_the_input_s_fault_not_an_outage,
        the_change_feed_names_what_changed_in_commit_order,
        a_created_key_is_found_by_digest_with_its_application,
        a_key_past_the_live_key_limit_is_refused_until_one_is_revoked,
        regenerate_replaces_the_digest_and_every_change_moves_the_sequence,
        a_batch_of_key_uses_keeps_each_key_s_latest_use,
        bootstrap_happens_once,
        a_user_who_owns_applications_is_not_deleted,
        roles_are_checked_bound_and_acted_with,
        usage_batches_add_up_per_minute_and_outcome,
        the_bootstrap_admin_token_is_found_by_digest,
        rotation_retires_the_signing_key_and_keeps_it_published_until_told,
        a_rotation_retires_only_the_key_of_its_own_purpose,
        a_revoked_token_is_remembered_until_it_would_expire,
        a_refresh_token_works_once_and_its_reuse_revokes_the_family,
        route_usage_adds_up_per_route_beside_the_applications,
        iiif_tokens_belong_to_their_session_and_end_with_it,
        concurrent_key_creations_never_pass_the_live_key_limit,
        concurrent_bootstraps_bootstrap_once,
        concurrent_uses_of_a_refresh_token_are_a_use_and_a_reuse,
        concurrent_exchanges_of_an_authorization_code_take_it_once,
        concurrent_rotations_leave_one_signing_key_per_purpose,
        concurrent_role_replacements_leave_one_of_them,
        concurrent_creations_in_a_new_tenant_share_it,
        a_reader_of_the_change_feed_misses_nothing_written_concurrently,
        listings_order_names_bytewise,
    ],
    databases: [stores_opened_at_once_on_a_new_database_all_work],
);

fn credential() -> (String, NewCredential) {
    let secret = key::generate("test");
    let credential = NewCredential {
        digest: secret.digest,
        display_prefix: secret.display_prefix.clone(),
    };
    (secret.secret, credential)
}

/// A change's audit entry, as the operations layer would write it.
fn audit() -> AuditEntry {
    AuditEntry {
        actor: Actor {
            name: "test".into(),
            source: "cli".into(),
            signed_in: false,
        },
        action: "test.change".into(),
        target_type: "test".into(),
        target_id: "t".into(),
        details: serde_json::json!({}),
    }
}

/// A person of the default tenant with `roles`, as `create_user` answers.
async fn person(store: &dyn Store, name: &str, roles: &[&str]) -> Result<User, StoreError> {
    store
        .create_user(
            NewUser {
                id: authgate_core::id::new_id("usr"),
                name: name.into(),
                kind: UserKind::Person,
                password_hash: None,
                tenant: DEFAULT_TENANT.into(),
                roles: roles.iter().map(|role| (*role).to_owned()).collect(),
            },
            &audit(),
        )
        .await
}

async fn app(store: &dyn Store, mode: AppMode) -> App {
    store
        .create_app(
            NewApp {
                id: authgate_core::id::new_id("app"),
                name: "demo".into(),
                tenant: DEFAULT_TENANT.into(),
                owner: None,
                mode,
                roles: Vec::new(),
                redirect_uris: Vec::new(),
            },
            &audit(),
        )
        .await
        .unwrap()
}

fn new_key(app_id: &str, credential: NewCredential) -> NewKey {
    NewKey {
        id: authgate_core::id::new_id("key"),
        app_id: app_id.into(),
        name: Some("k".into()),
        scopes: vec!["tasks:read".into()],
        expires_at: None,
        credential,
        live_key_limit: None,
    }
}

async fn a_created_key_is_found_by_digest_with_its_application(store: &dyn Store) {
    let owner = store
        .create_user(
            NewUser {
                id: authgate_core::id::new_id("usr"),
                name: "jane".into(),
                kind: UserKind::Person,
                password_hash: None,
                tenant: "acme".into(),
                roles: vec!["viewer".into(), "admin".into()],
            },
            &audit(),
        )
        .await
        .unwrap();
    assert_eq!(owner.roles, vec!["admin", "viewer"]);
    let app = store
        .create_app(
            NewApp {
                id: authgate_core::id::new_id("app"),
                name: "tasks".into(),
                tenant: "acme".into(),
                owner: Some("jane".into()),
                mode: AppMode::ApiKey,
                roles: Vec::new(),
                redirect_uris: Vec::new(),
            },
            &audit(),
        )
        .await
        .unwrap();
    let (secret, credential) = credential();
    let key = store
        .create_key(new_key(&app.id, credential), &audit())
        .await
        .unwrap();
    let found = store
        .find_key(&KeyDigest::of(&secret))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, key.id);
    assert_eq!(found.app.id, app.id);
    assert_eq!(found.app.owner.as_deref(), Some("jane"));
    assert_eq!(found.app.tenant, "acme");
    assert_eq!(found.app.roles, vec!["admin", "viewer"]);
    assert_eq!(found.scopes, vec!["tasks:read"]);
    assert!(!found.revoked);
    assert!(
        store
            .find_key(&KeyDigest::of("sk_test_other"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_key_past_the_live_key_limit_is_refused_until_one_is_revoked(store: &dyn Store) {
    let app = app(store, AppMode::AppIdKey).await;
    let limited = || NewKey {
        live_key_limit: Some(3),
        ..new_key(&app.id, credential().1)
    };
    let mut first = None;
    for _ in 0..3 {
        let key = store.create_key(limited(), &audit()).await.unwrap();
        first.get_or_insert(key.id);
    }
    let err = store.create_key(limited(), &audit()).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("3 live keys"), "{err}");
    store.revoke_key(&first.unwrap(), &audit()).await.unwrap();
    store.create_key(limited(), &audit()).await.unwrap();
    // Without a limit the store adds keys as asked.
    store
        .create_key(new_key(&app.id, credential().1), &audit())
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_key(new_key("app_missing", credential().1), &audit())
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn regenerate_replaces_the_digest_and_every_change_moves_the_sequence(store: &dyn Store) {
    let app = app(store, AppMode::ApiKey).await;
    let (old_secret, credential_old) = credential();
    let key = store
        .create_key(new_key(&app.id, credential_old), &audit())
        .await
        .unwrap();
    let before = store.change_seq().await.unwrap();
    let (new_secret, credential_new) = credential();
    let regenerated = store
        .regenerate_key(&key.id, &credential_new, &audit())
        .await
        .unwrap();
    assert_eq!(regenerated.id, key.id);
    assert_ne!(regenerated.prefix, key.prefix);
    assert!(
        store
            .find_key(&KeyDigest::of(&old_secret))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_key(&KeyDigest::of(&new_secret))
            .await
            .unwrap()
            .is_some()
    );
    let after_regenerate = store.change_seq().await.unwrap();
    assert!(after_regenerate > before);
    store
        .set_app_suspended(&app.id, true, &audit())
        .await
        .unwrap();
    assert!(store.change_seq().await.unwrap() > after_regenerate);
    assert!(store.find_app(&app.id).await.unwrap().unwrap().suspended);
    assert!(
        !store
            .set_app_suspended(&app.id, false, &audit())
            .await
            .unwrap()
            .suspended
    );
}

async fn a_batch_of_key_uses_keeps_each_key_s_latest_use(store: &dyn Store) {
    let app = app(store, AppMode::ApiKey).await;
    let first = store
        .create_key(new_key(&app.id, credential().1), &audit())
        .await
        .unwrap();
    let second = store
        .create_key(new_key(&app.id, credential().1), &audit())
        .await
        .unwrap();
    // One batch: two keys, one of them twice and out of order, and a key deleted meanwhile.
    store
        .record_key_use(&[
            (first.id.clone(), 1_700_000_000),
            (second.id.clone(), 1_650_000_000),
            (first.id.clone(), 1_600_000_000),
            ("key_deleted_meanwhile".into(), 1_700_000_000),
        ])
        .await
        .unwrap();
    // A later batch with an older time changes nothing.
    store
        .record_key_use(&[(second.id.clone(), 1_500_000_000)])
        .await
        .unwrap();
    let listed = store.list_keys(Some(&app.id)).await.unwrap();
    let last_used = |id: &str| listed.iter().find(|k| k.id == id).unwrap().last_used_at;
    assert_eq!(last_used(&first.id), Some(1_700_000_000));
    assert_eq!(last_used(&second.id), Some(1_650_000_000));
}

async fn bootstrap_happens_once(store: &dyn Store) {
    assert!(
        store
            .bootstrap_admin(&credential().1, &audit())
            .await
            .unwrap()
    );
    assert!(
        !store
            .bootstrap_admin(&credential().1, &audit())
            .await
            .unwrap()
    );
    let users = store.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, "admin");
    assert_eq!(users[0].roles, vec!["admin"]);
}

async fn a_user_who_owns_applications_is_not_deleted(store: &dyn Store) {
    person(store, "ian", &[]).await.unwrap();
    store
        .create_app(
            NewApp {
                id: authgate_core::id::new_id("app"),
                name: "a".into(),
                tenant: DEFAULT_TENANT.into(),
                owner: Some("ian".into()),
                mode: AppMode::ApiKey,
                roles: Vec::new(),
                redirect_uris: Vec::new(),
            },
            &audit(),
        )
        .await
        .unwrap();
    assert!(matches!(
        store.delete_user("ian", &audit()).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn roles_are_checked_bound_and_acted_with(store: &dyn Store) {
    let role = store
        .create_role("tasks-reader", &["tasks:read".into()], &audit())
        .await
        .unwrap();
    assert_eq!(role.permissions, vec!["tasks:read"]);
    assert!(matches!(
        store.create_role("admin", &["x:y".into()], &audit()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_role("tasks-reader", &["x:y".into()], &audit())
            .await,
        Err(StoreError::Conflict(_))
    ));
    let unknown = person(store, "x", &["nope"]).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );

    person(store, "ian", &["viewer"]).await.unwrap();
    let ian = store
        .bind_role("ian", "tasks-reader", &audit())
        .await
        .unwrap();
    assert_eq!(ian.roles, vec!["tasks-reader", "viewer"]);

    // An application acts with its own roles if it has any, else with its owner's.
    let owned = store
        .create_app(
            NewApp {
                id: authgate_core::id::new_id("app"),
                name: "a".into(),
                tenant: DEFAULT_TENANT.into(),
                owner: Some("ian".into()),
                mode: AppMode::AppId,
                roles: vec![],
                redirect_uris: Vec::new(),
            },
            &audit(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.find_app(&owned.id).await.unwrap().unwrap().roles,
        vec!["tasks-reader", "viewer"]
    );
    let own = store
        .create_app(
            NewApp {
                id: authgate_core::id::new_id("app"),
                name: "b".into(),
                tenant: DEFAULT_TENANT.into(),
                owner: Some("ian".into()),
                mode: AppMode::AppId,
                roles: vec!["admin".into()],
                redirect_uris: Vec::new(),
            },
            &audit(),
        )
        .await
        .unwrap();
    assert_eq!(own.roles, vec!["admin"]);
    assert_eq!(
        store.find_app(&own.id).await.unwrap().unwrap().roles,
        vec!["admin"]
    );

    assert_eq!(
        store
            .role_permissions(&["tasks-reader".into(), "viewer".into()])
            .await
            .unwrap(),
        vec!["tasks:read"]
    );
    store.delete_role("tasks-reader", &audit()).await.unwrap();
    assert_eq!(store.list_users().await.unwrap()[0].roles, vec!["viewer"]);
}

async fn usage_batches_add_up_per_minute_and_outcome(store: &dyn Store) {
    let demo = app(store, AppMode::ApiKey).await;
    let count = |minute, outcome, count| UsageCount {
        of: UsageOf::Application(demo.id.clone()),
        minute,
        outcome,
        count,
    };
    let batch = [
        count(60, UsageOutcome::Allowed, 3),
        count(60, UsageOutcome::StatusClass(2), 3),
        count(60, UsageOutcome::Denied("rate_limited".into()), 2),
        count(60, UsageOutcome::StatusClass(4), 2),
        count(120, UsageOutcome::Allowed, 1),
    ];
    store.record_usage(&batch).await.unwrap();
    store
        .record_usage(&[count(60, UsageOutcome::Allowed, 4)])
        .await
        .unwrap();

    let minutes = store.usage(&demo.id, 0, 600).await.unwrap();
    assert_eq!(minutes.len(), 2);
    assert_eq!(minutes[0].minute, 60);
    assert_eq!(minutes[0].allowed, 7);
    assert_eq!(minutes[0].denied["rate_limited"], 2);
    assert_eq!(minutes[0].status["2xx"], 3);
    assert_eq!(minutes[0].status["4xx"], 2);
    assert_eq!(minutes[1].allowed, 1);
    assert_eq!(store.usage(&demo.id, 61, 600).await.unwrap().len(), 1);
    assert!(matches!(
        store.usage("app_missing", 0, 600).await,
        Err(StoreError::NotFound(_))
    ));

    let totals = store.usage_totals(0, 600).await.unwrap();
    assert_eq!(
        totals, minutes,
        "one application: its minutes are the totals"
    );

    store.delete_app(&demo.id, &audit()).await.unwrap();
    assert!(
        store.usage_totals(0, 600).await.unwrap().is_empty(),
        "a deleted application's usage goes with it"
    );
}

async fn the_bootstrap_admin_token_is_found_by_digest(store: &dyn Store) {
    let (_secret, token) = credential();
    assert!(store.bootstrap_admin(&token, &audit()).await.unwrap());
    let found = store
        .find_admin_token(&token.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, "admin");
    assert_eq!(found.roles, vec!["admin"]);
    assert!(!found.revoked);
    let (_other, unknown) = credential();
    assert!(
        store
            .find_admin_token(&unknown.digest)
            .await
            .unwrap()
            .is_none()
    );
}

fn signing_key(kid: &str, created_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        purpose: SigningPurpose::AccessTokens,
        alg: "ES256".into(),
        private_pem: "-----BEGIN PRIVATE KEY-----".into(),
        public_jwk: "{}".into(),
        created_at,
        retired_at: None,
        publish_until: None,
    }
}

async fn rotation_retires_the_signing_key_and_keeps_it_published_until_told(store: &dyn Store) {
    let seq = store.change_seq().await.unwrap();
    let first = store
        .rotate_signing_key(signing_key("k1", 1), 0, &audit())
        .await
        .unwrap();
    assert_eq!(first.status, "active");
    assert!(store.change_seq().await.unwrap() > seq);
    let later = now_unix() + 3600;
    store
        .rotate_signing_key(signing_key("k2", 2), later, &audit())
        .await
        .unwrap();
    let published = store.signing_keys().await.unwrap();
    let kids: Vec<_> = published.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["k2", "k1"]);
    assert_eq!(published[1].publish_until, Some(later));
    assert!(!format!("{:?}", published[0]).contains("PRIVATE"));

    // A retirement that is already over leaves the JWKS at once.
    store
        .rotate_signing_key(signing_key("k3", 3), now_unix() - 1, &audit())
        .await
        .unwrap();
    let kids: Vec<_> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k3", "k1"], "k1 keeps its own publish_until");
    let statuses: Vec<_> = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("k3".to_owned(), "active"),
            ("k2".to_owned(), "expired"),
            ("k1".to_owned(), "published")
        ]
    );
}

async fn a_rotation_retires_only_the_key_of_its_own_purpose(store: &dyn Store) {
    store
        .rotate_signing_key(signing_key("access-1", 1), 0, &audit())
        .await
        .unwrap();
    let id_key = SigningKeyRecord {
        purpose: SigningPurpose::IdTokens,
        alg: "RS256".into(),
        ..signing_key("id-1", 2)
    };
    store.rotate_signing_key(id_key, 0, &audit()).await.unwrap();
    store
        .rotate_signing_key(signing_key("access-2", 3), now_unix() + 60, &audit())
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.purpose, k.alg, k.status))
        .collect();
    assert_eq!(
        listed,
        [
            (
                "access-2".to_owned(),
                SigningPurpose::AccessTokens,
                "ES256".to_owned(),
                "active"
            ),
            (
                "id-1".to_owned(),
                SigningPurpose::IdTokens,
                "RS256".to_owned(),
                "active"
            ),
            (
                "access-1".to_owned(),
                SigningPurpose::AccessTokens,
                "ES256".to_owned(),
                "published"
            ),
        ]
    );
}

async fn a_revoked_token_is_remembered_until_it_would_expire(store: &dyn Store) {
    let seq = store.change_seq().await.unwrap();
    assert!(store.revoke_token("jti-1", now_unix() + 60).await.unwrap());
    let after = store.change_seq().await.unwrap();
    assert!(after > seq);
    assert!(
        !store.revoke_token("jti-1", now_unix() + 60).await.unwrap(),
        "revoked before"
    );
    assert_eq!(
        store.change_seq().await.unwrap(),
        after,
        "revoking again changes nothing"
    );
    assert!(store.is_token_revoked("jti-1").await.unwrap());
    assert!(!store.is_token_revoked("jti-2").await.unwrap());

    // Once it would have expired anyway, the next revocation forgets it.
    assert!(store.revoke_token("jti-old", now_unix() - 1).await.unwrap());
    assert!(store.is_token_revoked("jti-old").await.unwrap());
    assert!(store.revoke_token("jti-3", now_unix() + 60).await.unwrap());
    assert!(
        !store.is_token_revoked("jti-old").await.unwrap(),
        "forgotten"
    );
    assert!(
        store.is_token_revoked("jti-1").await.unwrap(),
        "still remembered"
    );
}

async fn a_refresh_token_works_once_and_its_reuse_revokes_the_family(store: &dyn Store) {
    let token = |id: &str, digest: u8| RefreshTokenRecord {
        id: id.into(),
        digest: KeyDigest([digest; 32]),
        family_id: "fam".into(),
        subject: "jane".into(),
        client_id: "authgate-cli".into(),
        scopes: vec!["openid".into(), "offline_access".into()],
        expires_at: now_unix() + 60,
    };
    store.create_refresh_token(&token("r1", 1)).await.unwrap();
    let now = now_unix();
    assert_eq!(
        store
            .use_refresh_token(&KeyDigest([1; 32]), now)
            .await
            .unwrap(),
        RefreshUse::Fresh(token("r1", 1))
    );
    store.create_refresh_token(&token("r2", 2)).await.unwrap();
    store
        .record_family_token("fam", "at-1", now + 600)
        .await
        .unwrap();
    assert!(!store.is_token_revoked("at-1").await.unwrap());
    assert_eq!(
        store
            .use_refresh_token(&KeyDigest([1; 32]), now)
            .await
            .unwrap(),
        RefreshUse::Reused,
        "a reuse"
    );
    assert!(
        store.is_token_revoked("at-1").await.unwrap(),
        "the reuse revoked the family's access tokens"
    );
    assert_eq!(
        store
            .use_refresh_token(&KeyDigest([2; 32]), now)
            .await
            .unwrap(),
        RefreshUse::Refused,
        "the reuse revoked the successor too"
    );
    assert_eq!(
        store
            .use_refresh_token(&KeyDigest([9; 32]), now)
            .await
            .unwrap(),
        RefreshUse::Unknown
    );
    store.create_refresh_token(&token("r3", 3)).await.unwrap();
    assert!(
        store
            .revoke_refresh_token(&KeyDigest([3; 32]))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .use_refresh_token(&KeyDigest([3; 32]), now)
            .await
            .unwrap(),
        RefreshUse::Refused
    );
}

async fn route_usage_adds_up_per_route_beside_the_applications(store: &dyn Store) {
    let demo = app(store, AppMode::ApiKey).await;
    let on = |of: UsageOf, minute, outcome, count| UsageCount {
        of,
        minute,
        outcome,
        count,
    };
    let tasks = || UsageOf::Route("tasks".into());
    store
        .record_usage(&[
            on(tasks(), 60, UsageOutcome::Allowed, 2),
            on(
                tasks(),
                120,
                UsageOutcome::Denied("missing_credentials".into()),
                5,
            ),
            on(UsageOf::Route("files".into()), 60, UsageOutcome::Allowed, 1),
            on(
                UsageOf::Application(demo.id.clone()),
                60,
                UsageOutcome::Allowed,
                2,
            ),
        ])
        .await
        .unwrap();
    store
        .record_usage(&[on(tasks(), 60, UsageOutcome::Allowed, 1)])
        .await
        .unwrap();
    let routes = store.usage_by_route(0, 600).await.unwrap();
    let names: Vec<&str> = routes.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["files", "tasks"]);
    assert_eq!(routes[1].1.allowed, 3);
    assert_eq!(routes[1].1.denied["missing_credentials"], 5);
    assert!(store.usage_by_route(120, 600).await.unwrap()[0].1.allowed == 0);
    let applications = store.usage_by_application(0, 600).await.unwrap();
    assert_eq!(
        applications.len(),
        1,
        "route counters are not an application's"
    );
    assert_eq!(applications[0].1.allowed, 2);
}

async fn iiif_tokens_belong_to_their_session_and_end_with_it(store: &dyn Store) {
    person(store, "viewer", &["viewer"]).await.unwrap();
    let cookie = key::generate("iiifsession");
    let session = NewAccessSession {
        id: "iiif_1".into(),
        digest: cookie.digest,
        user: "viewer".into(),
        origin: Some("https://viewer.example".into()),
        expires_at: 2_000,
    };
    store.create_access_session(&session, 1_000).await.unwrap();
    let token = key::generate("iiif");
    let issued = NewAccessToken {
        digest: token.digest,
        session_id: "iiif_1".into(),
        origin: Some("https://viewer.example".into()),
        expires_at: 1_500,
    };
    store.create_access_token(&issued, 1_000).await.unwrap();

    let found = store
        .find_access_session(&cookie.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, "viewer");
    assert_eq!(found.roles, ["viewer"]);
    assert_eq!(found.expires_at, 2_000);
    let found = store
        .find_access_token(&token.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.session_id.as_str(), found.expires_at),
        ("iiif_1", 1_500)
    );
    assert_eq!(found.origin.as_deref(), Some("https://viewer.example"));
    assert!(
        store
            .find_access_token(&cookie.digest)
            .await
            .unwrap()
            .is_none(),
        "a cookie is no token"
    );

    // Expired tokens go when the next one is written.
    let later = NewAccessToken {
        digest: key::generate("iiif").digest,
        ..issued.clone()
    };
    store.create_access_token(&later, 1_600).await.unwrap();
    assert!(
        store
            .find_access_token(&token.digest)
            .await
            .unwrap()
            .is_none()
    );

    // Ending the session ends its tokens, moves the change sequence, and leaves nothing to
    // issue more from.
    let before = store.change_seq().await.unwrap();
    assert!(store.end_access_session("iiif_1").await.unwrap());
    assert!(store.change_seq().await.unwrap() > before);
    assert!(
        store
            .find_access_session(&cookie.digest)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_access_token(&later.digest)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.create_access_token(&issued, 1_000).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!store.end_access_session("iiif_1").await.unwrap());
}

async fn the_change_feed_names_what_changed_in_commit_order(store: &dyn Store) {
    let start = store.change_seq().await.unwrap();
    let demo = app(store, AppMode::ApiKey).await;
    let key = store
        .create_key(new_key(&demo.id, credential().1), &audit())
        .await
        .unwrap();
    store
        .set_app_suspended(&demo.id, true, &audit())
        .await
        .unwrap();
    store
        .create_role("reader", &["tasks:read".into()], &audit())
        .await
        .unwrap();
    assert!(store.revoke_token("jti-9", now_unix() + 60).await.unwrap());

    let changes = store.changes_since(start, 100).await.unwrap();
    let seen: Vec<(ChangeKind, &str)> = changes
        .iter()
        .map(|change| (change.kind, change.id.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (ChangeKind::NewApplication, demo.id.as_str()),
            (ChangeKind::NewKey, key.id.as_str()),
            (ChangeKind::Application, demo.id.as_str()),
            (ChangeKind::Role, "reader"),
            (ChangeKind::AccessToken, "jti-9"),
        ]
    );
    assert!(changes.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert_eq!(
        changes.last().unwrap().seq,
        store.change_seq().await.unwrap()
    );

    // A page at a time, from where the last one ended.
    let first_two = store.changes_since(start, 2).await.unwrap();
    assert_eq!(first_two, changes[..2]);
    let rest = store.changes_since(first_two[1].seq, 100).await.unwrap();
    assert_eq!(rest, changes[2..]);
    assert!(
        store
            .changes_since(changes.last().unwrap().seq, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_key_creations_never_pass_the_live_key_limit(store: &dyn Store) {
    let app = app(store, AppMode::AppIdKey).await;
    let audit = audit();
    let created = join_all((0..10).map(|_| {
        let key = NewKey {
            live_key_limit: Some(3),
            ..new_key(&app.id, credential().1)
        };
        store.create_key(key, &audit)
    }))
    .await;
    let refused = created
        .iter()
        .filter(|result| matches!(result, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!(created.iter().filter(|result| result.is_ok()).count(), 3);
    assert_eq!(refused, 7, "{created:?}");
    assert_eq!(store.list_keys(Some(&app.id)).await.unwrap().len(), 3);
}

async fn concurrent_bootstraps_bootstrap_once(store: &dyn Store) {
    let tokens: Vec<NewCredential> = (0..5).map(|_| credential().1).collect();
    let audit = audit();
    let bootstrapped = join_all(
        tokens
            .iter()
            .map(|token| store.bootstrap_admin(token, &audit)),
    )
    .await;
    let first: Vec<bool> = bootstrapped.into_iter().map(Result::unwrap).collect();
    assert_eq!(first.iter().filter(|first| **first).count(), 1, "{first:?}");
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    assert_eq!(store.list_admin_tokens().await.unwrap().len(), 1);
}

async fn concurrent_uses_of_a_refresh_token_are_a_use_and_a_reuse(store: &dyn Store) {
    let token = RefreshTokenRecord {
        id: "r1".into(),
        digest: KeyDigest([1; 32]),
        family_id: "fam".into(),
        subject: "jane".into(),
        client_id: "authgate-cli".into(),
        scopes: vec!["openid".into()],
        expires_at: now_unix() + 60,
    };
    store.create_refresh_token(&token).await.unwrap();
    let now = now_unix();
    store
        .record_family_token("fam", "at-1", now + 600)
        .await
        .unwrap();
    // Two connections open first, so that the uses run side by side, not one while the other
    // connects.
    let (left, right) = tokio::join!(store.ping(), store.ping());
    left.and(right).unwrap();
    let (first, second) = tokio::join!(
        store.use_refresh_token(&token.digest, now),
        store.use_refresh_token(&token.digest, now),
    );
    // As one after the other: a use, then a reuse, which revokes the family.
    let mut uses = [first.unwrap(), second.unwrap()];
    uses.sort_by_key(|used| matches!(used, RefreshUse::Reused));
    assert!(matches!(uses[0], RefreshUse::Fresh(_)), "{uses:?}");
    assert_eq!(uses[1], RefreshUse::Reused);
    assert!(store.is_token_revoked("at-1").await.unwrap());
}

async fn concurrent_exchanges_of_an_authorization_code_take_it_once(store: &dyn Store) {
    let code = AuthorizationCode {
        digest: KeyDigest([7; 32]),
        client_id: "app".into(),
        redirect_uri: "https://app.example/callback".into(),
        subject: "jane".into(),
        scopes: vec!["openid".into()],
        code_challenge: "challenge".into(),
        nonce: None,
        expires_at: now_unix() + 60,
    };
    store.create_authorization_code(&code).await.unwrap();
    let now = now_unix();
    let families: Vec<String> = (0..8).map(|i| format!("fam-{i}")).collect();
    let taken: Vec<CodeUse> = join_all(
        families
            .iter()
            .map(|family| store.take_authorization_code(&code.digest, now, family)),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    let fresh = taken
        .iter()
        .filter(|taken| matches!(taken, CodeUse::Fresh(_)))
        .count();
    assert_eq!(fresh, 1, "{taken:?}");
}

async fn concurrent_rotations_leave_one_signing_key_per_purpose(store: &dyn Store) {
    let audit = audit();
    let rotations = (0..6).map(|i| {
        store.rotate_signing_key(signing_key(&format!("k{i}"), 1), now_unix() + 60, &audit)
    });
    for rotated in join_all(rotations).await {
        rotated.unwrap();
    }
    let listed = store.list_signing_keys().await.unwrap();
    assert_eq!(listed.len(), 6);
    let active = listed.iter().filter(|key| key.status == "active").count();
    assert_eq!(active, 1, "{listed:?}");
}

async fn concurrent_role_replacements_leave_one_of_them(store: &dyn Store) {
    let names: Vec<String> = (0..4).map(|i| format!("role-{i}")).collect();
    for name in &names {
        store.create_role(name, &[], &audit()).await.unwrap();
    }
    let user = person(store, "jane", &["viewer"]).await.unwrap();
    let demo = app(store, AppMode::ApiKey).await;
    let audit = audit();
    let sets: Vec<Vec<String>> = names.iter().map(|name| vec![name.clone()]).collect();
    let changes: Vec<AppChanges> = sets
        .iter()
        .map(|roles| AppChanges {
            roles: Some(roles.clone()),
            ..AppChanges::default()
        })
        .collect();
    let (apps, users) = tokio::join!(
        join_all(
            changes
                .iter()
                .map(|changes| store.update_app(&demo.id, changes, &audit))
        ),
        join_all(
            sets.iter()
                .map(|roles| store.set_user_roles(&user.id, roles, &audit))
        ),
    );
    for changed in apps {
        changed.unwrap();
    }
    for changed in users {
        changed.unwrap();
    }
    let app_roles = store.get_app(&demo.id).await.unwrap().roles;
    assert!(sets.contains(&app_roles), "{app_roles:?}");
    let user_roles = store.get_user(&user.id).await.unwrap().roles;
    assert!(sets.contains(&user_roles), "{user_roles:?}");
}

async fn concurrent_creations_in_a_new_tenant_share_it(store: &dyn Store) {
    let audit = audit();
    let users = (0..6).map(|i| {
        store.create_user(
            NewUser {
                id: authgate_core::id::new_id("usr"),
                name: format!("user-{i}"),
                kind: UserKind::Service,
                password_hash: None,
                tenant: "acme".into(),
                roles: Vec::new(),
            },
            &audit,
        )
    });
    for created in join_all(users).await {
        assert_eq!(created.unwrap().tenant, "acme");
    }
    let tenants = store.list_tenants().await.unwrap();
    assert_eq!(tenants.iter().filter(|t| t.name == "acme").count(), 1);
}

async fn a_reader_of_the_change_feed_misses_nothing_written_concurrently(store: &dyn Store) {
    let start = store.change_seq().await.unwrap();
    let written = AtomicBool::new(false);
    let writers = async {
        join_all((0..4).map(|writer| async move {
            for i in 0..10 {
                let name = format!("role-{writer}-{i}");
                store.create_role(&name, &[], &audit()).await.unwrap();
            }
        }))
        .await;
        written.store(true, Ordering::SeqCst);
    };
    // Polls as a gateway does, from the last change it saw; a change committed with a lower
    // sequence number than one seen before would be missed.
    let reader = async {
        let mut seen = Vec::new();
        let mut last = start;
        loop {
            let finished = written.load(Ordering::SeqCst);
            let page = store.changes_since(last, 1000).await.unwrap();
            if let Some(change) = page.last() {
                last = change.seq;
            }
            seen.extend(page.into_iter().map(|change| change.id));
            if finished {
                break seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let ((), mut seen) = tokio::join!(writers, reader);
    seen.sort();
    let mut expected: Vec<String> = (0..4)
        .flat_map(|writer| (0..10).map(move |i| format!("role-{writer}-{i}")))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
}

/// As SQLite compares text, whatever the locale of a PostgreSQL database.
async fn listings_order_names_bytewise(store: &dyn Store) {
    let names = ["b", "B", "_a", "a-"];
    let bytewise = ["B", "_a", "a-", "b"];
    for name in names {
        store.create_role(name, &[], &audit()).await.unwrap();
    }
    let roles: Vec<String> = store
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .map(|role| role.name)
        .collect();
    assert_eq!(roles, bytewise);
    let counts: Vec<UsageCount> = names
        .iter()
        .map(|name| UsageCount {
            of: UsageOf::Route((*name).into()),
            minute: 60,
            outcome: UsageOutcome::Allowed,
            count: 1,
        })
        .collect();
    store.record_usage(&counts).await.unwrap();
    let routes: Vec<String> = store
        .usage_by_route(0, 600)
        .await
        .unwrap()
        .into_iter()
        .map(|(route, _)| route)
        .collect();
    assert_eq!(routes, bytewise);
}

async fn stores_opened_at_once_on_a_new_database_all_work(url: &str) {
    // Eight, as instances started together (SQLite refused a lost race at once in 1 run of 30).
    let opened = futures_util::future::join_all((0..8).map(|_| open(url))).await;
    let stores: Vec<_> = opened.into_iter().map(Result::unwrap).collect();
    stores[0]
        .create_role("reader", &["tasks:read".into()], &audit())
        .await
        .unwrap();
    for store in &stores {
        let roles = store.list_roles().await.unwrap();
        assert_eq!(roles.len(), 1);
        assert_eq!(roles[0].name, "reader");
    }
}

async fn text_with_a_nul_is_the_input_s_fault_not_an_outage(store: &dyn Store) {
    // Operators cannot create such names (the operations layer refuses control characters),
    // but lookups take what clients send.
    for outcome in [
        store.get_user("ann\u{0}").await.map(|_| ()),
        store.get_app("app_\u{0}").await.map(|_| ()),
    ] {
        assert!(
            matches!(
                outcome,
                Err(StoreError::NotFound(_) | StoreError::Invalid(_))
            ),
            "{outcome:?}"
        );
    }
    assert!(!matches!(
        store.find_app("app_\u{0}").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(!matches!(
        store.find_password("ann\u{0}").await,
        Err(StoreError::Unavailable(_))
    ));
}
