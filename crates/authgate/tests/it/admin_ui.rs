//! The web admin UI over HTTP (what a browser sends, cookie by cookie): sign-in and its
//! throttle, sessions in the store, CSRF on every form, the session cookie on the admin API,
//! security headers, errors beside their field, and escaping. The browser test
//! (`browser.rs`) drives the same pages through real Chromium.

use crate::harness::{Fetch as _, Gateway};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use std::collections::BTreeMap;

/// What a browser keeps for the console: its cookies.
struct Console<'a> {
    gateway: &'a Gateway,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

/// A response as the console saw it.
struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        self.body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no CSRF field in:\n{}", self.body))
            .to_owned()
    }
}

impl<'a> Console<'a> {
    fn new(gateway: &'a Gateway) -> Self {
        Self {
            gateway,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut request = self.client.request(method, self.gateway.admin_url(path));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request = request.header(COOKIE, jar.join("; "));
        }
        if let Some(form) = form {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.fetch().await;
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        for cookie in &set_cookies {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(LOCATION)
                .map(|value| value.to_str().unwrap().to_owned()),
            headers: response.headers().clone(),
            set_cookies,
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let csrf = self.get("/sign-in").await.csrf();
        self.post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// Posts a form of the page at `from`, with that page's CSRF token.
    async fn submit(&mut self, from: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(action, &form).await
    }
}

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn only_a_signed_in_admin_gets_the_console_and_every_page_is_locked_down() {
    let gateway = Gateway::start("");
    gateway.user("ann", PASSWORD, "admin");
    gateway.user("ian", PASSWORD, "viewer");
    let mut console = Console::new(&gateway);

    for path in [
        "/",
        "/applications",
        "/users",
        "/roles",
        "/signing-keys",
        "/audit",
    ] {
        let page = console.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location.as_deref(), Some("/sign-in"), "{path}");
    }
    let sign_in = console.get("/sign-in").await;
    assert_eq!(sign_in.status, StatusCode::OK);
    for (header, value) in [
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(sign_in.headers[header], value, "{header}");
    }
    let nowhere = console.get("/no-such-page").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert!(nowhere.body.contains("There is no such page."));
    assert_eq!(nowhere.headers["x-frame-options"], "DENY");
    let policy = sign_in.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert!(!policy.contains("unsafe-inline"));

    let wrong = console.sign_in("ann", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong user name or password."));
    assert!(!console.cookies.contains_key("authgate_session"));

    let viewer = console.sign_in("ian", PASSWORD).await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    assert!(viewer.body.contains("Only admins may use this console"));
    assert!(!console.cookies.contains_key("authgate_session"));

    let signed_in = console.sign_in("ann", PASSWORD).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(signed_in.location.as_deref(), Some("/"));
    let session = signed_in
        .set_cookies
        .iter()
        .find(|cookie| cookie.starts_with("authgate_session="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(session.contains(attribute), "{attribute} in {session}");
    }
    assert!(!session.contains("Secure"), "http: no Secure attribute");
    for path in [
        "/",
        "/applications",
        "/users",
        "/roles",
        "/signing-keys",
        "/audit",
    ] {
        let page = console.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(
            page.body.contains("Signed in as <strong>ann</strong>"),
            "{path}"
        );
        assert_eq!(page.headers["cache-control"], "no-store");
    }
    let audit = gateway.json(&["audit", "list", "--action", "session.sign_in"]);
    assert_eq!(audit[0]["actor"], "ann");

    // The first start's `admin` has no password until an operator sets one.
    assert_eq!(
        Console::new(&gateway)
            .sign_in("admin", PASSWORD)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let out = gateway.cli_with_input(
        &["users", "set-password", "admin"],
        format!("{PASSWORD}\n").as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = Console::new(&gateway).sign_in("admin", PASSWORD).await;
    assert_eq!(admin.status, StatusCode::SEE_OTHER);
    let entry = &gateway.json(&["audit", "list", "--action", "user.set_password"])[0];
    assert_eq!(entry["source"], "cli");
    assert_eq!(audit[0]["source"], "127.0.0.1");
    let logs = gateway.logs();
    let secret = &console.cookies["authgate_session"];
    assert!(
        !logs.contains(secret.as_str()),
        "the session secret is never logged"
    );
    assert!(!logs.contains(PASSWORD));
}

#[tokio::test]
async fn a_sign_in_form_without_its_own_token_is_refused_and_failures_are_throttled() {
    let gateway = Gateway::start("");
    gateway.user("ann", PASSWORD, "admin");
    let mut console = Console::new(&gateway);
    // Another site's form: no token of ours, no cookie of ours.
    let forged = console
        .post("/sign-in", &[("username", "ann"), ("password", PASSWORD)])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!console.cookies.contains_key("authgate_session"));

    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(console.sign_in("ann", "guess").await.status);
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[6], StatusCode::TOO_MANY_REQUESTS);
    let locked = console.sign_in("ann", PASSWORD).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(locked.body.contains("Too many failed attempts"));
}

#[tokio::test]
async fn sessions_survive_a_restart_and_end_on_sign_out() {
    let mut gateway = Gateway::start("");
    gateway.user("ann", PASSWORD, "admin");
    let mut console = Console::new(&gateway);
    console.sign_in("ann", PASSWORD).await;
    let cookies = console.cookies.clone();
    assert!(cookies.contains_key("authgate_session"));

    gateway.terminate();
    gateway
        .wait(std::time::Duration::from_secs(15))
        .expect("stopped");
    let restarted = Gateway::spawn(&gateway.dir, &[]);
    let mut console = Console::new(&restarted);
    console.cookies = cookies.clone();
    let dashboard = console.get("/").await;
    assert_eq!(
        dashboard.status,
        StatusCode::OK,
        "the session is in the store"
    );

    let signed_out = console.submit("/", "/sign-out", &[]).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_out.location.as_deref(), Some("/sign-in"));
    assert!(!console.cookies.contains_key("authgate_session"));
    let notice = console.get("/sign-in").await;
    assert!(notice.body.contains("You have signed out."));

    // The old cookie, replayed, is worth nothing: the session ended in the store.
    let mut replay = Console::new(&restarted);
    replay.cookies = cookies;
    let refused = replay.get("/").await;
    assert_eq!(refused.location.as_deref(), Some("/sign-in"));
    let api = replay
        .client
        .get(restarted.admin_url("/admin/api/v1/applications"))
        .header(
            COOKIE,
            format!("authgate_session={}", replay.cookies["authgate_session"]),
        )
        .fetch()
        .await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let audit = restarted.json(&["audit", "list", "--action", "session.sign_out"]);
    assert_eq!(audit[0]["actor"], "ann");
}

#[tokio::test]
async fn every_form_needs_its_session_s_csrf_token_and_so_does_the_api_with_a_cookie() {
    let gateway = Gateway::start("");
    gateway.user("ann", PASSWORD, "admin");
    let mut console = Console::new(&gateway);
    console.sign_in("ann", PASSWORD).await;

    let bare = console.post("/applications", &[("name", "forged")]).await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    assert!(bare.body.contains("could not be verified"));
    let wrong = console
        .post("/applications", &[("csrf", "0123abcd"), ("name", "forged")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let created = console
        .submit(
            "/applications",
            "/applications",
            &[("name", "billing"), ("roles", "viewer")],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let apps = gateway.json(&["apps", "list"]);
    let names: Vec<&str> = apps
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["billing"], "the refused forms changed nothing");
    let refused_entries = gateway.json(&["audit", "list", "--action", "application.create"]);
    assert_eq!(refused_entries.as_array().unwrap().len(), 1);
    let page = console.get(created.location.as_deref().unwrap()).await;
    assert!(
        page.body.contains("Application billing created."),
        "the notice says what happened"
    );
    let again = console.get(created.location.as_deref().unwrap()).await;
    assert!(
        !again.body.contains("Application billing created."),
        "and says it once"
    );

    // The admin API with the session cookie: reads need nothing more, changes the CSRF header.
    let cookie = format!("authgate_session={}", console.cookies["authgate_session"]);
    let client = console.client.clone();
    let api = |method: Method, path: &str| {
        client
            .request(method, gateway.admin_url(&format!("/admin/api/v1{path}")))
            .header(COOKIE, cookie.clone())
    };
    let listed: serde_json::Value = api(Method::GET, "/applications").fetch_json().await;
    assert_eq!(listed["items"][0]["name"], "billing");
    let no_header = api(Method::POST, "/applications")
        .json(&serde_json::json!({"name": "from-a-script"}))
        .fetch()
        .await;
    assert_eq!(no_header.status(), StatusCode::FORBIDDEN);
    let error: serde_json::Value = no_header.json().await.unwrap();
    assert_eq!(error["code"], "csrf_mismatch");
    let csrf = page.csrf();
    let with_header = api(Method::POST, "/applications")
        .header("X-CSRF-Token", csrf)
        .json(&serde_json::json!({"name": "from-a-script"}))
        .fetch()
        .await;
    assert_eq!(with_header.status(), StatusCode::CREATED);
    let entry = &gateway.json(&["audit", "list", "--action", "application.create"])[0];
    assert_eq!(entry["actor"], "ann");
    assert_eq!(entry["source"], "127.0.0.1");

    // An admin demoted while signed in loses the console and the API at their next request.
    let ann = gateway.json(&["users", "list"]);
    let ann_id = ann
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "ann")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = gateway.admin_token();
    let demoted = reqwest::Client::new()
        .put(gateway.admin_url(&format!("/admin/api/v1/users/{ann_id}/roles")))
        .bearer_auth(token)
        .json(&serde_json::json!({"roles": ["viewer"]}))
        .fetch()
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(console.get("/").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api(Method::GET, "/applications").fetch().await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn refused_input_is_shown_beside_its_field_with_the_input_kept_and_names_are_escaped() {
    let gateway = Gateway::start("");
    gateway.user("ann", PASSWORD, "admin");
    let mut console = Console::new(&gateway);
    console.sign_in("ann", PASSWORD).await;

    let nameless = console
        .submit(
            "/applications",
            "/applications",
            &[("name", " "), ("roles", "viewer")],
        )
        .await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    assert!(
        nameless
            .body
            .contains(r#"<p class="field-error" id="name-error">An application needs a name.</p>"#),
        "{}",
        nameless.body
    );
    assert!(
        nameless
            .body
            .contains(r#"id="roles" name="roles" value="viewer""#),
        "input kept"
    );

    let script = "<script>alert(1)</script>";
    let created = console
        .submit("/applications", "/applications", &[("name", script)])
        .await;
    let app_page = created.location.unwrap();
    let list = console.get("/applications").await;
    assert!(
        list.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{}",
        list.body
    );
    assert!(!list.body.contains(script), "never rendered as markup");

    let users = gateway.json(&["users", "list"]);
    let ann = users
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["name"] == "ann")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown_role = console
        .submit(
            "/users",
            &format!("/users/{ann}/roles"),
            &[("roles", "admin nosuchrole")],
        )
        .await;
    assert_eq!(unknown_role.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown_role.body.contains(&format!(r#"<p class="field-error" id="roles-{ann}-error">There is no role `nosuchrole` (built-in"#)),
        "{}",
        unknown_role.body
    );
    assert!(
        unknown_role
            .body
            .contains(r#"value="admin nosuchrole" aria-invalid="true""#)
    );

    let bad_expiry = console
        .submit(
            &app_page,
            &format!("{app_page}/keys"),
            &[("name", "ci"), ("expires", "yesterday")],
        )
        .await;
    assert_eq!(bad_expiry.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_expiry.body.contains(r#"id="expires-error""#),
        "{}",
        bad_expiry.body
    );
    assert!(bad_expiry.body.contains(r#"value="yesterday""#));
    let keys = gateway.json(&["keys", "list"]);
    assert!(
        keys.as_array().unwrap().is_empty(),
        "a refused key is not made"
    );

    let made = console
        .submit(
            &app_page,
            &format!("{app_page}/keys"),
            &[("name", "ci"), ("expires", "90d")],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK);
    assert_eq!(made.headers["cache-control"], "no-store");
    let secret = made
        .body
        .split(r#"id="secret" class="mono" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("sk_live_"));
    assert!(made.body.contains("This is the only time the key is shown"));
    assert_eq!(
        gateway.get_with_key("/anything", &secret).await.status(),
        StatusCode::OK
    );
    let detail = console.get(&app_page).await;
    assert!(!detail.body.contains(&secret), "only the prefix afterwards");
    let audit = gateway.cli(&["audit", "list", "--output", "json"]);
    assert!(!String::from_utf8_lossy(&audit.stdout).contains(&secret));

    // Revoking asks first, naming the key and its application, then refuses it.
    let key_id = gateway.json(&["keys", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let confirm = console.get(&format!("/keys/{key_id}/confirm/revoke")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.body.contains("Revoke key sk_live_"),
        "{}",
        confirm.body
    );
    let revoked = console
        .submit(
            &format!("/keys/{key_id}/confirm/revoke"),
            &format!("/keys/{key_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(revoked.location.as_deref(), Some(app_page.as_str()));
    let refused = crate::harness::eventually(std::time::Duration::from_secs(2), || async {
        gateway.get_with_key("/anything", &secret).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(refused.is_some(), "the revoked key still works");
    let missing = console.get("/keys/key_missing/confirm/revoke").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let gateway = Gateway::start_with_env(
        "",
        &[("AUTHGATE_SERVER__PUBLIC_URL", "https://auth.example.com")],
    );
    gateway.user("ann", PASSWORD, "admin");
    let mut console = Console::new(&gateway);
    let form = console.get("/sign-in").await;
    assert!(
        form.set_cookies
            .iter()
            .all(|cookie| cookie.contains("; Secure"))
    );
    let signed_in = console.sign_in("ann", PASSWORD).await;
    let session = signed_in
        .set_cookies
        .iter()
        .find(|cookie| cookie.starts_with("authgate_session="))
        .unwrap();
    assert!(session.contains("Secure"), "{session}");
}
