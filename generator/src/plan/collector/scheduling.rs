//! Where the collector's pods may run: a required node affinity on `kubernetes.io/arch` for the
//! architectures the image has, so a pod never lands on a node that cannot execute it (an amd64
//! image on a Graviton node fails with `exec format error`, over and over).

use serde_json::{Value, json};

/// The well-known node label of a node's CPU architecture.
pub const ARCH_LABEL: &str = "kubernetes.io/arch";

/// The pod's `affinity`: required, on `kubernetes.io/arch` in `architectures`.
pub fn affinity(architectures: &[String]) -> Value {
    json!({
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{
                    "matchExpressions": [{
                        "key": ARCH_LABEL,
                        "operator": "In",
                        "values": architectures,
                    }]
                }]
            }
        }
    })
}
