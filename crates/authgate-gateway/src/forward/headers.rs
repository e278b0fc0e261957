//! What the upstream sees: end-to-end headers, minus hop-by-hop ones, minus anything a client
//! sent as `X-Authgate-*` (so identity headers cannot be spoofed), minus every credential the
//! route accepts, used or not, when `hide_credentials` is on, minus authgate's own cookies,
//! plus `X-Forwarded-*` and authgate's identity headers.

use crate::authn::extract::CredentialLocations;
use crate::caller::Caller;
use authgate_core::bearer;
use http::header::{
    AUTHORIZATION, CONNECTION, COOKIE, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, HeaderName, HeaderValue};

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static HOP_BY_HOP: [&HeaderName; 9] = [
    &CONNECTION,
    &KEEP_ALIVE,
    &PROXY_CONNECTION,
    &PROXY_AUTHENTICATE,
    &PROXY_AUTHORIZATION,
    &TE,
    &TRAILER,
    &TRANSFER_ENCODING,
    &UPGRADE,
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// The names of authgate's own cookies (the admin console's session, its notices) start so. A
/// browser sends a host's cookies to every port of it, so to the gateway too when the admin
/// listener shares its host: they are none of the upstream's business.
const OWN_COOKIE_PREFIX: &str = "authgate_";

/// What the request headers are rewritten from.
pub struct ForwardContext<'a> {
    pub caller: Option<&'a Caller>,
    /// The client's IP, formatted for `X-Forwarded-For`.
    pub peer: Option<&'a HeaderValue>,
    /// The client is a trusted proxy: what it says of its own client is passed on.
    pub peer_trusted: bool,
    /// Credential locations to remove (empty when credentials are forwarded).
    pub hidden: &'a CredentialLocations,
    /// The upstream's authority, which becomes `Host`; `None` keeps the client's.
    pub upstream_host: Option<&'a HeaderValue>,
    /// The request's `Host`, or the authority of an HTTP/2 or absolute-form request.
    pub original_host: Option<HeaderValue>,
}

/// Rewrites request headers for the upstream.
pub fn prepare_request(headers: &mut HeaderMap, context: &ForwardContext<'_>) {
    let hidden = context.hidden;
    let bearer_sent = hidden.bearer
        && headers
            .get_all(AUTHORIZATION)
            .iter()
            .any(|value| value.to_str().ok().and_then(bearer::token).is_some());
    let trusted = context.peer_trusted;
    remove_where(headers, |name| {
        is_hop_by_hop(name)
            || name.as_str().starts_with("x-authgate-")
            || hidden.headers.contains(name)
            || (bearer_sent && name == AUTHORIZATION)
            || (!trusted && is_forwarding_header(name))
    });
    remove_own_cookies(headers);

    // X-Forwarded-* (3), identity (5) and trace context (2): one growth of the map, not several.
    headers.reserve(10);
    let original_host = context.original_host.clone();
    if let Some(peer) = context.peer {
        let forwarded_for = match headers.get(&X_FORWARDED_FOR).map(HeaderValue::as_bytes) {
            Some(previous) => HeaderValue::from_bytes(&[previous, b", ", peer.as_bytes()].concat()),
            None => Ok(peer.clone()),
        };
        if let Ok(value) = forwarded_for {
            headers.insert(X_FORWARDED_FOR.clone(), value);
        }
    }
    // A trusted proxy's own values stay; an untrusted client's were removed above.
    if !(trusted && headers.contains_key(&X_FORWARDED_PROTO)) {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    }
    if let Some(host) = original_host
        && !(trusted && headers.contains_key(&X_FORWARDED_HOST))
    {
        headers.insert(X_FORWARDED_HOST.clone(), host);
    }
    if let Some(upstream) = context.upstream_host {
        headers.insert(HOST, upstream.clone());
    }

    if let Some(caller) = context.caller {
        caller.write_identity_headers(headers);
    }
}

/// Removes hop-by-hop headers from an upstream's response.
pub fn prepare_response(headers: &mut HeaderMap) {
    remove_where(headers, is_hop_by_hop);
}

/// The query string to forward: unchanged unless a credential parameter must be hidden.
pub fn forwarded_query<'a>(
    query: Option<&'a str>,
    hidden: &[String],
) -> Option<std::borrow::Cow<'a, str>> {
    let query = query?;
    let is_hidden = |name: &str| hidden.iter().any(|h| h == name);
    if !url::form_urlencoded::parse(query.as_bytes()).any(|(name, _)| is_hidden(&name)) {
        return Some(query.into());
    }
    let kept: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            url::form_urlencoded::parse(query.as_bytes()).filter(|(name, _)| !is_hidden(name)),
        )
        .finish();
    (!kept.is_empty()).then_some(kept.into())
}

/// Removes authgate's own cookies from the `Cookie` headers, and a header left empty.
fn remove_own_cookies(headers: &mut HeaderMap) {
    let ours = |value: &HeaderValue| {
        value.to_str().is_ok_and(|text| {
            text.split(';')
                .any(|pair| pair.trim_start().starts_with(OWN_COOKIE_PREFIX))
        })
    };
    if !headers.get_all(COOKIE).iter().any(ours) {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| {
            let Ok(text) = value.to_str() else {
                return Some(value.clone());
            };
            let pairs: Vec<&str> = text
                .split(';')
                .map(str::trim)
                .filter(|pair| !pair.is_empty() && !pair.starts_with(OWN_COOKIE_PREFIX))
                .collect();
            (!pairs.is_empty())
                .then(|| HeaderValue::from_str(&pairs.join("; ")).ok())
                .flatten()
        })
        .collect();
    headers.remove(COOKIE);
    for value in kept {
        headers.append(COOKIE, value);
    }
}

/// What a proxy says about the client before it: believed only from a trusted proxy.
fn is_forwarding_header(name: &HeaderName) -> bool {
    name == X_FORWARDED_FOR
        || name == X_FORWARDED_PROTO
        || name == X_FORWARDED_HOST
        || name == X_REAL_IP
        || name == FORWARDED
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name)
}

/// Removes the headers `unwanted` picks and those `Connection` lists. One pass over the names
/// decides; the map is only searched again for headers that are really there, which on most
/// requests is none.
fn remove_where(headers: &mut HeaderMap, unwanted: impl Fn(&HeaderName) -> bool) {
    let listed = headers
        .get_all(&CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok());
    let mut doomed: Vec<HeaderName> = listed.collect();
    doomed.extend(headers.keys().filter(|name| unwanted(name)).cloned());
    for name in doomed {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests;
