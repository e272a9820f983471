//! The processors every rendered pipeline runs before `batch`, in this order:
//! * `memory_limiter`, first, with the limits of `sizing.rs` (`check_interval: 1s`);
//! * `resourcedetection` with the `eks` detector and `k8s.cluster.name` enabled: the cluster's name
//!   is known at render time and reaches the collector as the pod's `K8S_CLUSTER_NAME` environment
//!   variable (`CLUSTER_NAME_ENV`), not as a literal in the configuration, so the configuration
//!   stays the same for every cluster; `override: false` keeps what applications set themselves;
//! * `k8sattributes`: the pod's name, uid, namespace, node and deployment, looked up by the
//!   sender's pod IP from a watch on the Kubernetes API. A daemonset's collector watches only the
//!   pods of its own node (`filter.node_from_env_var: K8S_NODE_NAME`, the downward API's
//!   `spec.nodeName`).
//!
//! The API access they need is `rbac.rs`'s ClusterRole; the ServiceAccount then mounts its token.

use serde_json::{Value, json};

use crate::plan::collector::sizing::SizingPlan;

/// The environment variable the `eks` detector reads the cluster's name from.
pub const CLUSTER_NAME_ENV: &str = "K8S_CLUSTER_NAME";

/// The environment variable a daemonset's `k8sattributes` reads its node's name from.
pub const NODE_NAME_ENV: &str = "K8S_NODE_NAME";

/// The pod metadata `k8sattributes` extracts.
pub const K8S_METADATA: [&str; 5] = [
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.namespace.name",
    "k8s.node.name",
    "k8s.deployment.name",
];

/// Adds `memory_limiter`, `resourcedetection` and `k8sattributes` to `config` and puts them, in
/// that order, before the rest of every pipeline's processors.
pub fn add(config: &mut Value, sizing: &SizingPlan, daemonset: bool) {
    config["processors"]["memory_limiter"] = json!({
        "check_interval": "1s",
        "limit_mib": sizing.memory_limiter_limit_mib,
        "spike_limit_mib": sizing.memory_limiter_spike_limit_mib,
    });
    config["processors"]["resourcedetection"] = json!({
        "detectors": ["eks"],
        "timeout": "5s",
        "override": false,
        "eks": {"resource_attributes": {"k8s.cluster.name": {"enabled": true}}},
    });
    let mut k8s = json!({
        "auth_type": "serviceAccount",
        "extract": {"metadata": K8S_METADATA},
    });
    if daemonset {
        k8s["filter"] = json!({"node_from_env_var": NODE_NAME_ENV});
    }
    config["processors"]["k8sattributes"] = k8s;
    if let Some(Value::Object(pipelines)) = config.pointer_mut("/service/pipelines") {
        for pipeline in pipelines.values_mut() {
            let rest = pipeline["processors"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut processors = vec![
                json!("memory_limiter"),
                json!("resourcedetection"),
                json!("k8sattributes"),
            ];
            processors.extend(rest);
            pipeline["processors"] = Value::Array(processors);
        }
    }
}

/// The environment the processors need: the cluster's name, and for a daemonset its node's name
/// from the downward API.
pub fn env(cluster_name: &str, daemonset: bool) -> Vec<Value> {
    let mut env = vec![json!({"name": CLUSTER_NAME_ENV, "value": cluster_name})];
    if daemonset {
        env.push(json!({
            "name": NODE_NAME_ENV,
            "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
        }));
    }
    env
}
