//! How the collector's own metrics are scraped (`docs/targets.md`, "Monitoring the collector", lists
//! the metric names and the health check).
//!
//! Two ways, both rendered, because which one a cluster uses depends on what runs in it:
//! * `observability.metrics.enableMetrics: true`: the operator creates a ServiceMonitor for the
//!   `<name>-collector-monitoring` Service (port 8888) when the Prometheus operator's CRDs exist,
//!   and nothing otherwise;
//! * the `prometheus.io/scrape`, `prometheus.io/port` and `prometheus.io/path` pod annotations,
//!   which annotation-based scrapers read (the CloudWatch agent's Prometheus support, the ADOT
//!   collector's and Prometheus' `kubernetes_sd_configs` examples).

use serde_json::{Value, json};

use crate::blueprint::rules::METRICS_PORT;

/// The path the collector serves its metrics on.
pub const METRICS_PATH: &str = "/metrics";

/// The `observability` entry of the `spec`.
pub fn observability() -> Value {
    json!({"metrics": {"enableMetrics": true}})
}

/// The pod annotations that annotation-based Prometheus scrapers read.
pub fn pod_annotations() -> Value {
    json!({
        "prometheus.io/path": METRICS_PATH,
        "prometheus.io/port": METRICS_PORT.to_string(),
        "prometheus.io/scrape": "true",
    })
}
