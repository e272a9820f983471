//! A full collector config, as the blueprint renders it, made into a benchmark template.
//!
//! The input is either a collector config or an `OpenTelemetryCollector` manifest (the
//! `kubernetes/opentelemetrycollector.yaml` the blueprint renders; its `spec.config` is used).
//! Everything the config says about components, batching, queues and retries is kept; only what
//! must point at this machine is rewritten, to the placeholders `start_collector` fills per step:
//!
//! * `awsxray` receivers listen on `127.0.0.1:UDP_PORT` (a `proxy_server` on `127.0.0.1:PROXY_PORT`);
//! * `otlp` receivers listen on `127.0.0.1:OTLP_GRPC_PORT` (gRPC) and `127.0.0.1:OTLP_HTTP_PORT` (HTTP);
//! * `awsxray` exporters send to `SINK_ENDPOINT`; `otlphttp` exporters to `SINK_ENDPOINT/v1/traces`;
//! * `health_check` answers on `127.0.0.1:HEALTH_PORT` (added when the config has none);
//! * the collector's own metrics are served on `127.0.0.1:METRICS_PORT`.
//!
//! In a cluster (`--stamp`, module `cluster`), and only then, each `k8sattributes` processor's
//! `auth_type` becomes `kubeConfig` (the rendered in-cluster service-account auth reads a fixed
//! path and needs an HTTPS API), and the manifest's `spec.env` is what the pod would get
//! (`K8S_CLUSTER_NAME` as rendered; `valueFrom` field references as the kubelet resolves them for
//! the benchmark's pod and node).
//!
//! The result is written as JSON, which the collector reads as YAML. The inputs to measure are
//! the receivers of the config's traces pipelines: UDP for `awsxray`, OTLP gRPC for `otlp`; the
//! exporter is the first `awsxray` or `otlphttp` of those pipelines.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::Input;

/// The component type of a config key (`otlp/app` is of type `otlp`).
fn kind(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}

/// A rendered config made into a benchmark template.
#[derive(Debug)]
pub struct Rendered {
    /// The template, with the placeholders `start_collector` fills.
    pub template: String,
    /// What its traces pipelines receive.
    pub inputs: Vec<Input>,
    /// What they export with: `awsxray` or `otlphttp`.
    pub exporter: &'static str,
    /// The manifest's `spec.env`, resolved (empty for a plain config, or outside a cluster).
    pub env: Vec<(String, String)>,
}

/// The value the kubelet gives a `valueFrom.fieldRef` for the benchmark's collector pod.
fn field_ref(path: &str) -> Option<String> {
    Some(
        match path {
            "spec.nodeName" => crate::cluster::POD.node,
            "metadata.name" => "xray-bench-collector-0",
            "metadata.namespace" => "aws-otel-eks",
            "status.podIP" | "status.hostIP" => "127.0.0.1",
            _ => return None,
        }
        .to_owned(),
    )
}

/// Rewrites `text` into a template; `in_cluster` for `--stamp` (see the module's comment).
pub fn rewrite(text: &str, in_cluster: bool) -> anyhow::Result<Rendered> {
    let loaded = spanned_yaml::load(text, &spanned_yaml::Options::default())
        .map_err(|errors| {
            anyhow::format_err!(
                "{}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?
        .context("the file is empty")?;
    let mut config = loaded.value;
    let mut env = Vec::new();
    if config.get("kind").and_then(Value::as_str) == Some("OpenTelemetryCollector") {
        if in_cluster {
            for (i, e) in config
                .pointer("/spec/env")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let name = e
                    .get("name")
                    .and_then(Value::as_str)
                    .with_context(|| format!("spec.env[{i}] has no name"))?;
                let value = match e.get("value").and_then(Value::as_str) {
                    Some(v) => v.to_owned(),
                    None => {
                        let path = e
                            .pointer("/valueFrom/fieldRef/fieldPath")
                            .and_then(Value::as_str)
                            .with_context(|| {
                                format!(
                                    "spec.env[{i}] ({name}): neither value nor valueFrom.fieldRef"
                                )
                            })?;
                        field_ref(path).with_context(|| {
                            format!("spec.env[{i}] ({name}): field {path} is not one the benchmark knows")
                        })?
                    }
                };
                env.push((name.to_owned(), value));
            }
        }
        config = config
            .pointer("/spec/config")
            .cloned()
            .context("an OpenTelemetryCollector without spec.config")?;
    }
    let Some(root) = config.as_object_mut() else {
        bail!("not a collector config: the top level is not a mapping");
    };
    if let Some(receivers) = root.get_mut("receivers").and_then(Value::as_object_mut) {
        for (key, receiver) in receivers.iter_mut() {
            if receiver.is_null() {
                *receiver = json!({});
            }
            match kind(key) {
                "awsxray" => {
                    receiver["endpoint"] = json!("127.0.0.1:UDP_PORT");
                    if let Some(proxy) = receiver.get_mut("proxy_server").filter(|p| p.is_object())
                    {
                        proxy["endpoint"] = json!("127.0.0.1:PROXY_PORT");
                    }
                }
                "otlp" => {
                    if let Some(protocols) =
                        receiver.get_mut("protocols").and_then(Value::as_object_mut)
                    {
                        for (name, port) in [("grpc", "OTLP_GRPC_PORT"), ("http", "OTLP_HTTP_PORT")]
                        {
                            if let Some(p) = protocols.get_mut(name) {
                                if p.is_null() {
                                    *p = json!({});
                                }
                                p["endpoint"] = json!(format!("127.0.0.1:{port}"));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(exporters) = root.get_mut("exporters").and_then(Value::as_object_mut) {
        for (key, exporter) in exporters.iter_mut() {
            match kind(key) {
                "awsxray" => {
                    exporter["endpoint"] = json!("SINK_ENDPOINT");
                }
                "otlphttp" => {
                    if let Some(e) = exporter.as_object_mut() {
                        e.remove("endpoint");
                        e.insert("traces_endpoint".into(), json!("SINK_ENDPOINT/v1/traces"));
                    }
                }
                _ => {}
            }
        }
    }
    let extensions = root
        .entry("extensions")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .context("`extensions` is not a mapping")?;
    let health = extensions
        .keys()
        .find(|k| kind(k) == "health_check")
        .cloned();
    let health = match health {
        Some(key) => key,
        None => {
            extensions.insert("health_check".into(), json!({}));
            "health_check".to_owned()
        }
    };
    extensions[&health]["endpoint"] = json!("127.0.0.1:HEALTH_PORT");
    let service = root
        .get_mut("service")
        .and_then(Value::as_object_mut)
        .context("a config without `service`")?;
    let enabled = service
        .entry("extensions")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .context("`service.extensions` is not a list")?;
    if !enabled.iter().any(|e| e.as_str() == Some(health.as_str())) {
        enabled.push(json!(health));
    }
    service.insert(
        "telemetry".into(),
        json!({"metrics": {"readers": [{"pull": {"exporter": {"prometheus": {
            "host": "127.0.0.1", "port": "METRICS_PORT"}}}}]}}),
    );
    let mut inputs = Vec::new();
    let mut exporter = None;
    if let Some(pipelines) = service.get("pipelines").and_then(Value::as_object) {
        for (name, pipeline) in pipelines {
            if kind(name) != "traces" {
                continue;
            }
            for r in pipeline
                .get("receivers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let input = match kind(r) {
                    "awsxray" => Input::Udp,
                    "otlp" => Input::Otlp,
                    _ => continue,
                };
                if !inputs.contains(&input) {
                    inputs.push(input);
                }
            }
            for e in pipeline
                .get("exporters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                exporter = exporter.or(match kind(e) {
                    "awsxray" => Some("awsxray"),
                    "otlphttp" => Some("otlphttp"),
                    _ => None,
                });
            }
        }
    }
    if inputs.is_empty() {
        bail!("no traces pipeline receives from an `awsxray` or `otlp` receiver");
    }
    let exporter =
        exporter.context("no traces pipeline exports with an `awsxray` or `otlphttp` exporter")?;
    if in_cluster {
        let mut found = false;
        if let Some(processors) = root.get_mut("processors").and_then(Value::as_object_mut) {
            for (key, processor) in processors.iter_mut() {
                if kind(key) == "k8sattributes" {
                    if processor.is_null() {
                        *processor = json!({});
                    }
                    processor["auth_type"] = json!("kubeConfig");
                    found = true;
                }
            }
        }
        if !found {
            bail!(
                "--stamp: the config has no `k8sattributes` processor, so nothing would find the pod"
            );
        }
    }
    // The port placeholders are numbers once filled in: unquote them.
    let template =
        serde_json::to_string_pretty(&config)?.replace("\"METRICS_PORT\"", "METRICS_PORT");
    Ok(Rendered {
        template,
        inputs,
        exporter,
        env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
apiVersion: opentelemetry.io/v1beta1
kind: OpenTelemetryCollector
spec:
  config:
    exporters:
      otlphttp:
        compression: gzip
        traces_endpoint: "https://xray.eu-central-1.amazonaws.com/v1/traces"
    extensions:
      health_check:
        endpoint: "0.0.0.0:13133"
    processors:
      batch:
        send_batch_size: 50
        timeout: "1s"
    receivers:
      awsxray:
        endpoint: "0.0.0.0:2000"
        proxy_server:
          endpoint: "0.0.0.0:2000"
      otlp:
        protocols:
          grpc:
            endpoint: "0.0.0.0:4317"
          http:
    service:
      extensions: [health_check]
      pipelines:
        traces:
          exporters: [otlphttp]
          processors: [batch]
          receivers: [awsxray, otlp]
"#;

    #[test]
    fn a_rendered_manifest_points_at_the_benchmark_and_keeps_the_rest() {
        let r = rewrite(MANIFEST, false).unwrap();
        let (text, inputs) = (r.template, r.inputs);
        assert_eq!(inputs, vec![Input::Udp, Input::Otlp]);
        assert_eq!(r.exporter, "otlphttp");
        assert!(
            r.env.is_empty(),
            "outside a cluster the pod's env is not used"
        );
        let v: Value = serde_json::from_str(&text.replace("METRICS_PORT", "1")).unwrap();
        assert_eq!(v["receivers"]["awsxray"]["endpoint"], "127.0.0.1:UDP_PORT");
        assert_eq!(
            v["receivers"]["awsxray"]["proxy_server"]["endpoint"],
            "127.0.0.1:PROXY_PORT"
        );
        assert_eq!(
            v["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
            "127.0.0.1:OTLP_GRPC_PORT"
        );
        assert_eq!(
            v["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
            "127.0.0.1:OTLP_HTTP_PORT"
        );
        assert_eq!(
            v["exporters"]["otlphttp"]["traces_endpoint"],
            "SINK_ENDPOINT/v1/traces"
        );
        assert_eq!(v["exporters"]["otlphttp"]["compression"], "gzip");
        assert_eq!(v["processors"]["batch"]["timeout"], "1s");
        assert_eq!(
            v["extensions"]["health_check"]["endpoint"],
            "127.0.0.1:HEALTH_PORT"
        );
        assert_eq!(
            v["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]["port"],
            1
        );
    }

    #[test]
    fn a_config_without_health_check_gets_one_and_bad_input_is_an_error() {
        let plain = "receivers: {awsxray: {}}\nexporters: {awsxray: {region: us-east-1}}\nservice: {pipelines: {traces: {receivers: [awsxray], exporters: [awsxray]}}}\n";
        let r = rewrite(plain, false).unwrap();
        let (text, inputs) = (r.template, r.inputs);
        assert_eq!(inputs, vec![Input::Udp]);
        assert_eq!(r.exporter, "awsxray");
        let v: Value = serde_json::from_str(&text.replace("METRICS_PORT", "1")).unwrap();
        assert_eq!(v["exporters"]["awsxray"]["endpoint"], "SINK_ENDPOINT");
        assert_eq!(v["service"]["extensions"][0], "health_check");
        assert!(rewrite("- a list", false).is_err());
        assert!(rewrite("receivers: {}\nservice: {pipelines: {}}\n", false).is_err());
        // Stamping needs a k8sattributes processor to find the pod.
        let e = rewrite(plain, true).unwrap_err();
        assert!(
            e.to_string().contains("no `k8sattributes` processor"),
            "{e}"
        );
    }

    /// The daemonset blueprint's collector, as rendered (golden file).
    fn golden(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../golden")
            .join(name)
            .join("kubernetes/opentelemetrycollector.yaml");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn in_a_cluster_k8sattributes_reads_the_kubeconfig_and_the_pod_env_is_resolved() {
        let text = golden("daemonset-otlp-proxy");
        let outside = rewrite(&text, false).unwrap();
        let v: Value =
            serde_json::from_str(&outside.template.replace("METRICS_PORT", "1")).unwrap();
        assert_eq!(
            v["processors"]["k8sattributes"]["auth_type"],
            "serviceAccount"
        );
        let r = rewrite(&text, true).unwrap();
        let v: Value = serde_json::from_str(&r.template.replace("METRICS_PORT", "1")).unwrap();
        assert_eq!(v["processors"]["k8sattributes"]["auth_type"], "kubeConfig");
        // Everything else the processor says is kept (the daemonset's node filter).
        assert_eq!(
            v["processors"]["k8sattributes"]["filter"]["node_from_env_var"],
            "K8S_NODE_NAME"
        );
        let env = |name: &str| {
            r.env
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(env("K8S_CLUSTER_NAME"), Some("shop-prod"));
        assert_eq!(env("K8S_NODE_NAME"), Some(crate::cluster::POD.node));
        assert_eq!(env("AWS_REGION"), Some("ap-southeast-2"));
        assert_eq!(r.inputs, vec![Input::Udp, Input::Otlp]);
        assert_eq!(r.exporter, "awsxray");
        let bad = text.replace(
            "fieldPath: spec.nodeName",
            "fieldPath: metadata.labels['x']",
        );
        let e = rewrite(&bad, true).unwrap_err();
        assert!(e.to_string().contains("K8S_NODE_NAME"), "{e}");
    }
}
