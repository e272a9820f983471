//! The collector's IAM role: IRSA (with the OIDC provider of a created cluster, or the issuer as a
//! parameter) or EKS Pod Identity (the agent add-on and the association).

use serde_json::{Value, json};

use crate::render::cdk::template::{
    COLLECTOR_ROLE_ID, OIDC_ISSUER_PARAMETER, Template, get_att, issuer_of_created_cluster, pascal,
    r#ref,
};

impl Template<'_> {
    /// The collector role's common properties: name, policies, boundary, tags.
    fn role_properties(&self, trust: Value) -> Value {
        let plan = self.plan;
        let mut properties = json!({
            "RoleName": plan.identity.role_name,
            "Description": format!(
                "The X-Ray collector {}/{} on EKS cluster {} ({}).",
                plan.collector.namespace,
                plan.collector.service_account,
                plan.cluster.name,
                plan.identity.mode
            ),
            "AssumeRolePolicyDocument": trust,
            "Tags": self.tags(),
        });
        if !plan.identity.policy_arns.is_empty() {
            properties["ManagedPolicyArns"] = json!(plan.identity.policy_arns);
        }
        if let Some(policy) = &plan.identity.inline_policy {
            // The otlp exporter: exactly the X-Ray actions the collector calls, on "*" because
            // X-Ray supports no resource-level permissions for them.
            properties["Policies"] = json!([{
                "PolicyName": policy.name,
                "PolicyDocument": policy.document,
            }]);
        }
        if let Some(boundary) = &plan.identity.permissions_boundary_arn {
            properties["PermissionsBoundary"] = json!(boundary);
        }
        properties
    }

    /// IRSA: the OIDC provider of a created cluster, and the collector role trusting the
    /// collector's ServiceAccount through it.
    pub(super) fn irsa(&mut self) {
        let plan = self.plan;
        let identity = &plan.identity;
        let trust = match (&plan.cluster.oidc_issuer, &plan.cluster.oidc_provider_arn) {
            (Some(issuer), Some(provider_arn)) => {
                // The issuer is known at render time: a plain object policy that cfn-lint checks.
                json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": { "Federated": provider_arn },
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": { "StringEquals": {
                            format!("{issuer}:sub"): identity.service_account_subject,
                            format!("{issuer}:aud"): identity.audience,
                        } },
                    }],
                })
            }
            _ => {
                // The issuer is known only at deploy time, so it cannot be an object key: the
                // whole policy is a Fn::Sub string (see the module documentation).
                let (issuer, provider_arn) = if plan.cluster.existing {
                    self.parameters.insert(
                        OIDC_ISSUER_PARAMETER.to_owned(),
                        json!({
                            "Type": "String",
                            "AllowedPattern": r"^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/id/[0-9A-Fa-f]+$",
                            "ConstraintDescription": "the issuer without https://, as in oidc.eks.<region>.amazonaws.com/id/<ID>",
                            "Description": format!(
                                "The OIDC issuer of cluster {} without https:// (aws eks describe-cluster --name {} --query cluster.identity.oidc.issuer).",
                                plan.cluster.name, plan.cluster.name
                            ),
                        }),
                    );
                    let provider_arn = plan.aws.iam_arn("oidc-provider/");
                    (
                        r#ref(OIDC_ISSUER_PARAMETER),
                        json!({ "Fn::Join": ["", [provider_arn, r#ref(OIDC_ISSUER_PARAMETER)]] }),
                    )
                } else {
                    self.resource(
                        "OidcProvider",
                        json!({
                            "Type": "AWS::IAM::OIDCProvider",
                            "Properties": {
                                "Url": get_att("Cluster", "OpenIdConnectIssuerUrl"),
                                "ClientIdList": [identity.audience],
                                "Tags": self.tags(),
                            },
                        }),
                    );
                    (issuer_of_created_cluster(), get_att("OidcProvider", "Arn"))
                };
                let policy = json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": { "Federated": "${ProviderArn}" },
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": { "StringEquals": {
                            "${Issuer}:sub": identity.service_account_subject,
                            "${Issuer}:aud": identity.audience,
                        } },
                    }],
                });
                let text = serde_json::to_string(&policy).unwrap_or_default();
                json!({ "Fn::Sub": [text, { "Issuer": issuer, "ProviderArn": provider_arn }] })
            }
        };
        let properties = self.role_properties(trust);
        self.resource(
            COLLECTOR_ROLE_ID,
            json!({ "Type": "AWS::IAM::Role", "Properties": properties }),
        );
    }

    /// EKS Pod Identity: the agent add-on, the collector role trusting the Pod Identity service for
    /// the collector's ServiceAccount on this cluster only, and the association.
    pub(super) fn pod_identity(&mut self) {
        let plan = self.plan;
        let identity = &plan.identity;
        let collector = &plan.collector;
        let agent_installed = plan
            .addons
            .pod_identity_agent
            .as_ref()
            .filter(|agent| agent.install);
        if let Some(agent) = agent_installed {
            let mut agent_resource = self.addon(agent, false);
            if let Some(create) = &plan.cluster.create {
                // The agent is a DaemonSet: it needs nodes to become active.
                let groups: Vec<String> = create
                    .node_groups
                    .iter()
                    .map(|g| format!("NodeGroup{}", pascal(&g.name)))
                    .collect();
                agent_resource["DependsOn"] = json!(groups);
            }
            self.resource("PodIdentityAgentAddon", agent_resource);
        }

        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": identity.pod_identity_principal },
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": { "StringEquals": {
                    "aws:SourceAccount": plan.aws.account_id,
                    "aws:RequestTag/eks-cluster-name": plan.cluster.name,
                    "aws:RequestTag/kubernetes-namespace": collector.namespace,
                    "aws:RequestTag/kubernetes-service-account": collector.service_account,
                } },
            }],
        });
        let properties = self.role_properties(trust);
        self.resource(
            COLLECTOR_ROLE_ID,
            json!({ "Type": "AWS::IAM::Role", "Properties": properties }),
        );
        let mut association = json!({
            "Type": "AWS::EKS::PodIdentityAssociation",
            "Properties": {
                "ClusterName": self.cluster_name(),
                "Namespace": collector.namespace,
                "ServiceAccount": collector.service_account,
                "RoleArn": get_att(COLLECTOR_ROLE_ID, "Arn"),
                "Tags": self.tags(),
            },
        });
        if agent_installed.is_some() {
            association["DependsOn"] = json!(["PodIdentityAgentAddon"]);
        }
        self.resource("CollectorPodIdentityAssociation", association);
    }
}
