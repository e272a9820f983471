//! `spec.metrics`: combinations the AMP managed scraper cannot serve are located errors. The
//! scraper, the workspace and the cluster must share a region (and so a partition) and account;
//! the scraper exists only where AMP does (`crate::aws::has_amp_managed_scraper`: not in China or
//! GovCloud); it reaches the cluster's API server through the private endpoint, so a created
//! cluster needs private endpoint access; it needs subnets in two availability zones.

use crate::aws::{Partition, has_amp_managed_scraper};
use crate::blueprint::model::{Cluster, Metrics, MetricsWorkspace, Spec};
use crate::blueprint::rules::is_subnet_id;
use crate::blueprint::validate::checker::Checker;

/// The parts of an ARN: partition, service, region, account, resource.
pub(crate) fn arn_parts(arn: &str) -> Option<[&str; 5]> {
    let mut parts = arn.splitn(6, ':');
    let head = parts.next()?;
    let partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    (head == "arn").then_some([partition, service, region, account, resource])
}

/// Whether `s` is a security group id: `sg-` and 8 or 17 lower-case hex digits.
fn is_security_group_id(s: &str) -> bool {
    s.strip_prefix("sg-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

impl Checker<'_> {
    pub(super) fn check_metrics(&mut self, spec: &Spec, region: &str, region_ok: bool) {
        let Some(metrics) = &spec.metrics else {
            return;
        };
        let (account, partition) = match &spec.cluster {
            Cluster::Existing(c) => (c.account_id.as_str(), Partition::of_region(&c.region)),
            Cluster::Create(c) => (c.account_id.as_str(), Partition::of_region(&c.region)),
        };
        if region_ok && !has_amp_managed_scraper(region) {
            self.error(
                "/spec/metrics",
                format!("the Amazon Managed Service for Prometheus managed scraper is not offered in `{region}`"),
                Some("a cluster in a region with AMP (not China or GovCloud)"),
                Some("remove `spec.metrics`, or run metrics through a collector of your own; the regions are in generator/src/aws.rs"),
            );
        }
        if let Cluster::Create(c) = &spec.cluster {
            if !c.endpoint.private_access {
                self.error(
                    "/spec/cluster/create/endpoint/private_access",
                    "the managed scraper reaches the cluster only through its private endpoint, which this cluster turns off".to_owned(),
                    Some("`private_access: true` with `spec.metrics`"),
                    None,
                );
            }
        }
        self.check_workspace(metrics, region, region_ok, account, partition);
        self.check_scraper_network(metrics);
    }

    fn check_workspace(
        &mut self,
        metrics: &Metrics,
        region: &str,
        region_ok: bool,
        account: &str,
        partition: Partition,
    ) {
        match &metrics.workspace {
            MetricsWorkspace::Existing(ws) => {
                let ptr = "/spec/metrics/workspace/existing/arn";
                let expected = format!(
                    "`arn:{partition}:aps:{region}:{account}:workspace/ws-...` (the cluster's partition, region and account)"
                );
                match arn_parts(&ws.arn) {
                    Some([p, "aps", r, a, resource])
                        if resource.starts_with("workspace/ws-") && resource.len() > 13 =>
                    {
                        if p != partition.id() || (region_ok && r != region) {
                            self.error(
                                ptr,
                                format!("the workspace is in `{p}`/`{r}`, the cluster in `{partition}`/`{region}`: the managed scraper writes only to a workspace in its own region"),
                                Some(&expected),
                                None,
                            );
                        } else if a != account {
                            self.error(
                                ptr,
                                format!("the workspace belongs to account `{a}`, the cluster to `{account}`"),
                                Some(&expected),
                                None,
                            );
                        }
                    }
                    _ => self.error(
                        ptr,
                        format!("`{}` is not an AMP workspace ARN", ws.arn),
                        Some(&expected),
                        None,
                    ),
                }
            }
            MetricsWorkspace::Create(new) => {
                if let Some(alias) = &new.alias {
                    if alias.is_empty() || alias.chars().count() > 100 {
                        self.error(
                            "/spec/metrics/workspace/create/alias",
                            "a workspace alias has 1 to 100 characters".to_owned(),
                            None,
                            None,
                        );
                    }
                }
                if let Some(key) = &new.kms_key_arn {
                    let ok = matches!(arn_parts(key), Some([p, "kms", r, a, res])
                        if p == partition.id() && (!region_ok || r == region) && a == account && res.starts_with("key/"));
                    if !ok {
                        self.error(
                            "/spec/metrics/workspace/create/kms_key_arn",
                            format!("`{key}` is not a KMS key of the cluster's account and region"),
                            Some(&format!("`arn:{partition}:kms:{region}:{account}:key/...`")),
                            None,
                        );
                    }
                }
            }
        }
    }

    fn check_scraper_network(&mut self, metrics: &Metrics) {
        if let Some(subnets) = &metrics.subnet_ids {
            if subnets.len() < 2 {
                self.error(
                    "/spec/metrics/subnet_ids",
                    "the managed scraper needs at least two subnets, in two availability zones"
                        .to_owned(),
                    None,
                    None,
                );
            }
            for (idx, id) in subnets.iter().enumerate() {
                if !is_subnet_id(id) {
                    self.error(
                        &format!("/spec/metrics/subnet_ids/{idx}"),
                        format!("`{id}` is not a subnet id"),
                        Some("`subnet-` and 8 or 17 hex digits"),
                        None,
                    );
                }
            }
        }
        if let Some(groups) = &metrics.security_group_ids {
            if groups.is_empty() {
                self.error(
                    "/spec/metrics/security_group_ids",
                    "no security groups; omit the field for the cluster security group".to_owned(),
                    None,
                    None,
                );
            }
            for (idx, id) in groups.iter().enumerate() {
                if !is_security_group_id(id) {
                    self.error(
                        &format!("/spec/metrics/security_group_ids/{idx}"),
                        format!("`{id}` is not a security group id"),
                        Some("`sg-` and 8 or 17 hex digits"),
                        None,
                    );
                }
            }
        }
    }
}
