//! The collector's IAM identity: role name, policy ARNs and permissions boundary, in the cluster's
//! partition.

use crate::aws::Partition;
use crate::blueprint::model::{ExporterType, Spec};
use crate::blueprint::validate::checker::Checker;

impl Checker<'_> {
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
            }
        }
        let partition = Partition::of_region(region);
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
            );
        }
    }

    fn policy_arn(&mut self, ptr: &str, arn: &str, partition: Partition, region_ok: bool) {
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
        }
    }
}
