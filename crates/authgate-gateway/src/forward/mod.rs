//! The last stage, forward: send the request upstream and stream the answer back.
//!
//! Bodies stream both ways, frame by frame: nothing here waits for a whole body, so an upstream's
//! `text/event-stream` reaches the client event by event. The route's timeout bounds only the wait
//! for the upstream's response headers once the request body has been sent, never the client's
//! upload nor a stream in progress. Refused connections answer 502 `upstream_unavailable`, a
//! timeout 504 `upstream_timeout`; what the client's body earns (413, 408, 400) comes from
//! [`crate::upload`].

mod client;
mod echo;
pub mod headers;

use crate::chain::Terminal;
use crate::context::RequestContext;
use crate::respond::Rejection;
use crate::route::{Route, Upstream};
use crate::upload::{Upload, UploadLimits, UploadProgress};
use crate::{Body, Request, Response};
use authgate_core::ErrorCode;
use authgate_iiif::demo::Images;
use client::UpstreamClient;
use futures_util::future::BoxFuture;
use http::HeaderValue;
use http::Uri;
use http::header::{CONTENT_LENGTH, HOST};
use http::uri::PathAndQuery;
use http_body::Body as _;
use std::borrow::Cow;
use std::sync::Arc;

/// Sends authenticated requests to their route's upstream.
pub struct Forward {
    client: UpstreamClient,
    limits: UploadLimits,
    /// The IIIF demo's images, when the demo is on.
    demo_images: Option<Arc<Images>>,
}

impl Forward {
    pub fn new(limits: UploadLimits, demo_images: Option<Arc<Images>>) -> Self {
        Self {
            client: UpstreamClient::default(),
            limits,
            demo_images,
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
            upload,
            path_and_query,
        } = self.prepare(request)?;
        match &route.upstream {
            // Boxed, like the upstream's send below: this future is itself boxed (and copied
            // whole) for every request, so what it holds inline costs every request.
            Upstream::Echo => Ok(Box::pin(echo::respond(
                &parts,
                &path_and_query,
                body,
                upload.as_deref(),
            ))
            .await),
            Upstream::IiifDemo => Ok(match &self.demo_images {
                Some(images) => images.respond(path_and_query.path()),
                None => Rejection::new(ErrorCode::UpstreamUnavailable).into_response(),
            }),
            Upstream::Http { authority, .. } => {
                // Origin form on the wire; `Host` names the upstream (headers.rs).
                parts.uri = Uri::from(path_and_query);
                // Upstreams speak HTTP/1.1 here whatever the client spoke.
                parts.version = http::Version::HTTP_11;
                let request = http::Request::from_parts(parts, body);
                // Boxed where it is made: from here on only a pointer moves.
                let mut sending = Box::pin(self.client.send(authority, request));
                let sent = match &upload {
                    Some(progress) => self.after_upload(&mut sending, progress, &route).await,
                    None => tokio::time::timeout(route.timeout, sending)
                        .await
                        .map_err(|_| upstream_timeout(&route)),
                };
                let response = sent?.map_err(|error| {
                    if let Some(code) = upload.as_deref().and_then(UploadProgress::client_fault) {
                        tracing::info!(route = %route.name, %code, "the client's request body failed");
                        return Rejection::new(code);
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
    /// The upstream's answer to a request with a body. The route's timeout runs from the body's
    /// end; before it, an upstream that takes none of the body for a whole `body_timeout` while
    /// the client has more to give has timed out too.
    async fn after_upload<F: std::future::Future + Unpin>(
        &self,
        sending: &mut F,
        progress: &UploadProgress,
        route: &Route,
    ) -> Result<F::Output, Rejection> {
        let mut seen = progress.received();
        loop {
            tokio::select! {
                sent = &mut *sending => return Ok(sent),
                () = progress.finished() => break,
                () = tokio::time::sleep(self.limits.body_timeout) => {
                    let received = progress.received();
                    if received == seen && !progress.waiting_on_client() {
                        return Err(upstream_timeout(route));
                    }
                    seen = received;
                }
            }
        }
        tokio::time::timeout(route.timeout, sending)
            .await
            .map_err(|_| upstream_timeout(route))
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
        if declared_length.is_some_and(|len| len > self.limits.max_body_size) {
            return Err(ErrorCode::PayloadTooLarge.into());
        }
        // A request without a body (most GETs) needs no watch over it.
        let (body, upload) = if body.is_end_stream() {
            (body, None)
        } else {
            let (upload, progress) = Upload::new(body, self.limits);
            (Body::new(upload), Some(progress))
        };

        let path_and_query = upstream_path_and_query(&parts.uri, &route)?;
        let forwarded = headers::ForwardContext {
            caller: context.caller.as_deref(),
            peer: context.peer.as_ref().map(|p| &p.ip_header),
            peer_trusted: context.peer.as_ref().is_some_and(|p| p.trusted),
            hidden: &route.hidden,
            upstream_host: match &route.upstream {
                Upstream::Http { host, .. } => Some(host),
                Upstream::Echo | Upstream::IiifDemo => None,
            },
            original_host: original_host(&parts)?,
        };
        headers::prepare_request(&mut parts.headers, &forwarded);
        if let Some(trace) = &context.trace {
            trace.write(&mut parts.headers);
        }
        Ok(Prepared {
            route,
            parts,
            body,
            upload,
            path_and_query,
        })
    }
}

/// The host the client asked for: its one `Host`, or the authority of an HTTP/2 or
/// absolute-form request. RFC 9112 §3.2: an HTTP/1.1 request has exactly one `Host`; one with
/// none or two is refused rather than forwarded.
fn original_host(parts: &http::request::Parts) -> Result<Option<HeaderValue>, Rejection> {
    let mut hosts = parts.headers.get_all(HOST).iter();
    let host = hosts.next();
    let missing = host.is_none() && parts.version == http::Version::HTTP_11;
    if missing || hosts.next().is_some() {
        return Err(Rejection::new(ErrorCode::MalformedRequest));
    }
    Ok(host.cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    }))
}

/// A request ready to go upstream.
struct Prepared {
    route: Arc<Route>,
    parts: http::request::Parts,
    body: Body,
    /// How the client's body is going, when there is one.
    upload: Option<Arc<UploadProgress>>,
    path_and_query: PathAndQuery,
}

/// The path and query to send upstream. The common case (nothing stripped, prepended or hidden)
/// reuses the request's own, without copying it.
fn upstream_path_and_query(uri: &Uri, route: &Route) -> Result<PathAndQuery, Rejection> {
    let path = route.upstream_path(uri.path());
    let query = headers::forwarded_query(uri.query(), &route.hidden.params);
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

fn upstream_timeout(route: &Route) -> Rejection {
    tracing::warn!(route = %route.name, "upstream timed out");
    Rejection::new(ErrorCode::UpstreamTimeout)
}

impl Terminal for Forward {
    fn call(&self, request: Request) -> BoxFuture<'_, Response> {
        Box::pin(self.forward(request))
    }
}
