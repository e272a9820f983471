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
//! warnings `warnings` returns), `export` (the exporter against the partition, Transaction Search). The format predicates they share with the plan live in
//! `blueprint::rules`, the partition in `crate::aws`.

mod addons;
mod checker;
mod cluster;
mod collector;
mod deployment;
mod export;
mod identity;
mod schema;
mod schema_errors;

use std::path::Path;

use crate::blueprint::load::{self, Source, escape_pointer};
use crate::blueprint::model::{API_VERSION, Blueprint, KIND, TargetName};
use crate::blueprint::rules::is_dns_label;
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
        self.check_collector(spec);
        self.check_export(spec, region, region_ok);
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
        for (key, value) in &bp.metadata.tags {
            let ptr = format!("/metadata/tags/{}", escape_pointer(key));
            if key.is_empty()
                || key.chars().count() > 128
                || key.to_ascii_lowercase().starts_with("aws:")
            {
                self.error(
                    &ptr,
                    format!("invalid AWS tag key `{key}`"),
                    Some("1 to 128 characters, not starting with `aws:`"),
                    None,
                );
            }
            if value.chars().count() > 256 {
                self.error(
                    &ptr,
                    "AWS tag value longer than 256 characters".to_owned(),
                    None,
                    None,
                );
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
