//! The cluster: name, region, account, Kubernetes version, the OIDC issuer of an existing
//! cluster, and the network, node groups and endpoint of a created one.

use crate::aws::Partition;
use crate::aws::regions::Region;
use crate::blueprint::adot_versions;
use crate::blueprint::model::{AmiType, Cluster, EndpointAccess, Network, NewCluster, NodeGroup};
use crate::blueprint::rules::{
    Architecture, instance_architecture, is_cluster_name, is_instance_type, is_subnet_id,
    parse_cidr, strip_scheme,
};
use crate::blueprint::validate::checker::Checker;

/// The CPU architecture of an AMI type.
fn ami_architecture(ami: AmiType) -> Architecture {
    match ami {
        AmiType::Al2023X8664Standard | AmiType::BottlerocketX8664 => Architecture::X86_64,
        AmiType::Al2023Arm64Standard | AmiType::BottlerocketArm64 => Architecture::Arm64,
    }
}

/// The serde name of an enum value, as the blueprint spells it.
fn enum_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// What the other checks need to know about the cluster.
pub(super) struct ClusterFacts<'a> {
    /// The cluster's region.
    pub region: &'a str,
    /// Whether the region is in the region table (checks that derive a partition from it run only
    /// then).
    pub region_ok: bool,
    /// The region's entry in the region table.
    pub region_info: Option<&'static Region>,
    /// The Kubernetes version, `1.NN`.
    pub kubernetes_version: &'a str,
    /// Whether the Kubernetes version is well-formed.
    pub kubernetes_version_ok: bool,
}

impl Checker<'_> {
    /// `spec.cluster`, existing or created.
    pub(super) fn check_cluster<'c>(&mut self, cluster: &'c Cluster) -> ClusterFacts<'c> {
        let (cluster_ptr, name, region, account, k8s) = match cluster {
            Cluster::Existing(c) => (
                "/spec/cluster/existing",
                &c.name,
                &c.region,
                &c.account_id,
                &c.kubernetes_version,
            ),
            Cluster::Create(c) => (
                "/spec/cluster/create",
                &c.name,
                &c.region,
                &c.account_id,
                &c.kubernetes_version,
            ),
        };
        if !is_cluster_name(name) {
            self.error(
                &format!("{cluster_ptr}/name"),
                format!("invalid EKS cluster name `{name}`"),
                Some("1 to 100 characters: letters, digits, `-` and `_`, starting with a letter or digit"),
                None,
            );
        }
        let region_info = self.known_region(&format!("{cluster_ptr}/region"), region);
        let region_ok = region_info.is_some();
        if !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())) {
            self.error(
                &format!("{cluster_ptr}/account_id"),
                format!("invalid AWS account id `{account}`"),
                Some("exactly 12 digits, quoted (`\"123456789012\"`)"),
                None,
            );
        }
        let k8s_ok = adot_versions::kubernetes_minor(k8s).is_some() && k8s.len() == 4;
        if !k8s_ok {
            self.error(
                &format!("{cluster_ptr}/kubernetes_version"),
                format!("invalid Kubernetes version `{k8s}`"),
                Some("`1.NN`, quoted, for example `\"1.33\"`"),
                None,
            );
        }
        match cluster {
            Cluster::Existing(c) => {
                if let Some(issuer) = &c.oidc_issuer {
                    let stripped = strip_scheme(issuer);
                    let prefix = format!(
                        "{}/id/",
                        Partition::of_region(region).regional_host("oidc.eks", region)
                    );
                    let ok = stripped.strip_prefix(&prefix).is_some_and(|id| {
                        !id.is_empty()
                            && id.len() <= 64
                            && id.chars().all(|ch| ch.is_ascii_alphanumeric())
                    });
                    if !ok {
                        self.error(
                            "/spec/cluster/existing/oidc_issuer",
                            format!("`{issuer}` is not an EKS OIDC issuer of region {region}"),
                            Some(&format!("`https://{prefix}<ID>`")),
                            Some("copy it from `aws eks describe-cluster --query cluster.identity.oidc.issuer`"),
                        );
                    }
                }
            }
            Cluster::Create(c) => self.check_new_cluster(c, region_info),
        }
        ClusterFacts {
            region,
            region_ok,
            region_info,
            kubernetes_version: k8s,
            kubernetes_version_ok: k8s_ok,
        }
    }

    /// A created cluster: its Kubernetes version, network, node groups and API endpoint.
    fn check_new_cluster(&mut self, c: &NewCluster, region: Option<&'static Region>) {
        let base = "/spec/cluster/create";
        if let Some(minor) = adot_versions::kubernetes_minor(&c.kubernetes_version) {
            let (min, max) = adot_versions::EKS_CREATABLE_KUBERNETES;
            if !(min..=max).contains(&minor) && c.kubernetes_version.len() == 4 {
                self.error(
                    &format!("{base}/kubernetes_version"),
                    format!(
                        "EKS does not create clusters at Kubernetes {}",
                        c.kubernetes_version
                    ),
                    Some(&format!("a version from 1.{min} to 1.{max}")),
                    Some("the versions in EKS standard or extended support, as recorded in docs/aws-facts.md (\"Kubernetes versions\"); an existing cluster at another version can still be named under `existing`"),
                );
            }
        }
        self.check_network(base, &c.network);
        if let (Network::Vpc(v), Some(region)) = (&c.network, region) {
            if v.az_count > region.zones {
                self.error(
                    &format!("{base}/network/vpc/az_count"),
                    format!(
                        "region {} has {} availability zones, fewer than az_count {}",
                        region.name, region.zones, v.az_count
                    ),
                    Some(&format!("at most {}", region.zones)),
                    Some("the outputs spread subnets over the region's first az_count zones"),
                );
            }
        }
        self.check_node_groups(base, &c.node_groups);
        self.check_endpoint(base, &c.endpoint, matches!(c.network, Network::Vpc(_)));
    }

    /// The VPC to create (its CIDR) or the existing subnets.
    fn check_network(&mut self, base: &str, network: &Network) {
        match network {
            Network::Vpc(v) => match parse_cidr(&v.cidr) {
                Some((_, prefix, aligned)) => {
                    if !(16..=24).contains(&prefix) {
                        self.error(&format!("{base}/network/vpc/cidr"), format!("VPC CIDR `{}` has prefix /{prefix}", v.cidr), Some("a prefix from /16 to /24"), Some("subnets are cut as 16 blocks of the VPC, so smaller VPCs leave no room"));
                    } else if !aligned {
                        self.error(
                            &format!("{base}/network/vpc/cidr"),
                            format!("`{}` has host bits set", v.cidr),
                            Some("the network address, for example `10.0.0.0/16`"),
                            None,
                        );
                    }
                }
                None => self.error(
                    &format!("{base}/network/vpc/cidr"),
                    format!("`{}` is not an IPv4 CIDR block", v.cidr),
                    Some("an IPv4 CIDR such as `10.0.0.0/16`"),
                    None,
                ),
            },
            Network::ExistingSubnets(s) => {
                let ptr = format!("{base}/network/existing_subnets/subnet_ids");
                if s.subnet_ids.len() < 2 {
                    self.error(
                        &ptr,
                        "EKS needs subnets in at least two availability zones".to_owned(),
                        Some("at least 2 subnet ids"),
                        None,
                    );
                }
                for (idx, id) in s.subnet_ids.iter().enumerate() {
                    if !is_subnet_id(id) {
                        self.error(
                            &format!("{ptr}/{idx}"),
                            format!("invalid subnet id `{id}`"),
                            Some("`subnet-` and 8 or 17 hex digits"),
                            None,
                        );
                    }
                    if s.subnet_ids[..idx].contains(id) {
                        self.error(
                            &format!("{ptr}/{idx}"),
                            format!("subnet `{id}` is listed twice"),
                            None,
                            None,
                        );
                    }
                }
            }
        }
    }

    /// The managed node groups: names, instance types and their architecture, sizes, and at least
    /// one node at the start for the add-ons and the collector.
    fn check_node_groups(&mut self, base: &str, node_groups: &[NodeGroup]) {
        let sizes_ok = node_groups.iter().all(|g| {
            g.max_size > 0 && g.min_size <= g.desired_size && g.desired_size <= g.max_size
        });
        if !node_groups.is_empty() && sizes_ok && node_groups.iter().all(|g| g.desired_size == 0) {
            self.error(
                &format!("{base}/node_groups"),
                "every node group starts with zero nodes".to_owned(),
                Some("`desired_size` of at least 1 in one node group"),
                Some("the cert-manager and ADOT add-ons (and the collector) need a node to run on; without one they never become ACTIVE and the apply times out"),
            );
        }
        if node_groups.is_empty() {
            self.error(
                &format!("{base}/node_groups"),
                "a created cluster needs at least one node group".to_owned(),
                None,
                None,
            );
        }
        for (idx, g) in node_groups.iter().enumerate() {
            let ptr = format!("{base}/node_groups/{idx}");
            self.dns_label(&format!("{ptr}/name"), &g.name, 63);
            if node_groups[..idx].iter().any(|o| o.name == g.name) {
                self.error(
                    &format!("{ptr}/name"),
                    format!("node group name `{}` is used twice", g.name),
                    None,
                    None,
                );
            }
            if g.instance_types.is_empty() {
                self.error(
                    &format!("{ptr}/instance_types"),
                    "no instance types".to_owned(),
                    Some("at least one EC2 instance type"),
                    None,
                );
            }
            let ami_arch = ami_architecture(g.ami_type);
            for (i, t) in g.instance_types.iter().enumerate() {
                if !is_instance_type(t) {
                    self.error(
                        &format!("{ptr}/instance_types/{i}"),
                        format!("invalid EC2 instance type `{t}`"),
                        Some("`family.size`, for example `m6i.large`"),
                        None,
                    );
                } else if let Some(arch) = instance_architecture(t) {
                    if arch != ami_arch {
                        self.error(
                            &format!("{ptr}/instance_types/{i}"),
                            format!(
                                "`{t}` is an {} instance type, but the AMI type {} is {}",
                                arch.name(),
                                enum_name(&g.ami_type),
                                ami_arch.name()
                            ),
                            Some(&format!("an {} instance type", ami_arch.name())),
                            Some(match ami_arch {
                                Architecture::Arm64 => "arm64 (AWS Graviton) families carry a `g` after the generation, for example `m7g.large`; or choose an x86_64 `ami_type`",
                                Architecture::X86_64 => "for Graviton instance types choose `ami_type: AL2023_ARM_64_STANDARD` or `BOTTLEROCKET_ARM_64`",
                            }),
                        );
                    }
                }
            }
            if g.max_size == 0 || g.min_size > g.max_size {
                self.error(
                    &format!("{ptr}/min_size"),
                    format!(
                        "min_size {} is larger than max_size {}",
                        g.min_size, g.max_size
                    ),
                    Some("0 <= min_size <= desired_size <= max_size, max_size >= 1"),
                    None,
                );
            } else if g.desired_size < g.min_size || g.desired_size > g.max_size {
                self.error(
                    &format!("{ptr}/desired_size"),
                    format!(
                        "desired_size {} is outside {}..={}",
                        g.desired_size, g.min_size, g.max_size
                    ),
                    Some("min_size <= desired_size <= max_size"),
                    None,
                );
            }
        }
    }

    /// The API endpoint's access: reachable from somewhere, never from the whole internet, and
    /// from the nodes of a new VPC.
    fn check_endpoint(&mut self, base: &str, ep: &EndpointAccess, new_vpc: bool) {
        if new_vpc && ep.public_access && !ep.private_access && !ep.public_access_cidrs.is_empty() {
            self.error(
                &format!("{base}/endpoint/private_access"),
                "nodes of the new VPC could not reach a public-only endpoint restricted to public_access_cidrs".to_owned(),
                Some("`private_access: true`"),
                Some("the nodes reach a public-only endpoint through the VPC's new NAT gateway, whose address is only known after apply and so cannot be in public_access_cidrs; with private access on, nodes use the endpoint inside the VPC"),
            );
        }
        if !ep.public_access && !ep.private_access {
            self.error(
                &format!("{base}/endpoint"),
                "the API endpoint would be reachable from nowhere".to_owned(),
                Some("public_access or private_access (or both) true"),
                None,
            );
        }
        if !ep.public_access && !ep.public_access_cidrs.is_empty() {
            self.error(
                &format!("{base}/endpoint/public_access_cidrs"),
                "public_access_cidrs without public_access".to_owned(),
                None,
                Some("set `public_access: true` or remove the CIDRs"),
            );
        }
        for (idx, cidr) in ep.public_access_cidrs.iter().enumerate() {
            let ptr = format!("{base}/endpoint/public_access_cidrs/{idx}");
            match parse_cidr(cidr) {
                Some((_, _, true)) => {}
                Some((_, _, false)) => self.error(
                    &ptr,
                    format!("`{cidr}` has host bits set"),
                    Some("the network address of the block"),
                    None,
                ),
                None => self.error(
                    &ptr,
                    format!("`{cidr}` is not an IPv4 CIDR block"),
                    Some("an IPv4 CIDR such as `203.0.113.0/24`"),
                    None,
                ),
            }
        }
        if ep.public_access && ep.public_access_cidrs.iter().any(|c| c == "0.0.0.0/0") {
            self.error(
                &format!("{base}/endpoint/public_access_cidrs"),
                "the public endpoint would be open to the whole internet".to_owned(),
                Some("the CIDR blocks of your networks"),
                None,
            );
        }
        if ep.public_access && ep.public_access_cidrs.is_empty() {
            self.error(
                &format!("{base}/endpoint/public_access_cidrs"),
                "a public endpoint needs the CIDR blocks allowed to reach it".to_owned(),
                Some("at least one CIDR block"),
                Some("EKS would otherwise allow 0.0.0.0/0"),
            );
        }
    }
}
