//! Anonymous access, globally and per route, in each scheme; and authentication switched off.

use crate::harness::Fetch as _;
use crate::harness::Gateway;
use reqwest::StatusCode;
use serde_json::Value;

const ROUTES: &str = "[[routes]]\nname = \"tasks\"\npath_prefix = \"/tasks\"\nupstream = \"builtin:echo\"\npermission = \"tasks\"\n\
[[routes]]\nname = \"public\"\npath_prefix = \"/public\"\nupstream = \"builtin:echo\"\nauth = [\"api_key\", \"anonymous\"]\n\
[[routes]]\nname = \"open\"\npath_prefix = \"/\"\nupstream = \"builtin:echo\"\n";

async fn status(gateway: &Gateway, method: &str, path: &str, key: Option<&str>) -> StatusCode {
    let mut request = reqwest::Client::new().request(method.parse().unwrap(), gateway.url(path));
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    request.fetch().await.status()
}

#[tokio::test]
async fn without_anonymous_access_no_credential_is_401_except_on_anonymous_routes() {
    let gateway = Gateway::start(ROUTES);
    assert_eq!(
        status(&gateway, "GET", "/tasks", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(&gateway, "GET", "/other", None).await,
        StatusCode::UNAUTHORIZED
    );
    let seen: Value = reqwest::get(gateway.url("/public/page"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["headers"]["x-authgate-subject"], "anonymous");
    assert_eq!(seen["headers"]["x-authgate-auth-method"], "anonymous");
    assert!(seen["headers"].get("x-authgate-application").is_none());
    // A bad credential is refused even where anonymous access is allowed.
    assert_eq!(
        status(&gateway, "GET", "/public/page", Some("sk_live_wrong")).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admin_list_anonymous_read_only() {
    let gateway = Gateway::start(&format!(
        "[auth]\nanonymous = true\n[authorization]\nscheme = \"admin_list\"\n[authorization.admin_list]\nadmins = [\"jane\"]\nanonymous = \"read_only\"\n{ROUTES}"
    ));
    assert_eq!(
        status(&gateway, "GET", "/tasks", None).await,
        StatusCode::OK
    );
    let write = reqwest::Client::new()
        .post(gateway.url("/tasks"))
        .fetch()
        .await;
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        write.json::<Value>().await.unwrap()["required"],
        "tasks:write"
    );
    assert_eq!(
        status(&gateway, "GET", "/tasks", Some("sk_live_unknown")).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admin_list_anonymous_none_and_admin() {
    let none = Gateway::start(&format!(
        "[auth]\nanonymous = true\n[authorization]\nscheme = \"admin_list\"\n{ROUTES}"
    ));
    assert_eq!(
        status(&none, "GET", "/tasks", None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&none, "GET", "/other", None).await,
        StatusCode::OK,
        "no permission needed there"
    );
    let admin = Gateway::start(&format!(
        "[auth]\nanonymous = true\n[authorization]\nscheme = \"admin_list\"\n[authorization.admin_list]\nanonymous = \"admin\"\n{ROUTES}"
    ));
    assert_eq!(
        status(&admin, "DELETE", "/tasks/1", None).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rbac_anonymous_roles_and_undifferentiated() {
    let rbac = Gateway::start(&format!(
        "[auth]\nanonymous = true\n[authorization]\nanonymous_roles = [\"viewer\"]\n{ROUTES}"
    ));
    assert_eq!(status(&rbac, "GET", "/tasks", None).await, StatusCode::OK);
    assert_eq!(
        status(&rbac, "POST", "/tasks", None).await,
        StatusCode::FORBIDDEN
    );
    let undifferentiated = Gateway::start(&format!(
        "[auth]\nanonymous = true\n[authorization]\nscheme = \"undifferentiated\"\n{ROUTES}"
    ));
    assert_eq!(
        status(&undifferentiated, "POST", "/tasks", None).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn gateway_skip_auth_lets_everything_through_and_says_so() {
    let gateway = Gateway::start_with_env(ROUTES, &[("GATEWAY_SKIP_AUTH", "1")]);
    assert!(
        gateway.logs().contains("authentication is OFF"),
        "{}",
        gateway.logs()
    );
    let response = reqwest::Client::new()
        .post(gateway.url("/tasks"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-authgate-auth"], "skipped");
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["headers"]["x-authgate-roles"], "admin");
    assert_eq!(seen["headers"]["x-authgate-auth-method"], "skipped");
    let health = reqwest::get(gateway.url("/healthz")).await.unwrap();
    assert_eq!(
        health.headers()["x-authgate-auth"],
        "skipped",
        "on every response"
    );
}
