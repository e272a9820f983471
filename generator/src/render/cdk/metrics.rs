//! `spec.metrics` in the stack: the KMS key and AMP workspace (when the blueprint creates them),
//! the AMP managed scraper (`AWS::APS::Scraper`, its scrape configuration base64-encoded with
//! `Fn::Base64` as CloudFormation asks) and the collector's alert rules
//! (`AWS::APS::RuleGroupsNamespace`). For an existing cluster whose blueprint names no scraper
//! subnets or security groups, the stack takes them as parameters: CloudFormation cannot read an
//! existing cluster's network.

use serde_json::{Value, json};

use crate::render::cdk::template::{Template, get_att, r#ref};

/// The parameter with the scraper's subnets (existing cluster, none in the blueprint).
pub const SCRAPER_SUBNETS_PARAMETER: &str = "ScraperSubnetIds";

/// The parameter with the scraper's security groups (existing cluster, none in the blueprint).
pub const SCRAPER_SECURITY_GROUPS_PARAMETER: &str = "ScraperSecurityGroupIds";

impl Template<'_> {
    pub(super) fn metrics(&mut self, scraper_depends_on: &[String]) {
        let plan = self.plan;
        let Some(metrics) = &plan.metrics else {
            return;
        };
        let workspace_arn = if metrics.create_workspace {
            let key = match &metrics.kms_key_arn {
                Some(arn) => json!(arn),
                None => {
                    self.account_kms_key(
                        "MetricsKey",
                        format!("Encrypts the AMP workspace {}.", metrics.workspace_alias),
                    );
                    get_att("MetricsKey", "Arn")
                }
            };
            self.resource(
                "MetricsWorkspace",
                json!({
                    "Type": "AWS::APS::Workspace",
                    "Properties": {
                        "Alias": metrics.workspace_alias,
                        "KmsKeyArn": key,
                        "Tags": self.tags(),
                    },
                }),
            );
            get_att("MetricsWorkspace", "Arn")
        } else {
            json!(metrics.existing_workspace_arn)
        };

        let (cluster_arn, cluster_subnets, cluster_groups) = match &plan.cluster.create {
            Some(_) => (
                get_att("Cluster", "Arn"),
                self.cluster_subnet_refs(),
                json!([get_att("Cluster", "ClusterSecurityGroupId")]),
            ),
            None => (
                json!(plan.aws.partition.arn(
                    "eks",
                    &plan.aws.region,
                    &plan.aws.account_id,
                    &format!("cluster/{}", plan.cluster.name)
                )),
                r#ref(SCRAPER_SUBNETS_PARAMETER),
                r#ref(SCRAPER_SECURITY_GROUPS_PARAMETER),
            ),
        };
        let subnets = match &metrics.subnet_ids {
            Some(ids) => json!(ids),
            None => {
                if plan.cluster.existing {
                    self.parameters.insert(
                        SCRAPER_SUBNETS_PARAMETER.to_owned(),
                        json!({
                            "Type": "List<AWS::EC2::Subnet::Id>",
                            "Description": format!("The subnets of cluster {} the AMP scraper's network interfaces go in (at least two, in two availability zones): aws eks describe-cluster --name {} --query cluster.resourcesVpcConfig.subnetIds", plan.cluster.name, plan.cluster.name),
                        }),
                    );
                }
                cluster_subnets
            }
        };
        let groups = match &metrics.security_group_ids {
            Some(ids) => json!(ids),
            None => {
                if plan.cluster.existing {
                    self.parameters.insert(
                        SCRAPER_SECURITY_GROUPS_PARAMETER.to_owned(),
                        json!({
                            "Type": "List<AWS::EC2::SecurityGroup::Id>",
                            "Description": format!("The security groups of the AMP scraper's network interfaces, normally the cluster security group: aws eks describe-cluster --name {} --query cluster.resourcesVpcConfig.clusterSecurityGroupId", plan.cluster.name),
                        }),
                    );
                }
                cluster_groups
            }
        };
        let mut scraper = json!({
            "Type": "AWS::APS::Scraper",
            "Properties": {
                "Alias": metrics.scraper_alias,
                "ScrapeConfiguration": {
                    "ConfigurationBlob": { "Fn::Base64": metrics.scrape_configuration },
                },
                "Source": {
                    "EksConfiguration": {
                        "ClusterArn": cluster_arn,
                        "SubnetIds": subnets,
                        "SecurityGroupIds": groups,
                    },
                },
                "Destination": {
                    "AmpConfiguration": { "WorkspaceArn": workspace_arn.clone() },
                },
                "Tags": self.tags(),
            },
        });
        if !scraper_depends_on.is_empty() {
            scraper["DependsOn"] = json!(scraper_depends_on);
        }
        self.resource("MetricsScraper", scraper);
        self.resource(
            "CollectorAlertRules",
            json!({
                "Type": "AWS::APS::RuleGroupsNamespace",
                "Properties": {
                    "Name": metrics.rule_namespace,
                    "Workspace": workspace_arn.clone(),
                    "Data": metrics.rules,
                    "Tags": self.tags(),
                },
            }),
        );
        self.output(
            "MetricsWorkspaceArn",
            "The AMP workspace the scraper writes to.",
            workspace_arn,
        );
        self.output(
            "MetricsScraperRoleArn",
            "The scraper's service-linked role; its Kubernetes user is aps-collector-user.",
            get_att("MetricsScraper", "RoleArn"),
        );
    }

    /// The subnets a created cluster's control plane uses.
    fn cluster_subnet_refs(&self) -> Value {
        let plan = self.plan;
        let Some(create) = &plan.cluster.create else {
            return json!([]);
        };
        match &create.vpc {
            Some(vpc) => {
                let mut all: Vec<Value> = (1..=vpc.private_subnet_cidrs.len())
                    .map(|n| r#ref(&format!("PrivateSubnet{n}")))
                    .collect();
                all.extend(
                    (1..=vpc.public_subnet_cidrs.len()).map(|n| r#ref(&format!("PublicSubnet{n}"))),
                );
                Value::Array(all)
            }
            None => json!(create.subnet_ids),
        }
    }
}
