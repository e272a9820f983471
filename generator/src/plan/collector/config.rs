//! The collector configuration, in the OpenTelemetry collector-contrib format that both the ADOT
//! collector and `xray-collector` read.

use serde_json::{Value, json};

use crate::blueprint::model::{Collector, ExporterType};
use crate::plan::collector::sizing::SizingPlan;
use crate::plan::ports::PortsPlan;

/// Gives `exporter` a byte-sized `sending_queue` and the calls in flight of `sizing`.
pub(super) fn size_queue(config: &mut Value, exporter: &str, sizing: &SizingPlan) {
    config["exporters"][exporter]["sending_queue"] = json!({
        "enabled": true,
        "sizer": "bytes",
        "queue_size": sizing.queue_size_bytes,
        "num_consumers": sizing.num_consumers,
    });
}

/// The collector configuration, in the OpenTelemetry collector-contrib format that both the ADOT
/// collector and `xray-collector` read. Receivers bind `0.0.0.0` explicitly: contrib's defaults
/// moved to `localhost`, which silently breaks ingestion inside a pod.
pub(super) fn collector_config(
    ports: &PortsPlan,
    col: &Collector,
    exporter_region: &str,
    exporter_endpoint: &str,
) -> Value {
    let mut awsxray = json!({
        "endpoint": format!("0.0.0.0:{}", ports.xray_udp),
        "transport": "udp",
    });
    if let Some(port) = ports.xray_proxy_tcp {
        awsxray["proxy_server"] = json!({
            "endpoint": format!("0.0.0.0:{port}"),
            "region": exporter_region,
        });
    }
    let mut receivers = json!({ "awsxray": awsxray });
    let mut pipeline_receivers = vec!["awsxray"];
    if ports.otlp_grpc.is_some() || ports.otlp_http.is_some() {
        let mut protocols = serde_json::Map::new();
        if let Some(port) = ports.otlp_grpc {
            protocols.insert(
                "grpc".into(),
                json!({"endpoint": format!("0.0.0.0:{port}")}),
            );
        }
        if let Some(port) = ports.otlp_http {
            protocols.insert(
                "http".into(),
                json!({"endpoint": format!("0.0.0.0:{port}")}),
            );
        }
        receivers["otlp"] = json!({ "protocols": protocols });
        pipeline_receivers.push("otlp");
    }
    let mut extensions = json!({
        "health_check": {"endpoint": format!("0.0.0.0:{}", ports.health_check)}
    });
    let mut service_extensions = vec!["health_check"];
    let (exporter_name, exporter) = match col.exporter.kind {
        ExporterType::XrayApi => (
            "awsxray",
            json!({
                "region": exporter_region,
                "indexed_attributes": col.exporter.indexed_attributes,
                "index_all_attributes": col.exporter.index_all_attributes,
            }),
        ),
        ExporterType::Otlp => {
            // X-Ray's OTLP endpoint takes OTLP/HTTP only, signed with SigV4 for service `xray`.
            extensions["sigv4auth"] = json!({"region": exporter_region, "service": "xray"});
            service_extensions.push("sigv4auth");
            (
                "otlphttp",
                json!({
                    "traces_endpoint": exporter_endpoint,
                    "auth": {"authenticator": "sigv4auth"},
                    "compression": "gzip",
                }),
            )
        }
    };
    json!({
        "receivers": receivers,
        "processors": {
            "batch": {
                "send_batch_size": col.batch.send_batch_size,
                "send_batch_max_size": col.batch.send_batch_max_size,
                "timeout": format!("{}s", col.batch.timeout_secs),
            }
        },
        "exporters": { exporter_name: exporter },
        "extensions": extensions,
        "service": {
            "extensions": service_extensions,
            "pipelines": {
                "traces": {
                    "receivers": pipeline_receivers,
                    "processors": ["batch"],
                    "exporters": [exporter_name],
                }
            }
        }
    })
}
