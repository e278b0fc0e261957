//! Fuzz target (proptest) for the token endpoint's forms: the body, the scopes, and client
//! authentication by HTTP Basic or form fields.

use super::form;
use super::token::requested_scopes;
use crate::client::presented;
use bytes::Bytes;
use http::HeaderMap;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use proptest::prelude::*;

proptest! {
    /// Nothing panics; a parameter given twice is refused; a parsed scope list holds only
    /// OpenID scopes and permissions, each once.
    #[test]
    fn fuzz_token_endpoint_forms(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "((grant_type|client_id|client_secret|scope|code|username|password|refresh_token)=[%+0-9a-zA-Z:_ ]{0,16}&?){0,6}"
                .prop_map(String::into_bytes),
        ],
        basic in proptest::option::of(prop_oneof![
            ".{0,40}",
            "[A-Za-z0-9+/=]{0,40}",
        ]),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "application/x-www-form-urlencoded".parse().unwrap());
        if let Some(basic) = &basic
            && let Ok(value) = format!("Basic {basic}").parse()
        {
            headers.insert(AUTHORIZATION, value);
        }
        let body = Bytes::from(body);
        let pairs: Vec<_> = url::form_urlencoded::parse(&body).collect();
        match form(&headers, &body) {
            Ok(params) => {
                prop_assert_eq!(params.len(), pairs.len(), "every parameter, once");
                let _ = presented(&headers, &params);
                if let Ok(scopes) = requested_scopes(&params) {
                    let mut unique = scopes.clone();
                    unique.sort();
                    unique.dedup();
                    prop_assert_eq!(unique.len(), scopes.len());
                }
            }
            Err(_) => {
                let mut names: Vec<_> = pairs.iter().map(|(name, _)| name.clone()).collect();
                names.sort();
                names.dedup();
                prop_assert!(names.len() < pairs.len(), "refused without a repeated parameter");
            }
        }
    }
}
