//! The `service` section: pipelines, extensions and the collector's own telemetry.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::id::{ComponentId, PipelineId};

/// `service`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Extensions to start, by id.
    pub extensions: Vec<ComponentId>,
    /// Pipelines by id (`traces`, `traces/x`, `metrics`, ...).
    pub pipelines: BTreeMap<PipelineId, PipelineConfig>,
    /// The collector's own logs and metrics.
    pub telemetry: TelemetryConfig,
}

/// One pipeline.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Receivers feeding the pipeline.
    pub receivers: Vec<ComponentId>,
    /// Processors, in order.
    pub processors: Vec<ComponentId>,
    /// Exporters the pipeline fans out to.
    pub exporters: Vec<ComponentId>,
}

/// `service.telemetry`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Log settings.
    pub logs: LogsConfig,
    /// Metrics settings (both the `address` form and the `readers` form the operator injects).
    pub metrics: MetricsConfig,
    /// Resource attributes of the collector's own telemetry (accepted, not used).
    pub resource: BTreeMap<String, Value>,
}

/// `service.telemetry.logs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// `debug`, `info`, `warn` or `error`; default `info`.
    pub level: String,
    /// `console` or `json`; default `console`.
    pub encoding: String,
    /// Accepted for compatibility; logs go to stderr.
    pub output_paths: Vec<String>,
    /// Accepted for compatibility; logs go to stderr.
    pub error_output_paths: Vec<String>,
    /// Accepted for compatibility.
    pub development: bool,
    /// Accepted for compatibility.
    pub disable_caller: bool,
    /// Accepted for compatibility.
    pub disable_stacktrace: bool,
    /// Accepted for compatibility (log sampling is not done).
    pub sampling: Option<Value>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            level: "info".to_owned(),
            encoding: "console".to_owned(),
            output_paths: Vec::new(),
            error_output_paths: Vec::new(),
            development: false,
            disable_caller: false,
            disable_stacktrace: false,
            sampling: None,
        }
    }
}

/// `service.telemetry.metrics`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `none` turns the metrics endpoint off; `basic`, `normal` and `detailed` serve it.
    pub level: Option<String>,
    /// The older `host:port` form (operator up to v0.121).
    pub address: Option<String>,
    /// The newer form (operator v0.122 and later): `[{pull: {exporter: {prometheus: {host, port}}}}]`.
    pub readers: Vec<MetricReader>,
}

/// One `readers` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricReader {
    /// A pull reader (Prometheus); the only kind served.
    pub pull: Option<PullReader>,
    /// A periodic (push) reader: accepted, not served.
    pub periodic: Option<Value>,
}

/// `readers[].pull`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullReader {
    /// The pull exporter.
    pub exporter: PullExporter,
}

/// `readers[].pull.exporter`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullExporter {
    /// The Prometheus endpoint.
    pub prometheus: PrometheusEndpoint,
}

/// `readers[].pull.exporter.prometheus`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusEndpoint {
    /// Host to bind; default `0.0.0.0`.
    pub host: String,
    /// Port to bind; default 8888.
    pub port: u16,
    /// Accepted for compatibility.
    pub without_scope_info: Option<bool>,
    /// Accepted for compatibility.
    pub without_type_suffix: Option<bool>,
    /// Accepted for compatibility.
    pub without_units: Option<bool>,
    /// Accepted for compatibility.
    pub with_resource_constant_labels: Option<Value>,
}

impl Default for PrometheusEndpoint {
    fn default() -> Self {
        PrometheusEndpoint {
            host: "0.0.0.0".to_owned(),
            port: 8888,
            without_scope_info: None,
            without_type_suffix: None,
            without_units: None,
            with_resource_constant_labels: None,
        }
    }
}

impl MetricsConfig {
    /// Where to serve Prometheus metrics, or `None` when turned off.
    pub fn listen_address(&self) -> Option<String> {
        if self.level.as_deref() == Some("none") {
            return None;
        }
        if let Some(p) = self.readers.iter().find_map(|r| r.pull.as_ref()) {
            let prom = &p.exporter.prometheus;
            return Some(format!("{}:{}", prom.host, prom.port));
        }
        Some(
            self.address
                .clone()
                .unwrap_or_else(|| "0.0.0.0:8888".to_owned()),
        )
    }
}
