use super::*;
use proptest::strategy::Strategy as _;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The context for a request with these headers, and the headers it forwards.
fn forwarded(traceparent: Option<&str>, tracestate: Option<&str>) -> (TraceContext, [String; 2]) {
    let mut headers = http::HeaderMap::new();
    if let Some(v) = traceparent {
        headers.insert("traceparent", HeaderValue::from_str(v).unwrap());
    }
    if let Some(v) = tracestate {
        headers.insert("tracestate", HeaderValue::from_str(v).unwrap());
    }
    let context = TraceContext::from_headers(&headers);
    context.write(&mut headers);
    let sent = |name: &str| headers[name].to_str().unwrap().to_owned();
    (context, [sent("traceparent"), sent("tracestate")])
}

#[test]
fn a_valid_traceparent_is_continued_with_authgate_s_span() {
    let (c, [traceparent, tracestate]) = forwarded(
        Some(VALID),
        Some("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"),
    );
    assert_eq!(c.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(c.flags, TraceFlags::SAMPLED);
    let span_id = c.span_id.to_string();
    assert_ne!(span_id, "00f067aa0ba902b7");
    assert_eq!(span_id.len(), 16);
    assert_eq!(
        traceparent,
        format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{span_id}-01")
    );
    assert_eq!(
        tracestate,
        format!("authgate={span_id},congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    );
}

#[test]
fn the_caller_s_flags_are_kept() {
    let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let (c, [traceparent, _]) = forwarded(Some(unsampled), None);
    assert!(traceparent.ends_with("-00"), "{traceparent}");
    assert_eq!(c.flags, TraceFlags::default());
}

#[test]
fn malformed_traceparents_start_a_new_trace_and_drop_tracestate() {
    for bad in [
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "garbage",
    ] {
        let (c, [traceparent, tracestate]) = forwarded(Some(bad), Some("congo=t61rcWkgMzE"));
        let trace_id = c.trace_id.to_string();
        assert_ne!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
        assert_ne!(c.trace_id, TraceId::INVALID, "{bad}");
        assert_eq!(traceparent, format!("00-{trace_id}-{}-01", c.span_id));
        assert_eq!(tracestate, format!("authgate={}", c.span_id), "{bad}");
    }
    let (future, _) = forwarded(
        Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more"),
        None,
    );
    assert_eq!(
        future.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "later versions may carry more fields"
    );
}

#[test]
fn tracestate_keeps_32_well_formed_members_with_authgate_first() {
    let many: Vec<String> = (0..40).map(|i| format!("v{i}=x{i}")).collect();
    let state = format!("authgate=old,bad key=1,{}", many.join(","));
    let (c, [_, tracestate]) = forwarded(Some(VALID), Some(&state));
    let members: Vec<&str> = tracestate.split(',').collect();
    assert_eq!(members.len(), 32);
    assert_eq!(members[0], format!("authgate={}", c.span_id));
    assert_eq!(members[1], "v0=x0");
    assert!(!members.contains(&"authgate=old"));
    assert!(!members.iter().any(|m| m.starts_with("bad")));
}

proptest::proptest! {
    /// Fuzz target: `traceparent` and `tracestate` as a client can send them. Nothing panics;
    /// what goes upstream is always a well-formed version-00 `traceparent` and a `tracestate`
    /// with authgate's member first; a valid caller trace is continued, anything else is not.
    #[test]
    fn fuzz_traceparent(
        traceparent in proptest::prop_oneof![
            proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..80),
            "[0-9a-fA-F]{2}-[0-9a-f]{30,34}-[0-9a-f]{14,18}-[0-9a-f]{1,3}(-.{0,8})?"
                .prop_map(String::into_bytes),
        ],
        tracestate in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..120),
    ) {
        let mut headers = http::HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes(&traceparent) {
            headers.insert("traceparent", value);
        }
        if let Ok(value) = HeaderValue::from_bytes(&tracestate) {
            headers.insert("tracestate", value);
        }
        // A header value with bytes beyond visible ASCII is not text: no trace to continue.
        let parsed = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent);
        let context = TraceContext::from_headers(&headers);
        let (sent, state) = context.headers(&headers);
        let sent = sent.to_str().unwrap();
        proptest::prop_assert!(parse_traceparent(sent).is_some(), "{sent}");
        proptest::prop_assert!(sent.starts_with("00-") && sent.len() == 55, "{sent}");
        proptest::prop_assert!(state.to_str().unwrap().starts_with(OWN_MEMBER_KEY));
        proptest::prop_assert_eq!(context.continued, parsed.is_some());
        if let Some(parent) = parsed {
            proptest::prop_assert_eq!(context.trace_id, parent.trace_id);
        }
    }
}
