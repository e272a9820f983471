//! A created VPC: public and private subnets per zone, an internet gateway and one NAT gateway
//! per zone.

use serde_json::json;

use crate::render::cdk::template::{Template, get_att, r#ref};

impl Template<'_> {
    /// A VPC with one public and one private subnet per zone, an internet gateway, and one NAT
    /// gateway per zone so that nodes in one zone keep egress when another zone fails.
    pub(super) fn vpc(&mut self, cidr: &str, public: &[String], private: &[String]) {
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
}
