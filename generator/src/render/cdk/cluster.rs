//! A created cluster: its control-plane role, the secrets key, the cluster, the node role and
//! the managed node groups with deploy-time size parameters.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::plan::{NewClusterPlan, NodeGroupPlan};
use crate::render::cdk::template::{Template, get_att, pascal, r#ref};

impl Template<'_> {
    /// The VPC (when asked), the cluster with its roles and secrets key, and the node groups.
    /// Returns the logical ids the add-ons must wait for (the node groups their pods run on).
    pub(super) fn cluster(&mut self, create: &NewClusterPlan) -> Vec<String> {
        let plan = self.plan;
        let (cluster_subnets, node_subnets) = match &create.vpc {
            Some(vpc) => {
                self.vpc(
                    &vpc.cidr,
                    &vpc.public_subnet_cidrs,
                    &vpc.private_subnet_cidrs,
                );
                let private: Vec<Value> = (1..=vpc.private_subnet_cidrs.len())
                    .map(|n| r#ref(&format!("PrivateSubnet{n}")))
                    .collect();
                let public: Vec<Value> = (1..=vpc.public_subnet_cidrs.len())
                    .map(|n| r#ref(&format!("PublicSubnet{n}")))
                    .collect();
                // The control plane's network interfaces go in every subnet; nodes stay private.
                let mut all = private.clone();
                all.extend(public);
                (all, private)
            }
            None => {
                let ids: Vec<Value> = create.subnet_ids.iter().map(|id| json!(id)).collect();
                (ids.clone(), ids)
            }
        };

        self.control_plane_role_and_key(create);

        let mut vpc_config = json!({
            "SubnetIds": cluster_subnets,
            "EndpointPrivateAccess": create.endpoint_private_access,
            "EndpointPublicAccess": create.endpoint_public_access,
        });
        if create.endpoint_public_access {
            self.parameters.insert(
                "PublicAccessCidrs".to_owned(),
                json!({
                    "Type": "CommaDelimitedList",
                    "Default": create.public_access_cidrs.join(","),
                    "Description": "CIDR blocks allowed to reach the cluster's public API endpoint.",
                }),
            );
            vpc_config["PublicAccessCidrs"] = r#ref("PublicAccessCidrs");
        }
        let mut cluster = json!({
            "Name": plan.cluster.name,
            "Version": plan.cluster.kubernetes_version,
            "RoleArn": get_att("ClusterRole", "Arn"),
            "ResourcesVpcConfig": vpc_config,
            "AccessConfig": {
                "AuthenticationMode": create.authentication_mode,
                // The identity that deploys the stack becomes cluster admin, so that it can apply
                // the kubernetes/ directory right after the deploy.
                "BootstrapClusterCreatorAdminPermissions": true,
            },
            "EncryptionConfig": [{
                "Provider": { "KeyArn": get_att("SecretsKey", "Arn") },
                "Resources": ["secrets"],
            }],
            "Tags": self.tags(),
        });
        if !create.log_types.is_empty() {
            let types: Vec<Value> = create
                .log_types
                .iter()
                .map(|t| json!({ "Type": t }))
                .collect();
            cluster["Logging"] = json!({ "ClusterLogging": { "EnabledTypes": types } });
        }
        let cluster_resource = json!({ "Type": "AWS::EKS::Cluster", "Properties": cluster });
        self.resource("Cluster", cluster_resource);

        self.node_role(create);
        create
            .node_groups
            .iter()
            .map(|group| self.node_group(group, &node_subnets))
            .collect()
    }

    /// One managed node group, with deploy-time parameters for its size. Returns its logical id.
    fn node_group(&mut self, group: &NodeGroupPlan, subnets: &[Value]) -> String {
        let id = format!("NodeGroup{}", pascal(&group.name));
        let mut scaling = Map::new();
        for (key, what, value, least) in [
            ("MinSize", "smallest", group.min_size, 0),
            ("DesiredSize", "starting", group.desired_size, 0),
            ("MaxSize", "largest", group.max_size, 1),
        ] {
            let parameter = format!("{id}{key}");
            self.parameters.insert(
                parameter.clone(),
                json!({
                    "Type": "Number",
                    "Default": value,
                    "MinValue": least,
                    "Description": format!("The {what} number of nodes in node group {}.", group.name),
                }),
            );
            scaling.insert(key.to_owned(), r#ref(&parameter));
        }
        let types_parameter = format!("{id}InstanceTypes");
        self.parameters.insert(
            types_parameter.clone(),
            json!({
                "Type": "CommaDelimitedList",
                "Default": group.instance_types.join(","),
                "Description": format!("EC2 instance types of node group {}.", group.name),
            }),
        );
        let tags: BTreeMap<&String, &String> = self.plan.tags.iter().collect();
        self.resource(
            &id,
            json!({
                "Type": "AWS::EKS::Nodegroup",
                "Properties": {
                    "ClusterName": r#ref("Cluster"),
                    "NodegroupName": group.name,
                    "NodeRole": get_att("NodeRole", "Arn"),
                    "Subnets": subnets,
                    "InstanceTypes": r#ref(&types_parameter),
                    "AmiType": group.ami_type,
                    "CapacityType": group.capacity_type,
                    "DiskSize": group.disk_size_gib,
                    "ScalingConfig": scaling,
                    // Node groups take tags as a map, not a list.
                    "Tags": tags,
                },
            }),
        );
        id
    }

    /// The control plane's IAM role and the KMS key that encrypts the cluster's secrets.
    fn control_plane_role_and_key(&mut self, create: &NewClusterPlan) {
        let plan = self.plan;
        self.resource(
            "ClusterRole",
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": create.cluster_role_name,
                    "Description": format!("EKS control plane of cluster {}.", plan.cluster.name),
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": { "Service": plan.aws.principals.eks },
                            "Action": ["sts:AssumeRole", "sts:TagSession"],
                        }],
                    },
                    "ManagedPolicyArns": [
                        plan.aws.partition.managed_policy_arn("AmazonEKSClusterPolicy"),
                    ],
                    "Tags": self.tags(),
                },
            }),
        );
        self.account_kms_key(
            "SecretsKey",
            format!(
                "Envelope encryption of Kubernetes secrets in EKS cluster {}.",
                plan.cluster.name
            ),
        );
    }

    /// The managed nodes' IAM role.
    fn node_role(&mut self, create: &NewClusterPlan) {
        let plan = self.plan;
        let node_policies: Vec<String> = [
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
            "AmazonEC2ContainerRegistryReadOnly",
        ]
        .iter()
        .map(|name| plan.aws.partition.managed_policy_arn(name))
        .collect();
        self.resource(
            "NodeRole",
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": create.node_role_name,
                    "Description": format!("Managed nodes of EKS cluster {}.", plan.cluster.name),
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": { "Service": plan.aws.principals.ec2 },
                            "Action": "sts:AssumeRole",
                        }],
                    },
                    "ManagedPolicyArns": node_policies,
                    "Tags": self.tags(),
                },
            }),
        );
    }
}
