//! What the upstream sees: end-to-end headers, minus hop-by-hop ones, minus anything a client
//! sent as `X-Authgate-*` (so identity headers cannot be spoofed), minus the credential when
//! `hide_credentials` is on, plus `X-Forwarded-*` and authgate's identity headers.

use crate::authn::extract::Source;
use crate::caller::Caller;
use http::header::{
    AUTHORIZATION, CONNECTION, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER,
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

/// What the request headers are rewritten from.
pub struct ForwardContext<'a> {
    pub caller: Option<&'a Caller>,
    /// The client's IP, formatted for `X-Forwarded-For`.
    pub peer: Option<&'a HeaderValue>,
    /// Credential locations to remove (empty when credentials are forwarded).
    pub hidden: &'a [Source],
    /// The upstream's authority, which becomes `Host`; `None` keeps the client's.
    pub upstream_host: Option<&'a HeaderValue>,
    /// The authority of an absolute-form or HTTP/2 request, used when there is no `Host`.
    pub original_host: Option<String>,
}

/// Rewrites request headers for the upstream.
pub fn prepare_request(headers: &mut HeaderMap, context: &ForwardContext<'_>) {
    remove_where(headers, |name| {
        is_hop_by_hop(name) || name.as_str().starts_with("x-authgate-")
    });
    for source in context.hidden {
        match source {
            Source::Header(name) => {
                headers.remove(name);
            }
            Source::Bearer => {
                headers.remove(AUTHORIZATION);
            }
            Source::Query(_) => {}
        }
    }

    // X-Forwarded-* (3), identity (5) and trace context (2): one growth of the map, not several.
    headers.reserve(10);
    let original_host = headers.get(HOST).cloned().or_else(|| {
        context
            .original_host
            .as_deref()
            .and_then(|h| HeaderValue::from_str(h).ok())
    });
    if let Some(peer) = context.peer {
        let forwarded_for = match headers.get(&X_FORWARDED_FOR).map(HeaderValue::as_bytes) {
            Some(previous) => HeaderValue::from_bytes(&[previous, b", ", peer.as_bytes()].concat()),
            None => Ok(peer.clone()),
        };
        if let Ok(value) = forwarded_for {
            headers.insert(X_FORWARDED_FOR.clone(), value);
        }
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    if let Some(host) = original_host {
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
    hidden: &[Source],
) -> Option<std::borrow::Cow<'a, str>> {
    let query = query?;
    let hidden_params: Vec<&str> = hidden
        .iter()
        .filter_map(|s| match s {
            Source::Query(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    if hidden_params.is_empty() {
        return Some(query.into());
    }
    let kept: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            url::form_urlencoded::parse(query.as_bytes())
                .filter(|(k, _)| !hidden_params.contains(&k.as_ref())),
        )
        .finish();
    (!kept.is_empty()).then_some(kept.into())
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
