use super::*;
use authgate_config::Config;
use authgate_store::{AppMode, SqliteStore, UserKind};

async fn operations() -> (tempfile::TempDir, Operations) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ops.db").display());
    let store = Arc::new(SqliteStore::open(&url).await.unwrap());
    (dir, Operations::new(store, &Config::default()))
}

fn jane() -> Actor {
    Actor {
        name: "jane".into(),
        source: "192.0.2.7".into(),
        signed_in: false,
    }
}

fn app(mode: AppMode) -> CreateApp {
    CreateApp {
        name: "robot".into(),
        tenant: None,
        owner: None,
        mode,
        roles: vec!["viewer".into()],
        redirect_uris: vec!["https://app.example.com/callback".into()],
    }
}

fn key_of(app_id: &str) -> CreateKey {
    CreateKey {
        app_id: app_id.into(),
        name: Some("ci".into()),
        expires: Some("90d".into()),
        scopes: vec!["tasks:read".into()],
    }
}

/// The whole log, oldest first.
async fn log(ops: &Operations) -> Vec<authgate_store::AuditRecord> {
    let mut page = ops.audit(AuditQuery::default()).await.unwrap().items;
    page.reverse();
    page
}

#[tokio::test]
async fn every_change_writes_one_entry_naming_actor_action_and_target() {
    let (_dir, ops) = operations().await;
    let created = ops.create_app(&jane(), app(AppMode::ApiKey)).await.unwrap();
    let key = ops.create_key(&jane(), key_of(&created.id)).await.unwrap();
    let regenerated = ops.regenerate_key(&jane(), &key.item.id).await.unwrap();
    ops.revoke_key(&jane(), &key.item.id).await.unwrap();
    ops.set_app_suspended(&jane(), &created.id, true)
        .await
        .unwrap();
    ops.set_app_suspended(&jane(), &created.id, false)
        .await
        .unwrap();
    ops.delete_app(&jane(), &created.id).await.unwrap();

    let entries = log(&ops).await;
    let summary: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e.actor.as_str(),
                e.source.as_str(),
                e.action.as_str(),
                e.target_id.as_str(),
            )
        })
        .collect();
    let (app_id, key_id) = (created.id.as_str(), key.item.id.as_str());
    assert_eq!(
        summary,
        [
            ("jane", "192.0.2.7", "application.create", app_id),
            ("jane", "192.0.2.7", "key.create", key_id),
            ("jane", "192.0.2.7", "key.regenerate", key_id),
            ("jane", "192.0.2.7", "key.revoke", key_id),
            ("jane", "192.0.2.7", "application.suspend", app_id),
            ("jane", "192.0.2.7", "application.resume", app_id),
            ("jane", "192.0.2.7", "application.delete", app_id),
        ]
    );
    assert_eq!(entries[0].details["mode"], "api-key");
    assert_eq!(entries[0].details["roles"], serde_json::json!(["viewer"]));
    assert_eq!(entries[1].details["prefix"], key.item.prefix.as_str());
    assert_eq!(
        entries[1].details["scopes"],
        serde_json::json!(["tasks:read"])
    );
    assert_eq!(entries[6].details["name"], "robot");

    let written = serde_json::to_string(&entries).unwrap();
    for secret in [&key.secret, &regenerated.secret] {
        assert!(!written.contains(secret.as_str()), "a secret in the log");
    }
}

#[tokio::test]
async fn a_refused_change_writes_no_entry_and_names_the_bad_field() {
    let (_dir, ops) = operations().await;
    let bad_uri = CreateApp {
        redirect_uris: vec!["not a url".into()],
        ..app(AppMode::ApiKey)
    };
    let refused = ops.create_app(&jane(), bad_uri).await.unwrap_err();
    assert!(
        matches!(
            refused,
            OpsError::Invalid {
                field: "redirect_uris",
                ..
            }
        ),
        "{refused}"
    );
    let unknown_owner = CreateApp {
        owner: Some("nobody".into()),
        ..app(AppMode::ApiKey)
    };
    let refused = ops.create_app(&jane(), unknown_owner).await.unwrap_err();
    assert!(
        matches!(refused, OpsError::Store(StoreError::NotFound(_))),
        "{refused}"
    );
    let unknown_role = CreateApp {
        roles: vec!["wizard".into()],
        ..app(AppMode::ApiKey)
    };
    assert!(ops.create_app(&jane(), unknown_role).await.is_err());
    assert!(
        log(&ops).await.is_empty(),
        "refused creations leave no entry"
    );

    // The sixth app_key, a bad scope, an expiry in the past: refused, unlogged.
    let paired = ops
        .create_app(&jane(), app(AppMode::AppIdKey))
        .await
        .unwrap();
    for _ in 0..5 {
        ops.create_key(&jane(), key_of(&paired.id)).await.unwrap();
    }
    let before = log(&ops).await.len();
    let sixth = ops
        .create_key(&jane(), key_of(&paired.id))
        .await
        .unwrap_err();
    assert!(
        matches!(sixth, OpsError::Store(StoreError::Conflict(_))),
        "{sixth}"
    );
    let bad_scope = CreateKey {
        scopes: vec!["tasks".into()],
        ..key_of(&paired.id)
    };
    let refused = ops.create_key(&jane(), bad_scope).await.unwrap_err();
    assert!(
        matches!(
            refused,
            OpsError::Invalid {
                field: "scopes",
                ..
            }
        ),
        "{refused}"
    );
    let past = CreateKey {
        expires: Some("2001-01-01T00:00:00Z".into()),
        ..key_of(&paired.id)
    };
    let refused = ops.create_key(&jane(), past).await.unwrap_err();
    assert!(
        matches!(
            refused,
            OpsError::Invalid {
                field: "expires",
                ..
            }
        ),
        "{refused}"
    );
    assert!(ops.revoke_key(&jane(), "key_missing").await.is_err());
    assert!(
        ops.set_app_suspended(&jane(), "app_missing", true)
            .await
            .is_err()
    );
    assert_eq!(log(&ops).await.len(), before);
}

#[tokio::test]
async fn users_passwords_and_roles_are_audited_without_the_password() {
    let (_dir, ops) = operations().await;
    let password = "correct horse battery staple";
    ops.create_role(&jane(), "editor", &["tasks:write".into()])
        .await
        .unwrap();
    let user = ops
        .create_user(
            &jane(),
            CreateUser {
                name: "ann".into(),
                tenant: None,
                kind: UserKind::Person,
                roles: vec!["viewer".into()],
                password: Some(password.into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(user.roles, ["viewer"]);
    ops.bind_role(&jane(), "ann", "editor").await.unwrap();
    ops.delete_user(&jane(), "ann").await.unwrap();
    ops.delete_role(&jane(), "editor").await.unwrap();
    let refused = ops
        .create_role(&jane(), "broken", &["no-colon".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            OpsError::Invalid {
                field: "permissions",
                ..
            }
        ),
        "{refused}"
    );
    let no_permissions = ops.create_role(&jane(), "empty", &[]).await.unwrap_err();
    assert!(matches!(
        no_permissions,
        OpsError::Invalid {
            field: "permissions",
            ..
        }
    ));
    let bad_name = ops
        .create_role(&jane(), "two words", &["tasks:read".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(bad_name, OpsError::Invalid { field: "name", .. }),
        "{bad_name}"
    );
    let unnamed = CreateApp {
        name: " ".into(),
        ..app(AppMode::ApiKey)
    };
    let refused = ops.create_app(&jane(), unnamed).await.unwrap_err();
    assert!(
        matches!(refused, OpsError::Invalid { field: "name", .. }),
        "{refused}"
    );

    let entries = log(&ops).await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "role.create",
            "user.create",
            "user.bind_role",
            "user.delete",
            "role.delete"
        ]
    );
    assert_eq!(entries[1].details["password_set"], true);
    let written = serde_json::to_string(&entries).unwrap();
    assert!(!written.contains(password));
    assert!(!written.contains("$argon2"), "not even the hash");
}

#[tokio::test]
async fn the_log_reads_newest_first_a_page_at_a_time_and_filters() {
    let (_dir, ops) = operations().await;
    for name in ["r1", "r2", "r3", "r4", "r5"] {
        ops.create_role(&jane(), name, &["tasks:read".into()])
            .await
            .unwrap();
    }
    let other = Actor {
        name: "ops-bot".into(),
        source: "cli".into(),
        signed_in: false,
    };
    ops.delete_role(&other, "r1").await.unwrap();

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = ops
            .audit(AuditQuery {
                page: PageRequest {
                    limit: Some(2),
                    cursor: cursor.clone(),
                },
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|e| (e.action, e.target_id)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let targets: Vec<&str> = seen.iter().map(|(_, target)| target.as_str()).collect();
    assert_eq!(targets, ["r1", "r5", "r4", "r3", "r2", "r1"]);

    let by_actor = ops
        .audit(AuditQuery {
            actor: Some("ops-bot".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_actor.items.len(), 1);
    assert_eq!(by_actor.items[0].action, "role.delete");
    let recent = ops
        .audit(AuditQuery {
            action: Some("role.create".into()),
            since: Some("1h".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(recent.items.len(), 5);
    let future = ops
        .audit(AuditQuery {
            since: Some("2999-01-01T00:00:00Z".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(future.items.is_empty());
    for (query, field) in [
        (
            AuditQuery {
                page: PageRequest {
                    limit: Some(0),
                    cursor: None,
                },
                ..AuditQuery::default()
            },
            "limit",
        ),
        (
            AuditQuery {
                page: PageRequest {
                    limit: None,
                    cursor: Some("x".into()),
                },
                ..AuditQuery::default()
            },
            "cursor",
        ),
        (
            AuditQuery {
                since: Some("yesterday-ish".into()),
                ..AuditQuery::default()
            },
            "since",
        ),
    ] {
        let refused = ops.audit(query).await.unwrap_err();
        assert!(
            matches!(refused, OpsError::Invalid { field: f, .. } if f == field),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn signing_key_rotations_are_audited_and_alg_needs_a_purpose() {
    let (_dir, ops) = operations().await;
    let created = ops.ensure_signing_keys().await.unwrap();
    assert_eq!(created.len(), 2);
    assert!(ops.ensure_signing_keys().await.unwrap().is_empty());
    let refused = ops
        .rotate_signing_keys(&jane(), None, Some(authgate_config::SigningAlg::EdDsa))
        .await
        .unwrap_err();
    assert!(matches!(refused, OpsError::Invalid { field: "alg", .. }));
    let rotated = ops
        .rotate_signing_keys(
            &jane(),
            Some(authgate_store::SigningPurpose::IdTokens),
            None,
        )
        .await
        .unwrap();
    assert_eq!(rotated[0].alg, "RS256");
    let entries = log(&ops).await;
    let who: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        who,
        [
            ("authgate", "signing_key.rotate"),
            ("authgate", "signing_key.rotate"),
            ("jane", "signing_key.rotate"),
        ]
    );
    assert_eq!(entries[2].details["purpose"], "id-tokens");
    assert!(!serde_json::to_string(&entries).unwrap().contains("PRIVATE"));
}

#[tokio::test]
async fn a_signed_in_admin_cannot_lock_themselves_out() {
    let (_dir, ops) = operations().await;
    ops.bootstrap_admin().await.unwrap();
    let admin = Actor {
        name: "admin".into(),
        source: "192.0.2.7".into(),
        signed_in: true,
    };
    for refused in [
        ops.delete_user(&admin, "admin").await.unwrap_err(),
        ops.set_user_roles(&admin, "admin", &["viewer".into()])
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(refused, OpsError::Conflict(_)), "{refused}");
    }
    let kept = ops
        .set_user_roles(&admin, "admin", &["admin".into(), "viewer".into()])
        .await
        .unwrap();
    assert_eq!(kept.roles, ["admin", "viewer"]);
    // From the CLI, the operating-system user is not the store's user of that name.
    let root = Actor {
        name: "admin".into(),
        source: "cli".into(),
        signed_in: false,
    };
    ops.set_user_roles(&root, "admin", &["viewer".into()])
        .await
        .unwrap();
}

/// A clock the test moves.
#[derive(Default)]
struct TestClock(std::sync::atomic::AtomicI64);

impl authgate_core::time::Clock for TestClock {
    fn now_unix(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl TestClock {
    fn set(&self, at: i64) {
        self.0.store(at, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn admin_user(ops: &Operations) -> authgate_store::User {
    ops.create_user(
        &jane(),
        CreateUser {
            name: "ann".into(),
            tenant: None,
            kind: UserKind::Person,
            roles: vec!["admin".into()],
            password: None,
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_session_ends_when_idle_or_too_old_and_each_use_keeps_it_alive() {
    let (_dir, ops) = operations().await;
    let clock = Arc::new(TestClock::default());
    let start = 1_900_000_000;
    clock.set(start);
    let ops = ops.with_clock(clock.clone());
    let ann = admin_user(&ops).await;

    let started = ops.start_session(&ann, "192.0.2.7").await.unwrap();
    assert_eq!(started.max_age, 12 * 3600);
    let session = ops.session(&started.secret).await.unwrap().unwrap();
    assert_eq!(session.user, "ann");
    assert!(session.is_admin());
    assert!(session.csrf_matches(&started.session.csrf_token));
    assert!(!session.csrf_matches("0000"));
    assert_ne!(session.csrf_token, started.secret);

    // Used every 20 minutes, it outlives the 30-minute idle timeout...
    for step in 1..=40 {
        clock.set(start + step * 20 * 60);
        let alive = ops.session(&started.secret).await.unwrap();
        assert_eq!(alive.is_some(), step * 20 * 60 < 12 * 3600, "step {step}");
    }
    // ...but not its 12-hour lifetime (checked above), and an idle one ends after 30 minutes.
    let again = ops.start_session(&ann, "192.0.2.7").await.unwrap();
    let now = authgate_core::time::Clock::now_unix(clock.as_ref());
    clock.set(now + 29 * 60);
    assert!(ops.session(&again.secret).await.unwrap().is_some());
    clock.set(now + 29 * 60 + 31 * 60);
    assert!(ops.session(&again.secret).await.unwrap().is_none());

    // Junk, a forged secret of the right shape, and another session's secret find nothing.
    assert!(ops.session("junk").await.unwrap().is_none());
    let forged = authgate_core::key::generate("session").secret;
    assert!(ops.session(&forged).await.unwrap().is_none());
}

#[tokio::test]
async fn signing_out_ends_the_session_and_both_are_audited_without_the_secret() {
    let (_dir, ops) = operations().await;
    let ann = admin_user(&ops).await;
    let started = ops.start_session(&ann, "192.0.2.7").await.unwrap();
    ops.end_session(&started.secret, "192.0.2.7").await.unwrap();
    assert!(ops.session(&started.secret).await.unwrap().is_none());
    // Signing out twice changes nothing and writes nothing.
    ops.end_session(&started.secret, "192.0.2.7").await.unwrap();

    let log = ops
        .audit(AuditQuery {
            target_type: Some("session".into()),
            target_id: Some(started.session.id.clone()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = log.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["session.sign_out", "session.sign_in"]);
    assert!(
        log.items
            .iter()
            .all(|e| e.actor == "ann" && e.source == "192.0.2.7")
    );
    let text = serde_json::to_string(&log.items).unwrap();
    assert!(!text.contains(&started.secret) && !text.contains(&started.session.csrf_token));
}

#[tokio::test]
async fn a_deleted_user_s_session_ends_and_a_demoted_one_is_no_longer_admin() {
    let (_dir, ops) = operations().await;
    let ann = admin_user(&ops).await;
    let started = ops.start_session(&ann, "192.0.2.7").await.unwrap();
    ops.set_user_roles(&jane(), "ann", &["viewer".into()])
        .await
        .unwrap();
    let session = ops.session(&started.secret).await.unwrap().unwrap();
    assert!(!session.is_admin());
    ops.delete_user(&jane(), "ann").await.unwrap();
    assert!(ops.session(&started.secret).await.unwrap().is_none());
}

#[tokio::test]
async fn key_rules_follow_the_application_s_mode() {
    let (_dir, ops) = operations().await;
    // app-id: the app_id alone authenticates, so no key is made (and nothing audited).
    let app_id = ops.create_app(&jane(), app(AppMode::AppId)).await.unwrap();
    let before = log(&ops).await.len();
    let refused = ops.create_key(&jane(), key_of(&app_id.id)).await;
    assert!(
        matches!(&refused, Err(OpsError::Conflict(m)) if m.contains("app-id mode")),
        "{refused:?}"
    );
    assert_eq!(log(&ops).await.len(), before);

    // app-id-key: at most MAX_APP_KEYS live app_keys; a revoked one makes room.
    let paired = ops
        .create_app(&jane(), app(AppMode::AppIdKey))
        .await
        .unwrap();
    let mut keys = Vec::new();
    for _ in 0..MAX_APP_KEYS {
        keys.push(ops.create_key(&jane(), key_of(&paired.id)).await.unwrap());
    }
    let sixth = ops.create_key(&jane(), key_of(&paired.id)).await;
    assert!(
        matches!(&sixth, Err(OpsError::Store(StoreError::Conflict(m))) if m.contains("5 live keys")),
        "{sixth:?}"
    );
    ops.revoke_key(&jane(), &keys[0].item.id).await.unwrap();
    ops.create_key(&jane(), key_of(&paired.id)).await.unwrap();

    // api-key: no limit.
    let plain = ops.create_app(&jane(), app(AppMode::ApiKey)).await.unwrap();
    for _ in 0..=MAX_APP_KEYS {
        ops.create_key(&jane(), key_of(&plain.id)).await.unwrap();
    }
}

#[tokio::test]
async fn built_in_roles_are_granted_but_never_changed() {
    let (_dir, ops) = operations().await;
    for refused in [
        ops.create_role(&jane(), "admin", &["tasks:read".into()])
            .await
            .map(|_| ()),
        ops.set_role_permissions(&jane(), "viewer", &["tasks:read".into()])
            .await
            .map(|_| ()),
        ops.delete_role(&jane(), "viewer").await,
    ] {
        assert!(
            matches!(&refused, Err(OpsError::Conflict(m)) if m.contains("built-in role")),
            "{refused:?}"
        );
    }
    assert!(
        log(&ops).await.is_empty(),
        "refused changes are not audited"
    );
    let user = ops
        .create_user(
            &jane(),
            CreateUser {
                name: "ann".into(),
                tenant: None,
                kind: UserKind::Person,
                roles: vec!["admin".into(), "viewer".into()],
                password: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(user.roles, vec!["admin", "viewer"]);
    // The built-in roles are not listed among the stored custom ones...
    assert!(ops.store.list_roles().await.unwrap().is_empty());
    // ...and an unknown role is refused as the input's fault, with the roles there are.
    let unknown = ops.bind_role(&jane(), "ann", "nope").await;
    assert!(
        matches!(&unknown, Err(OpsError::Invalid { field: "roles", message }) if message.contains("built-in roles: admin, viewer")),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn names_with_control_characters_are_refused_naming_the_field() {
    let (_dir, ops) = operations().await;
    let nul = "robot\u{0}".to_owned();
    let refused = ops
        .create_app(
            &jane(),
            CreateApp {
                name: nul.clone(),
                ..app(AppMode::ApiKey)
            },
        )
        .await;
    assert!(
        matches!(&refused, Err(OpsError::Invalid { field: "name", .. })),
        "{refused:?}"
    );
    let created = ops.create_app(&jane(), app(AppMode::ApiKey)).await.unwrap();
    let renamed = ops
        .update_app(
            &jane(),
            &created.id,
            authgate_store::AppChanges {
                name: Some("line\nbreak".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(&renamed, Err(OpsError::Invalid { field: "name", .. })),
        "{renamed:?}"
    );
    let key = ops
        .create_key(
            &jane(),
            CreateKey {
                name: Some(nul.clone()),
                ..key_of(&created.id)
            },
        )
        .await;
    assert!(
        matches!(&key, Err(OpsError::Invalid { field: "name", .. })),
        "{key:?}"
    );
    let user = ops
        .create_user(
            &jane(),
            CreateUser {
                name: nul.clone(),
                tenant: None,
                kind: UserKind::Person,
                roles: Vec::new(),
                password: None,
            },
        )
        .await;
    assert!(
        matches!(&user, Err(OpsError::Invalid { field: "name", .. })),
        "{user:?}"
    );
    let tenant = ops.create_tenant(&jane(), &nul).await;
    assert!(
        matches!(&tenant, Err(OpsError::Invalid { field: "name", .. })),
        "{tenant:?}"
    );
    let in_tenant = ops
        .create_user(
            &jane(),
            CreateUser {
                name: "ann".into(),
                tenant: Some(nul),
                kind: UserKind::Person,
                roles: Vec::new(),
                password: None,
            },
        )
        .await;
    assert!(
        matches!(
            &in_tenant,
            Err(OpsError::Invalid {
                field: "tenant",
                ..
            })
        ),
        "{in_tenant:?}"
    );
}
