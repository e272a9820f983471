//! End to end: spans from a "pod" arrive at X-Ray (moto) with the pod's EKS identity. The pod is
//! a loopback address (127.0.0.2; Linux routes all of 127/8 to loopback) that the test registers
//! as the pod's IP in the Kubernetes API stand-in (`harness::k8s_api`, list and watch of pods,
//! replicasets and namespaces in the API's JSON); the instance's `eks:cluster-name` tag is served
//! by the IMDSv2 stand-in (`support/imds.rs`). The real aws-xray-sdk (UDP, its socket bound to
//! the pod's address) and the real OpenTelemetry SDK (OTLP/HTTP, its connections bound to it)
//! send through `resourcedetection` (eks detector) and `k8sattributes`; moto must store
//! `aws.eks.cluster_name`, `aws.eks.pod`, `origin: AWS::EKS::Container` and the namespace and
//! deployment (metadata `otel.resource.*` for UDP documents, translated resource for OTLP).
//!
//! Also: without API access (the stand-in answers 403, a service account without RBAC) the
//! collector warns, counts, reports `api_up 0`, and UDP documents pass byte for byte; the pod
//! cache stops at `max_pods` and watches only the node `filter.node_from_env_var` names.
//!
//! What this cannot check: a real API server's RBAC, a real IMDS, or EKS's service map.

use crate::common;
use crate::support::imds::Imds;
use harness::k8s_api::{self, K8sApi, Kind};

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::{Collector, metric_sum, metric_sum_or_zero};
use serde_json::Value;

const POD_IP: &str = "127.0.0.2";
const POD: &str = "checkout-7d9f8c6b5-x2k4p";

/// The AWS environment for the collector: moto's dummy credentials, instance metadata at the
/// IMDSv2 stand-in.
fn aws_env(imds: &Imds) -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT".into(), imds.endpoint()),
    ]
}

fn start(config: &str, env: &[(String, String)]) -> Collector {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Collector::start_with_env(config, &[], &env)
}

/// The shop namespace with the checkout pod (127.0.0.2, deployment `checkout`) on node-1.
fn shop(api: &K8sApi) {
    api.apply(
        Kind::Namespace,
        k8s_api::namespace("shop", &[("team", "payments")]),
    );
    api.apply(
        Kind::ReplicaSet,
        k8s_api::replicaset("shop", "checkout-7d9f8c6b5", "checkout"),
    );
    api.apply(
        Kind::Pod,
        k8s_api::pod(
            "shop",
            POD,
            "5f1c7a52-0000-4000-8000-000000000001",
            POD_IP,
            "node-1",
            Some("checkout-7d9f8c6b5"),
            &[("app", "checkout")],
        ),
    );
}

#[test]
fn spans_from_a_pod_reach_xray_with_its_eks_identity() {
    let check = "collector e2e: aws-xray-sdk + OpenTelemetry SDK from a pod -> k8sattributes + resourcedetection -> moto";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    let api = K8sApi::start();
    shop(&api);
    let imds = Imds::start(&[("Name", "node-1"), ("eks:cluster-name", "shop-cluster")]);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let kubeconfig = scratch.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig);

    let udp = common::free_udp_port();
    let http = harness::free_port();
    let config = format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
    transport: udp
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
processors:
  resourcedetection:
    detectors: [eks]
    timeout: 5s
    eks:
      resource_attributes:
        k8s.cluster.name:
          enabled: true
  k8sattributes:
    auth_type: kubeConfig
    extract:
      metadata: [k8s.pod.name, k8s.pod.uid, k8s.namespace.name, k8s.node.name, k8s.deployment.name]
      labels:
        - key: app
        - key: team
          from: namespace
    pod_association:
      - sources:
          - from: resource_attribute
            name: k8s.pod.ip
      - sources:
          - from: connection
  batch:
    timeout: 200ms
exporters:
  awsxray:
    region: us-east-1
    endpoint: {endpoint}
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [awsxray, otlp]
      processors: [resourcedetection, k8sattributes, batch]
      exporters: [awsxray]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#,
        endpoint = moto.endpoint()
    );
    let mut env = aws_env(&imds);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    // The eks detector runs only on Kubernetes; the API itself is the stand-in (kubeconfig).
    env.push(("KUBERNETES_SERVICE_HOST".into(), "127.0.0.1".into()));
    let collector = start(&config, &env);
    collector.wait_metric(
        "xray_collector_processor_k8sattributes_api_up",
        &[],
        1.0,
        Duration::from_secs(20),
    );

    // The X-Ray SDK, from the pod's address.
    let sent_path = collector.path("sent.jsonl");
    let out = Command::new(&python)
        .arg(common::app("xray_sdk_app.py"))
        .args([
            &format!("127.0.0.1:{udp}"),
            &sent_path.display().to_string(),
            "3",
            POD_IP,
        ])
        .output()
        .expect("run the X-Ray SDK app");
    assert!(
        out.status.success(),
        "X-Ray SDK app failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: Vec<Value> = std::fs::read_to_string(&sent_path)
        .expect("sent documents")
        .lines()
        .map(|l| serde_json::from_str(l).expect("the SDK sends JSON"))
        .collect();
    assert_eq!(sent.len(), 3 * 7);

    // The OpenTelemetry SDK, from the pod's address.
    let spans_path = collector.path("spans.jsonl");
    let out = Command::new(&python)
        .arg(common::app("otel_pod_app.py"))
        .args([
            &format!("http://127.0.0.1:{http}/v1/traces"),
            POD_IP,
            &spans_path.display().to_string(),
            "2",
        ])
        .output()
        .expect("run the OpenTelemetry app");
    assert!(
        out.status.success(),
        "OpenTelemetry app failed: {}\ncollector log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        collector.log()
    );
    let spans: Vec<Value> = std::fs::read_to_string(&spans_path)
        .expect("span list")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(spans.len(), 4);

    // 21 documents and 4 spans (one document each).
    collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        (sent.len() + spans.len()) as f64,
        Duration::from_secs(30),
    );
    let mut trace_ids: BTreeSet<String> = sent
        .iter()
        .map(|d| d["trace_id"].as_str().expect("trace_id").to_owned())
        .collect();
    trace_ids.extend(
        spans
            .iter()
            .map(|s| s["trace_id"].as_str().expect("trace_id").to_owned()),
    );
    let trace_ids: Vec<String> = trace_ids.into_iter().collect();
    let stored = common::read_back(&python, &moto.endpoint(), &trace_ids, scratch.path());
    let stored: Vec<Value> = stored
        .iter()
        .map(|(_, _, d)| serde_json::from_str(d).expect("stored document is JSON"))
        .collect();

    let sdk_ids: BTreeSet<&str> = sent.iter().filter_map(|d| d["id"].as_str()).collect();
    let mut sdk_segments = 0;
    let mut otel_segments = 0;
    for doc in &stored {
        let from_sdk = doc["id"].as_str().is_some_and(|id| sdk_ids.contains(id));
        if doc["type"] == "subsegment" {
            // Streamed subsegments keep their bytes (below); OTLP children become subsegments.
            continue;
        }
        let context = format!("{doc:#}");
        assert_eq!(
            doc["aws"]["eks"]["cluster_name"], "shop-cluster",
            "{context}"
        );
        assert_eq!(doc["aws"]["eks"]["pod"], POD, "{context}");
        assert_eq!(doc["origin"], "AWS::EKS::Container", "{context}");
        let metadata = &doc["metadata"]["default"];
        if from_sdk {
            sdk_segments += 1;
            assert_eq!(
                metadata["otel.resource.k8s.namespace.name"], "shop",
                "{context}"
            );
            assert_eq!(
                metadata["otel.resource.k8s.deployment.name"], "checkout",
                "{context}"
            );
            assert_eq!(
                metadata["otel.resource.k8s.node.name"], "node-1",
                "{context}"
            );
            assert_eq!(
                metadata["otel.resource.k8s.pod.labels.app"], "checkout",
                "{context}"
            );
            assert_eq!(
                metadata["otel.resource.k8s.namespace.labels.team"], "payments",
                "{context}"
            );
            assert_eq!(
                metadata["otel.resource.cloud.platform"], "aws_eks",
                "{context}"
            );
            // The SDK's own top-level members are still there.
            assert_eq!(doc["aws"]["xray"]["sdk"], "X-Ray for Python", "{context}");
            assert_eq!(doc["annotations"]["tenant"], "acme", "{context}");
        } else {
            otel_segments += 1;
            assert_eq!(doc["name"], "checkout-otel", "{context}");
            let otel = &doc["metadata"]["default"];
            assert_eq!(
                otel["otel.resource.k8s.namespace.name"], "shop",
                "{context}"
            );
            assert_eq!(
                otel["otel.resource.k8s.deployment.name"], "checkout",
                "{context}"
            );
        }
    }
    assert_eq!(sdk_segments, 3, "every SDK segment was checked");
    assert_eq!(otel_segments, 2, "every OTLP server span was checked");
    // Streamed subsegments arrive byte-for-byte equal to what the SDK sent.
    let mut streamed = 0;
    for doc in stored.iter().filter(|d| d["type"] == "subsegment") {
        let id = doc["id"].as_str().unwrap();
        if let Some(original) = sent.iter().find(|d| d["id"] == id) {
            assert_eq!(doc, original, "subsegment {id}");
            streamed += 1;
        }
    }
    assert_eq!(streamed, 3 * 6, "every streamed subsegment was compared");

    // IMDSv2 only: a token first, then every read with it. The stand-in refuses reads without.
    let requests = imds.requests();
    assert_eq!(
        requests.first().map(String::as_str),
        Some("PUT /latest/api/token no-token"),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .skip(1)
            .all(|r| r.starts_with("GET ") && r.ends_with(" token-ok")),
        "{requests:?}"
    );
    let (status, _) = common::http_get(
        imds.addr.port(),
        "/latest/dynamic/instance-identity/document",
    )
    .expect("stand-in answers");
    assert_eq!(status, 401, "the stand-in must refuse IMDSv1 reads");
    assert!(
        api.requests().iter().any(|r| r.contains("watch=")),
        "the processor watches pods: {:?}",
        api.requests()
    );
    let metrics = collector.metrics();
    assert_eq!(
        metric_sum_or_zero(
            &metrics,
            "xray_collector_processor_resourcedetection_failures_total",
            &[]
        ),
        0.0,
        "{metrics}"
    );
}

/// A pipeline with `k8sattributes` and a local file exporter, for the checks that need no moto.
fn file_config(udp: u16, file: &std::path::Path, k8s: &str) -> String {
    format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
    transport: udp
processors:
  k8sattributes:
{k8s}
exporters:
  file:
    path: {file}
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [awsxray]
      processors: [k8sattributes]
      exporters: [file]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#,
        file = file.display()
    )
}

/// Sends `n` hand-written segment datagrams from `source` to `udp`; returns their bodies.
fn send_segments(source: &str, udp: u16, n: usize) -> Vec<String> {
    let socket = std::net::UdpSocket::bind((source, 0)).expect("bind the pod address");
    (0..n)
        .map(|i| {
            let body = format!(
                r#"{{"name":"checkout","id":"70de5b6f19ff9a0{i}","trace_id":"1-5759e988-bd862e3fe1be46a99427227{i}","start_time":1.478293361271E9,"end_time":1.478293361449E9,"aws":{{"xray":{{"sdk":"hand"}}}}}}"#
            );
            socket
                .send_to(
                    format!("{{\"format\":\"json\",\"version\":1}}\n{body}").as_bytes(),
                    ("127.0.0.1", udp),
                )
                .expect("send a datagram");
            body
        })
        .collect()
}

#[test]
fn without_api_access_the_collector_warns_and_documents_pass_byte_for_byte() {
    let api = K8sApi::start();
    shop(&api);
    api.deny(true);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let kubeconfig = scratch.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let udp = common::free_udp_port();
    let file = scratch.path().join("out.jsonl");
    let config = file_config(udp, &file, "    auth_type: kubeConfig");
    let mut env: Vec<(String, String)> = common::FAKE_AWS_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    let collector = start(&config, &env);
    collector.wait_metric(
        "xray_collector_processor_k8sattributes_api_errors_total",
        &[],
        1.0,
        Duration::from_secs(20),
    );
    let sent = send_segments(POD_IP, udp, 3);
    collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        3.0,
        Duration::from_secs(20),
    );
    let metrics = collector.metrics();
    assert_eq!(
        metric_sum(
            &metrics,
            "xray_collector_processor_k8sattributes_api_up",
            &["processor=\"k8sattributes\""]
        ),
        0.0
    );
    let written = std::fs::read_to_string(&file).expect("file exporter output");
    let written: Vec<&str> = written.lines().collect();
    assert_eq!(written, sent, "documents must pass byte for byte");
    let log = collector.log();
    assert!(
        log.contains("WARN") && log.contains("No access to the Kubernetes API"),
        "{log}"
    );
    assert_eq!(
        log.matches("No access to the Kubernetes API").count(),
        1,
        "one warning, not one per retry:\n{log}"
    );
}

#[test]
fn serviceaccount_auth_outside_a_pod_warns_at_startup_and_passes_spans() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let udp = common::free_udp_port();
    let file = scratch.path().join("out.jsonl");
    let config = file_config(udp, &file, "    auth_type: serviceAccount");
    let collector = Collector::start(&config, &[]);
    let sent = send_segments(POD_IP, udp, 2);
    collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        2.0,
        Duration::from_secs(20),
    );
    let written = std::fs::read_to_string(&file).expect("file exporter output");
    assert_eq!(written.lines().collect::<Vec<_>>(), sent);
    let log = collector.log();
    assert!(
        log.contains("No access to the Kubernetes API") && log.contains("in-cluster config"),
        "{log}"
    );
}

#[test]
fn the_pod_cache_is_bounded_and_watches_only_its_node() {
    let api = K8sApi::start();
    for i in 0..3 {
        api.apply(
            Kind::Pod,
            k8s_api::pod(
                "shop",
                &format!("web-{i}"),
                &format!("uid-{i}"),
                &format!("127.0.1.{i}"),
                "node-1",
                None,
                &[],
            ),
        );
    }
    api.apply(
        Kind::Pod,
        k8s_api::pod(
            "shop",
            "elsewhere",
            "uid-x",
            "127.0.2.1",
            "node-2",
            None,
            &[],
        ),
    );
    let scratch = tempfile::tempdir().expect("scratch dir");
    let kubeconfig = scratch.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let udp = common::free_udp_port();
    let file = scratch.path().join("out.jsonl");
    let config = file_config(
        udp,
        &file,
        "    auth_type: kubeConfig\n    max_pods: 2\n    filter:\n      node_from_env_var: KUBE_NODE_NAME\n    extract:\n      metadata: [k8s.pod.name]",
    );
    let mut env: Vec<(String, String)> = common::FAKE_AWS_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    env.push(("KUBE_NODE_NAME".into(), "node-1".into()));
    let collector = start(&config, &env);
    collector.wait_metric(
        "xray_collector_processor_k8sattributes_api_up",
        &[],
        1.0,
        Duration::from_secs(20),
    );
    let metrics = collector.metrics();
    assert_eq!(
        metric_sum(&metrics, "xray_collector_processor_k8sattributes_pods", &[]),
        2.0,
        "{metrics}"
    );
    assert_eq!(
        metric_sum(
            &metrics,
            "xray_collector_processor_k8sattributes_pods_not_cached_total",
            &["kind=\"pod\""]
        ),
        1.0,
        "the third pod of node-1 is over the bound; node-2's is never listed: {metrics}"
    );
    assert!(
        api.requests().iter().any(|r| r.starts_with("/api/v1/pods?")
            && r.contains("fieldSelector=spec.nodeName%3Dnode-1")),
        "{:?}",
        api.requests()
    );
    // A deletion makes room only after the grace period: the cache stays at its bound.
    api.delete(
        Kind::Pod,
        k8s_api::pod("shop", "web-0", "uid-0", "127.0.1.0", "node-1", None, &[]),
    );
    api.apply(
        Kind::Pod,
        k8s_api::pod("shop", "web-9", "uid-9", "127.0.1.9", "node-1", None, &[]),
    );
    collector.wait_metric(
        "xray_collector_processor_k8sattributes_pods_not_cached_total",
        &["kind=\"pod\""],
        2.0,
        Duration::from_secs(20),
    );
    // Spans of a cached pod get its name; the stamping writes it as metadata.
    let sent = send_segments("127.0.1.1", udp, 1);
    collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        1.0,
        Duration::from_secs(20),
    );
    let written = std::fs::read_to_string(&file).expect("file exporter output");
    let doc: Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    let original: Value = serde_json::from_str(&sent[0]).unwrap();
    assert_eq!(
        doc["metadata"]["default"]["otel.resource.k8s.pod.name"], "web-1",
        "{doc}"
    );
    assert_eq!(
        doc["metadata"]["default"]["otel.resource.k8s.pod.ip"], "127.0.1.1",
        "{doc}"
    );
    assert_eq!(doc["trace_id"], original["trace_id"]);
}
