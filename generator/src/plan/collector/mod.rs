//! The OpenTelemetryCollector: its workload settings, its configuration (`config.rs`) and the
//! custom resource's `spec`, built here once as an `Ordered` value in the order the Kubernetes
//! manifest shows it. Every target emits the `spec` from this value: the Kubernetes target as YAML,
//! the Terraform target as HCL (replacing only `serviceAccount` with a reference to its service
//! account resource).
//!
//! `sizing.rs` derives the queue, `memory_limiter` and concurrency settings from the container's
//! memory limit and the expected rate; `persistence.rs` the persistent queue (the `file_storage`
//! extension and the pod's volume); `scheduling.rs` the node affinity for the image's
//! architectures; `monitoring.rs` how the collector's own metrics are scraped; `processors.rs`
//! the `memory_limiter`, `resourcedetection` and `k8sattributes` processors every pipeline runs
//! first, and `rbac.rs` the Kubernetes API access they need.

mod config;
pub mod monitoring;
pub mod persistence;
pub mod processors;
pub mod rbac;
pub mod scheduling;
pub mod sizing;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::blueprint::model::{
    Blueprint, Cluster, CollectorMode, DEFAULT_REPLICAS, ExporterType, Toleration,
};
use crate::plan::aws::AwsPlan;
use crate::plan::image::ImagePlan;
use crate::plan::names::enum_string;
use crate::plan::ordered::Ordered;
use crate::plan::ports::PortsPlan;

/// The OpenTelemetryCollector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectorPlan {
    /// The `OpenTelemetryCollector` name.
    pub name: String,
    /// Its namespace (also in the IAM trust policy and the pod identity association).
    pub namespace: String,
    /// Its ServiceAccount (also in the IAM trust policy and the pod identity association).
    pub service_account: String,
    /// `deployment`, `daemonset` or `statefulset`.
    pub mode: String,
    /// The replica count; `None` for a daemonset.
    pub replicas: Option<u32>,
    /// The autoscaler, if any.
    pub autoscaling: Option<AutoscalingPlan>,
    /// The image reference: `repository:tag`, or `repository@digest` when a digest is pinned.
    pub image: String,
    /// The image repository.
    pub image_repository: String,
    /// The image tag.
    pub image_tag: String,
    /// The image digest, if pinned.
    pub image_digest: Option<String>,
    /// The architectures the image has; the pods' node affinity allows exactly these.
    pub architectures: Vec<String>,
    /// Queue, `memory_limiter` and concurrency sizes from the memory limit and the expected rate.
    pub sizing: sizing::SizingPlan,
    /// The persistent sending queue and its volume, if the blueprint asks for one.
    pub persistence: Option<persistence::PersistencePlan>,
    /// The container's environment: `AWS_REGION`, `K8S_CLUSTER_NAME` and, for a daemonset,
    /// `K8S_NODE_NAME` from the downward API.
    pub env: Vec<Value>,
    /// The ClusterRole the processors need, bound to the collector's ServiceAccount.
    pub rbac: rbac::RbacPlan,
    /// Requests and limits: `{"requests": {"cpu", "memory"}, "limits": {...}}`.
    pub resources: Value,
    /// Node selector labels.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations, already in Kubernetes form (camelCase keys, absent fields omitted).
    pub tolerations: Vec<Value>,
    /// The pod disruption budget in Kubernetes form (`{"minAvailable": n}` or
    /// `{"maxUnavailable": n}`), if any.
    pub pod_disruption_budget: Option<Value>,
    /// `app.kubernetes.io/*` labels for every Kubernetes object the blueprint renders.
    pub labels: BTreeMap<String, String>,
    /// The Service the operator creates for the collector, `<name>-collector`.
    pub service_name: String,
    /// The value applications set as `AWS_XRAY_DAEMON_ADDRESS`:
    /// `<name>-collector.<namespace>:<udp port>`. For a daemonset, this Service routes to the
    /// collector on the caller's own node (`internalTrafficPolicy: Local`).
    pub xray_daemon_address: String,
    /// For a daemonset, the X-Ray ports are also opened as host ports, so applications may use
    /// the node's IP (`status.hostIP`) instead of the Service.
    pub host_ports: bool,
    /// Ports declared explicitly in `spec.ports` of the CR: X-Ray `2000/UDP` always, the sampling
    /// proxy on TCP when enabled.
    pub explicit_ports: Vec<PortPlan>,
    /// The collector configuration in OpenTelemetry collector-contrib format; `spec.config` is
    /// exactly this value.
    pub config: Value,
    /// The `spec` of the `OpenTelemetryCollector`, `config` included, in the order the Kubernetes
    /// manifest shows it. Every target emits it from this value: YAML for Kubernetes, HCL for
    /// Terraform's `kubernetes_manifest`.
    pub spec: Ordered,
    /// The region the exporter sends to.
    pub exporter_region: String,
    /// `xray-api` or `otlp`.
    pub exporter: String,
    /// Whether the exporter is `otlp` (a convenience for templates).
    pub otlp_export: bool,
    /// The exporter's name in the collector configuration: `awsxray` or `otlphttp`.
    pub exporter_component: String,
    /// Where the exporter sends: `https://xray.<region>.<suffix>/v1/traces` for `otlp`, the
    /// `PutTraceSegments` API of the region for `xray-api`.
    pub exporter_endpoint: String,
}

/// The collector's autoscaler.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoscalingPlan {
    /// Minimum replicas.
    pub min_replicas: u32,
    /// Maximum replicas.
    pub max_replicas: u32,
    /// Target average CPU utilisation in percent.
    pub target_cpu_utilization_percent: u32,
}

/// A port in `spec.ports`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortPlan {
    /// The port name (at most 15 characters).
    pub name: String,
    /// The port number.
    pub port: u16,
    /// `UDP` or `TCP`.
    pub protocol: String,
}

impl CollectorPlan {
    /// The collector of the blueprint, exporting from the cluster's partition.
    pub fn new(blueprint: &Blueprint, aws: &AwsPlan, ports: &PortsPlan) -> CollectorPlan {
        let col = &blueprint.spec.collector;
        let otlp_export = col.exporter.kind == ExporterType::Otlp;
        let exporter_region = col
            .exporter
            .region
            .clone()
            .unwrap_or_else(|| aws.region.clone());
        let xray_endpoint =
            crate::aws::Partition::of_region(&exporter_region).endpoint("xray", &exporter_region);
        let exporter_endpoint = if otlp_export {
            format!("{xray_endpoint}/v1/traces")
        } else {
            xray_endpoint
        };
        let mut config = config::collector_config(ports, col, &exporter_region, &exporter_endpoint);
        let image = ImagePlan::new(blueprint, aws);
        let sizing = sizing::SizingPlan::new(col);
        let exporter_component = if otlp_export { "otlphttp" } else { "awsxray" };
        config::size_queue(&mut config, exporter_component, &sizing);
        let persistence = persistence::PersistencePlan::new(col);
        if let Some(p) = &persistence {
            p.configure(&mut config, exporter_component);
        }
        let daemonset = col.mode == CollectorMode::Daemonset;
        processors::add(&mut config, &sizing, daemonset);
        let cluster_name = match &blueprint.spec.cluster {
            Cluster::Existing(c) => &c.name,
            Cluster::Create(c) => &c.name,
        };
        let mut env = vec![json!({"name": "AWS_REGION", "value": aws.region})];
        env.extend(processors::env(cluster_name, daemonset));
        let service_name = format!("{}-collector", col.name);
        let mut collector = CollectorPlan {
            name: col.name.clone(),
            namespace: col.namespace.clone(),
            service_account: col.service_account.clone(),
            mode: enum_string(&col.mode),
            replicas: (!daemonset).then_some(col.replicas.unwrap_or(DEFAULT_REPLICAS)),
            autoscaling: col.autoscaling.as_ref().map(|a| AutoscalingPlan {
                min_replicas: a.min_replicas,
                max_replicas: a.max_replicas,
                target_cpu_utilization_percent: a.target_cpu_utilization_percent,
            }),
            image: image.reference.clone(),
            image_repository: image.repository.clone(),
            image_tag: image.tag.clone(),
            image_digest: image.digest.clone(),
            architectures: image.architectures.clone(),
            sizing,
            persistence,
            env,
            rbac: rbac::RbacPlan::new(&col.namespace, &col.name),
            resources: json!({
                "limits": {"cpu": col.resources.limits.cpu, "memory": col.resources.limits.memory},
                "requests": {"cpu": col.resources.requests.cpu, "memory": col.resources.requests.memory},
            }),
            node_selector: col.node_selector.clone(),
            tolerations: col.tolerations.iter().map(toleration).collect(),
            pod_disruption_budget: col.pod_disruption_budget.as_ref().map(|p| {
                match (p.min_available, p.max_unavailable) {
                    (Some(n), _) => json!({"minAvailable": n}),
                    (None, Some(n)) => json!({"maxUnavailable": n}),
                    (None, None) => json!({"maxUnavailable": 1}),
                }
            }),
            labels: labels(blueprint),
            xray_daemon_address: format!("{service_name}.{}:{}", col.namespace, ports.xray_udp),
            service_name,
            host_ports: daemonset,
            explicit_ports: explicit_ports(ports),
            config,
            spec: Ordered::object(),
            exporter_region,
            exporter: enum_string(&col.exporter.kind),
            otlp_export,
            exporter_component: exporter_component.to_owned(),
            exporter_endpoint,
        };
        collector.spec = collector_spec(&collector);
        collector
    }
}

/// Ports declared in `spec.ports`: X-Ray on UDP, and the sampling proxy on TCP when enabled.
fn explicit_ports(ports: &PortsPlan) -> Vec<PortPlan> {
    let mut explicit = vec![PortPlan {
        name: "xray".to_owned(),
        port: ports.xray_udp,
        protocol: "UDP".to_owned(),
    }];
    if let Some(port) = ports.xray_proxy_tcp {
        explicit.push(PortPlan {
            name: "xray-proxy".to_owned(),
            port,
            protocol: "TCP".to_owned(),
        });
    }
    explicit
}

/// A toleration in Kubernetes form: camelCase keys, absent fields omitted.
fn toleration(t: &Toleration) -> Value {
    let mut it = serde_json::Map::new();
    if let Some(key) = &t.key {
        it.insert("key".into(), json!(key));
    }
    it.insert("operator".into(), json!(enum_string(&t.operator)));
    if let Some(value) = &t.value {
        it.insert("value".into(), json!(value));
    }
    if let Some(effect) = &t.effect {
        it.insert("effect".into(), json!(enum_string(effect)));
    }
    Value::Object(it)
}

/// The `app.kubernetes.io/*` labels of every Kubernetes object of the blueprint.
fn labels(blueprint: &Blueprint) -> BTreeMap<String, String> {
    let col = &blueprint.spec.collector;
    [
        ("component", "collector".to_owned()),
        ("instance", col.name.clone()),
        ("managed-by", "xray-blueprints".to_owned()),
        ("name", "xray-collector".to_owned()),
        ("part-of", blueprint.metadata.name.clone()),
        ("version", label_value(&col.image.tag)),
    ]
    .into_iter()
    .map(|(k, v)| (format!("app.kubernetes.io/{k}"), v))
    .collect()
}

/// A Kubernetes label value: at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn label_value(s: &str) -> String {
    let it: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    it.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// The user and group the collector runs as (the image's non-root user).
const RUN_AS: u32 = 10001;

/// The `spec` of the collector `col`.
fn collector_spec(col: &CollectorPlan) -> Ordered {
    let mut spec = Ordered::object();
    spec.insert("mode", json!(col.mode));
    if let Some(replicas) = col.replicas {
        spec.insert("replicas", json!(replicas));
    }
    spec.insert("image", json!(col.image));
    spec.insert("imagePullPolicy", json!("IfNotPresent"));
    spec.insert("serviceAccount", json!(col.service_account));
    spec.insert("upgradeStrategy", json!("none"));
    spec.insert("env", json!(col.env));
    spec.insert("ports", ports(col));
    spec.insert("resources", col.resources.clone());
    spec.insert("podSecurityContext", pod_security_context());
    spec.insert("securityContext", security_context());
    if let Some(p) = &col.persistence {
        for (key, value) in p.spec_entries(&col.image, RUN_AS) {
            spec.insert(key, value);
        }
    }
    if !col.node_selector.is_empty() {
        spec.insert("nodeSelector", json!(col.node_selector));
    }
    spec.insert("affinity", scheduling::affinity(&col.architectures));
    if !col.tolerations.is_empty() {
        spec.insert("tolerations", json!(col.tolerations));
    }
    if let Some(a) = &col.autoscaling {
        let mut autoscaler = Ordered::object();
        autoscaler.insert("minReplicas", json!(a.min_replicas));
        autoscaler.insert("maxReplicas", json!(a.max_replicas));
        autoscaler.insert(
            "targetCPUUtilization",
            json!(a.target_cpu_utilization_percent),
        );
        spec.insert("autoscaler", autoscaler);
    }
    if let Some(pdb) = &col.pod_disruption_budget {
        spec.insert("podDisruptionBudget", pdb.clone());
    }
    spec.insert("podAnnotations", monitoring::pod_annotations());
    spec.insert("observability", monitoring::observability());
    spec.insert("config", col.config.clone());
    spec
}

/// `spec.ports`: the explicit ports, also as host ports for a daemonset.
fn ports(col: &CollectorPlan) -> Ordered {
    Ordered::List(
        col.explicit_ports
            .iter()
            .map(|p| {
                let mut port = Ordered::object();
                port.insert("name", json!(p.name));
                port.insert("port", json!(p.port));
                port.insert("protocol", json!(p.protocol));
                if col.host_ports {
                    port.insert("hostPort", json!(p.port));
                }
                port
            })
            .collect(),
    )
}

/// The pod's security context: non-root, the runtime's default seccomp profile.
fn pod_security_context() -> Ordered {
    let mut it = Ordered::object();
    it.insert("runAsNonRoot", json!(true));
    it.insert("runAsUser", json!(RUN_AS));
    it.insert("runAsGroup", json!(RUN_AS));
    it.insert("fsGroup", json!(RUN_AS));
    it.insert("seccompProfile", json!({"type": "RuntimeDefault"}));
    it
}

/// The container's security context: the restricted Pod Security Standard, read-only root.
fn security_context() -> Ordered {
    let mut it = Ordered::object();
    it.insert("allowPrivilegeEscalation", json!(false));
    it.insert("privileged", json!(false));
    it.insert("readOnlyRootFilesystem", json!(true));
    it.insert("runAsNonRoot", json!(true));
    it.insert("runAsUser", json!(RUN_AS));
    it.insert("runAsGroup", json!(RUN_AS));
    it.insert("capabilities", json!({"drop": ["ALL"]}));
    it.insert("seccompProfile", json!({"type": "RuntimeDefault"}));
    it
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_sanitised() {
        assert_eq!(label_value("0.1.0"), "0.1.0");
        assert_eq!(label_value("v1+build"), "v1_build");
    }
}
