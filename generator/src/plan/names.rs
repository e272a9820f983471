//! Name helpers of the plan, and the name budget: every AWS name the plan derives, with the limit
//! of its service (`Plan::derived_names`). The names are fitted by `blueprint::rules::fit_name`,
//! which validation shares to find clashes with names the blueprint sets.

use serde::Serialize;
use serde_json::Value;

use crate::blueprint::rules::IAM_ROLE_NAME_MAX;
use crate::plan::cluster::ClusterPlan;
use crate::plan::identity::IdentityPlan;

/// One AWS name the plan derives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedName {
    /// What it names, for example `the node role`.
    pub what: &'static str,
    /// The AWS resource type whose name it is, for example `AWS::IAM::Role`.
    pub resource_type: &'static str,
    /// The name.
    pub name: String,
    /// The longest name the service accepts.
    pub max: usize,
}

/// Every AWS resource name derived for a cluster and the collector's identity, with its
/// service's limit (`Plan::derived_names`).
pub fn derived_names(cluster: &ClusterPlan, identity: &IdentityPlan) -> Vec<DerivedName> {
    let role = |what, name: &String| DerivedName {
        what,
        resource_type: "AWS::IAM::Role",
        name: name.clone(),
        max: IAM_ROLE_NAME_MAX,
    };
    let mut names = vec![role("the collector role", &identity.role_name)];
    if let Some(c) = &cluster.create {
        names.push(role("the cluster role", &c.cluster_role_name));
        names.push(role("the node role", &c.node_role_name));
        if c.vpc.is_some() {
            names.push(role("the VPC flow log role", &c.flow_logs_role_name));
            names.push(DerivedName {
                what: "the VPC flow log group",
                resource_type: "AWS::Logs::LogGroup",
                name: format!("/aws/vpc/{}/flow-logs", cluster.name),
                max: 512,
            });
        }
        names.push(DerivedName {
            what: "the control plane log group",
            resource_type: "AWS::Logs::LogGroup",
            name: format!("/aws/eks/{}/cluster", cluster.name),
            max: 512,
        });
        for g in &c.node_groups {
            names.push(DerivedName {
                what: "a node group",
                resource_type: "AWS::EKS::Nodegroup",
                name: g.name.clone(),
                max: 63,
            });
        }
    }
    names
}

/// The serde name of a unit enum variant.
pub(super) fn enum_string<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}
