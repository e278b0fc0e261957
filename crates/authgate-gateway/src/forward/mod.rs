//! The last stage, forward: send the request upstream and stream the answer back.
//!
//! Bodies stream both ways, frame by frame: nothing here waits for a whole body, so an upstream's
//! `text/event-stream` reaches the client event by event. The route's timeout bounds only the wait
//! for the upstream's response headers, never a stream in progress. Refused connections answer
//! 502 `upstream_unavailable`, a timeout 504 `upstream_timeout`, a body over `max_body_size` 413.

mod client;
mod echo;
pub mod headers;

use crate::authn::extract::Source;
use crate::chain::Terminal;
use crate::context::RequestContext;
use crate::respond::Rejection;
use crate::route::{Route, Upstream};
use crate::{Body, Request, Response};
use authgate_core::ErrorCode;
use client::UpstreamClient;
use futures_util::future::BoxFuture;
use http::Uri;
use http::header::CONTENT_LENGTH;
use http::uri::PathAndQuery;
use http_body::Body as _;
use http_body_util::{LengthLimitError, Limited};
use std::borrow::Cow;
use std::sync::Arc;

/// Sends authenticated requests to their route's upstream.
pub struct Forward {
    client: UpstreamClient,
    hide_credentials: bool,
    max_body_size: u64,
}

impl Forward {
    pub fn new(hide_credentials: bool, max_body_size: u64) -> Self {
        Self {
            client: UpstreamClient::default(),
            hide_credentials,
            max_body_size,
        }
    }

    async fn forward(&self, request: Request) -> Response {
        match self.try_forward(request).await {
            Ok(response) => response,
            Err(rejection) => rejection.into_response(),
        }
    }

    async fn try_forward(&self, request: Request) -> Result<Response, Rejection> {
        let Prepared {
            route,
            mut parts,
            body,
            path_and_query,
        } = self.prepare(request)?;
        match &route.upstream {
            // Boxed, like the upstream's send below: this future is itself boxed (and copied
            // whole) for every request, so what it holds inline costs every request.
            Upstream::Echo => Ok(Box::pin(echo::respond(&parts, &path_and_query, body)).await),
            Upstream::Http { authority, .. } => {
                // Origin form on the wire; `Host` names the upstream (headers.rs).
                parts.uri = Uri::from(path_and_query);
                // Upstreams speak HTTP/1.1 here whatever the client spoke.
                parts.version = http::Version::HTTP_11;
                let request = http::Request::from_parts(parts, body);
                // Boxed where it is made: from here on only a pointer moves.
                let sending = Box::pin(self.client.send(authority, request));
                let response = tokio::time::timeout(route.timeout, sending)
                    .await
                    .map_err(|_| {
                        tracing::warn!(route = %route.name, "upstream timed out");
                        Rejection::new(ErrorCode::UpstreamTimeout)
                    })?
                    .map_err(|error| {
                        if caused_by_length_limit(&error) {
                            return Rejection::new(ErrorCode::PayloadTooLarge);
                        }
                        tracing::warn!(route = %route.name, %error, "upstream unavailable");
                        Rejection::new(ErrorCode::UpstreamUnavailable)
                    })?;
                let (mut parts, body) = response.into_parts();
                headers::prepare_response(&mut parts.headers);
                Ok(Response::from_parts(parts, Body::new(body)))
            }
        }
    }
    /// Everything before the upstream is asked, done outside the async function so that what
    /// it needs (the request's context) is not kept in its future: checks the declared body
    /// size, limits the body, and rewrites path, query and headers for the upstream.
    fn prepare(&self, request: Request) -> Result<Prepared, Rejection> {
        let (mut parts, body) = request.into_parts();
        let context = parts
            .extensions
            .remove::<RequestContext>()
            .unwrap_or_default();
        let route = context
            .route
            .ok_or_else(|| Rejection::new(ErrorCode::InternalError))?;
        let declared_length = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_length.is_some_and(|len| len > self.max_body_size) {
            return Err(ErrorCode::PayloadTooLarge.into());
        }
        // A request without a body (most GETs) needs no limit around it.
        let body = if body.is_end_stream() {
            body
        } else {
            let limit = usize::try_from(self.max_body_size).unwrap_or(usize::MAX);
            Body::new(Limited::new(body, limit))
        };

        let hidden = if self.hide_credentials {
            context.presented.as_slice()
        } else {
            &[]
        };
        let path_and_query = upstream_path_and_query(&parts.uri, &route, hidden)?;
        let forwarded = headers::ForwardContext {
            caller: context.caller.as_deref(),
            peer: context.peer.as_ref().map(|p| &p.ip_header),
            hidden,
            upstream_host: match &route.upstream {
                Upstream::Http { host, .. } => Some(host),
                Upstream::Echo => None,
            },
            original_host: parts.uri.authority().map(|a| a.as_str().to_owned()),
        };
        headers::prepare_request(&mut parts.headers, &forwarded);
        if let Some(trace) = &context.trace {
            trace.write(&mut parts.headers);
        }
        Ok(Prepared {
            route,
            parts,
            body,
            path_and_query,
        })
    }
}

/// A request ready to go upstream.
struct Prepared {
    route: Arc<Route>,
    parts: http::request::Parts,
    body: Body,
    path_and_query: PathAndQuery,
}

/// The path and query to send upstream. The common case (nothing stripped, prepended or hidden)
/// reuses the request's own, without copying it.
fn upstream_path_and_query(
    uri: &Uri,
    route: &Route,
    hidden: &[Source],
) -> Result<PathAndQuery, Rejection> {
    let path = route.upstream_path(uri.path());
    let query = headers::forwarded_query(uri.query(), hidden);
    let query_unchanged = match &query {
        Some(kept) => matches!(kept, Cow::Borrowed(_)),
        None => uri.query().is_none(),
    };
    let unchanged = matches!(path, Cow::Borrowed(_)) && query_unchanged;
    if unchanged && let Some(original) = uri.path_and_query() {
        return Ok(original.clone());
    }
    let rebuilt = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.into_owned(),
    };
    PathAndQuery::try_from(rebuilt).map_err(|_| Rejection::new(ErrorCode::MalformedRequest))
}

fn caused_by_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

impl Terminal for Forward {
    fn call(&self, request: Request) -> BoxFuture<'_, Response> {
        Box::pin(self.forward(request))
    }
}
