//! Validation: a blueprint file to a typed `Blueprint`, or every problem in it at once.
//!
//! Three phases, each reporting all it finds: YAML syntax (`load`), the JSON schema generated from
//! the model (`schema`: the jsonschema crate, with remote reference fetching compiled out; its
//! errors are worded in `schema_errors`), then semantic rules the schema cannot express (name formats, ARNs,
//! CIDRs, port clashes, the ADOT/Kubernetes version table, the `PutTraceSegments` batch limit). A
//! later phase runs only when the earlier ones found nothing, because its findings would be noise on
//! a document of the wrong shape.
//!
//! The semantic rules are methods of `Checker` (`checker`: the state and how a rule reports), one
//! module per part of the blueprint: this module (metadata, targets), `cluster`, `addons`,
//! `identity`, `collector`, `deployment` (the persistent queue, architectures, sizing, and the
//! warnings `warnings` returns), `export` (the exporter against the partition, Transaction Search),
//! `addon_config` (add-on `configuration_values` against their recorded schemas), `metrics` (the AMP
//! workspace and managed scraper). The format predicates they share with the plan live in
//! `blueprint::rules`, the partition in `crate::aws` and the regions with what each offers in
//! `crate::aws::regions`.

mod addon_config;
mod addons;
mod checker;
mod cluster;
mod collector;
mod deployment;
mod export;
mod identity;
mod metrics;
mod schema;
mod schema_errors;

use std::path::Path;

use crate::aws::regions::Region;
use crate::blueprint::load::{self, Source, escape_pointer};
use crate::blueprint::model::{API_VERSION, Blueprint, Cluster, KIND, Network, TargetName};
use crate::blueprint::rules::{
    BLUEPRINT_TAG, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS, is_dns_label, is_tag_char,
};
use crate::diagnostic::{Diagnostic, Phase};
use checker::Checker;
use schema_errors::schema_diagnostics;

pub use deployment::warnings;
pub use schema::{schema, schema_text};

/// Loads and validates one blueprint file. On success the blueprint is ready for `Plan::new`.
pub fn validate(source: &Source) -> Result<Blueprint, Vec<Diagnostic>> {
    let doc = load::load(source)?;
    let mut diags = schema_diagnostics(source, &doc);
    if !diags.is_empty() {
        sort(&mut diags);
        return Err(diags);
    }
    let blueprint: Blueprint = match serde_json::from_value(doc.value.clone()) {
        Ok(it) => it,
        Err(err) => {
            return Err(vec![Diagnostic {
                file: source.name.clone(),
                span: doc.locate("", true),
                pointer: String::new(),
                phase: Phase::Schema,
                message: format!("the document does not match the blueprint types: {err}"),
                expected: None,
                hint: None,
            }]);
        }
    };
    let mut checker = Checker {
        source,
        doc: &doc,
        diags: Vec::new(),
    };
    checker.check(&blueprint);
    let mut diags = checker.diags;
    if diags.is_empty() {
        Ok(blueprint)
    } else {
        sort(&mut diags);
        Err(diags)
    }
}

fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (a.span.offset, &a.pointer, &a.message).cmp(&(b.span.offset, &b.pointer, &b.message))
    });
}

impl Checker<'_> {
    /// Every semantic rule, part by part.
    fn check(&mut self, bp: &Blueprint) {
        self.check_metadata(bp);
        let spec = &bp.spec;
        let cluster = self.check_cluster(&spec.cluster);
        let (region, region_ok) = (cluster.region, cluster.region_ok);
        self.check_addons(
            spec,
            cluster.kubernetes_version,
            cluster.kubernetes_version_ok,
        );
        self.check_identity(spec, region, region_ok);
        self.check_identity_region(spec, cluster.region_info);
        self.check_region_targets(cluster.region_info, &spec.targets);
        self.check_collector(spec);
        self.check_export(spec, region, region_ok);
        self.check_metrics(spec, region, region_ok);
        self.check_targets(&spec.targets);
    }

    /// `apiVersion`, `kind` and `metadata`: the name (equal to the file name) and the AWS tags.
    fn check_metadata(&mut self, bp: &Blueprint) {
        if bp.api_version != API_VERSION {
            self.error(
                "/apiVersion",
                format!("unsupported apiVersion `{}`", bp.api_version),
                Some(API_VERSION),
                None,
            );
        }
        if bp.kind != KIND {
            self.error(
                "/kind",
                format!("unsupported kind `{}`", bp.kind),
                Some(KIND),
                None,
            );
        }
        self.dns_label("/metadata/name", &bp.metadata.name, 63);
        if let Some(stem) = Path::new(&self.source.name)
            .file_stem()
            .and_then(|s| s.to_str())
        {
            if stem != bp.metadata.name && is_dns_label(&bp.metadata.name, 63) {
                self.error(
                    "/metadata/name",
                    format!(
                        "the name `{}` differs from the file name `{stem}`",
                        bp.metadata.name
                    ),
                    Some(&format!("`{stem}`")),
                    Some("the name names the output directory; keep it equal to the file name"),
                );
            }
        }
        self.check_tags(bp);
    }

    /// `metadata.tags` against the strictest rules of every resource type that receives them:
    /// IAM roles, the EKS cluster, node groups and add-ons, the KMS key, log groups, the VPC's
    /// resources, the CloudFormation stack. The tags the generator adds itself count too.
    fn check_tags(&mut self, bp: &Blueprint) {
        let tags = &bp.metadata.tags;
        let new_vpc = matches!(
            &bp.spec.cluster,
            Cluster::Create(c) if matches!(c.network, Network::Vpc(_))
        );
        let own: &[&str] = if new_vpc {
            &[BLUEPRINT_TAG, "Name", "kubernetes.io/role/internal-elb"]
        } else {
            &[BLUEPRINT_TAG]
        };
        let total = tags.len() + own.iter().filter(|k| !tags.contains_key(**k)).count();
        if total > MAX_TAGS {
            let room = MAX_TAGS - own.len();
            self.error(
                "/metadata/tags",
                format!(
                    "{} tags plus the generator's own make {total} on one resource, more than AWS's {MAX_TAGS}",
                    tags.len()
                ),
                Some(&format!("at most {room} tags")),
                Some(&format!(
                    "the generator adds {} to {}",
                    own.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
                    if new_vpc { "the subnets of the new VPC" } else { "every resource" }
                )),
            );
        }
        for (key, value) in tags {
            let ptr = format!("/metadata/tags/{}", escape_pointer(key));
            if key == BLUEPRINT_TAG {
                self.error(
                    &ptr,
                    format!("the tag `{key}` is the generator's own"),
                    None,
                    Some("it names the blueprint on every resource; remove it"),
                );
                continue;
            }
            let key_bad = key.chars().find(|c| !is_tag_char(*c));
            if key.is_empty()
                || key.chars().count() > MAX_TAG_KEY_CHARS
                || key.to_ascii_lowercase().starts_with("aws:")
                || key_bad.is_some()
            {
                let hint = key_bad.map(|c| format!("`{c}` is not allowed in AWS tags"));
                let length = key.chars().count();
                self.error(
                    &ptr,
                    if length > MAX_TAG_KEY_CHARS {
                        format!("AWS tag key of {length} characters, more than {MAX_TAG_KEY_CHARS}")
                    } else {
                        format!("invalid AWS tag key `{key}`")
                    },
                    Some(&format!("1 to {MAX_TAG_KEY_CHARS} letters, digits, spaces and `_.:/=+-@`, not starting with `aws:`")),
                    hint.as_deref(),
                );
            }
            let value_bad = value.chars().find(|c| !is_tag_char(*c));
            if value.chars().count() > MAX_TAG_VALUE_CHARS
                || value.to_ascii_lowercase().starts_with("aws:")
                || value_bad.is_some()
            {
                let hint = value_bad.map(|c| format!("`{c}` is not allowed in AWS tags"));
                let length = value.chars().count();
                self.error(
                    &ptr,
                    if length > MAX_TAG_VALUE_CHARS {
                        format!("the value of AWS tag `{key}` has {length} characters, more than {MAX_TAG_VALUE_CHARS}")
                    } else {
                        format!("invalid value `{value}` of AWS tag `{key}`")
                    },
                    Some(&format!("0 to {MAX_TAG_VALUE_CHARS} letters, digits, spaces and `_.:/=+-@`, not starting with `aws:`")),
                    hint.as_deref(),
                );
            }
        }
    }

    /// The targets against the region: the Terraform output pins a provider that must know it.
    fn check_region_targets(&mut self, region: Option<&'static Region>, targets: &[TargetName]) {
        if let Some(region) = region {
            if !region.terraform_provider {
                if let Some(idx) = targets.iter().position(|t| *t == TargetName::Terraform) {
                    self.error(
                        &format!("/spec/targets/{idx}"),
                        format!("the Terraform output's provider, hashicorp/aws 5.100, does not know region {}", region.name),
                        Some("the targets `cdk` and `kubernetes`"),
                        Some("`terraform plan` would stop with \"invalid AWS Region\"; render the CDK and Kubernetes outputs for this region"),
                    );
                }
            }
        }
    }

    /// `spec.targets`: at least one, none twice.
    fn check_targets(&mut self, targets: &[TargetName]) {
        let mut seen = Vec::new();
        for (idx, target) in targets.iter().enumerate() {
            if seen.contains(target) {
                self.error(
                    &format!("/spec/targets/{idx}"),
                    "duplicate target".to_owned(),
                    None,
                    None,
                );
            }
            seen.push(*target);
        }
        if targets.is_empty() {
            self.error(
                "/spec/targets",
                "no targets to render".to_owned(),
                Some("at least one of `terraform`, `cdk`, `kubernetes`"),
                None,
            );
        }
    }
}
