//! Who may do what: the jane (admin) / ian (read-only) example in each scheme, custom roles,
//! wildcards, scopes that narrow, and the 403 that names what was required.

use crate::harness::Fetch as _;
use crate::harness::Gateway;
use reqwest::StatusCode;
use serde_json::Value;

const TASKS_ROUTES: &str = "[[routes]]\nname = \"tasks\"\npath_prefix = \"/tasks\"\nupstream = \"builtin:echo\"\npermission = \"tasks\"\nactions = { DELETE = \"delete\" }\n\
[[routes]]\nname = \"images\"\npath_prefix = \"/images\"\nupstream = \"builtin:echo\"\npermission = \"images\"\n\
[[routes]]\nname = \"open\"\npath_prefix = \"/\"\nupstream = \"builtin:echo\"\n";

/// Creates user `name` with `roles`, an application it owns, and a key; returns the secret.
fn user_key(gateway: &Gateway, name: &str, roles: &[&str], key_args: &[&str]) -> String {
    let mut args = vec!["users", "create", name];
    for role in roles {
        args.extend(["--role", role]);
    }
    gateway.json(&args);
    let app = gateway.json(&["apps", "create", &format!("{name}-app"), "--owner", name]);
    gateway.key(app["id"].as_str().unwrap(), key_args).1
}

async fn call(gateway: &Gateway, method: &str, path: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(method.parse().unwrap(), gateway.url(path))
        .header("X-API-Key", secret)
        .fetch()
        .await
}

async fn status(gateway: &Gateway, method: &str, path: &str, secret: &str) -> StatusCode {
    call(gateway, method, path, secret).await.status()
}

async fn assert_forbidden(
    gateway: &Gateway,
    method: &str,
    path: &str,
    secret: &str,
    required: &str,
) {
    let response = call(gateway, method, path, secret).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Forbidden");
    assert_eq!(body["code"], "insufficient_permissions");
    assert_eq!(body["required"], required);
}

/// jane may read and write, ian may read only, an unknown key is 401, in every scheme.
async fn jane_and_ian(gateway: &Gateway, jane: &str, ian: &str) {
    assert_eq!(
        status(gateway, "GET", "/tasks/1", ian).await,
        StatusCode::OK
    );
    assert_forbidden(gateway, "POST", "/tasks", ian, "tasks:write").await;
    assert_eq!(
        status(gateway, "GET", "/tasks/1", jane).await,
        StatusCode::OK
    );
    assert_eq!(
        status(gateway, "POST", "/tasks", jane).await,
        StatusCode::OK
    );
    assert_eq!(
        status(gateway, "DELETE", "/tasks/1", jane).await,
        StatusCode::OK
    );
    assert_eq!(
        status(gateway, "GET", "/tasks", "sk_live_unknown").await,
        StatusCode::UNAUTHORIZED
    );
    // A route without a permission needs authentication only.
    assert_eq!(
        status(gateway, "POST", "/anything", ian).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rbac_admin_and_viewer() {
    let gateway = Gateway::start(TASKS_ROUTES);
    let jane = user_key(&gateway, "jane", &["admin"], &[]);
    let ian = user_key(&gateway, "ian", &["viewer"], &[]);
    jane_and_ian(&gateway, &jane, &ian).await;
    assert_forbidden(&gateway, "DELETE", "/tasks/1", &ian, "tasks:delete").await;
    // A user with no role may authenticate but not act on a protected route.
    let nobody = user_key(&gateway, "nobody", &[], &[]);
    assert_forbidden(&gateway, "GET", "/tasks", &nobody, "tasks:read").await;
}

#[tokio::test]
async fn admin_list_scheme() {
    let gateway = Gateway::start(&format!(
        "[authorization]\nscheme = \"admin_list\"\n[authorization.admin_list]\nadmins = [\"jane\"]\nread_only = [\"ian\"]\n{TASKS_ROUTES}"
    ));
    // Roles in the store play no part in this scheme: the lists decide.
    let jane = user_key(&gateway, "jane", &[], &[]);
    let ian = user_key(&gateway, "ian", &["admin"], &[]);
    jane_and_ian(&gateway, &jane, &ian).await;
    let carol = user_key(&gateway, "carol", &[], &[]);
    assert_forbidden(&gateway, "GET", "/tasks", &carol, "tasks:read").await;
}

#[tokio::test]
async fn undifferentiated_scheme_lets_any_authenticated_caller_do_everything() {
    let gateway = Gateway::start(&format!(
        "[authorization]\nscheme = \"undifferentiated\"\n{TASKS_ROUTES}"
    ));
    let anyone = user_key(&gateway, "anyone", &[], &[]);
    assert_eq!(
        status(&gateway, "POST", "/tasks", &anyone).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&gateway, "DELETE", "/images/1", &anyone).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&gateway, "GET", "/tasks", "sk_live_unknown").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn custom_roles_wildcards_and_role_changes() {
    let gateway = Gateway::start(TASKS_ROUTES);
    gateway.json(&[
        "roles",
        "create",
        "tasks-reader",
        "--permission",
        "tasks:read",
    ]);
    gateway.json(&["roles", "create", "tasks-all", "--permission", "tasks:*"]);
    gateway.json(&[
        "roles",
        "create",
        "reads-everything",
        "--permission",
        "*:read",
    ]);
    let reader = user_key(&gateway, "reader", &["tasks-reader"], &[]);
    assert_eq!(
        status(&gateway, "GET", "/tasks", &reader).await,
        StatusCode::OK
    );
    assert_forbidden(&gateway, "POST", "/tasks", &reader, "tasks:write").await;
    assert_forbidden(&gateway, "GET", "/images", &reader, "images:read").await;

    let all = user_key(&gateway, "all", &["tasks-all"], &[]);
    assert_eq!(
        status(&gateway, "DELETE", "/tasks/1", &all).await,
        StatusCode::OK
    );
    assert_forbidden(&gateway, "GET", "/images", &all, "images:read").await;

    // Binding a role reaches the running gateway.
    gateway.json(&["roles", "bind", "reader", "reads-everything"]);
    let url = gateway.url("/images");
    crate::harness::eventually(std::time::Duration::from_secs(1), || async {
        reqwest::Client::new()
            .get(&url)
            .header("X-API-Key", &reader)
            .fetch()
            .await
            .status()
            == StatusCode::OK
    })
    .await
    .expect("the new role applies within 1 s");

    let listed = gateway.json(&["roles", "list"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "admin",
            "viewer",
            "reads-everything",
            "tasks-all",
            "tasks-reader"
        ]
    );
    let bad = gateway.cli(&["roles", "create", "x", "--permission", "tasks"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("resource:action"));
}

#[tokio::test]
async fn scopes_narrow_the_owner_s_roles_and_never_widen_them() {
    let gateway = Gateway::start(TASKS_ROUTES);
    let narrowed = user_key(&gateway, "jane", &["admin"], &["--scopes", "tasks:read"]);
    assert_eq!(
        status(&gateway, "GET", "/tasks", &narrowed).await,
        StatusCode::OK
    );
    assert_forbidden(&gateway, "POST", "/tasks", &narrowed, "tasks:write").await;
    assert_forbidden(&gateway, "GET", "/images", &narrowed, "images:read").await;

    let widened = user_key(&gateway, "ian", &["viewer"], &["--scopes", "tasks:*"]);
    assert_eq!(
        status(&gateway, "GET", "/tasks", &widened).await,
        StatusCode::OK
    );
    assert_forbidden(&gateway, "POST", "/tasks", &widened, "tasks:write").await;

    // A bearer token refused for its scope says so in the challenge.
    let response = reqwest::Client::new()
        .post(gateway.url("/tasks"))
        .header("Authorization", format!("Bearer {narrowed}"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="authgate", error="insufficient_scope""#
    );
}

#[tokio::test]
async fn an_application_s_own_roles_replace_its_owner_s() {
    let gateway = Gateway::start(TASKS_ROUTES);
    gateway.json(&["users", "create", "ian", "--role", "viewer"]);
    let app = gateway.json(&[
        "apps", "create", "robot", "--owner", "ian", "--role", "admin",
    ]);
    assert_eq!(app["roles"], serde_json::json!(["admin"]));
    let (_, secret) = gateway.key(app["id"].as_str().unwrap(), &[]);
    assert_eq!(
        status(&gateway, "POST", "/tasks", &secret).await,
        StatusCode::OK
    );
}

const STATIC_KEYS: &str = "[[auth.static_keys]]\nkey = \"jane-secret\"\nuser = \"jane\"\nroles = [\"admin\"]\n\
[[auth.static_keys]]\nkey = \"ian-secret\"\nuser = \"ian\"\nroles = [\"viewer\"]\n";

#[tokio::test]
async fn static_keys_from_the_configuration_in_each_scheme() {
    let schemes = [
        "[authorization]\nscheme = \"rbac\"\n",
        "[authorization]\nscheme = \"admin_list\"\n[authorization.admin_list]\nadmins = [\"jane\"]\nread_only = [\"ian\"]\n",
    ];
    for scheme in schemes {
        let gateway = Gateway::start(&format!("{STATIC_KEYS}{scheme}{TASKS_ROUTES}"));
        jane_and_ian(&gateway, "jane-secret", "ian-secret").await;
        let seen: Value = reqwest::Client::new()
            .get(gateway.url("/tasks"))
            .header("Authorization", "Bearer ian-secret")
            .fetch_json()
            .await;
        assert_eq!(seen["headers"]["x-authgate-subject"], "ian", "{scheme}");
        assert!(
            seen["headers"].get("authorization").is_none(),
            "the static key is hidden too"
        );
        assert!(!gateway.logs().contains("ian-secret"));
    }
    let undifferentiated = Gateway::start(&format!(
        "{STATIC_KEYS}[authorization]\nscheme = \"undifferentiated\"\n{TASKS_ROUTES}"
    ));
    assert_eq!(
        status(&undifferentiated, "POST", "/tasks", "ian-secret").await,
        StatusCode::OK
    );
    assert_eq!(
        status(&undifferentiated, "POST", "/tasks", "mallory-secret").await,
        StatusCode::UNAUTHORIZED
    );
}
