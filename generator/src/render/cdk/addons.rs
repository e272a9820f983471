//! The EKS add-ons (cert-manager, then ADOT) and CloudWatch Transaction Search.

use serde_json::{Value, json};

use crate::render::cdk::template::Template;

impl Template<'_> {
    /// cert-manager, then ADOT: the ADOT add-on's operator webhook needs cert-manager's certificate.
    /// An `existing` add-on gets no resource, and the next one waits only for what the stack
    /// creates. CloudFormation has one `ResolveConflicts` for create and update (and refuses
    /// `PRESERVE` on create), so it takes the blueprint's create choice; it has no timeouts either:
    /// the EKS add-on handler waits on its own schedule.
    pub(super) fn addons(&mut self, prerequisites: Vec<String>) {
        let plan = self.plan;
        let mut adot_depends_on = prerequisites.clone();
        if plan.addons.cert_manager.install {
            let resource = self.addon(&plan.addons.cert_manager, true);
            self.depends(resource, "CertManagerAddon", &prerequisites);
            adot_depends_on = vec!["CertManagerAddon".to_owned()];
        }
        if plan.addons.adot.install {
            let resource = self.addon(&plan.addons.adot, true);
            self.depends(resource, "AdotAddon", &adot_depends_on);
        }
    }

    /// An `AWS::EKS::Addon` for an installed add-on. `always_values`: write `ConfigurationValues`
    /// even when the blueprint sets none (`{}`).
    pub(super) fn addon(&self, addon: &crate::plan::AddonPlan, always_values: bool) -> Value {
        let mut properties = json!({
            "ClusterName": self.cluster_name(),
            "AddonName": addon.name,
            "ResolveConflicts": addon.resolve_conflicts,
            "Tags": self.tags(),
        });
        if always_values || addon.has_configuration_values {
            properties["ConfigurationValues"] = json!(addon.configuration_values);
        }
        if let Some(version) = &addon.version {
            properties["AddonVersion"] = json!(version);
        }
        if addon.preserve_on_delete {
            properties["PreserveOnDelete"] = json!(true);
        }
        json!({ "Type": "AWS::EKS::Addon", "Properties": properties })
    }

    fn depends(&mut self, mut resource: Value, id: &str, depends_on: &[String]) {
        if !depends_on.is_empty() {
            resource["DependsOn"] = json!(depends_on);
        }
        self.resource(id, resource);
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
