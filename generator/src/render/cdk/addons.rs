//! The EKS add-ons (cert-manager, then ADOT) and CloudWatch Transaction Search.

use serde_json::json;

use crate::render::cdk::template::Template;

impl Template<'_> {
    /// cert-manager, then ADOT: the ADOT add-on's operator webhook needs cert-manager's certificate.
    pub(super) fn addons(&mut self, prerequisites: Vec<String>) {
        let plan = self.plan;
        for (id, addon, depends_on) in [
            ("CertManagerAddon", &plan.addons.cert_manager, prerequisites),
            (
                "AdotAddon",
                &plan.addons.adot,
                vec!["CertManagerAddon".to_owned()],
            ),
        ] {
            let mut properties = json!({
                "ClusterName": self.cluster_name(),
                "AddonName": addon.name,
                "ConfigurationValues": addon.configuration_values,
                "ResolveConflicts": addon.resolve_conflicts,
                "Tags": self.tags(),
            });
            if let Some(version) = &addon.version {
                properties["AddonVersion"] = json!(version);
            }
            let mut resource = json!({ "Type": "AWS::EKS::Addon", "Properties": properties });
            if !depends_on.is_empty() {
                resource["DependsOn"] = json!(depends_on);
            }
            self.resource(id, resource);
        }
    }

    /// CloudWatch Transaction Search, when the blueprint enables it: the CloudWatch Logs resource
    /// policy that lets X-Ray write spans, then the account's `AWS::XRay::TransactionSearchConfig`
    /// (segment destination CloudWatch Logs, the `Default` indexing rule's percentage), which needs
    /// the policy to exist first.
    pub(super) fn transaction_search(&mut self) {
        let Some(ts) = &self.plan.transaction_search else {
            return;
        };
        let document = serde_json::to_string(&ts.policy_document).unwrap_or_default();
        self.resource(
            "TransactionSearchLogResourcePolicy",
            json!({
                "Type": "AWS::Logs::ResourcePolicy",
                "Properties": {
                    "PolicyName": ts.policy_name,
                    "PolicyDocument": document,
                },
            }),
        );
        self.resource(
            "TransactionSearchConfig",
            json!({
                "Type": "AWS::XRay::TransactionSearchConfig",
                "DependsOn": ["TransactionSearchLogResourcePolicy"],
                "Properties": { "IndexingPercentage": ts.indexing_percent },
            }),
        );
    }
}
