//! The CDK target: a pre-synthesized AWS CDK cloud assembly that `cdk deploy --app cdk` deploys as is.
//!
//! The assembly is three files: `manifest.json` (one `aws:cloudformation:stack` artifact), the stack's
//! `<Stack>.template.json`, and a `README.md` with the deploy and apply sequence. When `--app` names
//! a directory, the CDK CLI skips synth and deploys the assembly, so nothing needs Node at render
//! time. The template uses native CloudFormation resource types only: no Lambda-backed custom
//! resource and no file asset, so no `cdk bootstrap` either, as long as the template stays within
//! the CLI's 50 KiB inline limit (the tests check it for every example blueprint).
//!
//! The template is built as typed `serde_json` values: keys come out sorted, and the text is the
//! same for the same plan, byte for byte.
//!
//! **The IRSA trust of a cluster created in the same stack.** IAM condition keys are JSON object
//! keys (`"<issuer>:sub"`), and CloudFormation cannot put an intrinsic function in an object key, yet
//! the issuer of a new cluster is known only at deploy time (`Fn::GetAtt Cluster.OpenIdConnectIssuerUrl`).
//! `AWS::IAM::Role` accepts `AssumeRolePolicyDocument` as a string as well as an object, so the
//! trust policy is written as a `Fn::Sub` string whose `${Issuer}` is the issuer URL without its
//! scheme (`Fn::Select 1` of `Fn::Split "//"`). One deploy creates the cluster, its OIDC provider and
//! the role, with no custom resource. The same form serves an existing cluster whose issuer is given
//! at deploy time as the `OidcIssuer` parameter. When the blueprint states the issuer, the trust
//! policy is a plain object. Pod Identity needs no issuer at all: the role trusts
//! `pods.eks.amazonaws.com`, pinned to the ServiceAccount through the session tags EKS sets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::plan::{NewClusterPlan, NodeGroupPlan, Plan};
use crate::render::RenderError;

/// The cloud-assembly schema version written to `manifest.json`. The CLI checks only that the major
/// version is not newer than it understands, and the manifest uses nothing newer than this version,
/// so CDK CLIs from 2024 on (schema 36 and later) deploy it.
pub const ASSEMBLY_SCHEMA_VERSION: &str = "36.0.0";

/// The largest template, as YAML, that the CDK CLI deploys without a bootstrap bucket.
pub const INLINE_TEMPLATE_LIMIT_BYTES: usize = 50 * 1024;

/// The logical id of the collector's IAM role; the tests and the README refer to it.
pub const COLLECTOR_ROLE_ID: &str = "CollectorRole";

/// The parameter that carries an existing cluster's OIDC issuer when the blueprint does not state it.
pub const OIDC_ISSUER_PARAMETER: &str = "OidcIssuer";

/// Renders `cdk/`: `manifest.json`, `<Stack>.template.json` and `README.md`.
pub fn render(plan: &Plan) -> Result<BTreeMap<PathBuf, String>, RenderError> {
    let stack = stack_name(plan);
    let template_file = format!("{stack}.template.json");
    let template = Template::new(plan).build();
    let manifest = manifest(plan, &stack, &template_file);
    let mut files = BTreeMap::new();
    files.insert(
        PathBuf::from("manifest.json"),
        to_json(&manifest, "manifest.json")?,
    );
    files.insert(
        PathBuf::from(&template_file),
        to_json(&template, &template_file)?,
    );
    files.insert(PathBuf::from("README.md"), readme(plan, &stack, &template));
    Ok(files)
}

/// The stack name (also the artifact id): `Xray` plus the blueprint name in PascalCase, for example
/// `XrayGuideExistingCluster`.
pub fn stack_name(plan: &Plan) -> String {
    format!("Xray{}", pascal(&plan.name))
}

fn to_json(value: &Value, what: &str) -> Result<String, RenderError> {
    serde_json::to_string_pretty(value)
        .map(|mut text| {
            text.push('\n');
            text
        })
        .map_err(|err| RenderError {
            what: format!("cdk/{what}"),
            message: err.to_string(),
        })
}

/// `manifest.json`: one stack artifact, pinned to the blueprint's account and region, with the
/// blueprint's tags as stack tags (CloudFormation copies them onto every resource it can tag).
fn manifest(plan: &Plan, stack: &str, template_file: &str) -> Value {
    json!({
        "version": ASSEMBLY_SCHEMA_VERSION,
        "artifacts": {
            stack: {
                "type": "aws:cloudformation:stack",
                "environment": format!("aws://{}/{}", plan.aws.account_id, plan.aws.region),
                "properties": {
                    "templateFile": template_file,
                    "stackName": stack,
                    "tags": plan.tags,
                },
                "displayName": stack,
            }
        }
    })
}

/// `PascalCase` of a DNS-style name: `new-cluster-vpc` → `NewClusterVpc`.
fn pascal(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn r#ref(name: &str) -> Value {
    json!({ "Ref": name })
}

fn get_att(resource: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attribute] })
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// The issuer of a cluster created in this stack, without `https://`.
fn issuer_of_created_cluster() -> Value {
    json!({ "Fn::Select": [1, { "Fn::Split": ["//", get_att("Cluster", "OpenIdConnectIssuerUrl")] }] })
}

/// The template under construction: resources, parameters and outputs by logical id.
struct Template<'a> {
    plan: &'a Plan,
    resources: Map<String, Value>,
    parameters: Map<String, Value>,
    outputs: Map<String, Value>,
}

impl<'a> Template<'a> {
    fn new(plan: &'a Plan) -> Self {
        Template {
            plan,
            resources: Map::new(),
            parameters: Map::new(),
            outputs: Map::new(),
        }
    }

    /// CloudFormation tags: the plan's tags as a `Key`/`Value` list, sorted by key.
    fn tags(&self) -> Value {
        self.tags_with(&[])
    }

    /// The plan's tags plus extra ones (which win on a clash), sorted by key.
    fn tags_with(&self, extra: &[(&str, &str)]) -> Value {
        let mut tags: BTreeMap<&str, &str> = self
            .plan
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        tags.extend(extra.iter().copied());
        Value::Array(
            tags.into_iter()
                .map(|(key, value)| json!({ "Key": key, "Value": value }))
                .collect(),
        )
    }

    fn resource(&mut self, id: &str, value: Value) {
        self.resources.insert(id.to_owned(), value);
    }

    fn output(&mut self, id: &str, description: &str, value: Value) {
        self.outputs.insert(
            id.to_owned(),
            json!({ "Description": description, "Value": value }),
        );
    }

    /// The cluster name as the template refers to it: a `Ref` when the stack creates the cluster.
    fn cluster_name(&self) -> Value {
        if self.plan.cluster.existing {
            Value::String(self.plan.cluster.name.clone())
        } else {
            r#ref("Cluster")
        }
    }

    fn build(mut self) -> Value {
        let plan = self.plan;
        let mut addon_prerequisites: Vec<String> = Vec::new();
        if let Some(create) = &plan.cluster.create {
            addon_prerequisites.extend(self.cluster(create));
        }
        if plan.identity.irsa {
            self.irsa();
        } else {
            self.pod_identity();
            addon_prerequisites.push("PodIdentityAgentAddon".to_owned());
        }
        self.addons(addon_prerequisites);
        self.transaction_search();
        self.outputs();

        let description = format!(
            "AWS X-Ray tracing on Amazon EKS for blueprint {name}: {what}, cert-manager and ADOT \
             add-ons, and the collector's IAM role ({mode}). Generated by {generator}; \
             apply the kubernetes/ directory next to cdk/ after this stack.",
            name = plan.name,
            what = if plan.cluster.existing {
                format!("existing cluster {}", plan.cluster.name)
            } else {
                format!("new cluster {}", plan.cluster.name)
            },
            mode = if plan.identity.irsa {
                "IRSA"
            } else {
                "EKS Pod Identity"
            },
            generator = plan.generator,
        );
        let mut template = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": description,
            "Resources": self.resources,
            "Outputs": self.outputs,
        });
        if !self.parameters.is_empty() {
            template["Parameters"] = Value::Object(self.parameters);
        }
        template
    }

    /// The VPC (when asked), the cluster with its roles and secrets key, and the node groups.
    /// Returns the logical ids the add-ons must wait for (the node groups their pods run on).
    fn cluster(&mut self, create: &NewClusterPlan) -> Vec<String> {
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
                            "Principal": { "Service": "eks.amazonaws.com" },
                            "Action": ["sts:AssumeRole", "sts:TagSession"],
                        }],
                    },
                    "ManagedPolicyArns": [
                        format!("arn:{}:iam::aws:policy/AmazonEKSClusterPolicy", plan.aws.partition),
                    ],
                    "Tags": self.tags(),
                },
            }),
        );
        self.resource(
            "SecretsKey",
            json!({
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "Description": format!(
                        "Envelope encryption of Kubernetes secrets in EKS cluster {}.",
                        plan.cluster.name
                    ),
                    "EnableKeyRotation": true,
                    "KeyPolicy": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Sid": "AccountAdministersTheKeyThroughIam",
                            "Effect": "Allow",
                            "Principal": { "AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") },
                            "Action": "kms:*",
                            "Resource": "*",
                        }],
                    },
                    "Tags": self.tags(),
                },
            }),
        );

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

        let node_policies: Vec<String> = [
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
            "AmazonEC2ContainerRegistryReadOnly",
        ]
        .iter()
        .map(|name| format!("arn:{}:iam::aws:policy/{name}", plan.aws.partition))
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
                            "Principal": { "Service": "ec2.amazonaws.com" },
                            "Action": "sts:AssumeRole",
                        }],
                    },
                    "ManagedPolicyArns": node_policies,
                    "Tags": self.tags(),
                },
            }),
        );
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

    /// A VPC with one public and one private subnet per zone, an internet gateway, and one NAT
    /// gateway per zone so that nodes in one zone keep egress when another zone fails.
    fn vpc(&mut self, cidr: &str, public: &[String], private: &[String]) {
        let name = &self.plan.cluster.name;
        self.resource(
            "Vpc",
            json!({
                "Type": "AWS::EC2::VPC",
                "Properties": {
                    "CidrBlock": cidr,
                    "EnableDnsHostnames": true,
                    "EnableDnsSupport": true,
                    "Tags": self.tags_with(&[("Name", name)]),
                },
            }),
        );
        self.resource(
            "InternetGateway",
            json!({
                "Type": "AWS::EC2::InternetGateway",
                "Properties": { "Tags": self.tags_with(&[("Name", name)]) },
            }),
        );
        self.resource(
            "VpcGatewayAttachment",
            json!({
                "Type": "AWS::EC2::VPCGatewayAttachment",
                "Properties": { "VpcId": r#ref("Vpc"), "InternetGatewayId": r#ref("InternetGateway") },
            }),
        );
        self.resource(
            "PublicRouteTable",
            json!({
                "Type": "AWS::EC2::RouteTable",
                "Properties": { "VpcId": r#ref("Vpc"), "Tags": self.tags_with(&[("Name", &format!("{name}-public"))]) },
            }),
        );
        self.resource(
            "PublicDefaultRoute",
            json!({
                "Type": "AWS::EC2::Route",
                "DependsOn": ["VpcGatewayAttachment"],
                "Properties": {
                    "RouteTableId": r#ref("PublicRouteTable"),
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "GatewayId": r#ref("InternetGateway"),
                },
            }),
        );
        for (idx, (public_cidr, private_cidr)) in public.iter().zip(private).enumerate() {
            let n = idx + 1;
            let zone = json!({ "Fn::Select": [idx, { "Fn::GetAZs": "" }] });
            self.resource(
                &format!("PublicSubnet{n}"),
                json!({
                    "Type": "AWS::EC2::Subnet",
                    "Properties": {
                        "VpcId": r#ref("Vpc"),
                        "CidrBlock": public_cidr,
                        "AvailabilityZone": zone,
                        "MapPublicIpOnLaunch": false,
                        "Tags": self.tags_with(&[
                            ("Name", &format!("{name}-public-{n}")),
                            ("kubernetes.io/role/elb", "1"),
                        ]),
                    },
                }),
            );
            self.resource(
                &format!("PublicSubnet{n}RouteTableAssociation"),
                json!({
                    "Type": "AWS::EC2::SubnetRouteTableAssociation",
                    "Properties": {
                        "SubnetId": r#ref(&format!("PublicSubnet{n}")),
                        "RouteTableId": r#ref("PublicRouteTable"),
                    },
                }),
            );
            self.resource(
                &format!("NatEip{n}"),
                json!({
                    "Type": "AWS::EC2::EIP",
                    "DependsOn": ["VpcGatewayAttachment"],
                    "Properties": {
                        "Domain": "vpc",
                        "Tags": self.tags_with(&[("Name", &format!("{name}-nat-{n}"))]),
                    },
                }),
            );
            self.resource(
                &format!("NatGateway{n}"),
                json!({
                    "Type": "AWS::EC2::NatGateway",
                    "Properties": {
                        "AllocationId": get_att(&format!("NatEip{n}"), "AllocationId"),
                        "SubnetId": r#ref(&format!("PublicSubnet{n}")),
                        "Tags": self.tags_with(&[("Name", &format!("{name}-nat-{n}"))]),
                    },
                }),
            );
            self.resource(
                &format!("PrivateSubnet{n}"),
                json!({
                    "Type": "AWS::EC2::Subnet",
                    "Properties": {
                        "VpcId": r#ref("Vpc"),
                        "CidrBlock": private_cidr,
                        "AvailabilityZone": zone,
                        "Tags": self.tags_with(&[
                            ("Name", &format!("{name}-private-{n}")),
                            ("kubernetes.io/role/internal-elb", "1"),
                        ]),
                    },
                }),
            );
            self.resource(
                &format!("PrivateRouteTable{n}"),
                json!({
                    "Type": "AWS::EC2::RouteTable",
                    "Properties": {
                        "VpcId": r#ref("Vpc"),
                        "Tags": self.tags_with(&[("Name", &format!("{name}-private-{n}"))]),
                    },
                }),
            );
            self.resource(
                &format!("PrivateDefaultRoute{n}"),
                json!({
                    "Type": "AWS::EC2::Route",
                    "Properties": {
                        "RouteTableId": r#ref(&format!("PrivateRouteTable{n}")),
                        "DestinationCidrBlock": "0.0.0.0/0",
                        "NatGatewayId": r#ref(&format!("NatGateway{n}")),
                    },
                }),
            );
            self.resource(
                &format!("PrivateSubnet{n}RouteTableAssociation"),
                json!({
                    "Type": "AWS::EC2::SubnetRouteTableAssociation",
                    "Properties": {
                        "SubnetId": r#ref(&format!("PrivateSubnet{n}")),
                        "RouteTableId": r#ref(&format!("PrivateRouteTable{n}")),
                    },
                }),
            );
        }
    }

    /// The collector role's common properties: name, policies, boundary, tags.
    fn role_properties(&self, trust: Value) -> Value {
        let plan = self.plan;
        let mut properties = json!({
            "RoleName": plan.identity.role_name,
            "Description": format!(
                "The X-Ray collector {}/{} on EKS cluster {} ({}).",
                plan.collector.namespace,
                plan.collector.service_account,
                plan.cluster.name,
                plan.identity.mode
            ),
            "AssumeRolePolicyDocument": trust,
            "Tags": self.tags(),
        });
        if !plan.identity.policy_arns.is_empty() {
            properties["ManagedPolicyArns"] = json!(plan.identity.policy_arns);
        }
        if let Some(policy) = &plan.identity.inline_policy {
            // The otlp exporter: exactly the X-Ray actions the collector calls, on "*" because
            // X-Ray supports no resource-level permissions for them.
            properties["Policies"] = json!([{
                "PolicyName": policy.name,
                "PolicyDocument": policy.document,
            }]);
        }
        if let Some(boundary) = &plan.identity.permissions_boundary_arn {
            properties["PermissionsBoundary"] = json!(boundary);
        }
        properties
    }

    /// IRSA: the OIDC provider of a created cluster, and the collector role trusting the
    /// collector's ServiceAccount through it.
    fn irsa(&mut self) {
        let plan = self.plan;
        let identity = &plan.identity;
        let trust = match (&plan.cluster.oidc_issuer, &plan.cluster.oidc_provider_arn) {
            (Some(issuer), Some(provider_arn)) => {
                // The issuer is known at render time: a plain object policy that cfn-lint checks.
                json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": { "Federated": provider_arn },
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": { "StringEquals": {
                            format!("{issuer}:sub"): identity.service_account_subject,
                            format!("{issuer}:aud"): identity.audience,
                        } },
                    }],
                })
            }
            _ => {
                // The issuer is known only at deploy time, so it cannot be an object key: the
                // whole policy is a Fn::Sub string (see the module documentation).
                let (issuer, provider_arn) = if plan.cluster.existing {
                    self.parameters.insert(
                        OIDC_ISSUER_PARAMETER.to_owned(),
                        json!({
                            "Type": "String",
                            "AllowedPattern": r"^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/id/[0-9A-Fa-f]+$",
                            "ConstraintDescription": "the issuer without https://, as in oidc.eks.<region>.amazonaws.com/id/<ID>",
                            "Description": format!(
                                "The OIDC issuer of cluster {} without https:// (aws eks describe-cluster --name {} --query cluster.identity.oidc.issuer).",
                                plan.cluster.name, plan.cluster.name
                            ),
                        }),
                    );
                    let provider_arn = format!(
                        "arn:{}:iam::{}:oidc-provider/",
                        plan.aws.partition, plan.aws.account_id
                    );
                    (
                        r#ref(OIDC_ISSUER_PARAMETER),
                        json!({ "Fn::Join": ["", [provider_arn, r#ref(OIDC_ISSUER_PARAMETER)]] }),
                    )
                } else {
                    self.resource(
                        "OidcProvider",
                        json!({
                            "Type": "AWS::IAM::OIDCProvider",
                            "Properties": {
                                "Url": get_att("Cluster", "OpenIdConnectIssuerUrl"),
                                "ClientIdList": [identity.audience],
                                "Tags": self.tags(),
                            },
                        }),
                    );
                    (issuer_of_created_cluster(), get_att("OidcProvider", "Arn"))
                };
                let policy = json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": { "Federated": "${ProviderArn}" },
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": { "StringEquals": {
                            "${Issuer}:sub": identity.service_account_subject,
                            "${Issuer}:aud": identity.audience,
                        } },
                    }],
                });
                let text = serde_json::to_string(&policy).unwrap_or_default();
                json!({ "Fn::Sub": [text, { "Issuer": issuer, "ProviderArn": provider_arn }] })
            }
        };
        let properties = self.role_properties(trust);
        self.resource(
            COLLECTOR_ROLE_ID,
            json!({ "Type": "AWS::IAM::Role", "Properties": properties }),
        );
    }

    /// EKS Pod Identity: the agent add-on, the collector role trusting the Pod Identity service for
    /// the collector's ServiceAccount on this cluster only, and the association.
    fn pod_identity(&mut self) {
        let plan = self.plan;
        let identity = &plan.identity;
        let collector = &plan.collector;
        let Some(agent) = &plan.addons.pod_identity_agent else {
            return;
        };
        let mut agent_properties = json!({
            "ClusterName": self.cluster_name(),
            "AddonName": agent.name,
            "ResolveConflicts": agent.resolve_conflicts,
            "Tags": self.tags(),
        });
        if let Some(version) = &agent.version {
            agent_properties["AddonVersion"] = json!(version);
        }
        let mut agent_resource =
            json!({ "Type": "AWS::EKS::Addon", "Properties": agent_properties });
        if let Some(create) = &plan.cluster.create {
            // The agent is a DaemonSet: it needs nodes to become active.
            let groups: Vec<String> = create
                .node_groups
                .iter()
                .map(|g| format!("NodeGroup{}", pascal(&g.name)))
                .collect();
            agent_resource["DependsOn"] = json!(groups);
        }
        self.resource("PodIdentityAgentAddon", agent_resource);

        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": identity.pod_identity_principal },
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": { "StringEquals": {
                    "aws:SourceAccount": plan.aws.account_id,
                    "aws:RequestTag/eks-cluster-name": plan.cluster.name,
                    "aws:RequestTag/kubernetes-namespace": collector.namespace,
                    "aws:RequestTag/kubernetes-service-account": collector.service_account,
                } },
            }],
        });
        let properties = self.role_properties(trust);
        self.resource(
            COLLECTOR_ROLE_ID,
            json!({ "Type": "AWS::IAM::Role", "Properties": properties }),
        );
        self.resource(
            "CollectorPodIdentityAssociation",
            json!({
                "Type": "AWS::EKS::PodIdentityAssociation",
                "DependsOn": ["PodIdentityAgentAddon"],
                "Properties": {
                    "ClusterName": self.cluster_name(),
                    "Namespace": collector.namespace,
                    "ServiceAccount": collector.service_account,
                    "RoleArn": get_att(COLLECTOR_ROLE_ID, "Arn"),
                    "Tags": self.tags(),
                },
            }),
        );
    }

    /// cert-manager, then ADOT: the ADOT add-on's operator webhook needs cert-manager's certificate.
    fn addons(&mut self, prerequisites: Vec<String>) {
        let plan = self.plan;
        for (id, addon, depends_on) in [
            ("CertManagerAddon", &plan.addons.cert_manager, prerequisites),
            (
                "AdotAddon",
                &plan.addons.adot,
                vec!["CertManagerAddon".to_owned()],
            ),
        ] {
            let mut properties = json!({
                "ClusterName": self.cluster_name(),
                "AddonName": addon.name,
                "ConfigurationValues": addon.configuration_values,
                "ResolveConflicts": addon.resolve_conflicts,
                "Tags": self.tags(),
            });
            if let Some(version) = &addon.version {
                properties["AddonVersion"] = json!(version);
            }
            let mut resource = json!({ "Type": "AWS::EKS::Addon", "Properties": properties });
            if !depends_on.is_empty() {
                resource["DependsOn"] = json!(depends_on);
            }
            self.resource(id, resource);
        }
    }

    /// CloudWatch Transaction Search, when the blueprint enables it: the CloudWatch Logs resource
    /// policy that lets X-Ray write spans, then the account's `AWS::XRay::TransactionSearchConfig`
    /// (segment destination CloudWatch Logs, the `Default` indexing rule's percentage), which needs
    /// the policy to exist first.
    fn transaction_search(&mut self) {
        let Some(ts) = &self.plan.transaction_search else {
            return;
        };
        let document = serde_json::to_string(&ts.policy_document).unwrap_or_default();
        self.resource(
            "TransactionSearchLogResourcePolicy",
            json!({
                "Type": "AWS::Logs::ResourcePolicy",
                "Properties": {
                    "PolicyName": ts.policy_name,
                    "PolicyDocument": document,
                },
            }),
        );
        self.resource(
            "TransactionSearchConfig",
            json!({
                "Type": "AWS::XRay::TransactionSearchConfig",
                "DependsOn": ["TransactionSearchLogResourcePolicy"],
                "Properties": { "IndexingPercentage": ts.indexing_percent },
            }),
        );
    }

    /// What the Kubernetes objects and the user need after the deploy.
    fn outputs(&mut self) {
        let plan = self.plan;
        let cluster = self.cluster_name();
        self.output("ClusterName", "The EKS cluster name.", cluster);
        self.output("Region", "The region of the cluster.", r#ref("AWS::Region"));
        self.output(
            "UpdateKubeconfigCommand",
            "Points kubectl at the cluster before applying the kubernetes/ directory.",
            json!({ "Fn::Sub": [
                "aws eks update-kubeconfig --region ${AWS::Region} --name ${ClusterName}",
                { "ClusterName": self.cluster_name() },
            ] }),
        );
        self.output(
            "CollectorRoleArn",
            "The collector's IAM role; the Kubernetes target's ServiceAccount names the same ARN.",
            get_att(COLLECTOR_ROLE_ID, "Arn"),
        );
        self.output(
            "CollectorServiceAccount",
            "The namespace/name of the collector's ServiceAccount, as the role trusts it.",
            json!(format!(
                "{}/{}",
                plan.collector.namespace, plan.collector.service_account
            )),
        );
        self.output(
            "XrayDaemonAddress",
            "What applications set as AWS_XRAY_DAEMON_ADDRESS.",
            json!(plan.collector.xray_daemon_address),
        );
        self.output(
            "AdotAddonVersion",
            "The ADOT add-on version, which decides the collector CRD version.",
            json!(plan.addons.adot.version),
        );
        if plan.identity.irsa && !plan.cluster.existing {
            self.output(
                "OidcIssuerUrl",
                "The cluster's OIDC issuer.",
                get_att("Cluster", "OpenIdConnectIssuerUrl"),
            );
        }
    }
}

/// `README.md`: what the assembly holds, how to deploy it without a bootstrap, and how to apply the
/// Kubernetes objects afterwards.
fn readme(plan: &Plan, stack: &str, template: &Value) -> String {
    let resources = template["Resources"].as_object();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for resource in resources.into_iter().flat_map(Map::values) {
        *kinds
            .entry(resource["Type"].as_str().unwrap_or("?"))
            .or_default() += 1;
    }
    let parameters = template["Parameters"].as_object();
    let region = &plan.aws.region;
    let account = &plan.aws.account_id;
    let cluster = &plan.cluster.name;
    let ns = &plan.collector.namespace;
    let sa = &plan.collector.service_account;

    let mut md = String::new();
    let _ = writeln!(
        md,
        "# `{stack}`: AWS CDK cloud assembly for blueprint `{}`\n",
        plan.name
    );
    let _ = writeln!(
        md,
        "Generated by {} from `blueprints/{}.yaml`; do not edit, render again.\n",
        plan.generator, plan.name
    );
    let _ = writeln!(
        md,
        "This directory is a pre-synthesized cloud assembly: `manifest.json` names one CloudFormation stack, `{stack}`, in `aws://{account}/{region}`, and `{stack}.template.json` is its template."
    );
    let _ = writeln!(
        md,
        "The template uses native CloudFormation resource types only (no Lambda-backed custom resource, no file asset) and stays under the CDK CLI's 50 KiB inline limit, so it deploys **without `cdk bootstrap`** and without Node.js dependencies beyond the CDK CLI itself.\n"
    );
    let _ = writeln!(md, "## What the stack creates\n");
    let _ = writeln!(md, "| resource type | count |\n|---|---|");
    for (kind, n) in &kinds {
        let _ = writeln!(md, "| `{kind}` | {n} |");
    }
    let _ = writeln!(md);
    if plan.cluster.existing {
        let _ = writeln!(
            md,
            "The cluster `{cluster}` exists already; the stack adds the cert-manager and ADOT add-ons (ADOT after cert-manager) and the collector's IAM role `{}`.",
            plan.identity.role_name
        );
    } else {
        let _ = writeln!(
            md,
            "The stack creates the cluster `{cluster}` (Kubernetes {}){}, its managed node groups, the cert-manager and ADOT add-ons (ADOT after cert-manager, both after the nodes) and the collector's IAM role `{}`.",
            plan.cluster.kubernetes_version,
            if plan
                .cluster
                .create
                .as_ref()
                .is_some_and(|c| c.vpc.is_some())
            {
                " in a new VPC"
            } else {
                ""
            },
            plan.identity.role_name
        );
    }
    if plan.identity.irsa {
        let _ = writeln!(
            md,
            "The role is assumed through IRSA: it trusts exactly `system:serviceaccount:{ns}:{sa}` with audience `sts.amazonaws.com`."
        );
        if plan.cluster.existing {
            let _ = writeln!(
                md,
                "The cluster's IAM OIDC provider must exist already (`aws iam list-open-id-connect-providers`; create it with `eksctl utils associate-iam-oidc-provider --cluster {cluster} --region {region} --approve`)."
            );
        } else {
            let _ = writeln!(
                md,
                "The stack creates the cluster's IAM OIDC provider. The issuer of a new cluster is known only at deploy time and IAM condition keys cannot be computed in CloudFormation, so the trust policy is a `Fn::Sub` string (see ARCHITECTURE.md, \"CDK target\")."
            );
        }
    } else {
        let _ = writeln!(
            md,
            "The role is assumed through EKS Pod Identity: the stack installs the `eks-pod-identity-agent` add-on and associates the role with `{ns}/{sa}`; the trust policy accepts only sessions tagged with this cluster, namespace and ServiceAccount."
        );
        if plan.cluster.existing {
            let _ = writeln!(
                md,
                "If `eks-pod-identity-agent` is already installed on `{cluster}`, the deploy fails on that add-on: remove it first (`aws eks delete-addon --cluster-name {cluster} --addon-name eks-pod-identity-agent --preserve`), so that the stack owns it."
            );
        }
    }
    if let Some(policy) = &plan.identity.inline_policy {
        let actions: Vec<String> = policy
            .statements
            .iter()
            .flat_map(|st| st.actions.iter().map(|a| format!("`{a}`")))
            .collect();
        let _ = writeln!(
            md,
            "The collector exports with `otlphttp` to X-Ray's OTLP endpoint `{}` (SigV4, service `xray`), which IAM authorises as `xray:PutTraceSegments`: the role has the inline policy `{}` with exactly {} on `*`{}.",
            plan.collector.exporter_endpoint,
            policy.name,
            actions.join(", "),
            if plan.identity.policy_arns.is_empty() {
                " instead of the managed `AWSXRayDaemonWriteAccess`".to_owned()
            } else {
                format!(", besides {}", plan.identity.policy_arns.join(", "))
            }
        );
        let _ = writeln!(
            md,
            "**The OTLP endpoint requires CloudWatch Transaction Search in the account.**{}",
            if plan.transaction_search.is_some() {
                " The stack enables it (below)."
            } else {
                " The blueprint does not enable it, so it must be on already: `aws xray get-trace-segment-destination` must print `CloudWatchLogs`."
            }
        );
    }
    if let Some(ts) = &plan.transaction_search {
        let _ = writeln!(
            md,
            "The stack enables CloudWatch Transaction Search in account `{account}`, region `{region}` (an account-wide setting for the region): `TransactionSearchLogResourcePolicy` (`AWS::Logs::ResourcePolicy` `{}`) lets `xray.amazonaws.com` write to the log groups {}, and then `TransactionSearchConfig` (`AWS::XRay::TransactionSearchConfig`) switches the segment destination to CloudWatch Logs and indexes {} % of spans. AWS's CloudFormation instructions ask for Transaction Search to be off before a stack enables it: if the account has it on already (`aws xray get-trace-segment-destination --region {region}` prints `CloudWatchLogs`), remove `transaction_search` from the blueprint instead, since the OTLP endpoint only needs it on.",
            ts.policy_name,
            ts.log_groups
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(" and "),
            ts.indexing_percent
        );
    }
    let _ = writeln!(md);

    let _ = writeln!(md, "## Deploy\n");
    let _ = writeln!(
        md,
        "With credentials for account `{account}` and the AWS CDK CLI (tested with aws-cdk 2.1148.1; any v2 CLI that reads cloud-assembly schema 36 works), from the render output directory, the one that holds `cdk/` and `kubernetes/`:\n"
    );
    let _ = writeln!(md, "```sh\ncdk deploy --app cdk {stack}\n```\n");
    let _ = writeln!(
        md,
        "The CLI notices that `--app` is a cloud assembly and skips synth. The directory must be writable (the CLI writes lock files into it)."
    );
    if let Some(parameters) = parameters {
        let _ = writeln!(
            md,
            "Deploy-time parameters (defaults from the blueprint; override with `--parameters {stack}:<Name>=<value>`):\n"
        );
        let _ = writeln!(md, "| parameter | default | meaning |\n|---|---|---|");
        for (name, parameter) in parameters {
            let default = match &parameter["Default"] {
                Value::Null => "(required)".to_owned(),
                Value::String(s) => format!("`{s}`"),
                other => format!("`{other}`"),
            };
            let _ = writeln!(
                md,
                "| `{name}` | {default} | {} |",
                parameter["Description"].as_str().unwrap_or("")
            );
        }
        let _ = writeln!(md);
        if parameters.contains_key(OIDC_ISSUER_PARAMETER) {
            let _ = writeln!(
                md,
                "The blueprint does not state the cluster's OIDC issuer, so pass it:\n\n```sh\ncdk deploy --app cdk {stack} \\\n  --parameters {stack}:{OIDC_ISSUER_PARAMETER}=\"$(aws eks describe-cluster --region {region} --name {cluster} \\\n    --query cluster.identity.oidc.issuer --output text | sed 's#^https://##')\"\n```\n"
            );
        }
    } else {
        let _ = writeln!(md);
    }
    let _ = writeln!(md, "## Then apply the Kubernetes objects\n");
    let _ = writeln!(
        md,
        "The Namespace, ServiceAccount and `OpenTelemetryCollector` come from the Kubernetes target, `kubernetes/` next to `cdk/`. Apply them after the stack has finished, because the collector's CRD is installed by the ADOT add-on:\n"
    );
    let check = if plan.identity.irsa {
        format!(
            "# 2. Check that the role the ServiceAccount names is the role the stack created.\n\
             aws cloudformation describe-stacks --region {region} --stack-name {stack} \\\n  \
             --query \"Stacks[0].Outputs[?OutputKey=='CollectorRoleArn'].OutputValue\" --output text\n\
             #    must print {}\n",
            plan.identity.role_arn
        )
    } else {
        format!(
            "# 2. Check that Pod Identity gives the collector's ServiceAccount the stack's role.\n\
             aws eks list-pod-identity-associations --region {region} --cluster-name {cluster} \\\n  \
             --namespace {ns} --service-account {sa} --query 'associations[].associationArn' --output text\n\
             #    must print one association; its role is {}\n",
            plan.identity.role_arn
        )
    };
    let _ = writeln!(
        md,
        "```sh\n# 1. Point kubectl at the cluster (the stack output UpdateKubeconfigCommand prints this line).\naws eks update-kubeconfig --region {region} --name {cluster}\n\n{check}\n# 3. Apply the objects.\nkubectl apply -k kubernetes\n```\n"
    );
    let _ = writeln!(
        md,
        "Stack outputs that feed this step: `ClusterName` and `Region` (the kubeconfig), `CollectorRoleArn` ({} in `kubernetes/serviceaccount.yaml`), `CollectorServiceAccount` (`{ns}/{sa}`, the subject the role trusts) and `AdotAddonVersion` (decides the collector CRD version). Applications send X-Ray segments to `XrayDaemonAddress`, `{}`.\n",
        if plan.identity.irsa {
            "the `eks.amazonaws.com/role-arn` annotation"
        } else {
            "associated by Pod Identity with the ServiceAccount"
        },
        plan.collector.xray_daemon_address
    );
    let _ = writeln!(md, "## Tear down\n");
    let _ = writeln!(
        md,
        "Delete the collector before the add-on, or its finalizer blocks the namespace once the operator is gone:\n\n```sh\nkubectl delete -k kubernetes\ncdk destroy --app cdk {stack}\n```"
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_joins_dns_words() {
        assert_eq!(pascal("new-cluster-vpc"), "NewClusterVpc");
        assert_eq!(pascal("a1-b"), "A1B");
        assert_eq!(pascal("system"), "System");
    }

    #[test]
    fn issuer_of_created_cluster_strips_the_scheme() {
        let it = issuer_of_created_cluster();
        assert_eq!(it["Fn::Select"][0], 1);
        assert_eq!(it["Fn::Select"][1]["Fn::Split"][0], "//");
    }
}
