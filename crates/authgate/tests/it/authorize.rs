//! The authorization-code flow with PKCE and its hybrid variant (SPEC §5): Authlib drives it
//! through the real sign-in form; the refusals a browser or client can meet are checked too.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, python_json};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn start(upstream: &Upstream) -> Gateway {
    let gateway = Gateway::start_public(&format!(
        "[oidc]\nredirect_uris = [\"{CALLBACK}\"]\n\
         [[routes]]\nname = \"tasks\"\npath_prefix = \"/api\"\nupstream = \"{}\"\npermission = \"tasks\"\n",
        upstream.url()
    ));
    gateway.user("jane", "correct horse", "viewer");
    gateway
}

fn authlib(args: &[&str]) -> Value {
    python_json("oauth_library.py", args)
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn call_api(gateway: &Gateway, token: &str) -> StatusCode {
    gateway
        .with_bearer(reqwest::Method::GET, "/api/tasks", token)
        .await
        .status()
}

#[tokio::test]
async fn authlib_gets_tokens_by_client_credentials_and_by_code_with_pkce() {
    let upstream = Upstream::start();
    let gateway = start(&upstream);
    let base = gateway.url("");

    let app = gateway.json(&["apps", "create", "robot", "--role", "viewer"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, secret) = gateway.key(&app, &[]);
    let machine = authlib(&["client_credentials", &base, &app, &secret]);
    let token = machine["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["client_id"], app.as_str());
    assert_eq!(call_api(&gateway, token).await, StatusCode::OK);

    let person = authlib(&[
        "code",
        &base,
        "authgate-cli",
        CALLBACK,
        "jane",
        "correct horse",
    ]);
    let access = person["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["sub"], "jane");
    assert!(person["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let id = claims(person["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], person["expected_nonce"]);
    assert_eq!(id["aud"], "authgate-cli");
    assert_eq!(call_api(&gateway, access).await, StatusCode::OK);
}

/// A browser without automatic redirects; cookies are carried by hand.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn authorize_url(gateway: &Gateway, extra: &[(&str, &str)]) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs([
        ("client_id", "authgate-cli"),
        ("redirect_uri", CALLBACK),
        ("state", "s-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    query.extend_pairs(extra.iter().copied());
    gateway.url(&format!("/oauth/authorize?{}", query.finish()))
}

/// GETs the sign-in page; returns its hidden fields and the CSRF cookie.
async fn open_page(url: &str) -> (Vec<(String, String)>, String) {
    let page = browser().get(url).fetch().await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let fields = html
        .split("<input type=\"hidden\" ")
        .skip(1)
        .map(|rest| {
            let name = rest
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let value = rest
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (name.to_owned(), value.replace("&amp;", "&"))
        })
        .collect();
    (fields, cookie)
}

async fn sign_in(
    gateway: &Gateway,
    fields: &[(String, String)],
    cookie: Option<&str>,
    password: &str,
) -> reqwest::Response {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    form.extend_pairs([("username", "jane"), ("password", password)]);
    let mut request = browser()
        .post(gateway.url("/oauth/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.fetch().await
}

async fn exchange(gateway: &Gateway, code: &str, verifier: &str) -> reqwest::Response {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.extend_pairs([
        ("grant_type", "authorization_code"),
        ("client_id", "authgate-cli"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ]);
    reqwest::Client::new()
        .post(gateway.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .fetch()
        .await
}

fn location_params(response: &reqwest::Response, fragment: bool) -> Vec<(String, String)> {
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        format!(
            "{}://{}{}",
            location.scheme(),
            location.authority(),
            location.path()
        ),
        CALLBACK
    );
    let encoded = if fragment {
        location.fragment().unwrap_or_default().to_owned()
    } else {
        location.query().unwrap_or_default().to_owned()
    };
    url::form_urlencoded::parse(encoded.as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn the_hybrid_flow_answers_in_the_fragment_with_an_id_token_bound_to_the_code() {
    let upstream = Upstream::start();
    let gateway = start(&upstream);
    let url = authorize_url(
        &gateway,
        &[
            ("response_type", "code id_token"),
            ("response_mode", "fragment"),
            ("scope", "openid"),
            ("nonce", "n-0S6_WzA2Mj"),
        ],
    );
    let (fields, cookie) = open_page(&url).await;
    let answer = sign_in(&gateway, &fields, Some(&cookie), "correct horse").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let params = location_params(&answer, true);
    assert_eq!(param(&params, "state"), Some("s-123"));
    let code = param(&params, "code").unwrap();
    let id = claims(param(&params, "id_token").unwrap());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    let digest = Sha256::digest(code.as_bytes());
    assert_eq!(id["c_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));

    // A wrong verifier fails and uses the code up; so does a second exchange.
    let wrong = exchange(&gateway, code, &"x".repeat(43)).await;
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let again = exchange(&gateway, code, VERIFIER).await;
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // A fresh code with the right verifier gives tokens, once.
    let (fields, cookie) = open_page(&url).await;
    let answer = sign_in(&gateway, &fields, Some(&cookie), "correct horse").await;
    let code = param(&location_params(&answer, true), "code")
        .unwrap()
        .to_owned();
    let tokens = exchange(&gateway, &code, VERIFIER).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: Value = tokens.json().await.unwrap();
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["nonce"],
        "n-0S6_WzA2Mj"
    );
    let access = tokens["access_token"].as_str().unwrap();
    let call = || gateway.with_bearer(reqwest::Method::GET, "/api/tasks", access);
    let accepted = call().await;
    assert_ne!(
        accepted.status(),
        StatusCode::UNAUTHORIZED,
        "{:?}",
        accepted.text().await
    );
    assert_eq!(
        exchange(&gateway, &code, VERIFIER).await.status(),
        StatusCode::BAD_REQUEST
    );
    // RFC 6749 §4.1.2: the reused code's tokens are revoked, from the next request.
    let refused = call().await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["code"],
        "revoked_credentials"
    );

    let logs = gateway.logs();
    assert!(logs.contains("signed in"), "debug logging was on");
    for secret in [code.as_str(), "correct horse", access] {
        assert!(!logs.contains(secret), "{secret} was logged");
    }
}

#[tokio::test]
async fn bad_authorization_requests_are_refused_where_it_is_safe() {
    let upstream = Upstream::start();
    let gateway = start(&upstream);

    // An unregistered redirect URI (even a near match): an error page, never a redirect.
    for redirect in [
        "http://127.0.0.1:9/callback/",
        "http://evil.example/callback",
    ] {
        let url = authorize_url(&gateway, &[("response_type", "code")])
            .replace(&urlencode(CALLBACK), &urlencode(redirect));
        let page = browser().get(&url).fetch().await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{redirect}");
        assert!(page.headers().get("location").is_none());
    }
    // A known client and redirect: errors go back to the client, with its state.
    let no_pkce = gateway.url(&format!(
        "/oauth/authorize?response_type=code&client_id=authgate-cli&redirect_uri={}&state=s-9",
        urlencode(CALLBACK)
    ));
    let answer = browser().get(&no_pkce).fetch().await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let params = location_params(&answer, false);
    assert_eq!(param(&params, "error"), Some("invalid_request"));
    assert_eq!(param(&params, "state"), Some("s-9"));
    let plain = authorize_url(&gateway, &[("response_type", "code")])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let answer = browser().get(&plain).fetch().await;
    assert_eq!(
        param(&location_params(&answer, false), "error"),
        Some("invalid_request")
    );
    let token_type = authorize_url(&gateway, &[("response_type", "token")]);
    let answer = browser().get(&token_type).fetch().await;
    assert_eq!(
        param(&location_params(&answer, false), "error"),
        Some("unsupported_response_type")
    );

    // The form without its CSRF cookie is refused; a wrong password shows the page again.
    let url = authorize_url(&gateway, &[("response_type", "code"), ("scope", "openid")]);
    let (fields, cookie) = open_page(&url).await;
    let forged = sign_in(&gateway, &fields, None, "correct horse").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let other_cookie = sign_in(
        &gateway,
        &fields,
        Some("authgate_csrf=csrf_other"),
        "correct horse",
    )
    .await;
    assert_eq!(other_cookie.status(), StatusCode::FORBIDDEN);
    let wrong = sign_in(&gateway, &fields, Some(&cookie), "wrong").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Wrong username or password")
    );
    let right = sign_in(&gateway, &fields, Some(&cookie), "correct horse").await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert!(param(&location_params(&right, false), "code").is_some());
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
