//! IIIF Authorization Flow 2.0 in the pipeline (SPEC §6). The services themselves (probe,
//! access, token, logout, demo) are `authgate_iiif`'s, mounted beside the token service; here
//! is what the gateway adds on routes with `iiif = true`:
//!
//! - the stage [`IiifAnswers`], right after routing, so a viewer can find the probe wherever
//!   it looks: a 401 carries the probe service, `info.json` passed through from the upstream
//!   gets it in its `service` list (and the Auth 2.0 context), and every answer can be read
//!   from any origin;
//! - [`GatewayProbe`], what a probe answers: the status a GET of the resource would get with
//!   the presented token, decided by the same routes, credentials and permissions as the
//!   request itself.
//!
//! The access cookie and tokens themselves are credentials like any other (`authn`).

use crate::authn::Authenticator;
use crate::chain::{Next, Stage};
use crate::context::RequestContext;
use crate::route::RouteTable;
use crate::{Body, Request, Response};
use async_trait::async_trait;
use authgate_iiif::describe::add_service;
use authgate_iiif::grant::Presented;
use authgate_iiif::{IiifService, Probe, TOKEN_PREFIX};
use futures_util::future::BoxFuture;
use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Limited};

/// Largest `info.json` the gateway adds the probe to; a larger one passes unchanged.
const MAX_INFO_JSON: usize = 1024 * 1024;

/// The stage that shapes answers on IIIF routes.
pub struct IiifAnswers(pub IiifService);

/// Other routes pass straight through, costing no future of their own.
impl Stage for IiifAnswers {
    fn handle<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Response> {
        let protected = RequestContext::of(&request)
            .route
            .as_ref()
            .is_some_and(|route| route.iiif);
        if !protected {
            return next.run(request);
        }
        let path = request.uri().path().to_owned();
        Box::pin(async move {
            let response = next.run(request).await;
            self.shape(&path, response).await
        })
    }
}

impl IiifAnswers {
    async fn shape(&self, path: &str, response: Response) -> Response {
        let refused = response.status() == StatusCode::UNAUTHORIZED;
        let info =
            response.status().is_success() && path.ends_with("/info.json") && is_json(&response);
        let mut response = if refused || info {
            self.with_probe(path, response).await
        } else {
            response
        };
        response
            .headers_mut()
            .entry(ACCESS_CONTROL_ALLOW_ORIGIN)
            .or_insert(HeaderValue::from_static("*"));
        response
    }

    /// The response with the probe service of `path` added to its JSON body. A body that is
    /// not a JSON object, or declares a length too large to hold, passes unchanged; one that
    /// runs past the limit undeclared has been partly read and cannot pass: it is a 502.
    async fn with_probe(&self, path: &str, response: Response) -> Response {
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        if declared.is_some_and(|length| length > MAX_INFO_JSON) {
            return response;
        }
        let (mut parts, body) = response.into_parts();
        let bytes = match Limited::new(body, MAX_INFO_JSON).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                tracing::warn!(%path, %error, "an IIIF answer could not be read whole");
                return crate::respond::Rejection::new(
                    authgate_core::ErrorCode::UpstreamUnavailable,
                )
                .into_response();
            }
        };
        let mut document: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(document) => document,
            Err(_) => return Response::from_parts(parts, Body::from(bytes)),
        };
        if !add_service(&mut document, self.0.probe_service(path)) {
            return Response::from_parts(parts, Body::from(bytes));
        }
        let json = document.to_string();
        parts.headers.remove(CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(json))
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"))
}

/// What a probe answers, decided by the gateway's own routes, credentials and permissions.
pub struct GatewayProbe {
    pub routes: RouteTable,
    pub authenticator: Authenticator,
}

#[async_trait]
impl Probe for GatewayProbe {
    async fn status(&self, path: &str, token: Option<&str>, origin: Option<&str>) -> Option<u16> {
        let route = self.routes.find(path, &Method::GET).ok()?;
        if !route.iiif {
            return None;
        }
        let caller = match token {
            Some(token) if token.starts_with(TOKEN_PREFIX) => {
                match self
                    .authenticator
                    .verify_iiif(Presented::Token, token, origin)
                    .await
                {
                    Ok(caller) => caller,
                    Err(refusal) => return Some(refusal.code.status()),
                }
            }
            Some(_) => return Some(StatusCode::UNAUTHORIZED.as_u16()),
            None => match self.authenticator.anonymous_on(route).await {
                Some(Ok(anonymous)) => anonymous,
                Some(Err(unavailable)) => return Some(unavailable.code.status()),
                None => return Some(StatusCode::UNAUTHORIZED.as_u16()),
            },
        };
        let allowed = route
            .required_permission(&Method::GET)
            .is_none_or(|required| caller.grants().allow(required));
        Some(if allowed { 200 } else { 403 })
    }
}
