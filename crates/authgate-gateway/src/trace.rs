//! The trace stage (W3C Trace Context): continue the caller's trace, or start one.
//!
//! A valid `traceparent` keeps its trace id and flags and gets authgate's own span id as the
//! parent the upstream sees; an absent or malformed one (wrong length, upper-case hex, all-zero
//! ids, version `ff`) starts a new trace, and its `tracestate` is dropped unread, as the spec
//! requires. `tracestate` keeps at most 32 well-formed members with `authgate=<span id>` first.
//! Every log line of the request carries the trace id (the stage wraps the rest of the
//! pipeline in a span). When OpenTelemetry export is on (`[telemetry]`), that span is the one
//! exported: it takes the caller's span as its remote parent, and its ids are the ones written
//! upstream, so the exported trace and the forwarded `traceparent` agree.

use crate::chain::{Next, Stage};
use crate::context::RequestContext;
use crate::{Request, Response};
use bytes::BytesMut;
use futures_util::future::BoxFuture;
use http::HeaderValue;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use rand::Rng as _;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
static TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");
const MAX_TRACESTATE_MEMBERS: usize = 32;
const OWN_MEMBER_KEY: &str = "authgate=";

/// The trace this request belongs to, and what to send upstream. Ids are kept as numbers and
/// written as hex only into the forwarded headers (and into log lines when they are on).
#[derive(Debug, Clone, Copy)]
pub struct TraceContext {
    pub trace_id: TraceId,
    /// authgate's span id: the parent id the upstream sees.
    pub span_id: SpanId,
    pub flags: TraceFlags,
    /// The caller's `traceparent` was valid and is continued, so its `tracestate` is kept.
    continued: bool,
    /// The request's span is exported to OpenTelemetry.
    pub exported: bool,
}

impl TraceContext {
    /// The context for a request with these headers, when no span is exported: no
    /// OpenTelemetry work at all.
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        Self::new(caller_parent(headers).as_ref(), None)
    }

    /// The context of a request whose work runs in `span`: where spans are exported, `span`
    /// continues the caller's trace and its ids are authgate's.
    pub fn within(headers: &http::HeaderMap, span: &tracing::Span) -> Self {
        let parent = caller_parent(headers);
        if let Some(parent) = &parent {
            // Fails harmlessly when no OpenTelemetry layer is installed.
            let _ = span.set_parent(parent.remote_context());
        }
        let exported = span.context().span().span_context().clone();
        Self::new(parent.as_ref(), Some(&exported).filter(|e| e.is_valid()))
    }

    /// The caller's trace continued, or a new one; authgate's span id is the exported span's
    /// when there is one, else a random one.
    fn new(parent: Option<&Parent>, exported: Option<&SpanContext>) -> Self {
        let (trace_id, flags) = match (parent, exported) {
            (Some(parent), _) => (parent.trace_id, parent.flags),
            (None, Some(exported)) => (exported.trace_id(), TraceFlags::SAMPLED),
            (None, None) => (TraceId::from_bytes(random_id::<16>()), TraceFlags::SAMPLED),
        };
        let span_id = match exported {
            Some(exported) => exported.span_id(),
            None => SpanId::from_bytes(random_id::<8>()),
        };
        Self {
            trace_id,
            span_id,
            flags,
            continued: parent.is_some(),
            exported: exported.is_some(),
        }
    }

    /// The `traceparent` and `tracestate` to send upstream: authgate's span as the parent, and
    /// its `tracestate` entry first, then the well-formed members of the caller's (`incoming`)
    /// when its trace is continued. Both are written into one buffer.
    pub fn headers(&self, incoming: &http::HeaderMap) -> (HeaderValue, HeaderValue) {
        let mut buffer = BytesMut::with_capacity(96);
        buffer.extend_from_slice(b"00-");
        push_hex(&mut buffer, &self.trace_id.to_bytes());
        buffer.extend_from_slice(b"-");
        push_hex(&mut buffer, &self.span_id.to_bytes());
        buffer.extend_from_slice(b"-");
        push_hex(&mut buffer, &[self.flags.to_u8()]);
        let traceparent = header_value(buffer.split());
        buffer.extend_from_slice(OWN_MEMBER_KEY.as_bytes());
        push_hex(&mut buffer, &self.span_id.to_bytes());
        if self.continued {
            for member in tracestate_members(incoming)
                .filter(|m| !m.starts_with(OWN_MEMBER_KEY))
                .take(MAX_TRACESTATE_MEMBERS - 1)
            {
                buffer.extend_from_slice(b",");
                buffer.extend_from_slice(member.as_bytes());
            }
        }
        (traceparent, header_value(buffer))
    }

    /// Sets `traceparent` and `tracestate` on the request going upstream.
    pub fn write(&self, headers: &mut http::HeaderMap) {
        let (traceparent, tracestate) = self.headers(headers);
        headers.insert(TRACEPARENT.clone(), traceparent);
        headers.insert(TRACESTATE.clone(), tracestate);
    }
}

/// Only visible ASCII is ever written (hex digits, dashes and validated members).
fn header_value(value: BytesMut) -> HeaderValue {
    HeaderValue::from_maybe_shared(value.freeze()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn push_hex(out: &mut BytesMut, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.extend_from_slice(&[
            DIGITS[usize::from(byte >> 4)],
            DIGITS[usize::from(byte & 0xf)],
        ]);
    }
}

/// A valid incoming `traceparent`.
struct Parent {
    trace_id: TraceId,
    parent_id: SpanId,
    flags: TraceFlags,
}

impl Parent {
    /// The caller's span, as OpenTelemetry's remote parent.
    fn remote_context(&self) -> opentelemetry::Context {
        let remote = SpanContext::new(
            self.trace_id,
            self.parent_id,
            self.flags,
            true,
            TraceState::default(),
        );
        opentelemetry::Context::new().with_remote_span_context(remote)
    }
}

/// The request's valid `traceparent`, if any.
fn caller_parent(headers: &http::HeaderMap) -> Option<Parent> {
    headers
        .get(&TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_traceparent)
}

fn parse_traceparent(value: &str) -> Option<Parent> {
    let value = value.trim();
    let mut parts = value.splitn(5, '-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest = parts.next();
    let [version] = lower_hex::<1>(version)?;
    let trace_id = lower_hex::<16>(trace_id)?;
    let parent_id = lower_hex::<8>(parent_id)?;
    let [flags] = lower_hex::<1>(flags)?;
    let valid = version != 0xff
        && trace_id != [0; 16]
        && parent_id != [0; 8]
        // Version 00 has exactly four fields; later versions may append more after a dash.
        && (rest.is_none() || version != 0);
    valid.then(|| Parent {
        trace_id: TraceId::from_bytes(trace_id),
        parent_id: SpanId::from_bytes(parent_id),
        flags: TraceFlags::new(flags),
    })
}

/// `text` read as exactly `N` bytes of lowercase hex (the spec allows no upper case).
fn lower_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if text.len() != 2 * N {
        return None;
    }
    let mut bytes = [0u8; N];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(bytes)
}

/// The well-formed `tracestate` members (`key=value`), in order; malformed ones are left out.
fn tracestate_members(headers: &http::HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(&TRACESTATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|member| valid_member(member))
}

fn valid_member(member: &str) -> bool {
    let Some((key, value)) = member.split_once('=') else {
        return false;
    };
    let key_ok = !key.is_empty()
        && key.len() <= 256
        && key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && key.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
        });
    let value_ok = !value.is_empty()
        && value.len() <= 256
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=');
    key_ok && value_ok
}

/// A random id that is not all zeros (the spec's invalid value).
fn random_id<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    while bytes.iter().all(|b| *b == 0) {
        rand::rng().fill(&mut bytes);
    }
    bytes
}

/// Whether request spans are exported (set once at start by [`export_spans`]).
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Declares that an OpenTelemetry layer exports request spans, so the stage gives each span the
/// caller's trace as parent and takes its ids from it. Without export, the stage skips that work.
pub fn export_spans() {
    EXPORTING.store(true, Ordering::Relaxed);
}

/// The trace stage: attaches the trace context and runs the rest of the pipeline inside a span
/// carrying the trace id.
pub struct Trace;

impl Stage for Trace {
    fn handle<'a>(&'a self, mut request: Request, next: Next<'a>) -> BoxFuture<'a, Response> {
        if EXPORTING.load(Ordering::Relaxed) {
            return Box::pin(exported(request, next));
        }
        let context = TraceContext::from_headers(request.headers());
        let span = tracing::info_span!(
            "request",
            trace_id = %context.trace_id,
            span_id = %context.span_id,
        );
        RequestContext::of_mut(&mut request).trace = Some(context);
        if span.is_disabled() {
            // Logging below `info`: no span to enter, so no future of this stage's own.
            next.run(request)
        } else {
            Box::pin(next.run(request).instrument(span))
        }
    }
}

/// The rest of the pipeline in a span exported to OpenTelemetry, as a child of the caller's.
async fn exported(mut request: Request, next: Next<'_>) -> Response {
    let span = tracing::info_span!(
        "request",
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        otel.kind = "server",
    );
    let context = TraceContext::within(request.headers(), &span);
    span.record("trace_id", tracing::field::display(context.trace_id));
    span.record("span_id", tracing::field::display(context.span_id));
    let exported = context.exported;
    if exported {
        // Attributes for the exported span only, kept out of log lines.
        span.set_attribute("http.request.method", request.method().as_str().to_owned());
        span.set_attribute("url.path", request.uri().path().to_owned());
    }
    RequestContext::of_mut(&mut request).trace = Some(context);
    let response = next.run(request).instrument(span.clone()).await;
    if exported {
        span.set_attribute(
            "http.response.status_code",
            i64::from(response.status().as_u16()),
        );
    }
    response
}

#[cfg(test)]
mod tests;
