//! The stack outputs the Kubernetes step and the user need after the deploy.

use serde_json::json;

use crate::render::cdk::template::{COLLECTOR_ROLE_ID, Template, get_att, r#ref};

impl Template<'_> {
    /// What the Kubernetes objects and the user need after the deploy.
    pub(super) fn outputs(&mut self) {
        let plan = self.plan;
        let cluster = self.cluster_name();
        self.output("ClusterName", "The EKS cluster name.", cluster);
        self.output("Region", "The region of the cluster.", r#ref("AWS::Region"));
        self.output(
            "UpdateKubeconfigCommand",
            "Points kubectl at the cluster before applying the kubernetes/ directory.",
            json!({ "Fn::Sub": [
                "aws eks update-kubeconfig --region ${AWS::Region} --name ${ClusterName}",
                { "ClusterName": self.cluster_name() },
            ] }),
        );
        self.output(
            "CollectorRoleArn",
            "The collector's IAM role; the Kubernetes target's ServiceAccount names the same ARN.",
            get_att(COLLECTOR_ROLE_ID, "Arn"),
        );
        self.output(
            "CollectorServiceAccount",
            "The namespace/name of the collector's ServiceAccount, as the role trusts it.",
            json!(format!(
                "{}/{}",
                plan.collector.namespace, plan.collector.service_account
            )),
        );
        self.output(
            "XrayDaemonAddress",
            "What applications set as AWS_XRAY_DAEMON_ADDRESS.",
            json!(plan.collector.xray_daemon_address),
        );
        self.output(
            "AdotAddonVersion",
            "The ADOT add-on version, which decides the collector CRD version.",
            json!(plan.addons.adot.version),
        );
        if plan.identity.irsa && !plan.cluster.existing {
            self.output(
                "OidcIssuerUrl",
                "The cluster's OIDC issuer.",
                get_att("Cluster", "OpenIdConnectIssuerUrl"),
            );
        }
    }
}
