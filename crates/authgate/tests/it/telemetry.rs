//! Request spans exported over OTLP: the collector receives authgate's span in the caller's
//! trace, with the same ids the upstream was sent.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream, eventually, route_to};
use serde_json::Value;
use std::time::Duration;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn the_request_span_is_exported_in_the_callers_trace() {
    let upstream = Upstream::start();
    // The upstream process doubles as the collector.
    let config = format!(
        "[telemetry]\notlp_endpoint = \"{}\"\notlp_protocol = \"http/json\"\nservice_name = \"edge\"\n{}",
        upstream.url(),
        route_to(&upstream.url(), "")
    );
    let mut gateway = Gateway::start(&config);
    let app = gateway.app("api-key");
    let (_, secret) = gateway.key(&app, &[]);

    let seen: Value = reqwest::Client::new()
        .get(gateway.url("/traced"))
        .header("X-API-Key", &secret)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .fetch_json()
        .await;
    let forwarded = seen["headers"]["traceparent"].as_str().unwrap().to_owned();
    let authgate_span = forwarded.split('-').nth(2).unwrap().to_owned();
    assert_eq!(forwarded, format!("00-{TRACE_ID}-{authgate_span}-01"));

    // Stopping flushes the exporter's queue.
    gateway.terminate();
    assert!(gateway.wait(Duration::from_secs(15)).unwrap().success());
    let traces_url = format!("{}/v1/traces", upstream.url());
    let arrived = eventually(Duration::from_secs(5), || async {
        !collected_spans(&traces_url).await.is_empty()
    })
    .await;
    assert!(arrived.is_some(), "no span reached the collector");
    let spans = collected_spans(&traces_url).await;
    let (service, span) = spans
        .iter()
        .find(|(_, span)| span["traceId"] == TRACE_ID)
        .unwrap_or_else(|| panic!("no span of the caller's trace in {spans:#?}"));
    assert_eq!(service.as_ref().unwrap(), "edge");
    assert_eq!(span["name"], "request");
    assert_eq!(span["spanId"], authgate_span.as_str());
    assert_eq!(span["parentSpanId"], CALLER_SPAN);
    let attribute = |key: &str| {
        span["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"].clone())
    };
    assert_eq!(attribute("url.path").unwrap()["stringValue"], "/traced");
    let status = attribute("http.response.status_code").unwrap();
    assert!(
        status["intValue"] == "200" || status["intValue"] == 200,
        "{status}"
    );
}

/// Every span the collector received, with its resource's `service.name`.
async fn collected_spans(traces_url: &str) -> Vec<(Option<Value>, Value)> {
    let payloads: Vec<Value> = reqwest::get(traces_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
    let mut spans = Vec::new();
    for resource in payloads.iter().flat_map(|p| list(&p["resourceSpans"])) {
        let service = list(&resource["resource"]["attributes"])
            .into_iter()
            .find(|a| a["key"] == "service.name")
            .map(|a| a["value"]["stringValue"].clone());
        for scope in list(&resource["scopeSpans"]) {
            for span in list(&scope["spans"]) {
                spans.push((service.clone(), span));
            }
        }
    }
    spans
}
