//! The Kubernetes API access the collector needs, and nothing more: `k8sattributes` lists and
//! watches pods (by IP), their ReplicaSets (for the deployment's name) and namespaces; the `eks`
//! detector reads the API server's `/version`, which every authenticated identity may
//! (`system:public-info-viewer`). A ClusterRole, because applications run in every namespace; a
//! daemonset's collector narrows its watch to its own node with a field selector, which RBAC
//! cannot express, so the role is the same for every mode.

use serde::Serialize;

/// One rule of the ClusterRole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RbacRule {
    /// The API group (`""` for the core group).
    pub api_group: String,
    /// The resources.
    pub resources: Vec<String>,
    /// The verbs.
    pub verbs: Vec<String>,
}

/// The ClusterRole and its binding to the collector's ServiceAccount.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RbacPlan {
    /// The ClusterRole's and the ClusterRoleBinding's name: `<namespace>-<name>-collector`, so
    /// that two collectors of the same name in different namespaces do not share one.
    pub name: String,
    /// The rules.
    pub rules: Vec<RbacRule>,
}

impl RbacPlan {
    /// The access of the collector `name` in `namespace`.
    pub fn new(namespace: &str, name: &str) -> RbacPlan {
        let read = || -> Vec<String> { ["get", "list", "watch"].map(String::from).to_vec() };
        RbacPlan {
            name: format!("{namespace}-{name}-collector"),
            rules: vec![
                RbacRule {
                    api_group: String::new(),
                    resources: vec!["namespaces".to_owned(), "pods".to_owned()],
                    verbs: read(),
                },
                RbacRule {
                    api_group: "apps".to_owned(),
                    resources: vec!["replicasets".to_owned()],
                    verbs: read(),
                },
            ],
        }
    }
}
