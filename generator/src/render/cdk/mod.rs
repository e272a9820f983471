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
//! `template` holds the template under construction and its intrinsic-function helpers; `cluster`
//! and `vpc` add a created cluster, `identity` the collector's role, `addons` the add-ons and
//! Transaction Search, `image` the collector image's ECR repository, `metrics` the AMP workspace,
//! managed scraper and alert rules, `outputs` the stack outputs; `readme` renders `cdk/README.md.j2`.
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
mod image;
mod metrics;
mod outputs;
mod readme;
mod template;
mod vpc;

use std::collections::BTreeMap;
use std::path::PathBuf;

use minijinja::Environment;
use serde_json::{Value, json};

use crate::plan::Plan;
use crate::render::engine::RenderError;
use template::{Template, pascal};

pub use template::{COLLECTOR_ROLE_ID, OIDC_ISSUER_PARAMETER};

/// The cloud-assembly schema version written to `manifest.json`. The CLI checks only that the major
/// version is not newer than it understands, and the manifest uses nothing newer than this version,
/// so CDK CLIs from 2024 on (schema 36 and later) deploy it.
pub const ASSEMBLY_SCHEMA_VERSION: &str = "36.0.0";

/// The largest template, as YAML, that the CDK CLI deploys without a bootstrap bucket.
pub const INLINE_TEMPLATE_LIMIT_BYTES: usize = 50 * 1024;

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

impl Template<'_> {
    fn build(mut self) -> Value {
        let plan = self.plan;
        let mut addon_prerequisites: Vec<String> = Vec::new();
        if let Some(create) = &plan.cluster.create {
            addon_prerequisites.extend(self.cluster(create));
        }
        let node_groups = addon_prerequisites.clone();
        if plan.identity.irsa {
            self.irsa();
        } else {
            self.pod_identity();
            if plan
                .addons
                .pod_identity_agent
                .as_ref()
                .is_some_and(|agent| agent.install)
            {
                addon_prerequisites.push("PodIdentityAgentAddon".to_owned());
            }
        }
        self.addons(addon_prerequisites);
        self.transaction_search();
        self.metrics(&node_groups);
        self.outputs();
        self.image_repository();

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
