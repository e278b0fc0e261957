//! What `serve` reports about itself: log lines (text or JSON, on stderr) and, when
//! `[telemetry] otlp_endpoint` is set, the request spans exported over OTLP/HTTP.
//!
//! Only the pipeline's `request` span is exported (one per request, carrying the caller's trace
//! and authgate's span id, see `authgate_gateway::trace`); the log filter does not apply to it,
//! so `log.level = "warn"` still exports every request.

use anyhow::Context as _;
use authgate_config::{Config, LogFormat, OtlpProtocol};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::io::IsTerminal as _;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The span exporter, kept to flush what is queued at shutdown.
pub(crate) struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Installs logging and, when configured, span export.
    pub(crate) fn init(config: &Config) -> anyhow::Result<Self> {
        let filter = EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(&config.log.level))
            .unwrap_or_else(|_| EnvFilter::new("info"));
        let provider = config
            .telemetry
            .otlp_endpoint
            .as_deref()
            .map(|endpoint| exporter(config, endpoint))
            .transpose()?;
        // A second init (tests in one process) keeps the first subscriber.
        match &provider {
            // Without export one global filter serves: cheaper than per-layer filters.
            None => {
                let _ = tracing_subscriber::registry()
                    .with(filter)
                    .with(log_lines(config.log.format))
                    .try_init();
            }
            // The log filter must not hide request spans from the exporter, so each layer
            // filters for itself.
            Some(provider) => {
                let only_requests =
                    Targets::new().with_target("authgate_gateway::trace", tracing::Level::INFO);
                let export = tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("authgate"))
                    .with_filter(only_requests);
                let _ = tracing_subscriber::registry()
                    .with(log_lines(config.log.format).with_filter(filter))
                    .with(export)
                    .try_init();
                authgate_gateway::trace::export_spans();
            }
        }
        if let Some(endpoint) = &config.telemetry.otlp_endpoint {
            tracing::info!(endpoint, "exporting request spans over OTLP");
        }
        Ok(Self { provider })
    }

    /// Sends the spans still queued; waits at most the exporter's own timeout.
    pub(crate) async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "cannot flush the span exporter");
        }
    }
}

/// Log lines on stderr, as text or JSON.
fn log_lines<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    }
}

fn exporter(config: &Config, endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    let protocol = match config.telemetry.otlp_protocol {
        OtlpProtocol::Protobuf => Protocol::HttpBinary,
        OtlpProtocol::Json => Protocol::HttpJson,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .context("cannot set up the OTLP exporter (telemetry.otlp_endpoint)")?;
    let resource = Resource::builder()
        .with_service_name(config.telemetry.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
