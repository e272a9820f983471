//! What the blueprints deploy, run as the OpenTelemetry Operator runs it: for every golden
//! `OpenTelemetryCollector` (`golden/*/kubernetes/opentelemetrycollector.yaml`), the collector
//! binary is started with the configuration the operator would mount (`spec.config`, written as
//! the file `--config=` names), the arguments it would pass (`--config=<file>` first, then every
//! `spec.args` entry as `--<key>=<value>`, sorted by key) and the environment it would set
//! (`spec.env`, then `POD_NAME`), as `shared/reference/operator-contract.md` describes.
//!
//! Substituted, and only this, so that it runs on loopback (`Operator::substitutions` lists it):
//! every receiver's and the health check's `0.0.0.0:<port>` becomes `127.0.0.1:<free port>`; the
//! operator's own rewrite (v0.122 and later) adds `service.telemetry.metrics.readers` with a pull
//! Prometheus reader, here on `127.0.0.1:<free port>` instead of `0.0.0.0:8888`; the `awsxray`
//! exporter gets contrib's `endpoint` key pointing at moto (or the fault-injecting X-Ray server),
//! the `otlphttp` exporter's `traces_endpoint` points at the local stand-in for X-Ray's OTLP
//! endpoint (`apps/xray_otlp_endpoint.py`, which checks the SigV4 signature), the `file_storage`
//! directory (the pod's volume mount) becomes a temporary directory, and the AWS credentials the
//! pod gets from IRSA or EKS Pod Identity are static test keys. `valueFrom` env entries resolve as
//! the kubelet would (`spec.nodeName`, `metadata.name`, `status.podIP`).
//!
//! In the cluster (the delivery tests): the Kubernetes API is the stand-in `harness::k8s_api`,
//! which serves the two application pods below. The rendered `k8sattributes` uses in-cluster
//! service-account auth, which reads the token and CA from the fixed path
//! `/var/run/secrets/kubernetes.io/serviceaccount/` and can only reach an HTTPS API; so, and only
//! for this, its `auth_type: serviceAccount` becomes `auth_type: kubeConfig`, `KUBECONFIG` names a
//! kubeconfig for the stand-in, and `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT` (which the
//! kubelet sets in every pod, and which tell the eks detector it runs on Kubernetes) point at the
//! stand-in. `K8S_CLUSTER_NAME` is the rendered pod spec's own. The pods are loopback addresses:
//! the X-Ray SDK app's UDP socket is bound to 127.0.0.2 (pod `checkout-…` in `shop`); the
//! OpenTelemetry SDK's exporters (whose gRPC client cannot bind a source address) reach the
//! collector through `PodRelay`, a TCP relay that opens each connection from 127.0.0.3 (pod
//! `cart-…` in `storefront`), as the pod network would.
//!
//! Asserted, for every golden blueprint (one test each; `every_golden_collector_has_a_delivery_test`
//! checks the list): the real aws-xray-sdk's segments over UDP, and (where the blueprint has the
//! `otlp` receiver) the real OpenTelemetry SDK's spans over OTLP/gRPC and OTLP/HTTP, all reach moto
//! (`BatchGetTraces`; or the OTLP stand-in for `exporter.type: otlp`), every document and span,
//! with nothing refused, failed or dropped; each segment carries its pod's EKS identity
//! (`aws.eks.cluster_name` = the rendered `K8S_CLUSTER_NAME`, `aws.eks.pod`, `origin:
//! AWS::EKS::Container`, and namespace, deployment, node and pod uid as `otel.resource.*`
//! metadata) and is otherwise the SDK's document; streamed subsegments arrive byte for byte, so
//! JSON-equal. At the OTLP stand-in the spans' resources carry the same identity (`k8s.*`,
//! `cloud.platform: aws_eks`). For every blueprint with a persistent queue: through an X-Ray
//! outage and a `kill -9`, the restarted collector on the same directory delivers every document
//! it had received. And the rendered queue under an X-Ray outage: filled until it refuses, the
//! collector's peak RSS stays under the pod's memory limit, and once X-Ray is back every received
//! document is counted exactly once as sent, dropped or refused.

use crate::common;
use crate::e2e_otlphttp::Endpoint;
use crate::persistent_queue::{outage_server, send, wait_delivered, wait_on_disk};

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Collector, metric_sum, metric_sum_or_zero};
use harness::k8s_api::{K8sApi, Workload};
use serde_json::{Value, json};
use xray_collector::config::yaml;

/// One rendered OpenTelemetryCollector.
struct Deployed {
    /// The blueprint's name (its golden directory).
    blueprint: String,
    /// The custom resource's `spec`.
    spec: Value,
}

impl Deployed {
    fn exporter(&self) -> &str {
        let exporters = &self.spec["config"]["exporters"];
        if exporters.get("otlphttp").is_some() {
            "otlphttp"
        } else {
            "awsxray"
        }
    }

    fn has_otlp(&self) -> bool {
        self.spec["config"]["receivers"].get("otlp").is_some()
    }

    fn persistent(&self) -> bool {
        self.spec["config"]["extensions"]
            .get("file_storage")
            .is_some()
    }

    /// The container's memory limit, in bytes.
    fn memory_limit(&self) -> u64 {
        let q = self.spec["resources"]["limits"]["memory"]
            .as_str()
            .expect("a memory limit");
        let (n, unit) = q.split_at(q.find(|c: char| !c.is_ascii_digit()).expect("a unit"));
        let n: u64 = n.parse().expect("a number");
        n << match unit {
            "Ki" => 10,
            "Mi" => 20,
            "Gi" => 30,
            other => panic!("unexpected unit {other}"),
        }
    }
}

/// Every golden OpenTelemetryCollector, one per example blueprint.
fn deployed() -> Vec<Deployed> {
    let root = harness::project_root();
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("golden"))
        .expect("golden/")
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let path = dir.join("kubernetes/opentelemetrycollector.yaml");
        let text = std::fs::read_to_string(&path).expect("a golden manifest");
        let docs = yaml::parse_documents(&text)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message));
        let doc = docs
            .into_iter()
            .find(|d| d["kind"] == "OpenTelemetryCollector")
            .expect("an OpenTelemetryCollector");
        out.push(Deployed {
            blueprint: dir.file_name().unwrap().to_string_lossy().into_owned(),
            spec: doc["spec"].clone(),
        });
    }
    let blueprints = std::fs::read_dir(root.join("blueprints"))
        .expect("blueprints/")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .count();
    assert_eq!(out.len(), blueprints, "one golden collector per blueprint");
    out
}

/// Where the operator-started collector listens on loopback.
struct Ports {
    udp: u16,
    grpc: Option<u16>,
    http: Option<u16>,
}

/// The application pods, as the Kubernetes API stand-in serves them: the X-Ray SDK app's and
/// the OpenTelemetry SDK app's, on the node the daemonset collector's `K8S_NODE_NAME` names.
const XRAY_POD: Workload<'static> = Workload {
    namespace: "shop",
    deployment: "checkout",
    replicaset: "checkout-7d9f8c6b5",
    pod: "checkout-7d9f8c6b5-x2k4p",
    uid: "5f1c7a52-0000-4000-8000-000000000001",
    ip: "127.0.0.2",
    node: "node-1",
};
const OTEL_POD: Workload<'static> = Workload {
    namespace: "storefront",
    deployment: "cart",
    replicaset: "cart-5c8d7b9f4",
    pod: "cart-5c8d7b9f4-q7z2m",
    uid: "5f1c7a52-0000-4000-8000-000000000002",
    ip: "127.0.0.3",
    node: "node-1",
};

/// The cluster the collector runs in: the Kubernetes API stand-in serving both pods, and a
/// kubeconfig for it.
struct Cluster {
    api: K8sApi,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let api = K8sApi::start();
        api.apply_workload(&XRAY_POD);
        api.apply_workload(&OTEL_POD);
        let dir = tempfile::tempdir().expect("kubeconfig dir");
        let kubeconfig = dir.path().join("kubeconfig");
        api.write_kubeconfig(&kubeconfig);
        Cluster {
            api,
            kubeconfig,
            _dir: dir,
        }
    }
}

/// The container the operator would start, with the loopback substitutions.
struct Operator {
    /// The config file's text, with `HEALTH_PORT` and `METRICS_PORT` for `Collector::start`.
    config: String,
    /// The arguments after `--config=<file>`: `spec.args` as `--<key>=<value>`, sorted by key.
    args: Vec<String>,
    /// `spec.env`, then `POD_NAME`, then the static test credentials (and, in the cluster, the
    /// API's address).
    env: Vec<(String, String)>,
    ports: Ports,
    /// Every substitution made to what the operator would run: the JSON pointers of the config
    /// members replaced or added, and `env NAME` for each variable the pod spec does not set.
    /// `assert_only_substituted` checks that nothing else differs.
    substitutions: Vec<String>,
}

impl Operator {
    /// The operator's container for `d`, exporting to `endpoint` (moto, the fault server or the
    /// OTLP stand-in), keeping a persistent queue in `storage`, and, with `cluster`, reaching its
    /// Kubernetes API stand-in.
    fn new(d: &Deployed, endpoint: &str, storage: &Path, cluster: Option<&Cluster>) -> Operator {
        let mut config = d.spec["config"].clone();
        let mut substitutions = Vec::new();
        let mut set = |config: &mut Value, pointer: &str, value: Value| {
            let mut at = &mut *config;
            for key in pointer.trim_start_matches('/').split('/') {
                at = &mut at[key];
            }
            *at = value;
            substitutions.push(pointer.to_owned());
        };
        let loopback = |port: u16| json!(format!("127.0.0.1:{port}"));
        let udp = common::free_udp_port();
        set(&mut config, "/receivers/awsxray/endpoint", loopback(udp));
        if config["receivers"]["awsxray"].get("proxy_server").is_some() {
            set(
                &mut config,
                "/receivers/awsxray/proxy_server/endpoint",
                loopback(harness::free_port()),
            );
        }
        let mut ports = Ports {
            udp,
            grpc: None,
            http: None,
        };
        for (name, slot) in [("grpc", &mut ports.grpc), ("http", &mut ports.http)] {
            if config
                .pointer(&format!("/receivers/otlp/protocols/{name}"))
                .is_some()
            {
                let port = harness::free_port();
                set(
                    &mut config,
                    &format!("/receivers/otlp/protocols/{name}/endpoint"),
                    loopback(port),
                );
                *slot = Some(port);
            }
        }
        set(
            &mut config,
            "/extensions/health_check/endpoint",
            json!("127.0.0.1:HEALTH_PORT"),
        );
        // The operator (v0.122 and later) adds a pull reader on 0.0.0.0:8888.
        set(
            &mut config,
            "/service/telemetry/metrics/readers",
            json!([{"pull": {"exporter": {
                "prometheus": {"host": "127.0.0.1", "port": "@METRICS@"}
            }}}]),
        );
        match d.exporter() {
            "otlphttp" => set(
                &mut config,
                "/exporters/otlphttp/traces_endpoint",
                json!(endpoint),
            ),
            _ => set(&mut config, "/exporters/awsxray/endpoint", json!(endpoint)),
        }
        if config["extensions"].get("file_storage").is_some() {
            set(
                &mut config,
                "/extensions/file_storage/directory",
                json!(storage.display().to_string()),
            );
        }
        if cluster.is_some() {
            let k8s: Vec<String> = config["processors"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(id, _)| id.clone())
                .filter(|id| id.split('/').next() == Some("k8sattributes"))
                .collect();
            assert!(
                !k8s.is_empty(),
                "{}: no k8sattributes processor",
                d.blueprint
            );
            for id in k8s {
                assert_eq!(
                    config["processors"][&id]["auth_type"], "serviceAccount",
                    "{}: {id} is rendered with in-cluster auth",
                    d.blueprint
                );
                set(
                    &mut config,
                    &format!("/processors/{id}/auth_type"),
                    json!("kubeConfig"),
                );
            }
        }
        let config = config.to_string().replace("\"@METRICS@\"", "METRICS_PORT");

        let mut args: Vec<(String, String)> = d.spec["args"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != "config")
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        args.sort();
        let pod = format!(
            "{}-collector-0",
            d.spec["serviceAccount"].as_str().unwrap_or("xray")
        );
        let mut env: Vec<(String, String)> = Vec::new();
        for e in d.spec["env"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().expect("env name").to_owned();
            let value = if let Some(v) = e["value"].as_str() {
                v.to_owned()
            } else {
                match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                    Some("spec.nodeName") => "node-1".to_owned(),
                    Some("metadata.name") => pod.clone(),
                    Some("metadata.namespace") => "test".to_owned(),
                    Some("status.podIP" | "status.hostIP") => "127.0.0.1".to_owned(),
                    other => panic!("{}: env {name} from {other:?}", d.blueprint),
                }
            };
            env.push((name, value));
        }
        let rendered = env.len();
        if !env.iter().any(|(k, _)| k == "POD_NAME") {
            env.push(("POD_NAME".to_owned(), pod));
        }
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            env.push((k.to_owned(), v.to_owned()));
        }
        if let Some(cluster) = cluster {
            env.push((
                "KUBECONFIG".to_owned(),
                cluster.kubeconfig.display().to_string(),
            ));
            env.push(("KUBERNETES_SERVICE_HOST".to_owned(), "127.0.0.1".to_owned()));
            env.push((
                "KUBERNETES_SERVICE_PORT".to_owned(),
                cluster.api.addr.port().to_string(),
            ));
        }
        substitutions.extend(env[rendered..].iter().map(|(k, _)| format!("env {k}")));
        Operator {
            config,
            args: args
                .into_iter()
                .map(|(k, v)| format!("--{k}={v}"))
                .collect(),
            env,
            ports,
            substitutions,
        }
    }

    fn start(&self) -> Collector {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Collector::start_with_env(&self.config, &args, &env)
    }

    /// Asserts that the config differs from `d`'s rendered `spec.config` exactly at the listed
    /// substitutions, and that every variable the pod spec sets is passed as rendered.
    fn assert_only_substituted(&self, d: &Deployed) {
        let config: Value = serde_json::from_str(
            &self
                .config
                .replace("HEALTH_PORT", "0")
                .replace("METRICS_PORT", "0"),
        )
        .expect("the substituted config is JSON");
        let mut changed = Vec::new();
        differences(&d.spec["config"], &config, String::new(), &mut changed);
        let listed: BTreeSet<&str> = self
            .substitutions
            .iter()
            .map(String::as_str)
            .filter(|s| s.starts_with('/'))
            .collect();
        let changed: BTreeSet<&str> = changed.iter().map(String::as_str).collect();
        assert_eq!(
            changed, listed,
            "{}: the config differs from the rendered one exactly where listed",
            d.blueprint
        );
        for e in d.spec["env"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap();
            let passed = self.env.iter().find(|(k, _)| k == name);
            assert!(passed.is_some(), "{}: env {name}", d.blueprint);
            if let Some(value) = e["value"].as_str() {
                assert_eq!(passed.unwrap().1, value, "{}: env {name}", d.blueprint);
            }
        }
        for (name, _) in &self.env {
            assert!(
                d.spec["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|e| e["name"] == name.as_str())
                    || self.substitutions.contains(&format!("env {name}")),
                "{}: env {name} is neither rendered nor listed",
                d.blueprint
            );
        }
    }
}

/// The JSON pointers (under `at`) of the leaves where `b` differs from `a`: replaced, added or
/// removed members (a missing member is `null`, so an added object reports its leaves).
fn differences(a: &Value, b: &Value, at: String, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    let empty = serde_json::Map::new();
    let members = |v: &Value| match v {
        Value::Object(m) => Some(m.clone()),
        Value::Null => Some(empty.clone()),
        _ => None,
    };
    match (members(a), members(b)) {
        (Some(x), Some(y)) if a.is_object() || b.is_object() => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                differences(
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                    format!("{at}/{key}"),
                    out,
                );
            }
        }
        _ => out.push(at),
    }
}

/// A TCP relay standing in for the pod network: it accepts on 127.0.0.1 and opens each
/// connection to `127.0.0.1:<target>` from `source` (a pod's IP), so the collector's OTLP
/// receivers see the pod's address as the peer. Python's gRPC client cannot bind a source
/// address itself. It stops accepting when dropped.
struct PodRelay {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl PodRelay {
    fn start(source: &'static str, target: u16) -> PodRelay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let upstream = socket2::Socket::new(
                    socket2::Domain::IPV4,
                    socket2::Type::STREAM,
                    Some(socket2::Protocol::TCP),
                )
                .and_then(|s| {
                    let from: SocketAddr = (source.parse::<std::net::IpAddr>().unwrap(), 0).into();
                    s.bind(&from.into())?;
                    s.connect(&SocketAddr::from(([127, 0, 0, 1], target)).into())?;
                    Ok(TcpStream::from(s))
                });
                let Ok(upstream) = upstream else { continue };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                    (upstream, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        PodRelay { port, stop }
    }
}

impl Drop for PodRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.write_all(b"");
        }
    }
}

/// Runs the X-Ray SDK app against `udp`, its socket bound to `source`; the documents it put on
/// the wire.
fn xray_sdk_app(python: &Path, udp: u16, source: &str, dir: &Path, traces: u32) -> Vec<Value> {
    let sent_path = dir.join("xray-sent.jsonl");
    let out = Command::new(python)
        .arg(common::app("xray_sdk_app.py"))
        .args([
            &format!("127.0.0.1:{udp}"),
            &sent_path.display().to_string(),
            &traces.to_string(),
            source,
        ])
        .output()
        .expect("run the X-Ray SDK app");
    assert!(
        out.status.success(),
        "X-Ray SDK app failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_jsonl(&sent_path)
}

/// Runs the OpenTelemetry app against `grpc` and `http`; the spans it exported.
fn otel_app(python: &Path, grpc: u16, http: u16, dir: &Path, traces: u32) -> Vec<Value> {
    let sent_path = dir.join("otel-sent.jsonl");
    let out = Command::new(python)
        .arg(common::app("otel_app.py"))
        .args([
            &format!("127.0.0.1:{grpc}"),
            &format!("http://127.0.0.1:{http}/v1/traces"),
            &sent_path.display().to_string(),
            &traces.to_string(),
        ])
        .output()
        .expect("run the OpenTelemetry app");
    assert!(
        out.status.success(),
        "OpenTelemetry app failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_jsonl(&sent_path)
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The subsegments nested (at any depth) in an X-Ray document.
fn nested_subsegments(doc: &Value) -> usize {
    doc["subsegments"]
        .as_array()
        .map(|subs| subs.iter().map(|s| 1 + nested_subsegments(s)).sum())
        .unwrap_or(0)
}

/// The X-Ray form of a 32-hex-digit OTLP trace id.
fn xray_trace_id(hex: &str) -> String {
    format!("1-{}-{}", &hex[..8], &hex[8..])
}

/// The rendered `K8S_CLUSTER_NAME` of `d`'s pod spec.
fn cluster_name(d: &Deployed) -> String {
    d.spec["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "K8S_CLUSTER_NAME")
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("{}: the pod spec sets K8S_CLUSTER_NAME", d.blueprint))
        .to_owned()
}

/// Where a segment carries its resource's attributes (`otel.resource.<key>`): the stamping of an
/// X-Ray SDK document writes them as metadata; the OTLP translation writes them as metadata, or
/// as annotations when the exporter indexes them (`index_all_attributes`, `indexed_attributes`).
#[derive(Clone, Copy, PartialEq)]
enum Written {
    Metadata,
    MetadataOrAnnotations,
}

/// Asserts that `doc`, a segment as X-Ray stored it, carries `pod`'s EKS identity in `cluster`,
/// as the stamping (X-Ray SDK documents) and the OTLP translation (OpenTelemetry spans) write it.
fn assert_eks_identity(
    doc: &Value,
    cluster: &str,
    pod: &Workload<'_>,
    written: Written,
    context: &str,
) {
    let eks = &doc["aws"]["eks"];
    assert_eq!(eks["cluster_name"], cluster, "{context}: {doc:#}");
    assert_eq!(eks["pod"], pod.pod, "{context}: {doc:#}");
    assert_eq!(doc["origin"], "AWS::EKS::Container", "{context}: {doc:#}");
    for (key, want) in [
        ("k8s.cluster.name", cluster),
        ("k8s.namespace.name", pod.namespace),
        ("k8s.pod.name", pod.pod),
        ("k8s.pod.uid", pod.uid),
        ("k8s.deployment.name", pod.deployment),
        ("k8s.node.name", pod.node),
    ] {
        let key = format!("otel.resource.{key}");
        let mut value = &doc["metadata"]["default"][&key];
        if value.is_null() && written == Written::MetadataOrAnnotations {
            value = &doc["annotations"][&key];
        }
        assert_eq!(value, want, "{context}: {key} in {doc:#}");
    }
}

/// `stored` without what the stamping adds to a document `sent` without it: `aws.eks`,
/// `origin`, and the `otel.resource.*` entries of `metadata.default` (and what they leave empty).
fn without_stamp(stored: &Value, sent: &Value) -> Value {
    let mut doc = stored.clone();
    let Some(object) = doc.as_object_mut() else {
        return doc;
    };
    if sent.get("origin").is_none() {
        object.remove("origin");
    }
    if sent["aws"].get("eks").is_none() {
        if let Some(aws) = object.get_mut("aws").and_then(Value::as_object_mut) {
            aws.remove("eks");
        }
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(default) = metadata.get_mut("default").and_then(Value::as_object_mut) {
            default.retain(|k, _| !k.starts_with("otel.resource."));
            if default.is_empty() && sent["metadata"].get("default").is_none() {
                metadata.remove("default");
            }
        }
        if metadata.is_empty() && sent.get("metadata").is_none() {
            object.remove("metadata");
        }
    }
    doc
}

/// One test per golden blueprint, and the list `every_golden_collector_has_a_delivery_test`
/// checks against `golden/`.
macro_rules! delivery_tests {
    ($($test:ident => $blueprint:literal,)*) => {
        $(
            #[test]
            fn $test() {
                delivers_what_the_real_sdks_send_with_their_pods_identity($blueprint);
            }
        )*
        const DELIVERY_TESTS: &[&str] = &[$($blueprint),*];
    };
}

delivery_tests! {
    daemonset_otlp_proxy_delivers_what_the_real_sdks_send => "daemonset-otlp-proxy",
    existing_cluster_adoption_delivers_what_the_real_sdks_send => "existing-cluster-adoption",
    guide_existing_cluster_delivers_what_the_real_sdks_send => "guide-existing-cluster",
    guide_traces_and_metrics_delivers_what_the_real_sdks_send => "guide-traces-and-metrics",
    new_cluster_vpc_delivers_what_the_real_sdks_send => "new-cluster-vpc",
    pod_identity_delivers_what_the_real_sdks_send => "pod-identity",
    xray_sdk_migration_delivers_what_the_real_sdks_send => "xray-sdk-migration",
}

#[test]
fn every_golden_collector_has_a_delivery_test() {
    let goldens: Vec<String> = deployed().into_iter().map(|d| d.blueprint).collect();
    assert_eq!(
        goldens, DELIVERY_TESTS,
        "add a line to delivery_tests! for each golden blueprint"
    );
}

/// The golden collector of `blueprint`, started as the operator starts it in a cluster whose
/// API is the stand-in: the real SDKs' documents and spans, sent from their pods' addresses, all
/// arrive, each with its pod's EKS identity.
fn delivers_what_the_real_sdks_send_with_their_pods_identity(blueprint: &str) {
    let check = "deployed: golden collectors started as the operator starts them -> moto";
    let Some(python) = harness::python(check) else {
        return;
    };
    let d = deployed()
        .into_iter()
        .find(|d| d.blueprint == blueprint)
        .unwrap_or_else(|| panic!("no golden collector {blueprint}"));
    let cluster_name = cluster_name(&d);
    let cluster = Cluster::start();
    let storage = tempfile::tempdir().unwrap();
    let moto;
    let otlp_endpoint;
    let endpoint = if d.exporter() == "otlphttp" {
        let region = d.spec["config"]["extensions"]["sigv4auth"]["region"]
            .as_str()
            .expect("sigv4auth.region");
        otlp_endpoint = Some(Endpoint::start_for(&python, region));
        moto = None;
        format!(
            "http://127.0.0.1:{}/v1/traces",
            otlp_endpoint.as_ref().unwrap().port
        )
    } else {
        otlp_endpoint = None;
        let Some(m) = harness::MotoServer::start(check) else {
            return;
        };
        let e = m.endpoint();
        moto = Some(m);
        e
    };
    let op = Operator::new(&d, &endpoint, storage.path(), Some(&cluster));
    op.assert_only_substituted(&d);
    let c = op.start();
    // The pod cache is filled before the apps send (as it is long before in a cluster).
    c.wait_metric(
        "xray_collector_processor_k8sattributes_api_up",
        &[],
        1.0,
        Duration::from_secs(20),
    );
    let documents = xray_sdk_app(&python, op.ports.udp, XRAY_POD.ip, c.dir.path(), 10);
    assert_eq!(documents.len(), 10 * 7, "{}", d.blueprint);
    let spans = match (op.ports.grpc, op.ports.http) {
        (Some(grpc), Some(http)) => {
            let grpc = PodRelay::start(OTEL_POD.ip, grpc);
            let http = PodRelay::start(OTEL_POD.ip, http);
            otel_app(&python, grpc.port, http.port, c.dir.path(), 3)
        }
        _ => {
            assert!(
                !d.has_otlp(),
                "{}: OTLP without both protocols",
                d.blueprint
            );
            Vec::new()
        }
    };
    let total = (documents.len() + spans.len()) as f64;
    let sent = c.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        total,
        Duration::from_secs(60),
    );
    let metrics = c.metrics();
    let refused = metric_sum_or_zero(&metrics, "xray_collector_receiver_refused_items_total", &[]);
    let failed = metric_sum_or_zero(&metrics, "xray_collector_exporter_failed_items_total", &[]);
    let dropped = metric_sum_or_zero(&metrics, "xray_collector_exporter_dropped_items_total", &[]);
    assert_eq!(
        (sent, refused, failed, dropped),
        (total, 0.0, 0.0, 0.0),
        "{}: sent, refused, failed, dropped\n{}",
        d.blueprint,
        c.log()
    );
    assert_eq!(
        metric_sum_or_zero(
            &metrics,
            "xray_collector_processor_resourcedetection_failures_total",
            &[]
        ),
        0.0,
        "{}: the eks detector found the cluster\n{}",
        d.blueprint,
        c.log()
    );
    c.sigterm();
    let (status, log) = c.wait(Duration::from_secs(30));
    assert!(status.success(), "{}: exit {status}\n{log}", d.blueprint);
    assert!(
        cluster.api.requests().iter().any(|r| r.contains("watch=")),
        "{}: the collector watches the stand-in: {:?}",
        d.blueprint,
        cluster.api.requests()
    );

    let document_ids: BTreeSet<String> = documents
        .iter()
        .map(|doc| doc["id"].as_str().expect("id").to_owned())
        .collect();
    let span_ids: BTreeSet<String> = spans
        .iter()
        .map(|s| s["span_id"].as_str().expect("span_id").to_owned())
        .collect();
    // The documents that are segments (the SDK streams the rest as independent subsegments,
    // which keep their bytes) and the spans that become segments (SERVER spans).
    let segment_ids: BTreeSet<String> = documents
        .iter()
        .filter(|doc| doc["type"] != "subsegment")
        .map(|doc| doc["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        segment_ids.len(),
        10,
        "{}: one segment a trace",
        d.blueprint
    );
    let server_ids: BTreeSet<String> = spans
        .iter()
        .filter(|s| s["kind"] == "SERVER")
        .map(|s| s["span_id"].as_str().unwrap().to_owned())
        .collect();
    if let Some(moto) = &moto {
        let mut trace_ids: BTreeSet<String> = documents
            .iter()
            .map(|doc| doc["trace_id"].as_str().expect("trace_id").to_owned())
            .collect();
        trace_ids.extend(
            spans
                .iter()
                .map(|s| xray_trace_id(s["trace_id"].as_str().expect("trace_id"))),
        );
        let trace_ids: Vec<String> = trace_ids.into_iter().collect();
        let scratch = tempfile::tempdir().unwrap();
        let region = d.spec["config"]["exporters"]["awsxray"]["region"]
            .as_str()
            .expect("awsxray.region");
        let stored = common::read_back_in(
            &python,
            &moto.endpoint(),
            region,
            &trace_ids,
            scratch.path(),
        );
        let stored_ids: BTreeSet<String> = stored.iter().map(|(_, id, _)| id.clone()).collect();
        let want: BTreeSet<String> = document_ids.union(&span_ids).cloned().collect();
        assert_eq!(
            stored.len(),
            want.len(),
            "{}: documents in moto",
            d.blueprint
        );
        assert_eq!(stored_ids, want, "{}: document ids in moto", d.blueprint);
        let (mut stamped, mut streamed, mut translated) = (0, 0, 0);
        for (_, id, text) in &stored {
            let stored: Value = serde_json::from_str(text).unwrap();
            let context = format!("{}: document {id}", d.blueprint);
            if let Some(doc) = documents.iter().find(|doc| doc["id"] == id.as_str()) {
                if segment_ids.contains(id) {
                    // The SDK's segment, stamped with its pod's identity and otherwise as sent.
                    assert_eks_identity(
                        &stored,
                        &cluster_name,
                        &XRAY_POD,
                        Written::Metadata,
                        &context,
                    );
                    assert_eq!(&without_stamp(&stored, doc), doc, "{context}");
                    stamped += 1;
                } else {
                    // Streamed subsegments reach X-Ray byte for byte, so JSON-equal.
                    assert_eq!(&stored, doc, "{context}");
                    streamed += 1;
                }
            } else if server_ids.contains(id) {
                assert_eks_identity(
                    &stored,
                    &cluster_name,
                    &OTEL_POD,
                    Written::MetadataOrAnnotations,
                    &context,
                );
                translated += 1;
            }
        }
        assert_eq!(
            (stamped, streamed, translated),
            (10, 60, server_ids.len()),
            "{}: SDK segments stamped, streamed subsegments, OTLP server spans with identity",
            d.blueprint
        );
    } else if let Some(endpoint) = &otlp_endpoint {
        let received = endpoint.rows("spans.jsonl");
        let received_ids: BTreeSet<String> = received
            .iter()
            .map(|s| s["span_id"].as_str().expect("span_id").to_owned())
            .collect();
        // Each X-Ray document becomes one span, and so does each subsegment nested in it.
        assert_eq!(
            received.len(),
            received_ids.len(),
            "{}: a span twice",
            d.blueprint
        );
        let want: BTreeSet<String> = document_ids.union(&span_ids).cloned().collect();
        let missing: Vec<&String> = want.difference(&received_ids).collect();
        assert!(
            missing.is_empty(),
            "{}: spans missing at the OTLP endpoint: {missing:?}",
            d.blueprint
        );
        let nested: usize = documents.iter().map(nested_subsegments).sum();
        assert_eq!(
            received.len(),
            want.len() + nested,
            "{}: spans at the OTLP endpoint",
            d.blueprint
        );
        let requests = endpoint.rows("requests.jsonl");
        assert!(
            !requests.is_empty() && requests.iter().all(|r| r["accepted"] == true),
            "{}: every request signed and accepted: {requests:?}",
            d.blueprint
        );
        // The pods' identity as resource attributes: the SDK segments' (stamped, then
        // translated) and every OpenTelemetry span's.
        let (mut from_segments, mut from_otel) = (0, 0);
        for span in &received {
            let id = span["span_id"].as_str().unwrap();
            let resource = &span["resource"];
            let context = format!("{}: span {id}: {span:#}", d.blueprint);
            let pod = if segment_ids.contains(id) {
                from_segments += 1;
                // The translation of an X-Ray document makes `aws.eks` the resource's
                // `k8s.cluster.name` and `k8s.pod.name`; the rest of the stamped identity is in
                // the document's metadata, which becomes the span attribute
                // `aws.xray.metadata.default` (a JSON text), unless the resource has it.
                let metadata: Value = span["attributes"]["aws.xray.metadata.default"]
                    .as_str()
                    .map(|m| serde_json::from_str(m).expect("metadata is JSON"))
                    .unwrap_or_default();
                for (key, want) in [
                    ("k8s.namespace.name", XRAY_POD.namespace),
                    ("k8s.pod.uid", XRAY_POD.uid),
                    ("k8s.deployment.name", XRAY_POD.deployment),
                    ("k8s.node.name", XRAY_POD.node),
                ] {
                    let mut value = &resource[key];
                    if value.is_null() {
                        value = &metadata[format!("otel.resource.{key}")];
                    }
                    assert_eq!(value, want, "{context}");
                }
                &XRAY_POD
            } else if span_ids.contains(id) {
                from_otel += 1;
                for (key, want) in [
                    ("k8s.namespace.name", OTEL_POD.namespace),
                    ("k8s.pod.uid", OTEL_POD.uid),
                    ("k8s.deployment.name", OTEL_POD.deployment),
                    ("k8s.node.name", OTEL_POD.node),
                ] {
                    assert_eq!(resource[key], want, "{context}");
                }
                &OTEL_POD
            } else {
                continue;
            };
            assert_eq!(resource["k8s.cluster.name"], cluster_name, "{context}");
            assert_eq!(resource["k8s.pod.name"], pod.pod, "{context}");
            assert_eq!(resource["cloud.platform"], "aws_eks", "{context}");
        }
        assert_eq!(
            (from_segments, from_otel),
            (10, spans.len()),
            "{}: spans checked",
            d.blueprint
        );
    }
    eprintln!(
        "DEPLOYED {}: {} X-Ray SDK documents and {} OpenTelemetry spans delivered ({}), with the EKS identity of cluster {cluster_name}",
        d.blueprint,
        documents.len(),
        spans.len(),
        d.exporter()
    );
}

#[test]
fn every_golden_persistent_queue_survives_an_outage_and_a_kill_9() {
    let mut ran = Vec::new();
    for d in deployed().into_iter().filter(Deployed::persistent) {
        assert_eq!(
            d.exporter(),
            "awsxray",
            "{}: the fault server speaks PutTraceSegments",
            d.blueprint
        );
        let storage = tempfile::tempdir().unwrap();
        let (server, healthy) = outage_server();
        let op = Operator::new(&d, &server.endpoint(), storage.path(), None);
        let c = op.start();
        let ids = send(op.ports.udp, 500);
        let received = c.wait_metric(
            "xray_collector_receiver_received_items_total",
            &[],
            500.0,
            Duration::from_secs(10),
        );
        assert_eq!(received, 500.0, "{}\n{}", d.blueprint, c.log());
        wait_on_disk(&storage.path().join("awsxray"), &ids, || c.log());
        assert!(
            server.accepted().is_empty(),
            "{}: accepted during the outage",
            d.blueprint
        );
        c.kill9();
        std::thread::sleep(Duration::from_millis(300));
        healthy.store(true, Ordering::SeqCst);
        let c = op.start();
        let duplicates = wait_delivered(&server, &ids, || c.log());
        assert_eq!(
            duplicates, 0,
            "{}: nothing was accepted before the kill",
            d.blueprint
        );
        eprintln!(
            "DEPLOYED {}: 500 documents received during an outage, kill -9, all delivered after the restart",
            d.blueprint
        );
        drop(c);
        ran.push(d.blueprint);
    }
    assert!(
        ran.len() >= 3,
        "every persistence mode has a golden blueprint: {ran:?}"
    );
}

/// Sends `n` documents of about `pad` bytes each, as fast as the kernel takes them in bursts of
/// 20; returns how many datagrams were sent.
fn send_large(udp: u16, n: u64, pad: usize) -> u64 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let padding = "p".repeat(pad);
    for k in 0..n {
        let body = format!(
            r#"{{"id":"{:016x}","name":"full","start_time":{epoch}.5,"end_time":{epoch}.75,"trace_id":"1-{epoch:08x}-{:024x}","metadata":{{"default":{{"pad":"{padding}"}}}}}}"#,
            k + 1,
            k / 10 + 1
        );
        let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{body}");
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", udp))
            .unwrap();
        if k % 20 == 19 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    n
}

#[test]
fn the_rendered_queue_under_an_outage_stays_under_the_memory_limit_and_counts_every_drop() {
    // The first golden collector with an in-memory queue and the xray-api exporter.
    let d = deployed()
        .into_iter()
        .find(|d| !d.persistent() && d.exporter() == "awsxray")
        .expect("a golden collector with an in-memory awsxray queue");
    let limit = d.memory_limit();
    let queue = d.spec["config"]["exporters"]["awsxray"]["sending_queue"]["queue_size"]
        .as_u64()
        .expect("a byte-sized queue");
    let storage = tempfile::tempdir().unwrap();
    let (server, healthy) = outage_server();
    let op = Operator::new(&d, &server.endpoint(), storage.path(), None);
    let c = op.start();

    // About 6 KiB per document: twice the queue's bytes, so it fills and refuses the rest.
    let pad = 6000;
    let n = 2 * queue / pad as u64;
    send_large(op.ports.udp, n, pad);
    let full = c.wait_metric(
        "xray_collector_exporter_dropped_items_total",
        &["reason=\"queue_full\""],
        1.0,
        Duration::from_secs(60),
    );
    assert!(full >= 1.0, "the queue never filled\n{}", c.log());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut received = 0.0;
    while Instant::now() < deadline {
        let now = metric_sum(
            &c.metrics(),
            "xray_collector_receiver_received_items_total",
            &[],
        );
        if now == received && now > 0.0 {
            break;
        }
        received = now;
        std::thread::sleep(Duration::from_millis(500));
    }
    let metrics = c.metrics();
    let queued = metric_sum(&metrics, "xray_collector_exporter_queue_size", &[]);
    let capacity = metric_sum(&metrics, "xray_collector_exporter_queue_capacity", &[]);
    let peak = c.status_kib("VmHWM") << 10;
    eprintln!(
        "DEPLOYED {}: {n} documents of {pad} bytes sent during an outage, {received} received, queue {queued} of {capacity} bytes, peak RSS {} MiB under the {} MiB limit",
        d.blueprint,
        peak >> 20,
        limit >> 20
    );
    assert_eq!(capacity, queue as f64, "the rendered queue size");
    assert!(
        queued > 0.9 * capacity,
        "the queue is full: {queued} of {capacity}"
    );
    assert!(
        peak < limit,
        "peak RSS {peak} bytes over the pod's limit {limit}"
    );

    // X-Ray comes back: every received document ends in exactly one counter.
    healthy.store(true, Ordering::SeqCst);
    let a = common::settle(&c, received as u64, Duration::from_secs(120));
    assert_eq!(
        a.refused + a.sent + a.failed + a.dropped,
        a.received,
        "every document counted once: {a:?}"
    );
    assert!(a.dropped > 0, "{a:?}");
    assert_eq!(a.failed, 0, "{a:?}");
    let accepted: u64 = server.accepted().len() as u64;
    assert_eq!(accepted, a.sent, "sent = what X-Ray accepted");
    assert!(
        c.status_kib("VmHWM") << 10 < limit,
        "peak RSS over the limit after the drain"
    );
}

/// The benchmark's template of a golden collector: its `spec.config` as deployed, with the
/// benchmark's placeholders where the operator-started test substitutes loopback ports, the
/// export endpoint and the queue's directory (`collector/bench` replaces them per step). The
/// OTLP receivers and the sampling proxy bind ephemeral loopback ports: the benchmark sends UDP
/// only, and several steps run at once.
fn bench_template(d: &Deployed) -> String {
    let mut config = d.spec["config"].clone();
    config["receivers"]["awsxray"]["endpoint"] = json!("127.0.0.1:UDP_PORT");
    if config["receivers"]["awsxray"].get("proxy_server").is_some() {
        config["receivers"]["awsxray"]["proxy_server"]["endpoint"] = json!("127.0.0.1:0");
    }
    if let Some(Value::Object(protocols)) = config.pointer_mut("/receivers/otlp/protocols") {
        for p in protocols.values_mut() {
            p["endpoint"] = json!("127.0.0.1:0");
        }
    }
    config["extensions"]["health_check"]["endpoint"] = json!("127.0.0.1:HEALTH_PORT");
    config["service"]["telemetry"]["metrics"]["readers"] = json!([{"pull": {"exporter": {
        "prometheus": {"host": "127.0.0.1", "port": "@METRICS@"}
    }}}]);
    match d.exporter() {
        "otlphttp" => {
            config["exporters"]["otlphttp"]["traces_endpoint"] = json!("SINK_ENDPOINT/v1/traces")
        }
        _ => config["exporters"]["awsxray"]["endpoint"] = json!("SINK_ENDPOINT"),
    }
    if config["extensions"].get("file_storage").is_some() {
        config["extensions"]["file_storage"]["directory"] = json!("STORAGE_DIR");
    }
    let body = serde_json::to_string_pretty(&config)
        .unwrap()
        .replace("\"@METRICS@\"", "METRICS_PORT");
    format!(
        "# The collector configuration blueprint `{}` deploys (golden/{}/kubernetes/opentelemetrycollector.yaml,\n# spec.config), as a template for collector/bench: `--config` this file. Written by\n# collector/tests/it/deployed.rs (XRB_BLESS=1); do not edit.\n{body}\n",
        d.blueprint, d.blueprint
    )
}

#[test]
fn the_benchmark_templates_of_the_golden_collectors_are_fresh() {
    let dir = harness::project_root().join("collector/bench/configs/deployed");
    let mut stale = Vec::new();
    for d in deployed() {
        let path = dir.join(format!("{}.yaml", d.blueprint));
        let want = bench_template(&d);
        // The template must be a config the collector accepts once the placeholders are filled.
        let filled = want
            .replace("UDP_PORT", "2000")
            .replace("SINK_ENDPOINT", "http://127.0.0.1:1")
            .replace("HEALTH_PORT", "13133")
            .replace("METRICS_PORT", "8888")
            .replace("STORAGE_DIR", "/tmp/queue");
        if let Err(e) = xray_collector::config::load_str(&filled, "template.yaml", &|_| None) {
            panic!("{}: the template does not load: {:?}", d.blueprint, e.0);
        }
        if harness::bless() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale benchmark templates (run this test with XRB_BLESS=1): {stale:?}"
    );
}
