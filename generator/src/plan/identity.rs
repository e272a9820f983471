//! The collector's IAM role: its name and ARN, its policies, and how pods assume it (IRSA or EKS
//! Pod Identity).

use serde::Serialize;
use serde_json::{Value, json};

use crate::blueprint::model::{DEFAULT_POLICY_NAME, ExporterType, IdentityMode, Spec};
use crate::blueprint::rules::collector_role_name;
use crate::plan::aws::AwsPlan;
use crate::plan::names::enum_string;

/// The OIDC audience of IRSA web identity tokens.
pub const IRSA_AUDIENCE: &str = "sts.amazonaws.com";

/// The name of the collector role's inline policy under the `otlp` exporter.
pub const OTLP_POLICY_NAME: &str = "xray-otlp-export";

/// The collector's IAM role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityPlan {
    /// `irsa` or `pod_identity`.
    pub mode: String,
    /// Whether the mode is IRSA (a convenience for templates).
    pub irsa: bool,
    /// The role name.
    pub role_name: String,
    /// The role ARN, `arn:<partition>:iam::<account>:role/<role_name>`.
    pub role_arn: String,
    /// Managed policy ARNs attached to the role, in blueprint order (`AWSXRayDaemonWriteAccess` by
    /// default with the `xray-api` exporter, none by default with `otlp`).
    pub policy_arns: Vec<String>,
    /// The inline policy of the `otlp` exporter: `xray:PutTraceSegments` (the action the OTLP
    /// endpoint authorises), plus the sampling actions when the sampling proxy is on.
    pub inline_policy: Option<InlinePolicyPlan>,
    /// The permissions boundary ARN, if any.
    pub permissions_boundary_arn: Option<String>,
    /// The IRSA `sub` claim: `system:serviceaccount:<namespace>:<service account>`.
    pub service_account_subject: String,
    /// The IRSA `aud` claim, `sts.amazonaws.com`.
    pub audience: String,
    /// The Pod Identity service principal, `pods.eks.amazonaws.com`.
    pub pod_identity_principal: String,
}

/// An inline IAM policy of the collector's role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InlinePolicyPlan {
    /// The policy name.
    pub name: String,
    /// Its statements, each `{"sid", "actions"}` on resource `*` (X-Ray's trace and sampling
    /// actions support no resource-level permissions).
    pub statements: Vec<PolicyStatementPlan>,
    /// The policy document as JSON, for the CDK target and the tests.
    pub document: Value,
}

/// One `Allow` statement of an inline policy on resource `*`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyStatementPlan {
    /// The statement id.
    pub sid: String,
    /// The actions, sorted.
    pub actions: Vec<String>,
}

impl IdentityPlan {
    /// The role of the collector of `spec` on cluster `cluster_name`.
    pub fn new(spec: &Spec, aws: &AwsPlan, cluster_name: &str) -> IdentityPlan {
        let col = &spec.collector;
        let otlp_export = col.exporter.kind == ExporterType::Otlp;
        let role_name = spec
            .identity
            .role_name
            .clone()
            .unwrap_or_else(|| collector_role_name(cluster_name, &col.name));
        let policy_arns = spec.identity.policy_arns.clone().unwrap_or_else(|| {
            if otlp_export {
                Vec::new()
            } else {
                vec![aws.partition.managed_policy_arn(DEFAULT_POLICY_NAME)]
            }
        });
        IdentityPlan {
            mode: enum_string(&spec.identity.mode),
            irsa: spec.identity.mode != IdentityMode::PodIdentity,
            role_arn: aws.iam_arn(&format!("role/{role_name}")),
            role_name,
            policy_arns,
            inline_policy: otlp_export
                .then(|| InlinePolicyPlan::otlp(col.receivers.xray.sampling_proxy.is_some())),
            permissions_boundary_arn: spec.identity.permissions_boundary_arn.clone(),
            service_account_subject: format!(
                "system:serviceaccount:{}:{}",
                col.namespace, col.service_account
            ),
            audience: IRSA_AUDIENCE.to_owned(),
            pod_identity_principal: aws.partition.service_principal("pods.eks"),
        }
    }
}

impl InlinePolicyPlan {
    /// The inline policy of the `otlp` exporter. X-Ray authorises the OTLP endpoint as
    /// `xray:PutTraceSegments`; the sampling proxy forwards the SDKs' `GetSamplingRules` and
    /// `GetSamplingTargets` calls (and the statistics summaries some SDKs read) with the collector's
    /// credentials. `PutTelemetryRecords`, which `AWSXRayDaemonWriteAccess` also grants, is left
    /// out: nothing in an `otlp` pipeline calls it.
    fn otlp(sampling_proxy: bool) -> InlinePolicyPlan {
        let mut statements = vec![PolicyStatementPlan {
            sid: "ExportSpansToTheXrayOtlpEndpoint".to_owned(),
            actions: vec!["xray:PutTraceSegments".to_owned()],
        }];
        if sampling_proxy {
            statements.push(PolicyStatementPlan {
                sid: "ProxySamplingRequestsOfXraySdks".to_owned(),
                actions: vec![
                    "xray:GetSamplingRules".to_owned(),
                    "xray:GetSamplingStatisticSummaries".to_owned(),
                    "xray:GetSamplingTargets".to_owned(),
                ],
            });
        }
        let document = json!({
            "Version": "2012-10-17",
            "Statement": statements
                .iter()
                .map(|st| json!({
                    "Sid": st.sid,
                    "Effect": "Allow",
                    "Action": st.actions,
                    "Resource": "*",
                }))
                .collect::<Vec<_>>(),
        });
        InlinePolicyPlan {
            name: OTLP_POLICY_NAME.to_owned(),
            statements,
            document,
        }
    }
}
