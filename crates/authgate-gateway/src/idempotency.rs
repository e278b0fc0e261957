//! The idempotency stage: a retried request with the same `Idempotency-Key` gets the first
//! response again instead of running twice (IETF httpapi draft, Stripe's semantics).
//!
//! Keys are scoped to the caller's application. The request's fingerprint is the SHA-256 of its
//! method, path and query, and body. The first request runs; its response (status, headers,
//! body) is stored for the TTL when it is not 5xx or 429, fits `max_stored_body` and is not an
//! event stream, and replayed byte for byte with `Idempotent-Replayed: true` without reaching
//! the upstream. A repeat while the first still runs is 409 `idempotency_in_flight`; the same key
//! with another request is 422 `idempotency_mismatch`. If the shared state cannot answer, the
//! request is refused with 503 `state_unavailable` rather than run unguarded: it may have run
//! already. A warning is logged at most every few seconds.
//!
//! The first request runs in a task of its own, so a client that gives up does not leave the
//! key in flight: the upstream's answer is still stored (a retry replays it), or the key is
//! released when there is nothing to store. The task ends: the upstream's headers are bounded by
//! the route's timeout, each piece of a body kept for replay by `body_timeout`.

use crate::chain::{DetachedNext, Next, Stage};
use crate::context::RequestContext;
use crate::respond::Rejection;
use crate::upload::{Upload, UploadLimits};
use crate::{Body, Request, Response};
use authgate_config::IdempotencyConfig;
use authgate_core::ErrorCode;
use authgate_state::{Claim, IdempotencyStore, StoredResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tracing::Instrument as _;

static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const MAX_KEY_LEN: usize = 255;

/// Where records live and what is recorded.
pub struct IdempotencyPolicy {
    store: Arc<dyn IdempotencyStore>,
    ttl: Duration,
    methods: Vec<Method>,
    max_stored_body: usize,
    uploads: UploadLimits,
}

impl IdempotencyPolicy {
    pub fn new(
        store: Arc<dyn IdempotencyStore>,
        config: &IdempotencyConfig,
        uploads: UploadLimits,
    ) -> Self {
        Self {
            store,
            ttl: config.ttl.0,
            methods: config
                .methods
                .iter()
                .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                .collect(),
            max_stored_body: usize::try_from(config.max_stored_body).unwrap_or(usize::MAX),
            uploads,
        }
    }

    /// Where the records live.
    pub(crate) fn store(&self) -> &Arc<dyn IdempotencyStore> {
        &self.store
    }
}

/// The idempotency stage. A request without an `Idempotency-Key` (most of them) goes on in the
/// caller's future: only keyed requests get a future of this stage's own.
impl Stage for Arc<IdempotencyPolicy> {
    fn handle<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Response> {
        let applies = self.methods.contains(request.method())
            && RequestContext::of(&request)
                .route
                .as_ref()
                .is_some_and(|route| route.idempotency);
        match request.headers().get(&IDEMPOTENCY_KEY) {
            Some(key) if applies => {
                let key = key.clone();
                Box::pin(guarded(self.clone(), key, request, next))
            }
            _ => next.run(request),
        }
    }
}

/// A request with an `Idempotency-Key`: claim it, then run, replay or refuse.
async fn guarded(
    policy: Arc<IdempotencyPolicy>,
    key: HeaderValue,
    request: Request,
    next: Next<'_>,
) -> Response {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.to_str().is_err() {
        return Rejection::new(ErrorCode::MalformedRequest).into_response();
    }
    let scope = RequestContext::of(&request)
        .caller
        .as_ref()
        .map_or("anonymous", |caller| caller.application());
    let record = format!("{scope}:{}", String::from_utf8_lossy(key.as_bytes()));

    let (parts, body) = request.into_parts();
    let (upload, progress) = Upload::new(body, policy.uploads);
    let body = match upload.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let code = progress
                .client_fault()
                .unwrap_or(ErrorCode::MalformedRequest);
            return Rejection::new(code).into_response();
        }
    };
    let fingerprint = fingerprint(
        &parts.method,
        parts.uri.path_and_query().map_or("", |pq| pq.as_str()),
        &body,
    );
    let request = Request::from_parts(parts, Body::from(body));

    match policy.store.claim(&record, &fingerprint, policy.ttl).await {
        Ok(Claim::Run) => {
            let (answer, answered) = oneshot::channel();
            let rest = next.detach();
            let run = async move {
                let response = run_and_record(&policy, &record, request, rest).await;
                // The client may be gone: the record is what matters then.
                let _ = answer.send(response);
            };
            tokio::spawn(run.instrument(tracing::Span::current()));
            answered
                .await
                .unwrap_or_else(|_| Rejection::new(ErrorCode::InternalError).into_response())
        }
        Ok(Claim::Replay(stored)) => replay(stored),
        Ok(Claim::InFlight) => Rejection::new(ErrorCode::IdempotencyInFlight).into_response(),
        Ok(Claim::Mismatch) => Rejection::new(ErrorCode::IdempotencyMismatch).into_response(),
        Err(error) => {
            crate::state_outage::note("idempotency", &error, "refused (503)");
            Rejection::new(ErrorCode::StateUnavailable).into_response()
        }
    }
}

fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str());
    hasher.update([0]);
    hasher.update(path_and_query);
    hasher.update([0]);
    hasher.update(body);
    hasher.finalize().into()
}

/// Runs the first request and keeps its response if it may be replayed.
async fn run_and_record(
    policy: &IdempotencyPolicy,
    record: &str,
    request: Request,
    rest: DetachedNext,
) -> Response {
    let response = rest.run(request).await;
    let status = response.status();
    let streaming = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || streaming {
        release(policy, record).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let mut stream = body.into_data_stream();
    let mut buffered = BytesMut::new();
    loop {
        let chunk = match tokio::time::timeout(policy.uploads.body_timeout, stream.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            // A body that stalls is not kept: what came so far and the rest go unstored.
            Err(_) => {
                release(policy, record).await;
                let head = futures_util::stream::iter([Ok(buffered.freeze())]);
                return Response::from_parts(parts, Body::from_stream(head.chain(stream)));
            }
        };
        match chunk {
            Ok(chunk) if buffered.len() + chunk.len() <= policy.max_stored_body => {
                buffered.extend_from_slice(&chunk)
            }
            // Too large to keep: send what was read and the rest as it comes, unstored.
            Ok(chunk) => {
                release(policy, record).await;
                let head = futures_util::stream::iter([Ok(buffered.freeze()), Ok(chunk)]);
                return Response::from_parts(parts, Body::from_stream(head.chain(stream)));
            }
            Err(error) => {
                release(policy, record).await;
                let head = futures_util::stream::iter([Ok(buffered.freeze()), Err(error)]);
                return Response::from_parts(parts, Body::from_stream(head));
            }
        }
    }
    let body = buffered.freeze();
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    Bytes::copy_from_slice(value.as_bytes()),
                )
            })
            .collect(),
        body: body.clone(),
    };
    if let Err(error) = policy.store.complete(record, stored).await {
        crate::state_outage::note("idempotency", &error, "response not stored for replay");
    }
    Response::from_parts(parts, Body::from(body))
}

async fn release(policy: &IdempotencyPolicy, record: &str) {
    if let Err(error) = policy.store.release(record).await {
        crate::state_outage::note("idempotency", &error, "record not released");
    }
}

/// The stored response, as it was, marked as a replay.
fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(
        IDEMPOTENT_REPLAYED.clone(),
        HeaderValue::from_static("true"),
    );
    response
}
