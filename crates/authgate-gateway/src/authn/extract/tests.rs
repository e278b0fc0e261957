use super::*;
use http::HeaderValue;

fn extractor() -> Extractor {
    Extractor::new(&AuthConfig::default())
}

const BOTH: &[AuthKind] = &[AuthKind::ApiKey, AuthKind::AppIdKey];

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

fn api_key(secret: &str, source: Source) -> Option<Credential> {
    Some(Credential::ApiKey {
        secret: secret.into(),
        source,
    })
}

#[test]
fn each_key_location_is_found() {
    let e = extractor();
    assert_eq!(
        e.extract(&headers(&[("x-api-key", "k1")]), None, BOTH),
        api_key("k1", Source::Header(HeaderName::from_static("x-api-key")))
    );
    assert_eq!(
        e.extract(&headers(&[("authorization", "Bearer k2")]), None, BOTH),
        api_key("k2", Source::Bearer)
    );
    assert_eq!(
        e.extract(&headers(&[("authorization", "bearer  k2 ")]), None, BOTH),
        api_key("k2", Source::Bearer)
    );
    assert_eq!(
        e.extract(&HeaderMap::new(), Some("a=1&user_key=k3"), BOTH),
        api_key("k3", Source::Query("user_key".into()))
    );
    assert_eq!(
        e.extract(&headers(&[("user-key", "k4")]), None, BOTH),
        api_key("k4", Source::Header(HeaderName::from_static("user-key")))
    );
}

#[test]
fn other_authorization_schemes_are_not_credentials() {
    assert_eq!(
        extractor().extract(&headers(&[("authorization", "Basic abc")]), None, BOTH),
        None
    );
}

#[test]
fn app_id_with_and_without_key() {
    let e = extractor();
    assert_eq!(
        e.extract(&HeaderMap::new(), Some("app_id=app_1&app_key=sk_x"), BOTH),
        Some(Credential::AppIdKey {
            app_id: "app_1".into(),
            app_key: "sk_x".into(),
            sources: [
                Source::Query("app_id".into()),
                Source::Query("app_key".into())
            ],
        })
    );
    assert_eq!(
        e.extract(&headers(&[("app-id", "app_2")]), None, BOTH),
        Some(Credential::AppId {
            app_id: "app_2".into(),
            source: Source::Header(HeaderName::from_static("app-id"))
        })
    );
    assert_eq!(
        e.extract(&HeaderMap::new(), Some("app_id=app_1"), &[AuthKind::ApiKey]),
        None
    );
}

#[test]
fn a_non_utf8_key_is_present_but_empty() {
    let mut map = HeaderMap::new();
    map.insert("x-api-key", HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap());
    assert_eq!(
        extractor().extract(&map, None, BOTH),
        api_key("", Source::Header(HeaderName::from_static("x-api-key")))
    );
}

#[test]
fn malformed_query_strings_do_not_panic() {
    let e = extractor();
    for q in ["%", "user_key=%zz", "&&==&", "user_key=%ff%fe"] {
        let _ = e.extract(&HeaderMap::new(), Some(q), BOTH);
    }
}
