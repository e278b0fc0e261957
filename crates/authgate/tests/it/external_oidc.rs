//! Tokens from an issuer that is not authgate (`[[auth.oidc]]`): a separate Python OIDC provider
//! mints them; the gateway reads its discovery and JWKS, maps its groups to roles, follows its
//! key rotation, and keeps accepting API keys beside it.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn mint(issuer: &Upstream, claims: Value) -> String {
    let minted: Value = reqwest::Client::new()
        .post(format!("{}/mint", issuer.url()))
        .json(&claims)
        .fetch_json()
        .await;
    minted["token"].as_str().unwrap().to_owned()
}

async fn call(gateway: &Gateway, method: reqwest::Method, token: &str) -> reqwest::Response {
    gateway.with_bearer(method, "/api/tasks", token).await
}

#[tokio::test]
async fn an_external_issuers_tokens_are_accepted_with_groups_mapped_to_roles() {
    let upstream = Upstream::start();
    let issuer = Upstream::script("issuer.py");
    let config = format!(
        "[[auth.oidc]]\nissuer = \"{idp}\"\naudience = \"tasks-api\"\nusername_claim = \"preferred_username\"\n\
         groups_claim = \"groups\"\ngroup_roles = {{ engineers = \"admin\", staff = \"viewer\" }}\n\
         [[routes]]\nname = \"tasks\"\npath_prefix = \"/api\"\nupstream = \"{up}\"\npermission = \"tasks\"\n",
        idp = issuer.url(),
        up = upstream.url()
    );
    let gateway = Gateway::start(&config);
    let claims = |groups: Value| {
        json!({
            "sub": "0f3c9a", "preferred_username": "ian", "aud": "tasks-api",
            "azp": "web-console", "groups": groups,
        })
    };

    let staff = mint(&issuer, claims(json!(["staff"]))).await;
    let read = call(&gateway, reqwest::Method::GET, &staff).await;
    assert_eq!(read.status(), StatusCode::OK);
    let seen: Value = read.json().await.unwrap();
    assert_eq!(seen["headers"]["x-authgate-subject"], "ian");
    assert_eq!(seen["headers"]["x-authgate-roles"], "viewer");
    assert_eq!(seen["headers"]["x-authgate-application"], "web-console");
    let write = call(&gateway, reqwest::Method::POST, &staff).await;
    assert_eq!(write.status(), StatusCode::FORBIDDEN);

    let engineer = mint(&issuer, claims(json!(["engineers", "unmapped"]))).await;
    assert_eq!(
        call(&gateway, reqwest::Method::POST, &engineer)
            .await
            .status(),
        StatusCode::OK,
        "engineers act as admin"
    );

    // Wrong audience, another issuer, expired: 401 invalid_token.
    let mut wrong_audience = claims(json!(["staff"]));
    wrong_audience["aud"] = json!("someone-else");
    let mut expired = claims(json!(["staff"]));
    expired["exp"] = json!(1_000_000_000);
    let mut foreign = claims(json!(["staff"]));
    foreign["iss"] = json!("https://idp.elsewhere.example");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut from_the_future = claims(json!(["staff"]));
    from_the_future["iat"] = json!(now + 365 * 24 * 3600);
    from_the_future["exp"] = json!(now + 366 * 24 * 3600);
    let mut critical = claims(json!(["staff"]));
    critical["_header"] = json!({"crit": ["urn:example:unknown"], "urn:example:unknown": true});
    let mut no_exp = claims(json!(["staff"]));
    no_exp["exp"] = Value::Null;
    for (name, token) in [
        ("wrong audience", mint(&issuer, wrong_audience).await),
        ("expired", mint(&issuer, expired).await),
        ("untrusted issuer", mint(&issuer, foreign).await),
        ("issued a year ahead", mint(&issuer, from_the_future).await),
        (
            "an unknown critical extension",
            mint(&issuer, critical).await,
        ),
        ("no exp", mint(&issuer, no_exp).await),
    ] {
        let response = call(&gateway, reqwest::Method::GET, &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"),
            "{name}"
        );
    }

    // The issuer rotates its key: an unknown kid makes the gateway fetch the JWKS again.
    let stats = || async {
        reqwest::get(format!("{}/stats", issuer.url()))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["jwks_fetches"]
            .as_u64()
            .unwrap()
    };
    let before = stats().await;
    // (A refresh for an unknown kid waits a second after the previous fetch.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    reqwest::Client::new()
        .post(format!("{}/rotate", issuer.url()))
        .fetch()
        .await;
    let rotated = mint(&issuer, claims(json!(["staff"]))).await;
    assert_eq!(
        call(&gateway, reqwest::Method::GET, &rotated)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(stats().await, before + 1);
    // Forged kids do not make it fetch again and again.
    for _ in 0..5 {
        let forged = format!("{}x", &rotated[..rotated.len() - 1]);
        let mut parts: Vec<&str> = forged.split('.').collect();
        let header = base64_json(json!({"alg": "RS256", "kid": "no-such-key", "typ": "JWT"}));
        parts[0] = &header;
        let token = parts.join(".");
        assert_eq!(
            call(&gateway, reqwest::Method::GET, &token).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(
        stats().await <= before + 2,
        "JWKS refreshes are rate-limited"
    );

    // API keys work beside the issuer's tokens.
    let app = gateway.json(&["apps", "create", "robot", "--role", "viewer"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, secret) = gateway.key(&app, &[]);
    assert_eq!(
        gateway.get_with_key("/api/tasks", &secret).await.status(),
        StatusCode::OK
    );
}

fn base64_json(value: Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}
