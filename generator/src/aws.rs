//! AWS partitions: the one place that knows how a region maps to its partition, and how ARNs, DNS
//! names and service principals are spelled in each.
//!
//! Validation, the plan and every target use this module; nothing else spells `arn:aws`,
//! `amazonaws.com` or `aws-cn` from a region. It depends on nothing else in the crate.
//!
//! `regions` is the table of the regions of each partition, their availability zones and which
//! services each offers (with the source of every fact).

pub mod regions;

use std::fmt;

use serde::{Serialize, Serializer};

/// An AWS partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Partition {
    /// The commercial regions, `aws`.
    Aws,
    /// The China regions (`cn-*`), `aws-cn`.
    AwsCn,
    /// AWS GovCloud (US) (`us-gov-*`), `aws-us-gov`.
    AwsUsGov,
}

impl Partition {
    /// Every partition, in the order their ids are listed in messages.
    pub const ALL: [Partition; 3] = [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov];

    /// The partition of a region: `cn-*` is `aws-cn`, `us-gov-*` is `aws-us-gov`, everything else
    /// `aws`.
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }

    /// The partition whose id is `id` (`aws`, `aws-cn`, `aws-us-gov`), if any.
    pub fn from_id(id: &str) -> Option<Partition> {
        Partition::ALL.into_iter().find(|p| p.id() == id)
    }

    /// The partition id as ARNs spell it.
    pub fn id(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    /// The DNS suffix of the partition's regional endpoints: `amazonaws.com.cn` in China,
    /// `amazonaws.com` elsewhere.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
        }
    }

    /// An ARN: `arn:<partition>:<service>:<region>:<account>:<resource>` (region and account may be
    /// empty, as for IAM).
    pub fn arn(self, service: &str, region: &str, account: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{region}:{account}:{resource}", self.id())
    }

    /// The ARN of an AWS managed IAM policy: `arn:<partition>:iam::aws:policy/<name>`.
    pub fn managed_policy_arn(self, name: &str) -> String {
        self.arn("iam", "", "aws", &format!("policy/{name}"))
    }

    /// The HTTPS endpoint of a service in a region: `https://<service>.<region>.<dns suffix>`.
    pub fn endpoint(self, service: &str, region: &str) -> String {
        format!("https://{}", self.regional_host(service, region))
    }

    /// The host name of a service in a region: `<service>.<region>.<dns suffix>`.
    pub fn regional_host(self, service: &str, region: &str) -> String {
        format!("{service}.{region}.{}", self.dns_suffix())
    }

    /// The host of an account's private ECR registry in a region:
    /// `<account>.dkr.ecr.<region>.<dns suffix>`.
    pub fn ecr_registry(self, account: &str, region: &str) -> String {
        format!("{account}.dkr.ecr.{region}.{}", self.dns_suffix())
    }

    /// The global service principal of a service, `<service>.amazonaws.com`. IAM spells these
    /// principals the same in every partition, China included.
    pub fn service_principal(self, service: &str) -> String {
        format!("{service}.amazonaws.com")
    }

    /// The regional service principal of a service, `<service>.<region>.<dns suffix>` (CloudWatch
    /// Logs is trusted by KMS key policies under it). The region may be a Terraform expression
    /// such as `${var.region}`. In China it ends in `amazonaws.com.cn`: the CloudWatch Logs
    /// encryption guide of the China regions names `logs.<region>.amazonaws.com.cn` in the key
    /// policy (<https://docs.amazonaws.cn/en_us/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html>).
    pub fn regional_service_principal(self, service: &str, region: &str) -> String {
        format!("{service}.{region}.{}", self.dns_suffix())
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Partition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// The regions with Amazon Managed Service for Prometheus, whose managed scraper (the AWS
/// managed collector for EKS) runs in every region the service does: the commercial regions of
/// AWS's "Amazon Managed Service for Prometheus endpoints and quotas" page
/// (docs.aws.amazon.com/general/latest/gr/prometheus-service.html). The China and GovCloud
/// partitions have no entry, so a blueprint with metrics there is refused. Kept apart from the
/// other region facts so that the table is one edit.
pub const AMP_SCRAPER_REGIONS: [&str; 17] = [
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Whether the AMP managed scraper (and AMP) is offered in `region`.
pub fn has_amp_managed_scraper(region: &str) -> bool {
    AMP_SCRAPER_REGIONS.contains(&region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(Partition::of_region("us-east-1"), Partition::Aws);
        assert_eq!(Partition::of_region("cn-north-1"), Partition::AwsCn);
        assert_eq!(Partition::of_region("us-gov-west-1"), Partition::AwsUsGov);
        assert_eq!(Partition::from_id("aws-us-gov"), Some(Partition::AwsUsGov));
        assert_eq!(Partition::from_id("aws-iso"), None);
    }

    #[test]
    fn names_are_spelled_per_partition() {
        let cn = Partition::AwsCn;
        assert_eq!(cn.dns_suffix(), "amazonaws.com.cn");
        assert_eq!(
            cn.endpoint("xray", "cn-north-1"),
            "https://xray.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            Partition::AwsUsGov.managed_policy_arn("AWSXRayDaemonWriteAccess"),
            "arn:aws-us-gov:iam::aws:policy/AWSXRayDaemonWriteAccess"
        );
        assert_eq!(
            Partition::Aws.arn("logs", "us-east-1", "123456789012", "log-group:aws/spans:*"),
            "arn:aws:logs:us-east-1:123456789012:log-group:aws/spans:*"
        );
        assert_eq!(cn.service_principal("xray"), "xray.amazonaws.com");
        assert!(has_amp_managed_scraper("eu-west-1"));
        assert!(!has_amp_managed_scraper("cn-north-1"));
        assert!(!has_amp_managed_scraper("us-gov-west-1"));
        assert_eq!(
            cn.regional_service_principal("logs", "${var.region}"),
            "logs.${var.region}.amazonaws.com.cn"
        );
        assert_eq!(
            Partition::AwsUsGov.regional_service_principal("logs", "us-gov-west-1"),
            "logs.us-gov-west-1.amazonaws.com"
        );
    }
}
