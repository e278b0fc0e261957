//! IIIF Authorization Flow 2.0 over HTTP (SPEC §6): the 401 with the probe on a protected
//! resource, the probe's answers, every token error, the access cookie, logout and the
//! tutorials' JSON login, as a viewer's browser would meet them.

use crate::harness::{Gateway, Upstream};
use reqwest::StatusCode;
use serde_json::{Value, json};

const AUTH_CONTEXT: &str = "http://iiif.io/api/auth/2/context.json";
const VIEWER: &str = "https://viewer.example";
const OTHER_VIEWER: &str = "https://other-viewer.example";

/// A gateway with `/images/` protected by IIIF in front of the Python upstream (which answers
/// `.../info.json` like an image server), tokens allowed for two viewers; alice may read
/// images (`viewer`), bob has no role.
fn gateway(upstream: &Upstream) -> Gateway {
    let gateway = Gateway::start_public(&format!(
        "[iiif]\nallowed_origins = [\"{VIEWER}\", \"{OTHER_VIEWER}\"]\n\
         [[routes]]\nname = \"images\"\npath_prefix = \"/images/\"\nupstream = \"{}\"\n\
         permission = \"images\"\niiif = true\n",
        upstream.url()
    ));
    gateway.user("alice", "alice-password", "viewer");
    let out = gateway.cli_with_input(
        &["users", "create", "bob", "--password-stdin"],
        b"bob-password",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    gateway
}

/// A browser on a viewer's page: keeps the gateway's cookies.
struct Browser<'a> {
    gateway: &'a Gateway,
    client: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    fn new(gateway: &'a Gateway) -> Self {
        Self {
            gateway,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) -> Vec<String> {
        let set: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        for line in &set {
            let (pair, attributes) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(kept, _)| kept != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        set
    }

    async fn get(&mut self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let response = self
            .client
            .get(self.gateway.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    /// Opens the access service for `origin` and signs in; returns the answer's status and
    /// the cookies it set.
    async fn sign_in(
        &mut self,
        origin: &str,
        user: &str,
        password: &str,
    ) -> (StatusCode, Vec<String>) {
        let (status, _, page) = self.get(&format!("/iiif/access?origin={origin}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let csrf = field(&page, "csrf");
        let response = self
            .client
            .post(self.gateway.url("/iiif/access"))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", csrf.as_str()),
                ("origin", origin),
                ("username", user),
                ("password", password),
            ]))
            .send()
            .await
            .unwrap();
        let set = self.keep(&response);
        (response.status(), set)
    }

    /// The message the token service's page posts, and where it posts it.
    async fn token_message(&mut self, query: &str) -> (Value, String) {
        let (status, headers, page) = self.get(&format!("/iiif/token{query}")).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "the token service always answers 200"
        );
        assert!(headers.get("x-frame-options").is_none(), "viewers frame it");
        assert_eq!(headers["cache-control"], "no-store");
        let message = serde_json::from_str(&unescape(&attribute(&page, "data-message")))
            .expect("a JSON message");
        (message, unescape(&attribute(&page, "data-target")))
    }

    /// A token for `origin` from the sign-in the cookie stands for.
    async fn token(&mut self, origin: &str) -> String {
        let (message, target) = self
            .token_message(&format!("?messageId=1&origin={origin}"))
            .await;
        assert_eq!(message["type"], "AuthAccessToken2", "{message}");
        assert_eq!(target, origin);
        message["accessToken"].as_str().unwrap().to_owned()
    }
}

/// A form's body.
fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The value of the hidden field `name` in a form.
fn field(page: &str, name: &str) -> String {
    page.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} field in:\n{page}"))
        .to_owned()
}

fn attribute(page: &str, name: &str) -> String {
    page.split(&format!("{name}=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in:\n{page}"))
        .to_owned()
}

/// What a browser reads from an attribute the template escaped (`&#60;` and the like).
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("&#") {
        out.push_str(&rest[..start]);
        let (code, after) = rest[start + 2..].split_once(';').expect("an entity");
        out.push(char::from_u32(code.parse().expect("a decimal entity")).unwrap());
        rest = after;
    }
    out.push_str(rest);
    assert!(!out.contains("&lt;") && !out.contains("&quot;"), "{text}");
    out
}

/// GET the probe of `resource` with an optional token and `Origin`.
async fn probe(
    gateway: &Gateway,
    resource: &str,
    token: Option<&str>,
    origin: Option<&str>,
) -> Value {
    let mut request = reqwest::Client::new().get(gateway.url(&format!("/iiif/probe{resource}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a probe always answers 200"
    );
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_protected_resource_is_refused_with_the_probe_and_opened_by_the_access_cookie() {
    let upstream = Upstream::start();
    let gateway = gateway(&upstream);
    let public = format!("http://{}", gateway.addr);
    let mut browser = Browser::new(&gateway);

    // Signed out: 401 JSON in the gateway's shape, with the probe service and CORS.
    for path in [
        "/images/abc/info.json",
        "/images/abc/full/max/0/default.jpg",
    ] {
        let (status, headers, body) = browser.get(path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(headers["access-control-allow-origin"], "*");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "missing_credentials");
        let probe = &body["service"][0];
        assert_eq!(probe["type"], "AuthProbeService2");
        assert_eq!(probe["id"], format!("{public}/iiif/probe{path}"));
        let access = &probe["service"][0];
        assert_eq!(access["type"], "AuthAccessService2");
        assert_eq!(access["profile"], "active");
        assert_eq!(access["id"], format!("{public}/iiif/access"));
        assert!(access["label"]["en"][0].is_string());
        assert_eq!(
            access["service"],
            json!([
                {"id": format!("{public}/iiif/token"), "type": "AuthAccessTokenService2"},
                {"id": format!("{public}/iiif/logout"), "type": "AuthLogoutService2",
                 "label": {"en": ["Sign out of authgate"]}},
            ])
        );
    }
    assert_eq!(upstream.hits().await, 0, "nothing reached the image server");

    // Signing in sets the access cookie a viewer on another site can use.
    let (status, set) = browser.sign_in(VIEWER, "alice", "alice-password").await;
    assert_eq!(status, StatusCode::OK);
    let cookie = set
        .iter()
        .find(|line| line.starts_with("authgate_iiif="))
        .expect("the access cookie");
    for attribute in ["HttpOnly", "SameSite=None", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }

    // Now the image server's info.json arrives with the probe added, and without the cookie.
    let (status, headers, body) = browser.get("/images/abc/info.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        info["@context"],
        json!([AUTH_CONTEXT, "http://iiif.io/api/image/3/context.json"])
    );
    assert_eq!(
        info["profile"], "level1",
        "the upstream's own fields are kept"
    );
    assert_eq!(info["service"][0]["type"], "AuthProbeService2");
    assert_eq!(
        info["service"][0]["id"],
        format!("{public}/iiif/probe/images/abc/info.json")
    );
    assert_eq!(
        info["cookie"],
        Value::Null,
        "the access cookie stays with the gateway"
    );

    // And image requests, which carry nothing but the cookie.
    let (status, _, body) = browser.get("/images/abc/full/max/0/default.jpg").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let echoed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echoed["headers"]["x-authgate-subject"], "alice");
    assert_eq!(echoed["headers"]["x-authgate-application"], "iiif:alice");
    assert_eq!(echoed["headers"]["x-authgate-auth-method"], "iiif");

    // The cookie only reads: a change it would make (any site can make a browser send one)
    // finds no credential.
    let response = reqwest::Client::new()
        .post(gateway.url("/images/abc/annotations"))
        .header("cookie", browser.cookie_header())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "missing_credentials"
    );

    // bob may sign in, but may not read images: 403, not the image.
    let mut bob = Browser::new(&gateway);
    assert_eq!(
        bob.sign_in(VIEWER, "bob", "bob-password").await.0,
        StatusCode::OK
    );
    let (status, _, body) = bob.get("/images/abc/full/max/0/default.jpg").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(upstream.hits().await, 2);
}

#[tokio::test]
async fn the_probe_answers_signed_out_signed_in_and_without_permission() {
    let upstream = Upstream::start();
    let gateway = gateway(&upstream);
    let resource = "/images/abc/info.json";

    // Signed out: status 401 with the texts to show.
    let result = probe(&gateway, resource, None, Some(VIEWER)).await;
    assert_eq!(result["@context"], AUTH_CONTEXT);
    assert_eq!(result["type"], "AuthProbeResult2");
    assert_eq!(result["status"], 401);
    assert_eq!(result["heading"]["en"][0], "Sign in required");
    assert!(result["note"]["en"][0].is_string());
    let access = &result["service"][0];
    assert_eq!(access["type"], "AuthAccessService2", "{result}");
    assert_eq!(access["service"][0]["type"], "AuthAccessTokenService2");
    assert_eq!(access["service"][1]["type"], "AuthLogoutService2");
    assert!(result.get("location").is_none() && result.get("substitute").is_none());

    // The preflight of a probe with a token.
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            gateway.url(&format!("/iiif/probe{resource}")),
        )
        .header("origin", VIEWER)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        allowed.to_ascii_lowercase().contains("authorization"),
        "{allowed}"
    );

    // Signed in with read permission: 200 and nothing else.
    let mut alice = Browser::new(&gateway);
    alice.sign_in(VIEWER, "alice", "alice-password").await;
    let token = alice.token(VIEWER).await;
    assert_ne!(
        alice
            .cookies
            .iter()
            .find(|(name, _)| name == "authgate_iiif")
            .unwrap()
            .1,
        token,
        "the token is not the cookie"
    );
    let result = probe(&gateway, resource, Some(&token), Some(VIEWER)).await;
    assert_eq!(result["status"], 200, "{result}");
    assert!(result.get("heading").is_none() && result.get("service").is_none());

    // The token is bound to the origin it was posted to.
    let result = probe(&gateway, resource, Some(&token), Some(OTHER_VIEWER)).await;
    assert_eq!(result["status"], 401, "{result}");
    // The cookie is no token.
    let cookie = alice
        .cookies
        .iter()
        .find(|(name, _)| name == "authgate_iiif")
        .unwrap()
        .1
        .clone();
    let result = probe(&gateway, resource, Some(&cookie), Some(VIEWER)).await;
    assert_eq!(result["status"], 401, "{result}");

    // Signed in without permission: 403 with its own texts.
    let mut bob = Browser::new(&gateway);
    bob.sign_in(VIEWER, "bob", "bob-password").await;
    let token = bob.token(VIEWER).await;
    let result = probe(&gateway, resource, Some(&token), Some(VIEWER)).await;
    assert_eq!(result["status"], 403, "{result}");
    assert_eq!(result["heading"]["en"][0], "Not allowed");
    assert_eq!(result["service"][0]["type"], "AuthAccessService2");

    // A path no IIIF route protects has no probe.
    let response = reqwest::get(gateway.url("/iiif/probe/elsewhere/info.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        upstream.hits().await,
        0,
        "probing never touches the image server"
    );
}

#[tokio::test]
async fn the_token_service_answers_every_error_profile() {
    let upstream = Upstream::start();
    let gateway = gateway(&upstream);
    let mut browser = Browser::new(&gateway);
    let error = |message: &Value, profile: &str, message_id: &str| {
        assert_eq!(message["@context"], AUTH_CONTEXT);
        assert_eq!(message["type"], "AuthAccessTokenError2", "{message}");
        assert_eq!(message["profile"], profile, "{message}");
        assert_eq!(message["messageId"], message_id);
        assert!(message["heading"]["en"][0].is_string(), "{message}");
        assert!(message.get("accessToken").is_none());
    };

    // invalidRequest: no messageId, or no origin.
    let (message, target) = browser.token_message(&format!("?origin={VIEWER}")).await;
    error(&message, "invalidRequest", "");
    assert_eq!(target, VIEWER);
    let (message, target) = browser.token_message("?messageId=7").await;
    error(&message, "invalidRequest", "");
    assert_eq!(target, "*", "an error names no secret");

    // missingAspect: no cookie. The messageId comes back as it was sent, safely.
    let tricky = r#"a"b<script>'&"#;
    let (message, _) = browser
        .token_message(&format!(
            "?messageId={}&origin={VIEWER}",
            url::form_urlencoded::byte_serialize(tricky.as_bytes()).collect::<String>()
        ))
        .await;
    error(&message, "missingAspect", tricky);

    // invalidAspect: a cookie that is no sign-in.
    browser
        .cookies
        .push(("authgate_iiif".into(), "sk_iiifsession_forged".into()));
    let (message, _) = browser
        .token_message(&format!("?messageId=8&origin={VIEWER}"))
        .await;
    error(&message, "invalidAspect", "8");
    browser.cookies.clear();

    // invalidOrigin: an origin not allowed to receive tokens, and an allowed one the access
    // service was not opened for.
    browser.sign_in(VIEWER, "alice", "alice-password").await;
    let (message, target) = browser
        .token_message("?messageId=9&origin=https://evil.example")
        .await;
    error(&message, "invalidOrigin", "9");
    assert_eq!(target, "https://evil.example");
    let (message, _) = browser
        .token_message(&format!("?messageId=10&origin={OTHER_VIEWER}"))
        .await;
    error(&message, "invalidOrigin", "10");

    // A success, for contrast.
    let (message, target) = browser
        .token_message(&format!("?messageId=11&origin={VIEWER}"))
        .await;
    assert_eq!(message["type"], "AuthAccessToken2");
    assert_eq!(message["messageId"], "11");
    assert_eq!(message["expiresIn"], 3600);
    assert!(
        message["accessToken"]
            .as_str()
            .unwrap()
            .starts_with("sk_iiif_")
    );
    assert_eq!(target, VIEWER);

    // expiredAspect: the sign-in has run out (its expiry moved into the past in the store).
    assert_eq!(
        gateway
            .store()
            .execute("UPDATE iiif_sessions SET expires_at = 1"),
        1
    );
    let (message, _) = browser
        .token_message(&format!("?messageId=12&origin={VIEWER}"))
        .await;
    error(&message, "expiredAspect", "12");

    // unavailable: the store cannot keep tokens.
    let mut fresh = Browser::new(&gateway);
    fresh.sign_in(VIEWER, "alice", "alice-password").await;
    gateway.store().execute("DROP TABLE iiif_tokens");
    let (message, _) = fresh
        .token_message(&format!("?messageId=13&origin={VIEWER}"))
        .await;
    error(&message, "unavailable", "13");
}

#[tokio::test]
async fn the_access_service_refuses_forged_forms_wrong_passwords_and_foreign_viewers() {
    let upstream = Upstream::start();
    let gateway = gateway(&upstream);
    let mut browser = Browser::new(&gateway);

    let (status, headers, page) = browser.get(&format!("/iiif/access?origin={VIEWER}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["x-frame-options"], "DENY",
        "a sign-in page is never framed"
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(page.contains("Please sign in") && page.contains(r#"type="password""#));

    // Without the form's own cookie (another site posting it): refused, no access cookie.
    let response = reqwest::Client::new()
        .post(gateway.url("/iiif/access"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", field(&page, "csrf").as_str()),
            ("origin", VIEWER),
            ("username", "alice"),
            ("password", "alice-password"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("authgate_iiif="))
    );

    let (status, set) = browser.sign_in(VIEWER, "alice", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(set.iter().all(|c| !c.starts_with("authgate_iiif=")));

    // Sign-in is throttled per name, with the rest of authgate's sign-ins.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(browser.sign_in(VIEWER, "bob", "guess").await.0);
    }
    assert_eq!(statuses[..6], [StatusCode::UNAUTHORIZED; 6]);
    assert_eq!(statuses[6], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");

    // A viewer that may not receive tokens is told so before anyone signs in.
    let (status, _, page) = browser
        .get("/iiif/access?origin=https://evil.example")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Not allowed here"), "{page}");

    // The page after signing in closes its window, by a script of this origin.
    let (status, _) = browser.sign_in(VIEWER, "alice", "alice-password").await;
    assert_eq!(status, StatusCode::OK);
    // Opened again for the same viewer, there is nothing to ask; for another, the form.
    let (status, _, page) = browser.get(&format!("/iiif/access?origin={VIEWER}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("You are signed in as alice.") && page.contains("assets/close.js"));
    let (_, _, page) = browser
        .get(&format!("/iiif/access?origin={OTHER_VIEWER}"))
        .await;
    assert!(page.contains(r#"type="password""#), "{page}");
    let (status, headers, script) = browser.get("/iiif/assets/close.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.contains("window.close()"));
}

#[tokio::test]
async fn logout_ends_the_cookie_and_every_token_issued_from_it() {
    let upstream = Upstream::start();
    let gateway = gateway(&upstream);
    let mut browser = Browser::new(&gateway);
    browser.sign_in(VIEWER, "alice", "alice-password").await;
    let token = browser.token(VIEWER).await;
    let cookie = browser.cookies.clone();
    let resource = "/images/abc/info.json";
    assert_eq!(browser.get(resource).await.0, StatusCode::OK);
    assert_eq!(
        probe(&gateway, resource, Some(&token), None).await["status"],
        200
    );

    let (status, _, page) = browser.get("/iiif/logout").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("signed out"), "{page}");
    assert!(
        browser
            .cookies
            .iter()
            .all(|(name, _)| name != "authgate_iiif"),
        "the cookie is removed"
    );

    // The old cookie and the token are dead, on this instance at once.
    browser.cookies = cookie;
    assert_eq!(browser.get(resource).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        probe(&gateway, resource, Some(&token), None).await["status"],
        401
    );
    let (message, _) = browser
        .token_message(&format!("?messageId=1&origin={VIEWER}"))
        .await;
    assert_eq!(message["profile"], "invalidAspect");
}

#[tokio::test]
async fn the_tutorials_json_login_answers_a_token() {
    let upstream = Upstream::start();
    let gateway = gateway(&upstream);
    let login = |body: Value| {
        reqwest::Client::new()
            .post(gateway.url("/iiif/access"))
            .json(&body)
            .send()
    };

    let response = login(json!({"username": "alice", "password": "alice-password"}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no cookie for a JSON client"
    );
    let answer: Value = response.json().await.unwrap();
    let token = answer["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(answer["expiresIn"], 3600);
    assert_eq!(
        probe(&gateway, "/images/abc/info.json", Some(&token), None).await["status"],
        200
    );
    // Where a client can send a token, it opens content too.
    let response = gateway
        .with_bearer(
            reqwest::Method::GET,
            "/images/abc/full/max/0/default.jpg",
            &token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["headers"]["x-authgate-subject"], "alice");
    assert!(
        echoed["headers"].get("authorization").is_none(),
        "the token is not forwarded"
    );

    let response = login(json!({"username": "alice", "password": "wrong"}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_credentials");
    assert!(body["message"].is_string());

    let response = reqwest::Client::new()
        .post(gateway.url("/iiif/access"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "malformed_request"
    );
}

#[tokio::test]
async fn the_demo_serves_a_protected_level_0_image() {
    let gateway = Gateway::start_public("");
    gateway.user("alice", "alice-password", "viewer");
    let public = format!("http://{}", gateway.addr);
    let mut browser = Browser::new(&gateway);

    let (status, headers, page) = browser.get("/iiif/demo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.contains(&format!("{public}/iiif/demo/images/sample/info.json")));
    assert!(page.contains("assets/demo.js"));

    let (status, _, body) = browser.get("/iiif/demo/images/sample/info.json").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    browser.sign_in(&public, "alice", "alice-password").await;
    let (status, _, body) = browser.get("/iiif/demo/images/sample/info.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["id"], format!("{public}/iiif/demo/images/sample"));
    assert_eq!(info["type"], "ImageService3");
    assert_eq!(info["profile"], "level0");
    assert_eq!(info["@context"][0], AUTH_CONTEXT);
    assert_eq!(info["service"][0]["type"], "AuthProbeService2");
    let response = reqwest::Client::new()
        .get(gateway.url("/iiif/demo/images/sample/full/max/0/default.jpg"))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..3], [0xFF, 0xD8, 0xFF], "a JPEG");
    // Level 0: only the listed sizes.
    let (status, _, _) = browser
        .get("/iiif/demo/images/sample/full/100,100/0/default.jpg")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The token service posts to the gateway's own origin by default.
    let token = browser.token(&public).await;
    assert!(token.starts_with("sk_iiif_"));
}
