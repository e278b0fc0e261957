//! Forward-auth: the pipeline's decision without the proxying, for a proxy in front that asks
//! before it forwards (nginx `auth_request`, Traefik `forwardAuth`, Envoy `ext_authz` over HTTP).
//!
//! `/_authgate/verify` takes the original method and URI from `X-Original-Method` /
//! `X-Original-URI` (nginx), `X-Forwarded-Method` / `X-Forwarded-Uri` (Traefik), or, as Envoy
//! sends them, from the request itself with the original path after `/_authgate/verify`. It runs
//! route, authenticate, authorize and limit exactly as a proxied request would, and answers 200
//! with the identity headers, or the same 401/403/404/429 a proxied request would get.
//! `authgate check` asks the same question from the command line.

use crate::chain::Terminal;
use crate::context::RequestContext;
use crate::mount::{Claim, Mount};
use crate::respond::Rejection;
use crate::{Body, Request, Response};
use authgate_core::ErrorCode;
use futures_util::future::BoxFuture;
use http::{Method, Uri};

/// The path of the forward-auth endpoint on the gateway listener.
pub const VERIFY_PATH: &str = "/_authgate/verify";

/// Forward-auth mounted on the gateway listener: `verifier` answers `/_authgate/verify` and
/// every path below it (Envoy's form).
pub fn mount(verifier: impl crate::stack::PipelineService) -> Mount {
    let router = axum::Router::new()
        .route_service(VERIFY_PATH, verifier.clone())
        .route_service(&format!("{VERIFY_PATH}/{{*original}}"), verifier);
    Mount::new([Claim::Prefix(VERIFY_PATH)], router)
}

static X_ORIGINAL_METHOD: http::HeaderName = http::HeaderName::from_static("x-original-method");
static X_ORIGINAL_URI: http::HeaderName = http::HeaderName::from_static("x-original-uri");
static X_FORWARDED_METHOD: http::HeaderName = http::HeaderName::from_static("x-forwarded-method");
static X_FORWARDED_URI: http::HeaderName = http::HeaderName::from_static("x-forwarded-uri");

/// Rewrites a forward-auth request into the request it stands for; `None` if it names a
/// method or URI that cannot be parsed.
pub fn original_request(mut request: Request) -> Result<Request, Rejection> {
    let header = |names: [&http::HeaderName; 2]| {
        names
            .into_iter()
            .find_map(|name| request.headers().get(name))
            .map(|v| v.as_bytes().to_vec())
    };
    let method = match header([&X_ORIGINAL_METHOD, &X_FORWARDED_METHOD]) {
        Some(bytes) => {
            Method::from_bytes(&bytes).map_err(|_| Rejection::new(ErrorCode::MalformedRequest))?
        }
        None => request.method().clone(),
    };
    let uri = match header([&X_ORIGINAL_URI, &X_FORWARDED_URI]) {
        Some(bytes) => {
            Uri::try_from(bytes).map_err(|_| Rejection::new(ErrorCode::MalformedRequest))?
        }
        None => {
            let path_and_query = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let rest = path_and_query
                .strip_prefix(VERIFY_PATH)
                .unwrap_or(path_and_query);
            let rest = if rest.starts_with('/') {
                rest.to_owned()
            } else {
                format!("/{rest}")
            };
            Uri::try_from(rest).map_err(|_| Rejection::new(ErrorCode::MalformedRequest))?
        }
    };
    if uri.path().is_empty() || !uri.path().starts_with('/') {
        return Err(Rejection::new(ErrorCode::MalformedRequest));
    }
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    Ok(request)
}

/// The pipeline's last step in forward-auth and `authgate check`: 200 with the caller's
/// identity headers.
pub struct Verdict;

impl Terminal for Verdict {
    fn call(&self, request: Request) -> BoxFuture<'_, Response> {
        let mut response = Response::new(Body::empty());
        if let Some(caller) = &RequestContext::of(&request).caller {
            caller.write_identity_headers(response.headers_mut());
        }
        Box::pin(std::future::ready(response))
    }
}

#[cfg(test)]
mod tests;
