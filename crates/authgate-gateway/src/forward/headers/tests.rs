use super::*;
use authgate_core::{AuthMethod, Identity};

fn identity() -> Identity {
    Identity {
        subject: "jane".into(),
        application: "app_1".into(),
        tenant: "acme".into(),
        roles: vec!["admin".into(), "viewer".into()],
        scopes: vec![],
        method: AuthMethod::ApiKey,
    }
}

#[test]
fn spoofed_identity_hop_by_hop_and_hidden_credentials_are_removed() {
    let mut headers = HeaderMap::new();
    headers.insert("x-authgate-subject", HeaderValue::from_static("mallory"));
    headers.insert("x-authgate-anything", HeaderValue::from_static("x"));
    headers.insert(
        "connection",
        HeaderValue::from_static("keep-alive, x-private"),
    );
    headers.insert("x-private", HeaderValue::from_static("1"));
    headers.insert("x-api-key", HeaderValue::from_static("sk_live_secret"));
    headers.insert("authorization", HeaderValue::from_static("Basic dXNlcg=="));
    headers.insert("host", HeaderValue::from_static("api.example.com"));
    headers.insert("last-event-id", HeaderValue::from_static("41"));
    headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
    let caller = Caller::new(identity(), authgate_core::Grants::default());
    let upstream = HeaderValue::from_static("127.0.0.1:9000");
    let hidden = CredentialLocations {
        headers: vec![HeaderName::from_static("x-api-key")],
        bearer: true,
        params: vec![],
    };
    prepare_request(
        &mut headers,
        &ForwardContext {
            caller: Some(&caller),
            peer: Some(&HeaderValue::from_static("127.0.0.1")),
            peer_trusted: true,
            hidden: &hidden,
            upstream_host: Some(&upstream),
            original_host: Some(HeaderValue::from_static("api.example.com")),
        },
    );
    assert_eq!(headers["x-authgate-subject"], "jane");
    assert!(headers.get("x-authgate-anything").is_none());
    assert!(headers.get("x-private").is_none());
    assert!(headers.get("connection").is_none());
    assert!(headers.get("x-api-key").is_none());
    assert_eq!(
        headers["authorization"], "Basic dXNlcg==",
        "only a bearer value is a credential"
    );
    assert_eq!(headers["host"], "127.0.0.1:9000");
    assert_eq!(headers["x-forwarded-host"], "api.example.com");
    assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-authgate-roles"], "admin,viewer");
    assert_eq!(headers["x-authgate-auth-method"], "api_key");
    assert_eq!(headers["last-event-id"], "41");
}

#[test]
fn hidden_query_parameters_are_removed_and_others_kept() {
    let hidden = ["user_key".to_owned()];
    assert_eq!(
        forwarded_query(Some("a=1&user_key=s&b=2"), &hidden).as_deref(),
        Some("a=1&b=2")
    );
    assert_eq!(forwarded_query(Some("user_key=s"), &hidden), None);
    assert_eq!(
        forwarded_query(Some("a=%20x"), &[]).as_deref(),
        Some("a=%20x")
    );
    assert_eq!(forwarded_query(None, &hidden), None);
}

#[test]
fn an_untrusted_client_s_forwarding_headers_are_replaced() {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("api.example.com"));
    headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    headers.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
    headers.insert("x-real-ip", HeaderValue::from_static("6.6.6.6"));
    headers.insert("forwarded", HeaderValue::from_static("for=6.6.6.6"));
    headers.insert("authorization", HeaderValue::from_static("Bearer k2"));
    prepare_request(
        &mut headers,
        &ForwardContext {
            caller: None,
            peer: Some(&HeaderValue::from_static("127.0.0.1")),
            peer_trusted: false,
            hidden: &CredentialLocations {
                bearer: true,
                ..CredentialLocations::default()
            },
            upstream_host: None,
            original_host: Some(HeaderValue::from_static("api.example.com")),
        },
    );
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], "api.example.com");
    assert!(headers.get("x-real-ip").is_none());
    assert!(headers.get("forwarded").is_none());
    assert!(
        headers.get("authorization").is_none(),
        "an unused bearer credential"
    );
}

/// A browser sends the admin console's cookies to every port of the host, so to the gateway
/// too when both share one: the upstream must not receive an operator's session.
#[test]
fn authgate_s_own_cookies_never_reach_the_upstream() {
    let forward = |cookies: &[&'static str]| {
        let mut headers = HeaderMap::new();
        for cookie in cookies {
            headers.append("cookie", HeaderValue::from_static(cookie));
        }
        prepare_request(
            &mut headers,
            &ForwardContext {
                caller: None,
                peer: None,
                peer_trusted: false,
                hidden: &CredentialLocations::default(),
                upstream_host: None,
                original_host: None,
            },
        );
        headers
            .get_all("cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        forward(&["theme=dark; authgate_session=sk_session_abc; lang=en"]),
        ["theme=dark; lang=en"]
    );
    assert!(forward(&["authgate_session=sk_session_abc", "authgate_notice=x"]).is_empty());
    assert_eq!(forward(&["a=1", "authgate_notice=x; b=2"]), ["a=1", "b=2"]);
    assert_eq!(
        forward(&["session=1; not_authgate_session=2"]),
        ["session=1; not_authgate_session=2"],
        "only cookies named authgate_* are ours"
    );
}
