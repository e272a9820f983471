//! The cluster: existing (looked up) or created, with its VPC, node groups and endpoint access.

use serde::Serialize;

use crate::blueprint::model::{Cluster, Network, NewCluster, NodeGroup};
use crate::blueprint::rules::{cluster_role_names, parse_cidr, strip_scheme};
use crate::plan::aws::AwsPlan;
use crate::plan::names::enum_string;

/// The cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterPlan {
    /// The EKS cluster name.
    pub name: String,
    /// The Kubernetes version, `1.NN`.
    pub kubernetes_version: String,
    /// Whether the cluster exists already (`true`) or is created by the blueprint (`false`).
    pub existing: bool,
    /// The OIDC issuer without `https://` (`oidc.eks.<region>.amazonaws.com/id/<ID>`) when the
    /// blueprint states it; `None` for created clusters and when it must be looked up at deploy time.
    pub oidc_issuer: Option<String>,
    /// The OIDC issuer URL, `https://` plus `oidc_issuer`, when known.
    pub oidc_issuer_url: Option<String>,
    /// The IAM OIDC provider ARN, `arn:<partition>:iam::<account>:oidc-provider/<issuer>`, when the
    /// issuer is known.
    pub oidc_provider_arn: Option<String>,
    /// Everything needed to create the cluster; `None` for an existing cluster.
    pub create: Option<NewClusterPlan>,
}

/// A cluster to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewClusterPlan {
    /// The IAM role name of the EKS control plane: `<cluster>-cluster`, fitted to 64 characters
    /// (`rules::fit_name`: a longer name is cut and ends in a hash of the whole).
    pub cluster_role_name: String,
    /// The IAM role name of the managed nodes: `<cluster>-node`, fitted to 64 characters.
    pub node_role_name: String,
    /// The IAM role name of the VPC flow log (used with a created VPC): `<cluster>-flow-logs`,
    /// fitted to 64 characters.
    pub flow_logs_role_name: String,
    /// The VPC to create; `None` when existing subnets are used.
    pub vpc: Option<VpcPlan>,
    /// Existing subnet ids, sorted; empty when a VPC is created.
    pub subnet_ids: Vec<String>,
    /// Managed node groups, in blueprint order.
    pub node_groups: Vec<NodeGroupPlan>,
    /// Whether the API endpoint is public.
    pub endpoint_public_access: bool,
    /// Whether the API endpoint is reachable inside the VPC.
    pub endpoint_private_access: bool,
    /// CIDRs allowed to reach the public endpoint (empty when not public).
    pub public_access_cidrs: Vec<String>,
    /// Control-plane log types, sorted, as EKS spells them (`api`, `audit`, ...).
    pub log_types: Vec<String>,
    /// `API` or `API_AND_CONFIG_MAP`.
    pub authentication_mode: String,
}

/// A VPC to create, with its subnets already carved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VpcPlan {
    /// The VPC CIDR block.
    pub cidr: String,
    /// The number of availability zones (the first `az_count` zones of the region, in name order).
    pub az_count: u8,
    /// Private subnet CIDRs, one per zone: the VPC cut into 16 equal blocks, blocks 0, 1, ...
    pub private_subnet_cidrs: Vec<String>,
    /// Public subnet CIDRs, one per zone: blocks 8, 9, ... of the same cut.
    pub public_subnet_cidrs: Vec<String>,
}

/// One managed node group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeGroupPlan {
    /// The node group name.
    pub name: String,
    /// EC2 instance types.
    pub instance_types: Vec<String>,
    /// Minimum node count.
    pub min_size: u32,
    /// Maximum node count.
    pub max_size: u32,
    /// Desired node count.
    pub desired_size: u32,
    /// The EKS `amiType` string, for example `AL2023_x86_64_STANDARD`.
    pub ami_type: String,
    /// `ON_DEMAND` or `SPOT`.
    pub capacity_type: String,
    /// Root volume size in GiB.
    pub disk_size_gib: u32,
}

impl ClusterPlan {
    /// The cluster of the blueprint; ARNs in the account and partition of `aws`.
    pub fn new(cluster: &Cluster, aws: &AwsPlan) -> ClusterPlan {
        let (name, kubernetes_version) = match cluster {
            Cluster::Existing(c) => (&c.name, &c.kubernetes_version),
            Cluster::Create(c) => (&c.name, &c.kubernetes_version),
        };
        let (oidc_issuer, create) = match cluster {
            Cluster::Existing(c) => (c.oidc_issuer.as_deref().map(strip_scheme), None),
            Cluster::Create(c) => (None, Some(NewClusterPlan::new(c))),
        };
        ClusterPlan {
            name: name.clone(),
            kubernetes_version: kubernetes_version.clone(),
            existing: create.is_none(),
            oidc_issuer_url: oidc_issuer.as_ref().map(|i| format!("https://{i}")),
            oidc_provider_arn: oidc_issuer
                .as_ref()
                .map(|i| aws.iam_arn(&format!("oidc-provider/{i}"))),
            oidc_issuer,
            create,
        }
    }
}

impl NewClusterPlan {
    /// A cluster to create, as the blueprint describes it.
    pub fn new(c: &NewCluster) -> NewClusterPlan {
        let (vpc, subnet_ids) = match &c.network {
            Network::Vpc(v) => (
                Some(VpcPlan {
                    cidr: v.cidr.clone(),
                    az_count: v.az_count,
                    private_subnet_cidrs: (0..v.az_count)
                        .map(|i| subnet_cidr(&v.cidr, u32::from(i)))
                        .collect(),
                    public_subnet_cidrs: (0..v.az_count)
                        .map(|i| subnet_cidr(&v.cidr, 8 + u32::from(i)))
                        .collect(),
                }),
                Vec::new(),
            ),
            Network::ExistingSubnets(s) => {
                let mut ids = s.subnet_ids.clone();
                ids.sort();
                (None, ids)
            }
        };
        let mut log_types: Vec<String> = c.log_types.iter().map(enum_string).collect();
        log_types.sort();
        log_types.dedup();
        let [cluster_role_name, node_role_name, flow_logs_role_name] = cluster_role_names(&c.name);
        NewClusterPlan {
            cluster_role_name,
            node_role_name,
            flow_logs_role_name,
            vpc,
            subnet_ids,
            node_groups: c.node_groups.iter().map(NodeGroupPlan::new).collect(),
            endpoint_public_access: c.endpoint.public_access,
            endpoint_private_access: c.endpoint.private_access,
            public_access_cidrs: if c.endpoint.public_access {
                c.endpoint.public_access_cidrs.clone()
            } else {
                Vec::new()
            },
            log_types,
            authentication_mode: enum_string(&c.authentication_mode),
        }
    }
}

impl NodeGroupPlan {
    fn new(g: &NodeGroup) -> NodeGroupPlan {
        NodeGroupPlan {
            name: g.name.clone(),
            instance_types: g.instance_types.clone(),
            min_size: g.min_size,
            max_size: g.max_size,
            desired_size: g.desired_size,
            ami_type: enum_string(&g.ami_type),
            capacity_type: enum_string(&g.capacity_type),
            disk_size_gib: g.disk_size_gib,
        }
    }
}

/// Block `index` of a CIDR cut into 16 equal blocks (4 more prefix bits). The CIDR was validated as
/// an IPv4 network with a prefix of at most /24.
fn subnet_cidr(cidr: &str, index: u32) -> String {
    let (base, prefix, _) = parse_cidr(cidr).unwrap_or((0, 16, true));
    let new_prefix = prefix + 4;
    let it = base | (index << (32 - new_prefix));
    format!(
        "{}.{}.{}.{}/{new_prefix}",
        it >> 24,
        (it >> 16) & 0xff,
        (it >> 8) & 0xff,
        it & 0xff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_cut_the_vpc_into_sixteen_blocks() {
        assert_eq!(subnet_cidr("10.0.0.0/16", 0), "10.0.0.0/20");
        assert_eq!(subnet_cidr("10.0.0.0/16", 1), "10.0.16.0/20");
        assert_eq!(subnet_cidr("10.0.0.0/16", 8), "10.0.128.0/20");
        assert_eq!(subnet_cidr("192.168.4.0/24", 9), "192.168.4.144/28");
    }
}
