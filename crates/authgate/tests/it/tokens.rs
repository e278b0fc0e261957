//! The token service end to end (SPEC §5): Weaviate-style discovery and the password grant
//! driven by a Python client, client credentials, what the gateway refuses, revocation,
//! rotation verified by PyJWT, and sign-in throttling.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, python_json};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A gateway whose public URL is its real address, with `/api` needing `tasks` permissions.
fn start(upstream: &Upstream) -> Gateway {
    Gateway::start_public(&format!(
        "[[routes]]\nname = \"tasks\"\npath_prefix = \"/api\"\nupstream = \"{}\"\npermission = \"tasks\"\n",
        upstream.url()
    ))
}

/// Runs the Python client; its JSON line.
fn python_client(
    gateway: &Gateway,
    user: &str,
    password: &str,
    path: &str,
    old: Option<&str>,
) -> Value {
    let base = gateway.url("");
    let mut args = vec![base.as_str(), user, password, path];
    args.extend(old);
    python_json("oidc_client.py", &args)
}

pub async fn token_request(gateway: &Gateway, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(gateway.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(url_encode(form))
        .fetch()
        .await
}

fn url_encode(form: &[(&str, &str)]) -> String {
    let mut encoded = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in form {
        encoded.append_pair(name, value);
    }
    encoded.finish()
}

async fn call(gateway: &Gateway, method: reqwest::Method, token: &str) -> reqwest::Response {
    gateway.with_bearer(method, "/api/tasks", token).await
}

#[tokio::test]
async fn a_weaviate_style_client_signs_in_and_its_tokens_verify_across_a_rotation() {
    let upstream = Upstream::start();
    let gateway = start(&upstream);
    gateway.user("jane", "correct horse", "viewer");

    let first = python_client(&gateway, "jane", "correct horse", "/api/tasks", None);
    assert_eq!(first["status"], 200, "{first:#}");
    assert_eq!(first["subject"], "jane");
    assert_eq!(first["id_subject"], "jane");
    // OpenID relying parties expect RS256 ID tokens unless they registered another algorithm.
    assert_eq!(first["id_alg"], "RS256");
    assert_eq!(first["id_algorithms"], json!(["RS256"]));
    let seen = &first["body"]["headers"];
    assert_eq!(seen["x-authgate-subject"], "jane");
    assert_eq!(seen["x-authgate-roles"], "viewer");
    assert_eq!(seen["x-authgate-auth-method"], "jwt");
    assert!(
        seen.get("authorization").is_none(),
        "the token is not forwarded"
    );

    // A viewer may read, not write; a bearer token's 403 says insufficient_scope.
    let token = first["access_token"].as_str().unwrap().to_owned();
    let refused = call(&gateway, reqwest::Method::POST, &token).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    assert_eq!(
        refused.json::<Value>().await.unwrap()["required"],
        "tasks:write"
    );

    // Rotate the access-token key to another algorithm: new tokens carry the new kid, the old
    // one still verifies, and the ID-token key is left alone.
    let rotated = gateway.json(&[
        "signing-keys",
        "rotate",
        "--for",
        "access-tokens",
        "--alg",
        "EdDSA",
    ]);
    let kid = rotated[0]["kid"].as_str().unwrap();
    let second = python_client(
        &gateway,
        "jane",
        "correct horse",
        "/api/tasks",
        Some(&token),
    );
    assert_eq!(second["kid"], kid);
    assert_ne!(first["kid"], second["kid"]);
    assert_eq!(second["status"], 200);
    assert_eq!(second["id_alg"], "RS256");
    assert_eq!(
        call(&gateway, reqwest::Method::GET, &token).await.status(),
        StatusCode::OK
    );
    let listed = gateway.json(&["signing-keys", "list"]);
    let mut statuses: Vec<(&str, &str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let field = |name: &str| k[name].as_str().unwrap();
            (field("purpose"), field("alg"), field("status"))
        })
        .collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [
            ("access-tokens", "ES256", "published"),
            ("access-tokens", "EdDSA", "active"),
            ("id-tokens", "RS256", "active"),
        ]
    );

    // Without --for, both keys are replaced, each with its configured algorithm; --alg alone
    // would be ambiguous and is refused.
    let both = gateway.json(&["signing-keys", "rotate"]);
    let mut made: Vec<(&str, &str)> = both
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["purpose"].as_str().unwrap(), k["alg"].as_str().unwrap()))
        .collect();
    made.sort_unstable();
    assert_eq!(made, [("access-tokens", "ES256"), ("id-tokens", "RS256")]);
    let refused = gateway.cli(&["signing-keys", "rotate", "--alg", "ES256"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--for"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn client_credentials_issue_tokens_to_applications_with_rfc_6749_errors() {
    let upstream = Upstream::start();
    let gateway = start(&upstream);
    gateway.user("robot-owner", "pw", "viewer");
    let app = gateway.json(&["apps", "create", "robot", "--owner", "robot-owner"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, secret) = gateway.key(&app, &["--scopes", "tasks:read"]);
    let client = reqwest::Client::new();

    // client_secret_basic
    let basic: Value = client
        .post(gateway.url("/oauth/token"))
        .basic_auth(&app, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .fetch_json()
        .await;
    assert_eq!(basic["token_type"], "Bearer");
    assert_eq!(basic["expires_in"], 3600);
    assert_eq!(basic["scope"], "tasks:read", "the key's scopes");
    let token = basic["access_token"].as_str().unwrap();
    let answered = call(&gateway, reqwest::Method::GET, token).await;
    assert_eq!(answered.status(), StatusCode::OK);
    let seen: Value = answered.json().await.unwrap();
    assert_eq!(seen["headers"]["x-authgate-application"], app.as_str());
    assert_eq!(seen["headers"]["x-authgate-subject"], "robot-owner");

    // client_secret_post
    let post = token_request(
        &gateway,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(post.status(), StatusCode::OK);
    assert_eq!(post.headers()["cache-control"], "no-store");

    let error = |response: reqwest::Response| async move {
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        (
            status,
            body["error"].as_str().unwrap().to_owned(),
            challenge,
        )
    };
    let wrong = client
        .post(gateway.url("/oauth/token"))
        .basic_auth(&app, Some("sk_test_wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .fetch()
        .await;
    assert_eq!(
        error(wrong).await,
        (
            StatusCode::UNAUTHORIZED,
            "invalid_client".into(),
            Some(r#"Basic realm="authgate", error="invalid_client""#.into())
        )
    );
    // RFC 6749 §5.2: credentials in the form get 400 and no challenge (there was no scheme).
    let wrong = token_request(
        &gateway,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app),
            ("client_secret", "sk_test_wrong"),
        ],
    )
    .await;
    assert_eq!(
        error(wrong).await,
        (StatusCode::BAD_REQUEST, "invalid_client".into(), None)
    );
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "authgate-cli"),
            ],
            "unauthorized_client",
        ),
        (
            vec![("grant_type", "implicit"), ("client_id", "authgate-cli")],
            "unsupported_grant_type",
        ),
        (vec![("client_id", "authgate-cli")], "invalid_request"),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &app),
                ("client_secret", &secret),
                ("scope", "tasks:write"),
            ],
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &app),
                ("client_secret", &secret),
                ("scope", "teleport"),
            ],
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("grant_type", "password"),
                ("client_id", "authgate-cli"),
            ],
            "invalid_request",
        ),
    ];
    for (form, expected) in cases {
        let (status, code, _) = error(token_request(&gateway, &form).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, expected),
            "{form:?}"
        );
    }
    let json_body = client
        .post(gateway.url("/oauth/token"))
        .json(&json!({"grant_type": "client_credentials"}))
        .fetch()
        .await;
    assert_eq!(error(json_body).await.1, "invalid_request");

    // A suspended application's tokens stop working at once.
    gateway.json(&["apps", "suspend", &app]);
    let suspended = crate::harness::eventually(std::time::Duration::from_secs(2), || async {
        call(&gateway, reqwest::Method::GET, token).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(suspended.is_some());
    let body: Value = call(&gateway, reqwest::Method::GET, token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], "application_suspended");
}

/// A token signed with authgate's own access-token key, with these header and claims.
async fn forge(gateway: &Gateway, header: Header, claims: &Value) -> String {
    let store = authgate_store::open(&gateway.store().url()).await.unwrap();
    let key = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|key| key.purpose == authgate_store::SigningPurpose::AccessTokens)
        .unwrap();
    let encoding = EncodingKey::from_ec_pem(key.private_pem.as_bytes()).unwrap();
    let header = Header {
        kid: header.kid.or(Some(key.kid)),
        ..header
    };
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

fn at_header() -> Header {
    Header {
        typ: Some("at+jwt".into()),
        ..Header::new(Algorithm::ES256)
    }
}

#[tokio::test]
async fn the_gateway_refuses_bad_tokens_with_invalid_token() {
    let upstream = Upstream::start();
    let gateway = start(&upstream);
    gateway.user("jane", "pw", "viewer");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let issuer = gateway.url("");
    let claims = json!({
        "iss": issuer, "sub": "jane", "aud": "authgate", "exp": now + 600, "iat": now,
        "jti": "forged-1", "client_id": "authgate-cli", "roles": ["viewer"], "tenant": "default",
    });
    let with = |changes: Value| {
        let mut changed = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                changed.as_object_mut().unwrap().remove(k);
            } else {
                changed[k] = v.clone();
            }
        }
        changed
    };

    let valid = forge(&gateway, at_header(), &claims).await;
    assert_eq!(
        call(&gateway, reqwest::Method::GET, &valid).await.status(),
        StatusCode::OK,
        "the baseline is accepted"
    );

    let b64 = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "at+jwt"})),
        b64(&claims)
    );
    let jwks: Value = reqwest::get(gateway.url("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public_key = jwks["keys"][0].to_string();
    let hs256_with_public_key = jsonwebtoken::encode(
        &Header {
            typ: Some("at+jwt".into()),
            kid: jwks["keys"][0]["kid"].as_str().map(str::to_owned),
            ..Header::new(Algorithm::HS256)
        },
        &claims,
        &EncodingKey::from_secret(public_key.as_bytes()),
    )
    .unwrap();
    let tampered = {
        let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
        parts[1] = b64(&with(json!({"roles": ["admin"]})));
        parts.join(".")
    };
    let unknown_kid = forge(
        &gateway,
        Header {
            kid: Some("sig_unknown".into()),
            ..at_header()
        },
        &claims,
    )
    .await;
    let not_access_token = forge(&gateway, Header::new(Algorithm::ES256), &claims).await;

    let cases = [
        ("alg none", alg_none, "invalid_credentials"),
        (
            "HS256 signed with the public key",
            hs256_with_public_key,
            "invalid_credentials",
        ),
        (
            "expired",
            forge(&gateway, at_header(), &with(json!({"exp": now - 120}))).await,
            "expired_credentials",
        ),
        (
            "not yet valid",
            forge(&gateway, at_header(), &with(json!({"nbf": now + 3600}))).await,
            "invalid_credentials",
        ),
        (
            "wrong issuer",
            forge(
                &gateway,
                at_header(),
                &with(json!({"iss": "https://evil.example"})),
            )
            .await,
            "invalid_credentials",
        ),
        (
            "wrong audience",
            forge(&gateway, at_header(), &with(json!({"aud": "other-api"}))).await,
            "invalid_credentials",
        ),
        ("unknown kid", unknown_kid, "invalid_credentials"),
        ("tampered payload", tampered, "invalid_credentials"),
        (
            "missing exp",
            forge(&gateway, at_header(), &with(json!({"exp": null}))).await,
            "invalid_credentials",
        ),
        (
            "an ID token (typ not at+jwt)",
            not_access_token,
            "invalid_credentials",
        ),
        (
            "issued a year ahead",
            forge(
                &gateway,
                at_header(),
                &with(json!({"iat": now + 365 * 24 * 3600, "exp": now + 366 * 24 * 3600})),
            )
            .await,
            "invalid_credentials",
        ),
        (
            "issued beyond the clock skew",
            forge(&gateway, at_header(), &with(json!({"iat": now + 45}))).await,
            "invalid_credentials",
        ),
        (
            "expired beyond the clock skew",
            forge(&gateway, at_header(), &with(json!({"exp": now - 45}))).await,
            "expired_credentials",
        ),
        (
            "an unknown critical extension",
            forge(
                &gateway,
                Header {
                    crit: Some(vec!["urn:example:unknown".into()]),
                    ..at_header()
                },
                &claims,
            )
            .await,
            "invalid_credentials",
        ),
    ];
    // RFC 8725 §3.9-3.11: each required claim missing is a refusal of its own.
    let mut cases = Vec::from(cases);
    for claim in ["iss", "aud", "sub", "iat"] {
        let token = forge(&gateway, at_header(), &with(json!({ claim: null }))).await;
        cases.push(("a missing required claim", token, "invalid_credentials"));
    }
    // Within the skew, a clock a little behind or ahead is forgiven.
    for forgiven in [
        with(json!({"iat": now + 15})),
        with(json!({"exp": now - 15})),
        with(json!({"nbf": now + 15})),
    ] {
        let token = forge(&gateway, at_header(), &forgiven).await;
        assert_eq!(
            call(&gateway, reqwest::Method::GET, &token).await.status(),
            StatusCode::OK,
            "{forgiven}"
        );
    }
    for (name, token, code) in cases {
        let response = call(&gateway, reqwest::Method::GET, &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="authgate", error="invalid_token""#,
            "{name}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{name}");
    }

    // Revocation (RFC 7009) by the client it was issued to: refused from then on.
    let issued: Value = token_request(
        &gateway,
        &[
            ("grant_type", "password"),
            ("client_id", "authgate-cli"),
            ("username", "jane"),
            ("password", "pw"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let token = issued["access_token"].as_str().unwrap();
    assert_eq!(
        call(&gateway, reqwest::Method::GET, token).await.status(),
        StatusCode::OK
    );
    let revoke = |token: &str| {
        reqwest::Client::new()
            .post(gateway.url("/oauth/revoke"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(url_encode(&[
                ("token", token),
                ("client_id", "authgate-cli"),
            ]))
            .send()
    };
    let revoked = revoke(token).await.unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    // The instance that revoked it refuses it from the very next request, on any worker.
    for _ in 0..4 {
        let refused = call(&gateway, reqwest::Method::GET, token).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "revoked_credentials");
    }
    // Revoking garbage is not an error (RFC 7009 §2.2).
    let garbage = revoke("not-a-token").await.unwrap();
    assert_eq!(garbage.status(), StatusCode::OK);
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_name_out() {
    let upstream = Upstream::start();
    let gateway = start(&upstream);
    gateway.user("jane", "right", "viewer");
    let attempt = |password: &'static str| {
        let gateway = &gateway;
        async move {
            token_request(
                gateway,
                &[
                    ("grant_type", "password"),
                    ("client_id", "authgate-cli"),
                    ("username", "jane"),
                    ("password", password),
                ],
            )
            .await
        }
    };
    // A name no user can have (a NUL in it) is a wrong sign-in, not a store failure.
    let nul = token_request(
        &gateway,
        &[
            ("grant_type", "password"),
            ("client_id", "authgate-cli"),
            ("username", "jane\u{0}"),
            ("password", "right"),
        ],
    )
    .await;
    assert_eq!(nul.status(), StatusCode::BAD_REQUEST);
    assert_eq!(nul.json::<Value>().await.unwrap()["error"], "invalid_grant");
    for _ in 0..6 {
        let response = attempt("wrong").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "invalid_grant"
        );
    }
    let locked = attempt("right").await;
    assert_eq!(locked.status(), StatusCode::BAD_REQUEST);
    assert!(locked.headers().contains_key("retry-after"));
    let body: Value = locked.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("too many")
    );
}

#[tokio::test]
async fn with_the_token_service_off_there_is_no_discovery() {
    let gateway = Gateway::start("[oidc]\nenabled = false\n");
    let weaviate = reqwest::get(gateway.url("/v1/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(weaviate.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        weaviate.json::<Value>().await.unwrap()["code"],
        "route_not_found"
    );
    // Other paths belong to the routes again: here the default echo, which wants a key.
    let discovery = reqwest::get(gateway.url("/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(discovery.status(), StatusCode::UNAUTHORIZED);
}

async fn form_post(
    gateway: &Gateway,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(gateway.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(url_encode(form));
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.fetch().await
}

#[tokio::test]
async fn refresh_tokens_rotate_and_introspection_and_userinfo_describe_tokens() {
    let upstream = Upstream::start();
    let gateway = start(&upstream);
    gateway.user("jane", "pw", "viewer");
    let sign_in: Value = form_post(
        &gateway,
        "/oauth/token",
        &[
            ("grant_type", "password"),
            ("client_id", "authgate-cli"),
            ("username", "jane"),
            ("password", "pw"),
            ("scope", "openid offline_access tasks:read"),
        ],
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let first_refresh = sign_in["refresh_token"].as_str().unwrap().to_owned();
    assert!(sign_in["id_token"].is_string());

    // A role bound after sign-in reaches the next token through the refresh.
    gateway.json(&["roles", "bind", "jane", "admin"]);
    let refresh = |token: String, scope: Option<&'static str>| {
        let gateway = &gateway;
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("client_id", "authgate-cli"),
                ("refresh_token", token.as_str()),
            ];
            form.extend(scope.map(|s| ("scope", s)));
            form_post(gateway, "/oauth/token", &form, None).await
        }
    };
    let refreshed = refresh(first_refresh.clone(), None).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    let second_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh, "rotated on use");
    assert_eq!(refreshed["scope"], "openid offline_access tasks:read");
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    let seen: Value = call(&gateway, reqwest::Method::GET, &access)
        .await
        .json()
        .await
        .unwrap();
    let roles = seen["headers"]["x-authgate-roles"].as_str().unwrap();
    assert!(roles.contains("admin"), "{roles}");

    // Scopes may narrow, not widen.
    let widened = refresh(second_refresh.clone(), Some("openid tasks:write")).await;
    assert_eq!(
        widened.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );

    // Presenting a used refresh token again revokes the family: its successor fails too.
    let reused = refresh(first_refresh, None).await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reused.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let successor = refresh(second_refresh, None).await;
    assert_eq!(
        successor.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    // ...and the access tokens issued in the family (RFC 9700 §4.14), from the next request.
    for revoked in [sign_in["access_token"].as_str().unwrap(), access.as_str()] {
        let refused = call(&gateway, reqwest::Method::GET, revoked).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.json::<Value>().await.unwrap()["code"],
            "revoked_credentials"
        );
    }
    // A new sign-in for what follows.
    let access = token_request(
        &gateway,
        &[
            ("grant_type", "password"),
            ("client_id", "authgate-cli"),
            ("username", "jane"),
            ("password", "pw"),
            ("scope", "openid tasks:read"),
        ],
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Userinfo: the access token's user.
    let info: Value = reqwest::Client::new()
        .get(gateway.url("/oauth/userinfo"))
        .bearer_auth(&access)
        .fetch_json()
        .await;
    assert_eq!(info["sub"], "jane");
    assert_eq!(info["preferred_username"], "jane");
    let no_token = reqwest::get(gateway.url("/oauth/userinfo")).await.unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);

    // Introspection, by an application.
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);
    let introspect = |token: String| {
        let gateway = &gateway;
        let (app, secret) = (app.clone(), secret.clone());
        async move {
            form_post(
                gateway,
                "/oauth/introspect",
                &[("token", token.as_str())],
                Some((&app, &secret)),
            )
            .await
            .json::<Value>()
            .await
            .unwrap()
        }
    };
    let active = introspect(access.clone()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], "jane");
    assert_eq!(active["client_id"], "authgate-cli");
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(introspect("garbage".into()).await, json!({"active": false}));
    let public = form_post(
        &gateway,
        "/oauth/introspect",
        &[("token", access.as_str()), ("client_id", "authgate-cli")],
        None,
    )
    .await;
    assert_eq!(
        public.status(),
        StatusCode::BAD_REQUEST,
        "invalid_client without HTTP authentication (RFC 6749 §5.2)"
    );
    assert!(public.headers().get("www-authenticate").is_none());

    // Revoked: inactive for introspection, invalid for userinfo.
    let revoked = form_post(
        &gateway,
        "/oauth/revoke",
        &[("token", access.as_str()), ("client_id", "authgate-cli")],
        None,
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(introspect(access.clone()).await["active"], false);
    let info = reqwest::Client::new()
        .get(gateway.url("/oauth/userinfo"))
        .bearer_auth(&access)
        .fetch()
        .await;
    assert_eq!(info.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_token_endpoint_secret_reaches_the_logs() {
    let upstream = Upstream::start();
    let gateway = start(&upstream);
    let password = "Tr0ub4dor&3-not-in-any-log";
    let wrong_password = "wrong-Tr0ub4dor&3-not-in-any-log";
    gateway.user("jane", password, "viewer");
    let app = gateway.app("api-key");
    let (_, client_secret) = gateway.key(&app, &[]);
    let json = |response: reqwest::Response| async move { response.json::<Value>().await.unwrap() };

    let machine = json(
        token_request(
            &gateway,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &app),
                ("client_secret", &client_secret),
            ],
        )
        .await,
    )
    .await;
    let person = json(
        token_request(
            &gateway,
            &[
                ("grant_type", "password"),
                ("client_id", "authgate-cli"),
                ("username", "jane"),
                ("password", password),
                ("scope", "openid offline_access"),
            ],
        )
        .await,
    )
    .await;
    let first_refresh = person["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = json(
        token_request(
            &gateway,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "authgate-cli"),
                ("refresh_token", &first_refresh),
            ],
        )
        .await,
    )
    .await;
    let second_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    // Refusals log too: a wrong password, a wrong client secret, a reused refresh token.
    token_request(
        &gateway,
        &[
            ("grant_type", "password"),
            ("client_id", "authgate-cli"),
            ("username", "jane"),
            ("password", wrong_password),
        ],
    )
    .await;
    let wrong_secret = format!("{client_secret}x");
    token_request(
        &gateway,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app),
            ("client_secret", &wrong_secret),
        ],
    )
    .await;
    token_request(
        &gateway,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "authgate-cli"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;

    let logs = gateway.logs();
    assert!(
        logs.contains("token issued"),
        "debug logging was on: {logs}"
    );
    for (what, secret) in [
        ("client secret", client_secret.as_str()),
        ("wrong client secret", wrong_secret.as_str()),
        ("password", password),
        ("wrong password", wrong_password),
        ("first refresh token", first_refresh.as_str()),
        ("second refresh token", second_refresh.as_str()),
        (
            "machine access token",
            machine["access_token"].as_str().unwrap(),
        ),
        (
            "person access token",
            person["access_token"].as_str().unwrap(),
        ),
        ("ID token", person["id_token"].as_str().unwrap()),
    ] {
        assert!(!logs.contains(secret), "the {what} was logged");
    }
}
