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
//! cache stops at `max_pods` and watches only the node `filter.node_from_env_var` names;
//! `wait_for_metadata` holds start-up until the cache is filled (or fails it, clearly, without
//! API access); `filter.labels` / `filter.fields` reach the API server as the pod list's
//! selectors (the stand-in does not evaluate them; a real API server does) and `key_regex`
//! label rules name attributes from capture groups.
//!
//! Instance tags through EC2 `DescribeTags`, against moto's real EC2 server: the instance the
//! IMDSv2 stand-in describes is tagged in moto (`kubernetes.io/cluster/<name>`, or `ec2.tags`
//! keys); with no tags in instance metadata the eks detector's cluster name reaches the
//! document stored in X-Ray (moto). An EC2 endpoint that refuses the call (403
//! `UnauthorizedOperation`) gives a warning naming `ec2:DescribeTags`.
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

/// Tags instance `instance_id` in moto's EC2 (boto3 CreateTags against moto's real server).
fn tag_instance_in_moto(
    python: &std::path::Path,
    endpoint: &str,
    instance_id: &str,
    tags: &[(&str, &str)],
) {
    let tags: Vec<Value> = tags
        .iter()
        .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
        .collect();
    let script = format!(
        "import boto3, json\nec2 = boto3.client('ec2', endpoint_url={endpoint:?}, region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\nec2.create_tags(Resources=[{instance_id:?}], Tags=json.loads({tags:?}))\nprint(json.dumps(ec2.describe_tags(Filters=[{{'Name': 'resource-id', 'Values': [{instance_id:?}]}}])['Tags']))\n",
        tags = serde_json::to_string(&tags).unwrap()
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .output()
        .expect("run boto3");
    assert!(
        out.status.success(),
        "tagging the instance in moto failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A UDP pipeline through `resourcedetection` (eks detector, cluster name on) to `exporter`.
fn eks_detector_config(udp: u16, exporter: &str) -> String {
    format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
    transport: udp
processors:
  resourcedetection:
    detectors: [eks]
    timeout: 10s
    eks:
      max_attempts: 1
      resource_attributes:
        k8s.cluster.name:
          enabled: true
exporters:
{exporter}
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [awsxray]
      processors: [resourcedetection]
      exporters: [{name}]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#,
        name = exporter.trim().split(':').next().unwrap_or_default()
    )
}

#[test]
fn the_eks_cluster_name_comes_from_describe_tags_in_moto_when_instance_metadata_has_no_tags() {
    let check = "collector e2e: eks detector -> EC2 DescribeTags (moto) -> aws.eks.cluster_name in X-Ray (moto)";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    // The instance the IMDSv2 stand-in describes, tagged in moto's EC2 the way EKS tags nodes.
    tag_instance_in_moto(
        &python,
        &moto.endpoint(),
        "i-0123456789abcdef0",
        &[
            ("Name", "node-1"),
            ("kubernetes.io/cluster/shop-cluster", "owned"),
        ],
    );
    let api = K8sApi::start();
    // No instance metadata tags (the default on EKS nodes): IMDS answers 404 for them.
    let imds = Imds::start(&[]);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let kubeconfig = scratch.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let udp = common::free_udp_port();
    let config = eks_detector_config(
        udp,
        &format!(
            "  awsxray:\n    region: us-east-1\n    endpoint: {}",
            moto.endpoint()
        ),
    );
    let mut env = aws_env(&imds);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    env.push(("KUBERNETES_SERVICE_HOST".into(), "127.0.0.1".into()));
    env.push(("AWS_ENDPOINT_URL_EC2".into(), moto.endpoint()));
    let collector = start(&config, &env);
    let sent = send_segments("127.0.0.1", udp, 2);
    collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        2.0,
        Duration::from_secs(30),
    );
    let trace_ids: Vec<String> = sent
        .iter()
        .map(|b| {
            serde_json::from_str::<Value>(b).unwrap()["trace_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let stored = common::read_back(&python, &moto.endpoint(), &trace_ids, scratch.path());
    assert_eq!(stored.len(), 2, "{stored:?}");
    for (_, _, doc) in &stored {
        let doc: Value = serde_json::from_str(doc).unwrap();
        assert_eq!(doc["aws"]["eks"]["cluster_name"], "shop-cluster", "{doc:#}");
        assert_eq!(
            doc["metadata"]["default"]["otel.resource.k8s.cluster.name"], "shop-cluster",
            "{doc:#}"
        );
        assert_eq!(
            doc["aws"]["xray"]["sdk"], "hand",
            "the document's own members stay"
        );
    }
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
    // The tags were looked up in instance metadata first (404), then through the EC2 API.
    assert!(
        imds.requests()
            .iter()
            .any(|r| r.starts_with("GET /latest/meta-data/tags/instance ")),
        "{:?}",
        imds.requests()
    );
}

#[test]
fn a_refused_describe_tags_is_a_warning_that_names_the_iam_action() {
    let api = K8sApi::start();
    let imds = Imds::start(&[]);
    // An EC2 endpoint that refuses the call as EC2 does for a role without the permission.
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = calls.clone();
    let (ec2_addr, _ec2_runtime) = common::serve_http(0, move |req: hyper::Request<_>| {
        let seen = seen.clone();
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = http_body_util::BodyExt::collect(req.into_body())
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                .unwrap_or_default();
            seen.lock().unwrap().push(format!("{auth}\n{body}"));
            Ok::<_, std::convert::Infallible>(
                hyper::Response::builder()
                    .status(403)
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(
                        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r-1</RequestID></Response>",
                    )))
                    .unwrap(),
            )
        }
    });
    let scratch = tempfile::tempdir().expect("scratch dir");
    let kubeconfig = scratch.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let udp = common::free_udp_port();
    let file = scratch.path().join("out.jsonl");
    let config = eks_detector_config(udp, &format!("  file:\n    path: {}", file.display()));
    let mut env = aws_env(&imds);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    env.push(("KUBERNETES_SERVICE_HOST".into(), "127.0.0.1".into()));
    env.push(("AWS_ENDPOINT_URL_EC2".into(), format!("http://{ec2_addr}")));
    let collector = start(&config, &env);
    let metrics = collector.metrics();
    assert_eq!(
        metric_sum(
            &metrics,
            "xray_collector_processor_resourcedetection_failures_total",
            &["detector=\"eks\""]
        ),
        1.0,
        "{metrics}"
    );
    let log = collector.log();
    assert!(
        log.contains("WARN")
            && log.contains("ec2:DescribeTags")
            && log.contains("UnauthorizedOperation")
            && log.contains("HTTP 403"),
        "{log}"
    );
    // The call was a SigV4-signed EC2 Query API DescribeTags for this instance and the keys.
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("AWS4-HMAC-SHA256 Credential=testing/")
            && calls[0].contains("/us-east-1/ec2/aws4_request"),
        "{calls:?}"
    );
    assert!(
        calls[0].contains("Action=DescribeTags")
            && calls[0].contains("Filter.1.Name=resource-id&Filter.1.Value.1=i-0123456789abcdef0")
            && calls[0].contains("Filter.2.Value.1=eks%3Acluster-name"),
        "{calls:?}"
    );
    // Spans still pass, without the cluster name.
    let sent = send_segments("127.0.0.1", udp, 1);
    collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        1.0,
        Duration::from_secs(20),
    );
    let written = std::fs::read_to_string(&file).expect("file exporter output");
    assert_eq!(written.lines().collect::<Vec<_>>(), sent);
}

/// `text` with `%XX` escapes decoded.
fn url_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn wait_for_metadata_filters_and_regex_labels_work_end_to_end() {
    let api = K8sApi::start();
    api.apply(
        Kind::Namespace,
        k8s_api::namespace("shop", &[("team", "payments"), ("tier", "gold")]),
    );
    api.apply(
        Kind::Pod,
        k8s_api::pod(
            "shop",
            POD,
            "5f1c7a52-0000-4000-8000-000000000001",
            POD_IP,
            "node-1",
            None,
            &[
                ("app.kubernetes.io/name", "checkout"),
                ("app.kubernetes.io/part-of", "shop"),
                ("version", "v2"),
            ],
        ),
    );
    // Another namespace's pod: outside `filter.namespace`, never listed.
    api.apply(
        Kind::Pod,
        k8s_api::pod(
            "other",
            "elsewhere",
            "uid-other",
            "127.0.3.1",
            "node-1",
            None,
            &[("app.kubernetes.io/part-of", "shop")],
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
        r#"    auth_type: kubeConfig
    wait_for_metadata: true
    wait_for_metadata_timeout: 20s
    filter:
      namespace: shop
      labels:
        - key: app.kubernetes.io/part-of
          value: shop
        - key: canary
          op: does-not-exist
      fields:
        - key: status.phase
          value: Running
    extract:
      metadata: [k8s.pod.name]
      labels:
        - key_regex: app\.kubernetes\.io/(.*)
          tag_name: app.$1
        - key_regex: ver.*
        - key_regex: t.*
          from: namespace"#,
    );
    let mut env: Vec<(String, String)> = common::FAKE_AWS_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    let collector = start(&config, &env);
    // Start-up waited for the first list: the cache is filled as soon as the collector is up.
    let metrics = collector.metrics();
    assert_eq!(
        metric_sum(
            &metrics,
            "xray_collector_processor_k8sattributes_api_up",
            &[]
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        metric_sum(&metrics, "xray_collector_processor_k8sattributes_pods", &[]),
        1.0,
        "{metrics}"
    );
    // The filters went to the API server as the pod list's selectors.
    let requests: Vec<String> = api.requests().iter().map(|r| url_decoded(r)).collect();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("/api/v1/namespaces/shop/pods?")
                && r.contains("labelSelector=app.kubernetes.io/part-of=shop,!canary")
                && r.contains("fieldSelector=status.phase=Running")),
        "{requests:?}"
    );
    let sent = send_segments(POD_IP, udp, 1);
    collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        1.0,
        Duration::from_secs(20),
    );
    let written = std::fs::read_to_string(&file).expect("file exporter output");
    let doc: Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    let metadata = &doc["metadata"]["default"];
    assert_eq!(metadata["otel.resource.k8s.pod.name"], POD, "{doc}");
    assert_eq!(metadata["otel.resource.app.name"], "checkout", "{doc}");
    assert_eq!(metadata["otel.resource.app.part-of"], "shop", "{doc}");
    assert_eq!(
        metadata["otel.resource.k8s.pod.labels.version"], "v2",
        "{doc}"
    );
    assert_eq!(
        metadata["otel.resource.k8s.namespace.labels.team"], "payments",
        "{doc}"
    );
    assert_eq!(
        metadata["otel.resource.k8s.namespace.labels.tier"], "gold",
        "{doc}"
    );
    let original: Value = serde_json::from_str(&sent[0]).unwrap();
    assert_eq!(doc["trace_id"], original["trace_id"]);
}

#[test]
fn wait_for_metadata_without_api_access_fails_startup_with_a_clear_error() {
    let api = K8sApi::start();
    api.deny(true);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let kubeconfig = scratch.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let udp = common::free_udp_port();
    let file = scratch.path().join("out.jsonl");
    let config = file_config(
        udp,
        &file,
        "    auth_type: kubeConfig\n    wait_for_metadata: true\n    wait_for_metadata_timeout: 2s",
    )
    .replace("HEALTH_PORT", &harness::free_port().to_string())
    .replace("METRICS_PORT", &harness::free_port().to_string());
    let path = scratch.path().join("collector.yaml");
    std::fs::write(&path, config).expect("write config");
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
        .arg(format!("--config={}", path.display()))
        .envs(common::FAKE_AWS_ENV.iter().copied())
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "xray_collector=info")
        .output()
        .expect("run xray-collector");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(30),
        "{elapsed:?}"
    );
    assert!(
        stderr.contains("processors.k8sattributes")
            && stderr.contains(
                "wait_for_metadata: the pod metadata did not sync from the Kubernetes API within 2s"
            )
            && stderr.contains("(last error: ")
            && stderr.contains("Forbidden"),
        "{stderr}"
    );
}

#[test]
fn ec2_tags_without_tags_from_imds_come_from_describe_tags_in_moto() {
    let check = "collector e2e: ec2 detector tags -> EC2 DescribeTags (moto)";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    tag_instance_in_moto(
        &python,
        &moto.endpoint(),
        "i-0123456789abcdef0",
        &[
            ("team", "payments"),
            ("cost-center", "42"),
            ("Name", "node-1"),
        ],
    );
    let imds = Imds::start(&[]);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let udp = common::free_udp_port();
    let file = scratch.path().join("out.jsonl");
    let config = format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
    transport: udp
processors:
  resourcedetection:
    detectors: [ec2]
    timeout: 10s
    ec2:
      max_attempts: 1
      tags: ['^team$', '^cost-']
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
      processors: [resourcedetection]
      exporters: [file]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#,
        file = file.display()
    );
    let mut env = aws_env(&imds);
    env.push(("AWS_ENDPOINT_URL_EC2".into(), moto.endpoint()));
    let collector = start(&config, &env);
    send_segments("127.0.0.1", udp, 1);
    collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        1.0,
        Duration::from_secs(20),
    );
    let written = std::fs::read_to_string(&file).expect("file exporter output");
    let doc: Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    let metadata = &doc["metadata"]["default"];
    assert_eq!(metadata["otel.resource.ec2.tag.team"], "payments", "{doc}");
    assert_eq!(metadata["otel.resource.ec2.tag.cost-center"], "42", "{doc}");
    assert!(
        metadata.get("otel.resource.ec2.tag.Name").is_none(),
        "{doc}"
    );
    assert_eq!(
        metadata["otel.resource.host.id"], "i-0123456789abcdef0",
        "{doc}"
    );
}
