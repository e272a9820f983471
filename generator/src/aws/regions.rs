//! The regions of each partition and what each offers: the one table validation, the plan and the
//! docs read region facts from (`docs/aws-facts.md`, "Regions", renders the same facts for users).
//!
//! Sources, each recorded on 2026-12-04:
//! * The region list and, per region, whether CloudFormation has `AWS::EKS::Cluster`,
//!   `AWS::XRay::TransactionSearchConfig`, `AWS::APS::Workspace` and `AWS::APS::Scraper`: the
//!   per-region resource specifications cfn-lint 1.58 ships (`cfnlint/data/schemas/providers/
//!   <region>.json`, schema date 2026-10-20), which are CloudFormation's own registry per region.
//!   Only the partitions `aws`, `aws-cn` and `aws-us-gov` are listed (not the ISO or European
//!   Sovereign Cloud partitions), and not `me-south-1`, for which cfn-lint ships no specification,
//!   so the CDK output could not be checked there.
//! * EKS Pod Identity: available in every region of `aws` and `aws-us-gov`; "Pod Identity is not
//!   available in China Regions. Use IAM roles for service accounts."
//!   (<https://docs.amazonaws.cn/en_us/eks/latest/userguide/pod-identities.html>).
//! * Availability zones: the AWS Global Infrastructure regions page
//!   (<https://aws.amazon.com/about-aws/global-infrastructure/regions_az/>); China's two regions
//!   have three each (<https://docs.amazonaws.cn/en_us/aws/latest/userguide/general-info.html>).
//!   Where an account sees fewer zones than the region has (`us-west-1` offers new accounts two,
//!   `ap-northeast-1` three), the table holds what every account gets, because the Terraform and
//!   CDK outputs take the first `az_count` zones the account sees.
//! * Whether `hashicorp/aws` 5.100 (the provider the Terraform output pins, `~> 5.100`) knows the
//!   region: its endpoint data has no `ap-east-2` and no `ap-southeast-6`, so `terraform plan`
//!   fails there with "invalid AWS Region".

use crate::aws::Partition;

/// What one region offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The region name, for example `eu-central-1`.
    pub name: &'static str,
    /// Its partition.
    pub partition: Partition,
    /// The availability zones every account sees.
    pub zones: u8,
    /// EKS Pod Identity (`eks-pod-identity-agent`, `AWS::EKS::PodIdentityAssociation`).
    pub pod_identity: bool,
    /// CloudWatch Transaction Search (`AWS::XRay::TransactionSearchConfig`), which X-Ray's OTLP
    /// endpoint needs.
    pub transaction_search: bool,
    /// Amazon Managed Service for Prometheus workspaces (`AWS::APS::Workspace`).
    pub amp: bool,
    /// The AMP managed collector (`AWS::APS::Scraper`).
    pub amp_scraper: bool,
    /// Whether the pinned Terraform provider, `hashicorp/aws` 5.100, knows the region.
    pub terraform_provider: bool,
}

const fn commercial(name: &'static str, zones: u8) -> Region {
    Region {
        name,
        partition: Partition::Aws,
        zones,
        pod_identity: true,
        transaction_search: true,
        amp: true,
        amp_scraper: true,
        terraform_provider: true,
    }
}

const fn without_transaction_search(region: Region) -> Region {
    Region {
        transaction_search: false,
        ..region
    }
}

const fn unknown_to_terraform(region: Region) -> Region {
    Region {
        terraform_provider: false,
        ..region
    }
}

const fn china(name: &'static str) -> Region {
    Region {
        name,
        partition: Partition::AwsCn,
        zones: 3,
        pod_identity: false,
        transaction_search: false,
        amp: false,
        amp_scraper: false,
        terraform_provider: true,
    }
}

const fn govcloud(name: &'static str) -> Region {
    Region {
        name,
        partition: Partition::AwsUsGov,
        zones: 3,
        pod_identity: true,
        transaction_search: true,
        amp: true,
        amp_scraper: false,
        terraform_provider: true,
    }
}

/// Every region the generator accepts, sorted by name.
pub const REGIONS: &[Region] = &[
    commercial("af-south-1", 3),
    commercial("ap-east-1", 3),
    unknown_to_terraform(without_transaction_search(commercial("ap-east-2", 3))),
    commercial("ap-northeast-1", 3),
    commercial("ap-northeast-2", 4),
    commercial("ap-northeast-3", 3),
    commercial("ap-south-1", 3),
    commercial("ap-south-2", 3),
    commercial("ap-southeast-1", 3),
    commercial("ap-southeast-2", 3),
    commercial("ap-southeast-3", 3),
    commercial("ap-southeast-4", 3),
    commercial("ap-southeast-5", 3),
    unknown_to_terraform(without_transaction_search(commercial("ap-southeast-6", 3))),
    commercial("ap-southeast-7", 3),
    commercial("ca-central-1", 3),
    commercial("ca-west-1", 3),
    china("cn-north-1"),
    china("cn-northwest-1"),
    commercial("eu-central-1", 3),
    commercial("eu-central-2", 3),
    commercial("eu-north-1", 3),
    commercial("eu-south-1", 3),
    commercial("eu-south-2", 3),
    commercial("eu-west-1", 3),
    commercial("eu-west-2", 3),
    commercial("eu-west-3", 3),
    commercial("il-central-1", 3),
    commercial("me-central-1", 3),
    without_transaction_search(commercial("mx-central-1", 3)),
    commercial("sa-east-1", 3),
    commercial("us-east-1", 6),
    commercial("us-east-2", 3),
    govcloud("us-gov-east-1"),
    govcloud("us-gov-west-1"),
    commercial("us-west-1", 2),
    commercial("us-west-2", 4),
];

/// `docs/regions.md`: the table for users, generated so that the doc and the validator cannot
/// disagree.
pub fn markdown() -> String {
    let yes = |b: bool| if b { "yes" } else { "no" };
    let mut out = String::from(
        "# Regions the generator accepts\n\n\
         Generated from `generator/src/aws/regions.rs`, the table blueprint validation reads; do not edit (the test `golden::generated_docs_are_current` checks it, `XRB_BLESS=1` rewrites it). \
         The sources of every column are in that file's header and in `docs/aws-facts.md` (\"Regions\"). \
         A region missing here is refused with the closest names as a hint.\n\n\
         | region | partition | zones | EKS Pod Identity | Transaction Search (`otlp` exporter) | AMP | AMP managed collector | Terraform output (hashicorp/aws 5.100) |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in REGIONS {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.partition,
            r.zones,
            yes(r.pod_identity),
            yes(r.transaction_search),
            yes(r.amp),
            yes(r.amp_scraper),
            yes(r.terraform_provider)
        ));
    }
    out
}

/// The region named `name`, if the table has it.
pub fn region(name: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.name == name)
}

/// The known region names closest to `name` (edit distance), at most `n`, closest first; ties in
/// table order. Only names within half the length of `name` are offered.
pub fn closest(name: &str, n: usize) -> Vec<&'static str> {
    let mut scored: Vec<(usize, &'static str)> = REGIONS
        .iter()
        .map(|r| (edit_distance(name, r.name), r.name))
        .filter(|(d, _)| *d <= name.len().max(4) / 2)
        .collect();
    scored.sort_by_key(|(d, _)| *d);
    scored.into_iter().take(n).map(|(_, r)| r).collect()
}

/// The Levenshtein distance of two strings, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_each_region_in_the_partition_its_name_says() {
        assert!(REGIONS.windows(2).all(|w| w[0].name < w[1].name));
        for r in REGIONS {
            assert_eq!(Partition::of_region(r.name), r.partition, "{}", r.name);
            assert!((2..=6).contains(&r.zones), "{}", r.name);
        }
    }

    #[test]
    fn misspelt_regions_get_the_closest_names() {
        assert_eq!(
            closest("eu-centrall-1", 2),
            ["eu-central-1", "eu-central-2"]
        );
        assert_eq!(closest("us-east-7", 2), ["us-east-1", "us-east-2"]);
        assert_eq!(closest("eu-central-3", 1), ["eu-central-1"]);
        assert!(closest("mars-north-1", 3).len() <= 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn service_availability_follows_the_sources() {
        assert!(!region("cn-north-1").unwrap().pod_identity);
        assert!(region("us-gov-west-1").unwrap().pod_identity);
        assert!(!region("mx-central-1").unwrap().transaction_search);
        assert!(region("us-gov-east-1").unwrap().transaction_search);
        assert!(!region("us-gov-east-1").unwrap().amp_scraper);
        assert_eq!(region("us-west-1").unwrap().zones, 2);
        assert!(region("eu-centrall-1").is_none());
    }
}
