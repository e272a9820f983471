//! The `spec` of the `OpenTelemetryCollector` custom resource, built once. Its entries are in the
//! order the Kubernetes manifest shows them; the Terraform target writes the same value (as sorted
//! HCL), replacing only `serviceAccount` with a reference to its service account resource.

use serde_json::json;

use crate::plan::Ordered;
use crate::plan::collector::CollectorPlan;

/// The user and group the collector runs as (the image's non-root user).
const RUN_AS: u32 = 10001;

/// The `spec` of the collector `col`, whose pods run in `region`.
pub(super) fn collector_spec(col: &CollectorPlan, region: &str) -> Ordered {
    let mut spec = Ordered::object();
    spec.insert("mode", json!(col.mode));
    if let Some(replicas) = col.replicas {
        spec.insert("replicas", json!(replicas));
    }
    spec.insert("image", json!(col.image));
    spec.insert("imagePullPolicy", json!("IfNotPresent"));
    spec.insert("serviceAccount", json!(col.service_account));
    spec.insert("upgradeStrategy", json!("none"));
    spec.insert("env", json!([{"name": "AWS_REGION", "value": region}]));
    spec.insert("ports", ports(col));
    spec.insert("resources", col.resources.clone());
    spec.insert("podSecurityContext", pod_security_context());
    spec.insert("securityContext", security_context());
    if !col.node_selector.is_empty() {
        spec.insert("nodeSelector", json!(col.node_selector));
    }
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
