//! The collector's IAM identity: role name, policy ARNs and permissions boundary, in the cluster's
//! partition.

use crate::aws::Partition;
use crate::aws::regions::Region;
use crate::blueprint::model::{Cluster, ExporterType, IdentityMode, Spec};
use crate::blueprint::rules::cluster_role_names;
use crate::blueprint::validate::checker::Checker;

impl Checker<'_> {
    /// The identity against the region: EKS Pod Identity exists only where the region table says.
    pub(super) fn check_identity_region(&mut self, spec: &Spec, region: Option<&'static Region>) {
        if let Some(region) = region {
            if spec.identity.mode == IdentityMode::PodIdentity && !region.pod_identity {
                self.error(
                    "/spec/identity/mode",
                    format!("EKS Pod Identity is not available in {} (partition `{}`)", region.name, region.partition),
                    Some("`irsa`"),
                    Some("AWS documents Pod Identity as unavailable in the China regions; IAM roles for service accounts work there"),
                );
            }
        }
    }

    pub(super) fn check_identity(&mut self, spec: &Spec, region: &str, region_ok: bool) {
        let id = &spec.identity;
        if let Some(role) = &id.role_name {
            let ok = !role.is_empty()
                && role.len() <= 64
                && role
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
            if !ok {
                self.error(
                    "/spec/identity/role_name",
                    format!("invalid IAM role name `{role}`"),
                    Some("1 to 64 characters of `A-Za-z0-9+=,.@_-`"),
                    None,
                );
            } else if let Cluster::Create(c) = &spec.cluster {
                let derived = cluster_role_names(&c.name);
                if let Some(which) = derived
                    .iter()
                    .zip(["control plane", "node", "VPC flow log"])
                    .find(|(name, _)| name.eq_ignore_ascii_case(role))
                    .map(|(_, which)| which)
                {
                    self.error(
                        "/spec/identity/role_name",
                        format!("the role name `{role}` is the name of the cluster's {which} role"),
                        Some("a role name of its own"),
                        Some("IAM role names are unique per account, case-insensitively; the created cluster derives its roles' names from its name"),
                    );
                }
            }
        }
        let partition = Partition::of_region(region);
        let account = match &spec.cluster {
            Cluster::Existing(c) => c.account_id.as_str(),
            Cluster::Create(c) => c.account_id.as_str(),
        };
        if let Some(arns) = &id.policy_arns {
            if arns.is_empty() && spec.collector.exporter.kind == ExporterType::XrayApi {
                self.error("/spec/identity/policy_arns", "the collector's role needs a policy".to_owned(), Some("at least one managed policy ARN, such as `arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess`"), None);
            }
            for (idx, arn) in arns.iter().enumerate() {
                self.policy_arn(
                    &format!("/spec/identity/policy_arns/{idx}"),
                    arn,
                    partition,
                    region_ok,
                    account,
                );
                if arns[..idx].contains(arn) {
                    self.error(
                        &format!("/spec/identity/policy_arns/{idx}"),
                        format!("policy `{arn}` is listed twice"),
                        None,
                        None,
                    );
                }
            }
        }
        if let Some(arn) = &id.permissions_boundary_arn {
            self.policy_arn(
                "/spec/identity/permissions_boundary_arn",
                arn,
                partition,
                region_ok,
                account,
            );
        }
    }

    /// A managed policy ARN: well-formed, in the cluster's partition, and AWS managed or in the
    /// cluster's account. IAM attaches (and sets as a boundary) only AWS managed policies and the
    /// role's own account's policies; a policy shared across an organisation is a copy in each
    /// account (StackSets, Control Tower), so its ARN names the blueprint's account.
    fn policy_arn(
        &mut self,
        ptr: &str,
        arn: &str,
        partition: Partition,
        region_ok: bool,
        account: &str,
    ) {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && Partition::from_id(parts[1]).is_some()
            && parts[2] == "iam"
            && parts[3].is_empty()
            && (parts[4] == "aws"
                || (parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit())))
            && parts[5].strip_prefix("policy/").is_some_and(|n| {
                !n.is_empty()
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
            });
        if !ok {
            self.error(
                ptr,
                format!("`{arn}` is not an IAM policy ARN"),
                Some("`arn:<partition>:iam::<account or aws>:policy/<name>`"),
                None,
            );
        } else if region_ok && parts[1] != partition.id() {
            self.error(
                ptr,
                format!(
                    "`{arn}` is in partition `{}`, but the cluster's region is in `{partition}`",
                    parts[1]
                ),
                Some(&format!("`arn:{partition}:...`")),
                None,
            );
        } else if parts[4] != "aws" && parts[4] != account {
            self.error(
                ptr,
                format!(
                    "`{arn}` belongs to account {}, not the cluster's account {account}",
                    parts[4]
                ),
                Some(&format!(
                    "`arn:{}:iam::aws:policy/...` or `arn:{}:iam::{account}:policy/...`",
                    parts[1], parts[1]
                )),
                Some("IAM attaches only AWS managed policies and policies of the role's own account; an organisation-wide policy exists as a copy in each account, so name the copy in this account"),
            );
        }
    }
}
