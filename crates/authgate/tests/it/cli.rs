//! The command line: JSON output, one-time secrets, clear errors.

use crate::harness::{Gateway, cli_in};

#[tokio::test]
async fn create_list_show_print_json_and_secrets_only_once() {
    let gateway = Gateway::start("");
    let user = gateway.json(&[
        "users", "create", "jane", "--role", "admin", "--tenant", "acme",
    ]);
    assert_eq!(user["name"], "jane");
    assert_eq!(user["roles"], serde_json::json!(["admin"]));
    let app = gateway.json(&[
        "apps", "create", "tasks", "--owner", "jane", "--tenant", "acme",
    ]);
    let app_id = app["id"].as_str().unwrap();
    assert!(app_id.starts_with("app_"));
    assert_eq!(app["mode"], "api-key");
    assert_eq!(app["owner"], "jane");
    assert_eq!(gateway.json(&["apps", "show", app_id])["name"], "tasks");
    assert_eq!(gateway.json(&["apps", "list"]).as_array().unwrap().len(), 1);

    let key = gateway.json(&[
        "keys",
        "create",
        "--app",
        app_id,
        "--name",
        "ci",
        "--scopes",
        "tasks:read,tasks:write",
    ]);
    let secret = key["secret"].as_str().unwrap();
    assert!(secret.starts_with("sk_live_"));
    assert!(secret.starts_with(key["prefix"].as_str().unwrap()));
    assert_eq!(
        key["scopes"],
        serde_json::json!(["tasks:read", "tasks:write"])
    );
    let listed = gateway.json(&["keys", "list", "--app", app_id]);
    assert_eq!(listed[0]["id"], key["id"]);
    assert!(listed[0].get("secret").is_none());
    assert!(
        !listed.to_string().contains(secret),
        "a listing never shows the secret"
    );

    // The store keeps a digest, not the secret.
    let stored = gateway.store().contents();
    assert!(
        !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the secret is stored in clear"
    );

    // Through the gateway, the key acts as its owner.
    let seen: serde_json::Value = gateway.echo("/", secret).await;
    assert_eq!(seen["headers"]["x-authgate-subject"], "jane");
    assert_eq!(seen["headers"]["x-authgate-tenant"], "acme");
    assert_eq!(seen["headers"]["x-authgate-roles"], "admin");
}

#[tokio::test]
async fn the_sixth_app_key_is_refused_with_a_clear_error() {
    let gateway = Gateway::start("");
    let app = gateway.app("app-id-key");
    for _ in 0..5 {
        gateway.key(&app, &[]);
    }
    let sixth = gateway.cli(&["keys", "create", "--app", &app]);
    assert!(!sixth.status.success());
    let stderr = String::from_utf8_lossy(&sixth.stderr);
    assert!(stderr.contains("already has 5 live keys"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    assert!(sixth.stdout.is_empty());
}

#[tokio::test]
async fn errors_are_one_line_and_non_zero() {
    let gateway = Gateway::start("");
    for args in [
        &["apps", "show", "app_missing"][..],
        &["keys", "create", "--app", "app_missing"],
        &["keys", "revoke", "key_missing"],
        &["apps", "create", "x", "--owner", "nobody"],
        &["keys", "create", "--app", "app_x", "--expires", "yesterday"],
    ] {
        let out = gateway.cli(args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("authgate: "), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    let app = gateway.app("api-key");
    let past = gateway.cli(&[
        "keys",
        "create",
        "--app",
        &app,
        "--expires",
        "2001-01-01T00:00:00Z",
    ]);
    assert!(String::from_utf8_lossy(&past.stderr).contains("not in the future"));
}

#[test]
fn config_check_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[routes]]\nname = \"a\"\npath_prefix = \"/\"\nupstream = \"ftp://x\"\n",
    )
    .unwrap();
    let out = cli_in(dir.path(), &["config", "check", "bad.toml"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("routes[0].upstream"),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("authgate.toml"),
        "[server]\nlisten = \"127.0.0.1:9\"\n",
    )
    .unwrap();
    let out = cli_in(dir.path(), &["config", "check"]);
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("listen = \"127.0.0.1:9\""), "{printed}");
    assert!(
        printed.contains("builtin:echo"),
        "the default route is shown: {printed}"
    );

    let out = crate::harness::authgate()
        .args(["config", "check"])
        .current_dir(dir.path())
        .env("AUTHGATE_SERVER__LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.listen"), "{stderr}");
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_hashes() {
    let gateway = Gateway::start("");
    let out = gateway.cli_with_input(
        &[
            "users",
            "create",
            "jane",
            "--password-stdin",
            "--output",
            "json",
        ],
        b"correct horse battery\n",
    );
    assert!(out.status.success());
    let user: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user["kind"], "person");
    let stored = gateway.store().contents();
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"$argon2id$"), "an argon2id hash is stored");
    assert!(!contains(b"correct horse battery"), "the password is not");

    let service = gateway.json(&["users", "create", "ci-bot", "--service"]);
    assert_eq!(service["kind"], "service");
    let empty = crate::harness::authgate()
        .args(["users", "create", "x", "--password-stdin"])
        .current_dir(&gateway.dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!empty.status.success(), "an empty password is refused");
}

#[test]
fn concurrent_writers_wait_their_turn_instead_of_failing() {
    let gateway = Gateway::start("");
    let app = gateway.app("api-key");
    // 48 processes at once: each opens the store, creates a key and exits.
    let writers: Vec<_> = (0..48)
        .map(|n| {
            crate::harness::authgate()
                .args(["keys", "create", "--app", &app, "--name", &format!("k{n}")])
                .current_dir(&gateway.dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for writer in writers {
        let out = writer.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a concurrent writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let keys = gateway.json(&["keys", "list", "--app", &app]);
    assert_eq!(keys.as_array().unwrap().len(), 48, "every key is stored");
}

#[test]
fn with_output_json_errors_are_json_on_stderr() {
    let gateway = Gateway::start("");
    let out = gateway.cli(&["keys", "revoke", "key_missing", "--output", "json"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON on stderr");
    assert!(
        error["error"].as_str().unwrap().contains("key_missing"),
        "{error}"
    );
    let text = gateway.cli(&["keys", "revoke", "key_missing"]);
    assert!(String::from_utf8_lossy(&text.stderr).starts_with("authgate: "));
}

#[tokio::test]
async fn cli_changes_are_audited_as_the_operating_system_user_and_refusals_are_not() {
    let gateway = Gateway::start("");
    let as_user = |user: &str, args: &[&str]| {
        crate::harness::authgate()
            .args(args)
            .args(["--output", "json"])
            .current_dir(&gateway.dir)
            .env("USER", user)
            .output()
            .unwrap()
    };
    let created = as_user("ops-ann", &["apps", "create", "billing"]);
    assert!(created.status.success());
    let app: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let app_id = app["id"].as_str().unwrap();
    let key = as_user("ops-ann", &["keys", "create", "--app", app_id]);
    let key: serde_json::Value = serde_json::from_slice(&key.stdout).unwrap();
    assert!(
        as_user("ops-bob", &["apps", "suspend", app_id])
            .status
            .success()
    );
    let refused = as_user("ops-bob", &["keys", "revoke", "key_missing"]);
    assert!(!refused.status.success());

    let entries = gateway.json(&["audit", "list"]);
    let seen: Vec<(&str, &str, &str, &str)> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "cli")
        .map(|e| {
            let field = |name: &str| e[name].as_str().unwrap();
            (
                field("actor"),
                field("source"),
                field("action"),
                field("target_id"),
            )
        })
        .collect();
    let key_id = key["id"].as_str().unwrap();
    assert_eq!(
        seen,
        [
            ("ops-bob", "cli", "application.suspend", app_id),
            ("ops-ann", "cli", "key.create", key_id),
            ("ops-ann", "cli", "application.create", app_id),
        ],
        "newest first, the refused revoke absent"
    );
    let written = entries.to_string();
    assert!(!written.contains(key["secret"].as_str().unwrap()));

    let by_bob = gateway.json(&["audit", "list", "--actor", "ops-bob"]);
    assert_eq!(by_bob.as_array().unwrap().len(), 1);
    let created_recently =
        gateway.json(&["audit", "list", "--action", "key.create", "--since", "1h"]);
    assert_eq!(created_recently[0]["details"]["prefix"], key["prefix"]);
    let bad_since = gateway.cli(&["audit", "list", "--since", "someday"]);
    assert!(String::from_utf8_lossy(&bad_since.stderr).contains("since"));
}

#[tokio::test]
async fn admin_tokens_replace_the_first_one_and_revoked_ones_fail_at_once() {
    use crate::harness::Fetch as _;
    let gateway = Gateway::start("");
    let created = gateway.json(&["admin-tokens", "create"]);
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(created["user"], "admin");
    let listed = gateway.json(&["admin-tokens", "list"]);
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "the first start's and this one"
    );
    assert!(
        !listed.to_string().contains(secret),
        "a listing shows no secret"
    );

    let usage = |token: String| {
        let url = gateway.admin_url("/admin/api/v1/applications/app_missing/usage");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .fetch()
                .await
                .status()
        }
    };
    assert_eq!(
        usage(secret.to_owned()).await,
        reqwest::StatusCode::NOT_FOUND,
        "accepted"
    );
    gateway.json(&["admin-tokens", "revoke", created["id"].as_str().unwrap()]);
    assert_eq!(
        usage(secret.to_owned()).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        usage(gateway.admin_token()).await,
        reqwest::StatusCode::NOT_FOUND
    );

    // A token for someone who is not an admin would only ever be refused: not made.
    gateway.json(&["users", "create", "vic", "--role", "viewer"]);
    let refused = gateway.cli(&["admin-tokens", "create", "--user", "vic"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("admin role"));
    let actions: Vec<String> = gateway
        .json(&["audit", "list", "--target", created["id"].as_str().unwrap()])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["admin_token.revoke", "admin_token.create"]);
}
