use super::*;
use http::HeaderValue;

fn extractor() -> Extractor {
    Extractor::new(&AuthConfig::default())
}

const BOTH: &[AuthKind] = &[AuthKind::ApiKey, AuthKind::AppIdKey];

fn extract(
    extractor: &Extractor,
    headers: &HeaderMap,
    query: Option<&str>,
    accepted: &[AuthKind],
) -> Option<Credential> {
    extractor
        .extract(headers, query, accepted)
        .expect("not ambiguous")
}

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
        extract(&e, &headers(&[("x-api-key", "k1")]), None, BOTH),
        api_key("k1", Source::Header(HeaderName::from_static("x-api-key")))
    );
    assert_eq!(
        extract(&e, &headers(&[("authorization", "Bearer k2")]), None, BOTH),
        api_key("k2", Source::Bearer)
    );
    assert_eq!(
        extract(
            &e,
            &headers(&[("authorization", "bearer  k2 ")]),
            None,
            BOTH
        ),
        api_key("k2", Source::Bearer)
    );
    assert_eq!(
        extract(&e, &HeaderMap::new(), Some("a=1&user_key=k3"), BOTH),
        api_key("k3", Source::Query("user_key".into()))
    );
    assert_eq!(
        extract(&e, &headers(&[("user-key", "k4")]), None, BOTH),
        api_key("k4", Source::Header(HeaderName::from_static("user-key")))
    );
}

#[test]
fn other_authorization_schemes_are_not_credentials() {
    assert_eq!(
        extract(
            &extractor(),
            &headers(&[("authorization", "Basic abc")]),
            None,
            BOTH
        ),
        None
    );
}

#[test]
fn app_id_with_and_without_key() {
    let e = extractor();
    assert_eq!(
        extract(
            &e,
            &HeaderMap::new(),
            Some("app_id=app_1&app_key=sk_x"),
            BOTH
        ),
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
        extract(&e, &headers(&[("app-id", "app_2")]), None, BOTH),
        Some(Credential::AppId {
            app_id: "app_2".into(),
            source: Source::Header(HeaderName::from_static("app-id"))
        })
    );
    assert_eq!(
        extract(
            &e,
            &HeaderMap::new(),
            Some("app_id=app_1"),
            &[AuthKind::ApiKey]
        ),
        None
    );
}

#[test]
fn a_non_utf8_key_is_present_but_empty() {
    let mut map = HeaderMap::new();
    map.insert("x-api-key", HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap());
    assert_eq!(
        extract(&extractor(), &map, None, BOTH),
        api_key("", Source::Header(HeaderName::from_static("x-api-key")))
    );
}

#[test]
fn malformed_query_strings_are_read_as_far_as_they_go() {
    let e = extractor();
    for q in ["%", "&&==&", "=user_key"] {
        assert_eq!(extract(&e, &HeaderMap::new(), Some(q), BOTH), None, "{q}");
    }
    // Bad escapes stay as they were; bytes that are not UTF-8 become U+FFFD: present, and
    // certainly not a valid key.
    assert_eq!(
        extract(&e, &HeaderMap::new(), Some("user_key=%zz"), BOTH),
        api_key("%zz", Source::Query("user_key".into()))
    );
    assert_eq!(
        extract(&e, &HeaderMap::new(), Some("user_key=%ff%fe"), BOTH),
        api_key("\u{fffd}\u{fffd}", Source::Query("user_key".into()))
    );
}

#[test]
fn one_location_with_two_different_values_is_ambiguous() {
    let e = extractor();
    for (pairs, query) in [
        (&[("x-api-key", "k1"), ("x-api-key", "k2")][..], None),
        (
            &[
                ("authorization", "Bearer k1"),
                ("authorization", "Bearer k2"),
            ][..],
            None,
        ),
        (&[][..], Some("user_key=k1&user_key=k2")),
        (&[("app-id", "a1"), ("app-id", "a2")][..], None),
        (&[][..], Some("app_id=a1&app_key=k1&app_key=k2")),
    ] {
        assert_eq!(
            e.extract(&headers(pairs), query, BOTH),
            Err(Ambiguous),
            "{pairs:?} {query:?}"
        );
    }
    // The same value twice says nothing new; two locations are not ambiguous (the first wins,
    // and forwarding removes both).
    assert_eq!(
        extract(
            &e,
            &headers(&[("x-api-key", "k1"), ("x-api-key", "k1")]),
            None,
            BOTH
        ),
        api_key("k1", Source::Header(HeaderName::from_static("x-api-key")))
    );
    assert_eq!(
        extract(
            &e,
            &headers(&[("x-api-key", "k1"), ("authorization", "Bearer k2")]),
            None,
            BOTH
        ),
        api_key("k1", Source::Header(HeaderName::from_static("x-api-key")))
    );
}

#[test]
fn every_location_a_route_accepts_is_listed_for_hiding() {
    let e = extractor();
    let locations = e.locations(&[AuthKind::ApiKey, AuthKind::AppIdKey, AuthKind::Jwt]);
    let headers: Vec<&str> = locations.headers.iter().map(HeaderName::as_str).collect();
    assert_eq!(
        headers,
        [
            "app_id",
            "app-id",
            "app_key",
            "app-key",
            "x-api-key",
            "user_key",
            "user-key"
        ]
    );
    assert!(locations.bearer);
    assert_eq!(locations.params, ["app_id", "app_key", "user_key"]);
    let jwt_only = e.locations(&[AuthKind::Jwt]);
    assert!(jwt_only.bearer && jwt_only.headers.is_empty() && jwt_only.params.is_empty());
    assert!(!e.locations(&[AuthKind::Anonymous]).bearer);
}

proptest::proptest! {
    /// Fuzz target: credential extraction from any headers and query string a client can send.
    /// Nothing panics; what is found came from a location the route accepts.
    #[test]
    fn fuzz_credential_extraction(
        pairs in proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    "x-api-key", "authorization", "user_key", "user-key", "app_id", "app-id",
                    "app_key", "app-key", "other",
                ]),
                proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..48),
            ),
            0..6,
        ),
        query in proptest::option::of(proptest::prop_oneof![
            proptest::arbitrary::any::<String>(),
            "((user_key|app_id|app_key|a)=[%0-9a-zA-Z_]{0,12}&?){0,4}",
        ]),
        kinds in proptest::sample::subsequence(
            vec![AuthKind::ApiKey, AuthKind::AppIdKey, AuthKind::Jwt, AuthKind::Anonymous],
            0..=4,
        ),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in &pairs {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(HeaderName::from_static(name), value);
            }
        }
        let extractor = extractor();
        if let Ok(Some(credential)) = extractor.extract(&map, query.as_deref(), &kinds) {
            let accepted = extractor.locations(&kinds);
            for source in credential.sources() {
                let listed = match source {
                    Source::Header(name) => accepted.headers.contains(name),
                    Source::Bearer => accepted.bearer,
                    Source::Query(name) => accepted.params.contains(name),
                    // authgate's own cookies are never forwarded, hidden or not.
                    Source::Cookie => true,
                };
                proptest::prop_assert!(listed, "{source:?} is not where {kinds:?} are");
            }
        }
    }
}
