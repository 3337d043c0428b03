//! Trace export over OTLP/HTTP, off by default. With `[telemetry] otlp_endpoint` set, the
//! `tracing` spans of the server (one per HTTP request, one per job attempt with its
//! `job_id`, and their events) go to an OpenTelemetry collector as well as to the log.
//!
//! Choices:
//! - OTLP over HTTP with JSON bodies, sent by the exporter's blocking `reqwest` client (the
//!   `reqwest` the server already uses, with its rustls): no gRPC transport, no other TLS.
//! - Spans leave in batches from the SDK's own thread, so a slow or absent collector never
//!   delays a request or a job; [`TraceExport::shutdown`] sends what is left when the server
//!   stops.
//! - Only this crate's spans at `info` and above are exported, whatever the log filter
//!   says: the log level is for people reading stderr, the traces for the collector.
//! - With the setting empty, nothing here runs: no exporter, no thread, no layer.

use crate::config::TelemetrySection;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::time::Duration;

/// How long one export may take before it is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The running export; [`TraceExport::shutdown`] flushes it.
pub struct TraceExport {
    provider: SdkTracerProvider,
}

impl std::fmt::Debug for TraceExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TraceExport")
    }
}

/// Where a collector whose OTLP/HTTP base URL is `endpoint` takes traces:
/// `<endpoint>/v1/traces` (an endpoint already ending so is kept).
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

impl TraceExport {
    /// Starts exporting as `settings` say: `None` (and nothing built) when
    /// `otlp_endpoint` is empty, else the export and the tracer to give the `tracing`
    /// layer. An error says which setting to fix.
    pub fn start(settings: &TelemetrySection) -> Result<Option<(TraceExport, SdkTracer)>, String> {
        if settings.otlp_endpoint.is_empty() {
            return Ok(None);
        }
        let url = traces_url(&settings.otlp_endpoint);
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|err| {
                format!(
                    "cannot export traces to {} (telemetry.otlp_endpoint): {err}",
                    crate::config::redact_url_password(&url)
                )
            })?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(settings.service_name.clone())
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("ades");
        Ok(Some((TraceExport { provider }, tracer)))
    }

    /// Sends the spans not yet exported and stops the export. Blocks (up to the export
    /// timeout) on the SDK's thread, so it runs off the async workers.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("ades: the last traces were not exported: {err}"),
            Err(err) => eprintln!("ades: the last traces were not exported: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_go_under_v1_traces_of_the_endpoint() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example.org/prefix/v1/traces"),
            "https://otel.example.org/prefix/v1/traces"
        );
    }

    #[test]
    fn no_endpoint_builds_nothing() {
        let settings = TelemetrySection::default();
        assert!(TraceExport::start(&settings).unwrap().is_none());
    }
}
