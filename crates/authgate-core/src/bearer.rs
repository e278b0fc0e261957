//! `Authorization: Bearer` (RFC 6750), read the same way by the gateway, the admin API and the
//! token service.

/// The token of an `Authorization` header value in the `Bearer` scheme, whose name is
/// case-insensitive (RFC 7235); `None` for any other scheme. The token is trimmed and may be
/// empty.
pub fn token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ').unwrap_or((authorization, ""));
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::token;

    #[test]
    fn the_scheme_is_case_insensitive_and_other_schemes_are_not_bearer() {
        assert_eq!(token("Bearer abc"), Some("abc"));
        assert_eq!(token("bearer  abc "), Some("abc"));
        assert_eq!(token("BEARER abc"), Some("abc"));
        assert_eq!(token("Bearer"), Some(""));
        assert_eq!(token("Basic dXNlcg=="), None);
        assert_eq!(token("Bearerabc"), None);
    }
}

#[cfg(test)]
mod fuzz {
    use super::token;

    proptest::proptest! {
        /// Fuzz target: the `Authorization` header's value. A token is found only under the
        /// Bearer scheme, and it is a trimmed piece of the value.
        #[test]
        fn fuzz_authorization_header(
            value in proptest::prop_oneof![
                proptest::arbitrary::any::<String>(),
                "(?i:bearer)[ \t]{0,3}.{0,40}",
            ],
        ) {
            if let Some(found) = token(&value) {
                proptest::prop_assert!(value.contains(found));
                proptest::prop_assert_eq!(found, found.trim());
                let scheme = value.split(' ').next().unwrap_or_default();
                proptest::prop_assert!(scheme.eq_ignore_ascii_case("bearer"));
            }
        }
    }
}
