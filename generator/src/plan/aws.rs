//! The AWS environment: account, region, partition.

use serde::Serialize;

use crate::aws::Partition;
use crate::blueprint::model::Cluster;

/// The AWS environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwsPlan {
    /// The 12-digit account id.
    pub account_id: String,
    /// The region, for example `us-east-1`.
    pub region: String,
    /// The ARN partition derived from the region: `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: Partition,
    /// The partition's DNS suffix: `amazonaws.com`, or `amazonaws.com.cn` in China.
    pub dns_suffix: String,
    /// The service principals the targets' trust and resource policies name.
    pub principals: ServicePrincipals,
}

/// The service principals of the partition that the targets' policies name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServicePrincipals {
    /// EC2, which managed nodes assume their role as.
    pub ec2: String,
    /// EKS, which the control plane assumes its role as.
    pub eks: String,
    /// VPC Flow Logs, which writes the flow log of a created VPC.
    pub vpc_flow_logs: String,
    /// X-Ray, which writes spans to CloudWatch Logs under Transaction Search.
    pub xray: String,
}

impl AwsPlan {
    /// The account and region of the cluster.
    pub fn new(cluster: &Cluster) -> AwsPlan {
        let (region, account_id) = match cluster {
            Cluster::Existing(c) => (&c.region, &c.account_id),
            Cluster::Create(c) => (&c.region, &c.account_id),
        };
        let partition = Partition::of_region(region);
        AwsPlan {
            account_id: account_id.clone(),
            region: region.clone(),
            partition,
            dns_suffix: partition.dns_suffix().to_owned(),
            principals: ServicePrincipals {
                ec2: partition.service_principal("ec2"),
                eks: partition.service_principal("eks"),
                vpc_flow_logs: partition.service_principal("vpc-flow-logs"),
                xray: partition.service_principal("xray"),
            },
        }
    }

    /// An ARN in this account and region: `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        self.partition
            .arn(service, &self.region, &self.account_id, resource)
    }

    /// An IAM ARN of this account: `arn:<partition>:iam::<account>:<resource>`.
    pub fn iam_arn(&self, resource: &str) -> String {
        self.partition.arn("iam", "", &self.account_id, resource)
    }
}
