//! The pinned EKS add-ons, in install order: the Pod Identity agent (Pod Identity only),
//! cert-manager, ADOT.

use serde::Serialize;

use crate::blueprint::model::{IdentityMode, Spec};

/// The EKS add-ons, in install order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddonsPlan {
    /// `eks-pod-identity-agent` (only in Pod Identity mode); its version is left to EKS's default
    /// for the cluster version, so this holds only the name.
    pub pod_identity_agent: Option<AddonPlan>,
    /// The cert-manager community add-on; installed before ADOT.
    pub cert_manager: AddonPlan,
    /// The ADOT add-on; installed after cert-manager, only for the operator
    /// (`configuration_values` `{}`).
    pub adot: AddonPlan,
}

/// One EKS add-on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddonPlan {
    /// The EKS add-on name (`cert-manager`, `adot`, `eks-pod-identity-agent`).
    pub name: String,
    /// The pinned version; `None` only for the Pod Identity agent.
    pub version: Option<String>,
    /// The add-on configuration values, a JSON string (`{}`).
    pub configuration_values: String,
    /// `OVERWRITE`, used on create and update.
    pub resolve_conflicts: String,
}

impl AddonPlan {
    fn new(name: &str, version: Option<&String>) -> AddonPlan {
        AddonPlan {
            name: name.to_owned(),
            version: version.cloned(),
            configuration_values: "{}".to_owned(),
            resolve_conflicts: "OVERWRITE".to_owned(),
        }
    }
}

impl AddonsPlan {
    /// The add-ons the blueprint pins, plus the Pod Identity agent when the identity needs it.
    pub fn new(spec: &Spec) -> AddonsPlan {
        let pod_identity = spec.identity.mode == IdentityMode::PodIdentity;
        AddonsPlan {
            pod_identity_agent: pod_identity
                .then(|| AddonPlan::new("eks-pod-identity-agent", None)),
            cert_manager: AddonPlan::new("cert-manager", Some(&spec.addons.cert_manager.version)),
            adot: AddonPlan::new("adot", Some(&spec.addons.adot.version)),
        }
    }
}
