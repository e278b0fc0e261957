//! Fuzz targets (proptest) for the token parsers a client reaches: JWT headers and claims, from
//! authgate's own issuer and from an external one. `PROPTEST_CASES` sets how many inputs each
//! runs (the README's development section has the long run).

use crate::keys::KeyRing;
use crate::verify::check_issued_at;
use crate::{ExternalIssuer, Verifier};
use authgate_config::SigningAlg;
use authgate_store::{SigningKeyStore as _, SigningPurpose, SqliteStore};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::{Arc, OnceLock};

const ISSUER: &str = "http://127.0.0.1:8080";

/// One verifier over a real store with one ES256 key, and a runtime to drive it, shared by
/// every case.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    verifier: Verifier,
    kid: String,
    signing_key: jsonwebtoken::EncodingKey,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
        let (verifier, key) = runtime.block_on(async {
            let store = Arc::new(SqliteStore::open(&url).await.unwrap());
            crate::tests::rotate(&store, SigningPurpose::AccessTokens, SigningAlg::Es256).await;
            let key = store.signing_keys().await.unwrap().remove(0);
            let ring = KeyRing::load(store).await.unwrap();
            (Verifier::new(ring, ISSUER, "authgate"), key)
        });
        Fixture {
            signing_key: jsonwebtoken::EncodingKey::from_ec_pem(key.private_pem.as_bytes())
                .unwrap(),
            kid: key.kid,
            runtime,
            verifier,
            _dir: dir,
        }
    })
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object whose members are the claim (or header) names that matter, with any values,
/// and sometimes the well-formed value.
fn object(
    names: &'static [&'static str],
    good: Value,
) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec(
        (
            prop::sample::select(names),
            prop_oneof![
                json_value(),
                Just(Value::Null).prop_map(move |_| good.clone())
            ],
        ),
        0..names.len() + 2,
    )
    .prop_map(move |members| {
        members
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    })
}

const HEADER_NAMES: &[&str] = &["alg", "typ", "kid", "crit", "jku", "x5u", "cty", "b64"];
const CLAIM_NAMES: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "roles",
    "tenant",
];

fn b64(value: &impl serde::Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

proptest! {
    /// Fuzz target: JWTs presented to authgate's own verifier, as three arbitrary parts, as
    /// arbitrary header and claims with a forged signature, and as arbitrary claims signed with
    /// the real key. Nothing panics; nothing forged is accepted; a signed token is accepted only
    /// with every required claim valid.
    #[test]
    fn fuzz_jwt_header_and_claims(
        raw in ".{0,200}",
        header in object(HEADER_NAMES, json!("ES256")),
        claims in object(CLAIM_NAMES, json!(ISSUER)),
        signature in prop::collection::vec(any::<u8>(), 0..80),
        real_kid in any::<bool>(),
    ) {
        let fixture = fixture();
        let verify = |token: &str| fixture.runtime.block_on(fixture.verifier.verify(token));
        let _ = verify(&raw);

        let mut header = header;
        if real_kid {
            header.insert("kid".into(), json!(fixture.kid));
        }
        let forged = format!("{}.{}.{}", b64(&header), b64(&claims), URL_SAFE_NO_PAD.encode(&signature));
        prop_assert!(verify(&forged).is_err(), "a forged signature was accepted");

        let signed_header = jsonwebtoken::Header {
            typ: Some("at+jwt".into()),
            kid: Some(fixture.kid.clone()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256)
        };
        let signed = jsonwebtoken::encode(&signed_header, &claims, &fixture.signing_key).unwrap();
        if let Ok(accepted) = verify(&signed) {
            prop_assert_eq!(accepted.iss.as_str(), ISSUER);
            prop_assert_eq!(accepted.aud.as_str(), "authgate");
            prop_assert!(check_issued_at(Some(accepted.iat)).is_ok());
        }
    }

    /// Fuzz target: an external issuer's claims mapped to a caller (username and groups claims,
    /// scopes, tenant, `iat`). Nothing panics.
    #[test]
    fn fuzz_external_claims(claims in object(
        &["preferred_username", "groups", "scope", "scp", "azp", "client_id", "tenant", "exp", "iat"],
        json!("ian"),
    )) {
        static ISSUER_UNDER_TEST: OnceLock<ExternalIssuer> = OnceLock::new();
        let issuer = ISSUER_UNDER_TEST.get_or_init(|| {
            let config = serde_json::from_value(json!({
                "issuer": "https://idp.example", "audience": "tasks-api",
                "group_roles": {"staff": "viewer"},
            }))
            .unwrap();
            ExternalIssuer::new(config).unwrap()
        });
        let _ = check_issued_at(claims.get("iat").and_then(Value::as_f64).map(|iat| iat as i64));
        if let Ok(caller) = issuer.caller(&claims) {
            prop_assert_eq!(Some(&json!(caller.subject)), claims.get("preferred_username"));
        }
    }
}
