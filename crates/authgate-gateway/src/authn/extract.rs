//! Stage 2, credential extraction: find what the caller presented, without judging it yet.
//!
//! Looked for in this order, limited to the kinds the route accepts:
//! 1. `app_id` (+ `app_key`), as a header or a query parameter (names configurable; in headers
//!    `_` and `-` are equivalent, as in 3scale);
//! 2. the API-key headers (`X-API-Key`), then `Authorization: Bearer`, then the key parameters
//!    (`user_key`) in the query string and then as headers;
//! 3. on IIIF routes, an IIIF access token as `Authorization: Bearer`, and the access cookie.
//!
//! A value that is present but not UTF-8 is kept as an invalid credential rather than ignored, so
//! the caller gets `invalid_credentials`, not `missing_credentials`. A location that carries two
//! different values (two `X-API-Key` headers, two `user_key` parameters) is ambiguous: which one
//! the upstream or another proxy would read is anyone's guess, so the request is refused.
//!
//! [`CredentialLocations`] lists every place a route's accepted credentials may be in, used or
//! not, so that forwarding can remove them all.

use crate::thread_copy;
use authgate_config::{AuthConfig, AuthKind};
use authgate_core::bearer;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName};
use std::borrow::Cow;

/// Where a credential was found, so it can be hidden from the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Header(HeaderName),
    Bearer,
    Query(String),
    /// The IIIF access cookie (never forwarded: the upstream gets no `authgate_*` cookie).
    Cookie,
}

/// What the caller presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    ApiKey {
        secret: String,
        source: Source,
    },
    AppIdKey {
        app_id: String,
        app_key: String,
        sources: [Source; 2],
    },
    AppId {
        app_id: String,
        source: Source,
    },
    /// A bearer value shaped like a JWT (three base64url parts).
    Jwt {
        token: String,
    },
    /// An IIIF access token (`Authorization: Bearer sk_iiif_...`).
    IiifToken {
        token: String,
    },
    /// The IIIF access cookie.
    IiifCookie {
        secret: String,
    },
}

impl Credential {
    /// Where every part of this credential came from.
    pub fn sources(&self) -> &[Source] {
        match self {
            Self::ApiKey { source, .. } | Self::AppId { source, .. } => {
                std::slice::from_ref(source)
            }
            Self::AppIdKey { sources, .. } => sources,
            Self::Jwt { .. } | Self::IiifToken { .. } => std::slice::from_ref(&Source::Bearer),
            Self::IiifCookie { .. } => std::slice::from_ref(&Source::Cookie),
        }
    }
}

/// The same credential location carries different values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ambiguous;

/// The one value of `name` in `headers`, if any; different values are ambiguous.
fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h http::HeaderValue>, Ambiguous> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.any(|other| other != first) {
        return Err(Ambiguous);
    }
    Ok(Some(first))
}

/// The one value of the query parameter `name`, if any; different values are ambiguous.
fn single_param<'q>(
    query: &'q [(Cow<'q, str>, Cow<'q, str>)],
    name: &str,
) -> Result<Option<&'q Cow<'q, str>>, Ambiguous> {
    let mut values = query.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.any(|other| other != first) {
        return Err(Ambiguous);
    }
    Ok(Some(first))
}

/// Every place a route's accepted credentials may be: what forwarding removes when
/// `hide_credentials` is on.
#[derive(Debug, Clone, Default)]
pub struct CredentialLocations {
    pub headers: Vec<HeaderName>,
    /// `Authorization: Bearer`.
    pub bearer: bool,
    /// Query parameters.
    pub params: Vec<String>,
}

/// The names to look for, prepared once from configuration.
#[derive(Debug, Clone)]
pub struct Extractor {
    key_headers: Vec<HeaderName>,
    bearer: bool,
    key_params: Vec<Param>,
    app_id: Param,
    app_key: Param,
}

/// A parameter that may come in the query string or as a header.
#[derive(Debug, Clone)]
struct Param {
    name: String,
    headers: Vec<HeaderName>,
}

impl Param {
    fn thread_copy(&self) -> Self {
        Self {
            name: self.name.clone(),
            headers: self.headers.iter().map(thread_copy::header_name).collect(),
        }
    }

    fn new(name: &str) -> Self {
        let mut headers: Vec<HeaderName> = [name.to_owned(), name.replace('_', "-")]
            .iter()
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            .collect();
        headers.dedup();
        Self {
            name: name.to_owned(),
            headers,
        }
    }

    fn find(
        &self,
        headers: &HeaderMap,
        query: &[(Cow<'_, str>, Cow<'_, str>)],
    ) -> Result<Option<(String, Source)>, Ambiguous> {
        if let Some(found) = self.in_headers(headers)? {
            return Ok(Some(found));
        }
        self.in_query(query)
    }

    fn in_headers(&self, headers: &HeaderMap) -> Result<Option<(String, Source)>, Ambiguous> {
        for header in &self.headers {
            if let Some(value) = single_header(headers, header)? {
                return Ok(Some((header_text(value), Source::Header(header.clone()))));
            }
        }
        Ok(None)
    }

    fn in_query(
        &self,
        query: &[(Cow<'_, str>, Cow<'_, str>)],
    ) -> Result<Option<(String, Source)>, Ambiguous> {
        Ok(single_param(query, &self.name)?
            .map(|value| (value.clone().into_owned(), Source::Query(self.name.clone()))))
    }

    fn add_to(&self, locations: &mut CredentialLocations) {
        locations.headers.extend(self.headers.iter().cloned());
        locations.params.push(self.name.clone());
    }
}

/// A non-UTF-8 header value becomes an empty string: present, and certainly not a valid secret.
fn header_text(value: &http::HeaderValue) -> String {
    value.to_str().map(str::to_owned).unwrap_or_default()
}

impl Extractor {
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            key_headers: config
                .api_key
                .headers
                .iter()
                .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                .collect(),
            bearer: config.api_key.bearer,
            key_params: config
                .api_key
                .params
                .iter()
                .map(|p| Param::new(p))
                .collect(),
            app_id: Param::new(&config.app_id_key.app_id),
            app_key: Param::new(&config.app_id_key.app_key),
        }
    }

    /// A copy for one worker thread: the header names it hands out with each credential's
    /// sources share no reference count with another worker's.
    pub fn thread_copy(&self) -> Self {
        Self {
            key_headers: self
                .key_headers
                .iter()
                .map(thread_copy::header_name)
                .collect(),
            bearer: self.bearer,
            key_params: self.key_params.iter().map(Param::thread_copy).collect(),
            app_id: self.app_id.thread_copy(),
            app_key: self.app_key.thread_copy(),
        }
    }

    /// Every place a credential of the `accepted` kinds may be.
    pub fn locations(&self, accepted: &[AuthKind]) -> CredentialLocations {
        let mut locations = CredentialLocations::default();
        if accepted.contains(&AuthKind::AppIdKey) {
            self.app_id.add_to(&mut locations);
            self.app_key.add_to(&mut locations);
        }
        if accepted.contains(&AuthKind::ApiKey) {
            locations.headers.extend(self.key_headers.iter().cloned());
            locations.bearer |= self.bearer;
            for param in &self.key_params {
                param.add_to(&mut locations);
            }
        }
        locations.bearer |= accepted.contains(&AuthKind::Jwt) || accepted.contains(&AuthKind::Iiif);
        locations
    }

    /// The credential in this request, if any, among the kinds the route accepts.
    pub fn extract(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        accepted: &[AuthKind],
    ) -> Result<Option<Credential>, Ambiguous> {
        let params: Vec<(Cow<'_, str>, Cow<'_, str>)> = query
            .map(|q| url::form_urlencoded::parse(q.as_bytes()).collect())
            .unwrap_or_default();
        if accepted.contains(&AuthKind::AppIdKey)
            && let Some((app_id, id_source)) = self.app_id.find(headers, &params)?
        {
            return Ok(Some(match self.app_key.find(headers, &params)? {
                Some((app_key, key_source)) => Credential::AppIdKey {
                    app_id,
                    app_key,
                    sources: [id_source, key_source],
                },
                None => Credential::AppId {
                    app_id,
                    source: id_source,
                },
            }));
        }
        let api_key = accepted.contains(&AuthKind::ApiKey);
        if api_key {
            for header in &self.key_headers {
                if let Some(value) = single_header(headers, header)? {
                    return Ok(Some(Credential::ApiKey {
                        secret: header_text(value),
                        source: Source::Header(header.clone()),
                    }));
                }
            }
        }
        let iiif = accepted.contains(&AuthKind::Iiif);
        if let Some(token) = single_header(headers, &AUTHORIZATION)?.and_then(bearer_token) {
            // The value's shape routes it: a JWT never looks like a key (`sk_...`, no dots),
            // and an IIIF token is a key of its own kind.
            if looks_like_jwt(&token) && accepted.contains(&AuthKind::Jwt) {
                return Ok(Some(Credential::Jwt { token }));
            }
            if iiif && token.starts_with(authgate_iiif::TOKEN_PREFIX) {
                return Ok(Some(Credential::IiifToken { token }));
            }
            if api_key && self.bearer {
                return Ok(Some(Credential::ApiKey {
                    secret: token,
                    source: Source::Bearer,
                }));
            }
        }
        if api_key {
            for param in &self.key_params {
                if let Some((secret, source)) = param.in_query(&params)? {
                    return Ok(Some(Credential::ApiKey { secret, source }));
                }
            }
            for param in &self.key_params {
                if let Some((secret, source)) = param.in_headers(headers)? {
                    return Ok(Some(Credential::ApiKey { secret, source }));
                }
            }
        }
        // Last: a browser sends the cookie with every request, whatever else it carries.
        if iiif && let Some(secret) = access_cookie(headers) {
            return Ok(Some(Credential::IiifCookie { secret }));
        }
        Ok(None)
    }
}

/// The IIIF access cookie's value, if the request carries one.
fn access_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == authgate_iiif::ACCESS_COOKIE).then(|| value.to_owned())
        })
}

/// Three non-empty base64url parts separated by dots, the first a JSON object (`eyJ`).
fn looks_like_jwt(value: &str) -> bool {
    let mut parts = value.split('.');
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    value.starts_with("eyJ")
        && parts.by_ref().take(3).filter(|p| base64url(p)).count() == 3
        && parts.next().is_none()
}

/// The token of an `Authorization: Bearer <token>` header; other schemes are not ours.
fn bearer_token(value: &http::HeaderValue) -> Option<String> {
    bearer::token(&header_text(value)).map(str::to_owned)
}

#[cfg(test)]
mod tests;
