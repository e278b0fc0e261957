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

use crate::chain::{Next, stage};
use crate::{Request, Response};
use http::HeaderValue;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use rand::RngCore;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
static TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// The trace this request belongs to, and what to send upstream.
#[derive(Debug, Clone)]
pub struct TraceContext {
    pub trace_id: String,
    /// authgate's span id: the parent id the upstream sees.
    pub span_id: String,
    pub flags: String,
    /// The `tracestate` to forward, `authgate` entry first.
    pub tracestate: HeaderValue,
    /// The request's span is exported to OpenTelemetry.
    pub exported: bool,
}

impl TraceContext {
    /// The context for a request with these headers.
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        Self::within(headers, &tracing::Span::none())
    }

    /// The context of a request whose work runs in `span`: where spans are exported, `span`
    /// continues the caller's trace and its ids are authgate's.
    pub fn within(headers: &http::HeaderMap, span: &tracing::Span) -> Self {
        let parent = headers
            .get(&TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent);
        if let Some(parent) = &parent {
            // Fails harmlessly when no OpenTelemetry layer is installed.
            let _ = span.set_parent(parent.remote_context());
        }
        let exported = span.context().span().span_context().clone();
        let (trace_id, flags, members) = match parent {
            Some(parent) => (parent.trace_id, parent.flags, tracestate_members(headers)),
            None if exported.is_valid() => {
                (exported.trace_id().to_string(), "01".to_owned(), Vec::new())
            }
            None => (random_hex::<16>(), "01".to_owned(), Vec::new()),
        };
        let span_id = if exported.is_valid() {
            exported.span_id().to_string()
        } else {
            random_hex::<8>()
        };
        let own = format!("authgate={span_id}");
        let state = std::iter::once(own.as_str())
            .chain(
                members
                    .iter()
                    .map(String::as_str)
                    .filter(|m| !m.starts_with("authgate=")),
            )
            .take(MAX_TRACESTATE_MEMBERS)
            .collect::<Vec<_>>()
            .join(",");
        Self {
            trace_id,
            span_id,
            flags,
            tracestate: HeaderValue::from_str(&state)
                .unwrap_or_else(|_| HeaderValue::from_static("")),
            exported: exported.is_valid(),
        }
    }

    /// The `traceparent` to send upstream.
    pub fn traceparent(&self) -> HeaderValue {
        let value = format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags);
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// Sets `traceparent` and `tracestate` on the request going upstream.
    pub fn write(&self, headers: &mut http::HeaderMap) {
        headers.insert(TRACEPARENT.clone(), self.traceparent());
        headers.insert(TRACESTATE.clone(), self.tracestate.clone());
    }
}

/// `(trace id, flags)` of a valid `traceparent`.
/// A valid incoming `traceparent`.
struct Parent {
    trace_id: String,
    parent_id: String,
    flags: String,
}

impl Parent {
    /// The caller's span, as OpenTelemetry's remote parent.
    fn remote_context(&self) -> opentelemetry::Context {
        let flags = u8::from_str_radix(&self.flags, 16).unwrap_or(0);
        let remote = SpanContext::new(
            TraceId::from_hex(&self.trace_id).unwrap_or(TraceId::INVALID),
            SpanId::from_hex(&self.parent_id).unwrap_or(SpanId::INVALID),
            TraceFlags::new(flags),
            true,
            TraceState::default(),
        );
        opentelemetry::Context::new().with_remote_span_context(remote)
    }
}

fn parse_traceparent(value: &str) -> Option<Parent> {
    let value = value.trim();
    let mut parts = value.splitn(5, '-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest = parts.next();
    let lower_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let all_zero = |s: &str| s.bytes().all(|b| b == b'0');
    let valid = lower_hex(version, 2)
        && version != "ff"
        && lower_hex(trace_id, 32)
        && !all_zero(trace_id)
        && lower_hex(parent_id, 16)
        && !all_zero(parent_id)
        && lower_hex(flags, 2)
        // Version 00 has exactly four fields; later versions may append more after a dash.
        && (rest.is_none() || version != "00");
    valid.then(|| Parent {
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
        flags: flags.to_owned(),
    })
}

/// The well-formed `tracestate` members (`key=value`), in order; malformed ones are left out.
fn tracestate_members(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all(&TRACESTATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|member| valid_member(member))
        .map(str::to_owned)
        .collect()
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

fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    while bytes.iter().all(|b| *b == 0) {
        rand::rng().fill_bytes(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

async fn run(_: &Trace, mut request: Request, next: Next<'_>) -> Response {
    if !EXPORTING.load(Ordering::Relaxed) {
        let context = TraceContext::from_headers(request.headers());
        let span = tracing::info_span!(
            "request",
            trace_id = %context.trace_id,
            span_id = %context.span_id,
        );
        request.extensions_mut().insert(context);
        return next.run(request).instrument(span).await;
    }
    let span = tracing::info_span!(
        "request",
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        otel.kind = "server",
    );
    let context = TraceContext::within(request.headers(), &span);
    span.record("trace_id", context.trace_id.as_str());
    span.record("span_id", context.span_id.as_str());
    let exported = context.exported;
    if exported {
        // Attributes for the exported span only, kept out of log lines.
        span.set_attribute("http.request.method", request.method().as_str().to_owned());
        span.set_attribute("url.path", request.uri().path().to_owned());
    }
    request.extensions_mut().insert(context);
    let response = next.run(request).instrument(span.clone()).await;
    if exported {
        span.set_attribute(
            "http.response.status_code",
            i64::from(response.status().as_u16()),
        );
    }
    response
}

stage!(Trace, run);

#[cfg(test)]
mod tests;
