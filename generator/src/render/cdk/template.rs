//! The CloudFormation template under construction, and the intrinsic-function helpers every part
//! of it uses.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::plan::Plan;

/// The logical id of the collector's IAM role; the tests and the README refer to it.
pub const COLLECTOR_ROLE_ID: &str = "CollectorRole";

/// The parameter that carries an existing cluster's OIDC issuer when the blueprint does not state it.
pub const OIDC_ISSUER_PARAMETER: &str = "OidcIssuer";

/// `PascalCase` of a DNS-style name: `new-cluster-vpc` → `NewClusterVpc`.
pub(super) fn pascal(name: &str) -> String {
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

pub(super) fn r#ref(name: &str) -> Value {
    json!({ "Ref": name })
}

pub(super) fn get_att(resource: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attribute] })
}

pub(super) fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// The issuer of a cluster created in this stack, without `https://`.
pub(super) fn issuer_of_created_cluster() -> Value {
    json!({ "Fn::Select": [1, { "Fn::Split": ["//", get_att("Cluster", "OpenIdConnectIssuerUrl")] }] })
}

/// The template under construction: resources, parameters and outputs by logical id. The
/// submodules add its parts: `cluster` and `vpc` (a created cluster), `identity` (the collector's
/// role), `addons` (the add-ons and Transaction Search), `outputs`.
pub(super) struct Template<'a> {
    pub(super) plan: &'a Plan,
    pub(super) resources: Map<String, Value>,
    pub(super) parameters: Map<String, Value>,
    pub(super) outputs: Map<String, Value>,
}

impl<'a> Template<'a> {
    pub(super) fn new(plan: &'a Plan) -> Self {
        Template {
            plan,
            resources: Map::new(),
            parameters: Map::new(),
            outputs: Map::new(),
        }
    }

    /// CloudFormation tags: the plan's tags as a `Key`/`Value` list, sorted by key.
    pub(super) fn tags(&self) -> Value {
        self.tags_with(&[])
    }

    /// The plan's tags plus extra ones (which win on a clash), sorted by key.
    pub(super) fn tags_with(&self, extra: &[(&str, &str)]) -> Value {
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

    pub(super) fn resource(&mut self, id: &str, value: Value) {
        self.resources.insert(id.to_owned(), value);
    }

    /// A customer managed KMS key with rotation, administered by the account through IAM (the
    /// key policy every key of the stack has), tagged like every resource.
    pub(super) fn account_kms_key(&mut self, id: &str, description: String) {
        let tags = self.tags();
        self.resource(
            id,
            json!({
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "Description": description,
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
                    "Tags": tags,
                },
            }),
        );
    }

    pub(super) fn output(&mut self, id: &str, description: &str, value: Value) {
        self.outputs.insert(
            id.to_owned(),
            json!({ "Description": description, "Value": value }),
        );
    }

    /// The cluster name as the template refers to it: a `Ref` when the stack creates the cluster.
    pub(super) fn cluster_name(&self) -> Value {
        if self.plan.cluster.existing {
            Value::String(self.plan.cluster.name.clone())
        } else {
            r#ref("Cluster")
        }
    }
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
