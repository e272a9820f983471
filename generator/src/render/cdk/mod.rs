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

mod addons;
mod cluster;
mod identity;
mod outputs;
mod readme;
mod vpc;

use std::collections::BTreeMap;
use std::path::PathBuf;

use minijinja::Environment;
use serde_json::{Map, Value, json};

use crate::plan::Plan;
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

/// Renders `cdk/`: `manifest.json`, `<Stack>.template.json` and `README.md` (from the template
/// `cdk/README.md.j2`).
pub fn render(
    env: &Environment<'static>,
    plan: &Plan,
) -> Result<BTreeMap<PathBuf, String>, RenderError> {
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
    files.insert(
        PathBuf::from("README.md"),
        readme::render(env, plan, &stack, &template)?,
    );
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
            cause: err.into(),
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

/// The template under construction: resources, parameters and outputs by logical id. The
/// submodules add its parts: `cluster` and `vpc` (a created cluster), `identity` (the collector's
/// role), `addons` (the add-ons and Transaction Search), `outputs`.
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
