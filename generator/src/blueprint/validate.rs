//! Validation: a blueprint file to a typed `Blueprint`, or every problem in it at once.
//!
//! Three phases, each reporting all it finds: YAML syntax (`load`), the JSON schema generated from
//! the model (the jsonschema crate, with remote reference fetching compiled out), then semantic rules
//! the schema cannot express (name formats, ARNs, CIDRs, port clashes, the ADOT/Kubernetes version
//! table, the `PutTraceSegments` batch limit). A later phase runs only when the earlier ones found
//! nothing, because its findings would be noise on a document of the wrong shape.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::aws::Partition;
use crate::blueprint::adot_versions::{self, MIN_ADOT_VERSION};
use crate::blueprint::load::{self, Document, Source, escape_pointer};
use crate::blueprint::model::{
    API_VERSION, Blueprint, Cluster, CollectorMode, DEFAULT_REPLICAS, ExporterType, KIND, Network,
    TolerationOperator,
};
use crate::blueprint::rules::{
    HEALTH_CHECK_PORT, METRICS_PORT, cpu_millis, is_addon_version, is_cluster_name, is_digest,
    is_dns_label, is_dns_subdomain, is_image_repository, is_instance_type, is_region, is_subnet_id,
    mem_bytes, parse_cidr, strip_scheme,
};
use crate::diagnostic::{Diagnostic, Phase};

/// The JSON schema of the blueprint format, generated from the model types.
pub fn schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<Blueprint>();
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

/// The schema as committed to `schemas/blueprint.schema.json`: pretty JSON with a trailing newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::options()
            .build(&schema())
            .expect("the generated blueprint schema compiles")
    })
}

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

fn schema_diagnostics(source: &Source, doc: &Document) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for err in validator().iter_errors(&doc.value) {
        let pointer = err.instance_path().as_str().to_owned();
        schema_error(
            source,
            doc,
            &pointer,
            err.kind(),
            &err.to_string(),
            &mut out,
        );
    }
    out.dedup();
    out
}

/// Turns one jsonschema error into diagnostics, descending into `oneOf` alternatives when the
/// document clearly chose one (an externally tagged enum such as `cluster: {existing: ...}`).
fn schema_error(
    source: &Source,
    doc: &Document,
    pointer: &str,
    kind: &ValidationErrorKind,
    text: &str,
    out: &mut Vec<Diagnostic>,
) {
    let mk = |pointer: String,
              prefer_value: bool,
              message: String,
              expected: Option<String>,
              hint: Option<String>| {
        Diagnostic {
            file: source.name.clone(),
            span: doc.locate(&pointer, prefer_value),
            pointer,
            phase: Phase::Schema,
            message,
            expected,
            hint,
        }
    };
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                let ptr = format!("{pointer}/{}", escape_pointer(key));
                out.push(mk(
                    ptr,
                    false,
                    format!("unknown field `{key}`"),
                    Some(format!("one of the fields {}", known_fields(pointer))),
                    Some("check the spelling; the schema lists every field".to_owned()),
                ));
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            out.push(mk(
                pointer.to_owned(),
                false,
                format!("missing required field `{name}`"),
                None,
                Some(format!("add `{name}:` here")),
            ));
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            // Pick the alternative that failed only below the chosen key, if there is one.
            let chosen = context.iter().find(|errs| {
                !errs.is_empty()
                    && errs.iter().all(|e| {
                        let p = e.instance_path().as_str();
                        p.len() > pointer.len() + 1 && p.starts_with(pointer)
                    })
            });
            match chosen {
                Some(errs) => {
                    for e in errs {
                        schema_error(
                            source,
                            doc,
                            e.instance_path().as_str(),
                            e.kind(),
                            &e.to_string(),
                            out,
                        );
                    }
                }
                None => match allowed_values(pointer) {
                    Some(expected) => {
                        let value =
                            lookup(&doc.value, pointer).map_or_else(String::new, |v| v.to_string());
                        out.push(mk(
                            pointer.to_owned(),
                            true,
                            format!("{value} is not an allowed value"),
                            Some(expected),
                            sidecar_hint(doc, pointer),
                        ));
                    }
                    None => out.push(mk(
                        pointer.to_owned(),
                        false,
                        "matches none of the allowed forms".to_owned(),
                        Some(one_of_expectation(pointer)),
                        None,
                    )),
                },
            }
        }
        ValidationErrorKind::Type { .. } => {
            let value = lookup(&doc.value, pointer);
            let hint = match value {
                Some(Value::Number(_)) => Some(
                    "quote the value: YAML reads unquoted digits as a number (`1.30` is 1.3)"
                        .to_owned(),
                ),
                Some(Value::Null) if pointer.is_empty() => Some(
                    "the file is empty; a blueprint has apiVersion, kind, metadata and spec"
                        .to_owned(),
                ),
                Some(Value::Null) => {
                    Some("give a value after the colon, or remove the key".to_owned())
                }
                _ => None,
            };
            out.push(mk(pointer.to_owned(), true, text.to_owned(), None, hint));
        }
        ValidationErrorKind::Enum { options } => {
            let hint = sidecar_hint(doc, pointer);
            out.push(mk(
                pointer.to_owned(),
                true,
                text.to_owned(),
                Some(format!("one of {}", options_list(options))),
                hint,
            ));
        }
        ValidationErrorKind::Constant { expected_value } => {
            let actual = lookup(&doc.value, pointer).map_or_else(String::new, |v| v.to_string());
            out.push(mk(
                pointer.to_owned(),
                true,
                format!("unsupported value {actual}"),
                Some(expected_value.to_string()),
                None,
            ));
        }
        _ => out.push(mk(pointer.to_owned(), true, text.to_owned(), None, None)),
    }
}

fn sidecar_hint(doc: &Document, pointer: &str) -> Option<String> {
    (pointer.ends_with("/collector/mode")
        && lookup(&doc.value, pointer) == Some(&Value::String("sidecar".into())))
    .then(|| {
        "a sidecar runs under the application's service account, so the collector's IAM role \
         would not apply; use daemonset for a collector on every node"
            .to_owned()
    })
}

fn options_list(options: &Value) -> String {
    match options {
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map_or_else(|| i.to_string(), |s| format!("`{s}`"))
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn one_of_expectation(pointer: &str) -> String {
    if pointer.ends_with("/cluster") {
        "exactly one of `existing:` or `create:`".to_owned()
    } else if pointer.ends_with("/network") {
        "exactly one of `vpc:` or `existing_subnets:`".to_owned()
    } else {
        "exactly one of the alternatives the schema lists".to_owned()
    }
}

/// The schema node that describes the value at a JSON pointer (following `$ref`s, optional-field
/// `anyOf [X, null]` wrappers and externally tagged `oneOf` alternatives).
fn schema_node(pointer: &str) -> Option<Value> {
    let schema = schema();
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let resolve = |mut node: Value| -> Value {
        for _ in 0..8 {
            if let Some(name) = node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
            {
                node = defs.get(name).cloned().unwrap_or(Value::Null);
            } else if let Some(first) = node.get("anyOf").and_then(|a| a.get(0)) {
                node = first.clone();
            } else {
                break;
            }
        }
        node
    };
    let mut node = resolve(schema.clone());
    for segment in pointer.split('/').skip(1) {
        let next = node
            .get("properties")
            .and_then(|p| p.get(segment))
            .or_else(|| node.get("items"))
            .or_else(|| {
                node.get("oneOf").and_then(|alts| {
                    alts.as_array()?
                        .iter()
                        .find_map(|a| a.get("properties").and_then(|p| p.get(segment)))
                })
            })
            .cloned()?;
        node = resolve(next);
    }
    Some(node)
}

/// The field names the schema allows at a pointer, for "unknown field" messages.
fn known_fields(pointer: &str) -> String {
    match schema_node(pointer)
        .as_ref()
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
    {
        Some(props) => props
            .keys()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        None => "listed in the schema".to_owned(),
    }
}

/// The allowed values at a pointer when the schema lists them (`enum`, or a `oneOf` of `const`s,
/// which schemars emits for enums whose variants carry doc comments).
fn allowed_values(pointer: &str) -> Option<String> {
    let node = schema_node(pointer)?;
    let mut values = Vec::new();
    if let Some(items) = node.get("enum").and_then(Value::as_array) {
        values.extend(items.iter().cloned());
    }
    for alt in node
        .get("oneOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(c) = alt.get("const") {
            values.push(c.clone());
        }
        if let Some(items) = alt.get("enum").and_then(Value::as_array) {
            values.extend(items.iter().cloned());
        }
    }
    (!values.is_empty()).then(|| format!("one of {}", options_list(&Value::Array(values))))
}

fn lookup<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    value.pointer(pointer)
}

/// The semantic rules.
struct Checker<'a> {
    source: &'a Source,
    doc: &'a Document,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(
        &mut self,
        pointer: &str,
        message: String,
        expected: Option<&str>,
        hint: Option<&str>,
    ) {
        self.diags.push(Diagnostic {
            file: self.source.name.clone(),
            span: self.doc.locate(pointer, true),
            pointer: pointer.to_owned(),
            phase: Phase::Semantic,
            message,
            expected: expected.map(str::to_owned),
            hint: hint.map(str::to_owned),
        });
    }

    fn check(&mut self, bp: &Blueprint) {
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

        let spec = &bp.spec;
        let (cluster_ptr, name, region, account, k8s) = match &spec.cluster {
            Cluster::Existing(c) => (
                "/spec/cluster/existing",
                &c.name,
                &c.region,
                &c.account_id,
                &c.kubernetes_version,
            ),
            Cluster::Create(c) => (
                "/spec/cluster/create",
                &c.name,
                &c.region,
                &c.account_id,
                &c.kubernetes_version,
            ),
        };
        if !is_cluster_name(name) {
            self.error(
                &format!("{cluster_ptr}/name"),
                format!("invalid EKS cluster name `{name}`"),
                Some("1 to 100 characters: letters, digits, `-` and `_`, starting with a letter or digit"),
                None,
            );
        }
        let region_ok = is_region(region);
        if !region_ok {
            self.error(
                &format!("{cluster_ptr}/region"),
                format!("invalid AWS region `{region}`"),
                Some("a region such as `us-east-1` or `eu-west-2`"),
                None,
            );
        }
        if !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())) {
            self.error(
                &format!("{cluster_ptr}/account_id"),
                format!("invalid AWS account id `{account}`"),
                Some("exactly 12 digits, quoted (`\"123456789012\"`)"),
                None,
            );
        }
        let k8s_ok = adot_versions::kubernetes_minor(k8s).is_some() && k8s.len() == 4;
        if !k8s_ok {
            self.error(
                &format!("{cluster_ptr}/kubernetes_version"),
                format!("invalid Kubernetes version `{k8s}`"),
                Some("`1.NN`, quoted, for example `\"1.33\"`"),
                None,
            );
        }
        match &spec.cluster {
            Cluster::Existing(c) => {
                if let Some(issuer) = &c.oidc_issuer {
                    let stripped = strip_scheme(issuer);
                    let prefix = format!(
                        "{}/id/",
                        Partition::of_region(region).regional_host("oidc.eks", region)
                    );
                    let ok = stripped.strip_prefix(&prefix).is_some_and(|id| {
                        !id.is_empty()
                            && id.len() <= 64
                            && id.chars().all(|ch| ch.is_ascii_alphanumeric())
                    });
                    if !ok {
                        self.error(
                            "/spec/cluster/existing/oidc_issuer",
                            format!("`{issuer}` is not an EKS OIDC issuer of region {region}"),
                            Some(&format!("`https://{prefix}<ID>`")),
                            Some("copy it from `aws eks describe-cluster --query cluster.identity.oidc.issuer`"),
                        );
                    }
                }
            }
            Cluster::Create(c) => self.check_new_cluster(c),
        }

        self.check_addons(spec, k8s, k8s_ok);
        self.check_identity(spec, region, region_ok);
        self.check_collector(spec);
        self.check_export(spec, region, region_ok);

        let mut seen = Vec::new();
        for (idx, target) in spec.targets.iter().enumerate() {
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
        if spec.targets.is_empty() {
            self.error(
                "/spec/targets",
                "no targets to render".to_owned(),
                Some("at least one of `terraform`, `cdk`, `kubernetes`"),
                None,
            );
        }
    }

    fn check_new_cluster(&mut self, c: &crate::blueprint::model::NewCluster) {
        let base = "/spec/cluster/create";
        match &c.network {
            Network::Vpc(v) => match parse_cidr(&v.cidr) {
                Some((_, prefix, aligned)) => {
                    if !(16..=24).contains(&prefix) {
                        self.error(&format!("{base}/network/vpc/cidr"), format!("VPC CIDR `{}` has prefix /{prefix}", v.cidr), Some("a prefix from /16 to /24"), Some("subnets are cut as 16 blocks of the VPC, so smaller VPCs leave no room"));
                    } else if !aligned {
                        self.error(
                            &format!("{base}/network/vpc/cidr"),
                            format!("`{}` has host bits set", v.cidr),
                            Some("the network address, for example `10.0.0.0/16`"),
                            None,
                        );
                    }
                }
                None => self.error(
                    &format!("{base}/network/vpc/cidr"),
                    format!("`{}` is not an IPv4 CIDR block", v.cidr),
                    Some("an IPv4 CIDR such as `10.0.0.0/16`"),
                    None,
                ),
            },
            Network::ExistingSubnets(s) => {
                let ptr = format!("{base}/network/existing_subnets/subnet_ids");
                if s.subnet_ids.len() < 2 {
                    self.error(
                        &ptr,
                        "EKS needs subnets in at least two availability zones".to_owned(),
                        Some("at least 2 subnet ids"),
                        None,
                    );
                }
                for (idx, id) in s.subnet_ids.iter().enumerate() {
                    if !is_subnet_id(id) {
                        self.error(
                            &format!("{ptr}/{idx}"),
                            format!("invalid subnet id `{id}`"),
                            Some("`subnet-` and 8 or 17 hex digits"),
                            None,
                        );
                    }
                    if s.subnet_ids[..idx].contains(id) {
                        self.error(
                            &format!("{ptr}/{idx}"),
                            format!("subnet `{id}` is listed twice"),
                            None,
                            None,
                        );
                    }
                }
            }
        }
        if c.node_groups.is_empty() {
            self.error(
                &format!("{base}/node_groups"),
                "a created cluster needs at least one node group".to_owned(),
                None,
                None,
            );
        }
        for (idx, g) in c.node_groups.iter().enumerate() {
            let ptr = format!("{base}/node_groups/{idx}");
            self.dns_label(&format!("{ptr}/name"), &g.name, 63);
            if c.node_groups[..idx].iter().any(|o| o.name == g.name) {
                self.error(
                    &format!("{ptr}/name"),
                    format!("node group name `{}` is used twice", g.name),
                    None,
                    None,
                );
            }
            if g.instance_types.is_empty() {
                self.error(
                    &format!("{ptr}/instance_types"),
                    "no instance types".to_owned(),
                    Some("at least one EC2 instance type"),
                    None,
                );
            }
            for (i, t) in g.instance_types.iter().enumerate() {
                if !is_instance_type(t) {
                    self.error(
                        &format!("{ptr}/instance_types/{i}"),
                        format!("invalid EC2 instance type `{t}`"),
                        Some("`family.size`, for example `m6i.large`"),
                        None,
                    );
                }
            }
            if g.max_size == 0 || g.min_size > g.max_size {
                self.error(
                    &format!("{ptr}/min_size"),
                    format!(
                        "min_size {} is larger than max_size {}",
                        g.min_size, g.max_size
                    ),
                    Some("0 <= min_size <= desired_size <= max_size, max_size >= 1"),
                    None,
                );
            } else if g.desired_size < g.min_size || g.desired_size > g.max_size {
                self.error(
                    &format!("{ptr}/desired_size"),
                    format!(
                        "desired_size {} is outside {}..={}",
                        g.desired_size, g.min_size, g.max_size
                    ),
                    Some("min_size <= desired_size <= max_size"),
                    None,
                );
            }
        }
        let ep = &c.endpoint;
        if !ep.public_access && !ep.private_access {
            self.error(
                &format!("{base}/endpoint"),
                "the API endpoint would be reachable from nowhere".to_owned(),
                Some("public_access or private_access (or both) true"),
                None,
            );
        }
        if !ep.public_access && !ep.public_access_cidrs.is_empty() {
            self.error(
                &format!("{base}/endpoint/public_access_cidrs"),
                "public_access_cidrs without public_access".to_owned(),
                None,
                Some("set `public_access: true` or remove the CIDRs"),
            );
        }
        for (idx, cidr) in ep.public_access_cidrs.iter().enumerate() {
            let ptr = format!("{base}/endpoint/public_access_cidrs/{idx}");
            match parse_cidr(cidr) {
                Some((_, _, true)) => {}
                Some((_, _, false)) => self.error(
                    &ptr,
                    format!("`{cidr}` has host bits set"),
                    Some("the network address of the block"),
                    None,
                ),
                None => self.error(
                    &ptr,
                    format!("`{cidr}` is not an IPv4 CIDR block"),
                    Some("an IPv4 CIDR such as `203.0.113.0/24`"),
                    None,
                ),
            }
        }
        if ep.public_access && ep.public_access_cidrs.iter().any(|c| c == "0.0.0.0/0") {
            self.error(
                &format!("{base}/endpoint/public_access_cidrs"),
                "the public endpoint would be open to the whole internet".to_owned(),
                Some("the CIDR blocks of your networks"),
                None,
            );
        }
        if ep.public_access && ep.public_access_cidrs.is_empty() {
            self.error(
                &format!("{base}/endpoint/public_access_cidrs"),
                "a public endpoint needs the CIDR blocks allowed to reach it".to_owned(),
                Some("at least one CIDR block"),
                Some("EKS would otherwise allow 0.0.0.0/0"),
            );
        }
    }

    fn check_addons(&mut self, spec: &crate::blueprint::model::Spec, k8s: &str, k8s_ok: bool) {
        for (key, version) in [
            ("cert_manager", &spec.addons.cert_manager.version),
            ("adot", &spec.addons.adot.version),
        ] {
            let ptr = format!("/spec/addons/{key}/version");
            if !is_addon_version(version) {
                let hint = version
                    .eq_ignore_ascii_case("latest")
                    .then_some("pin an exact version: `latest` changes under you between applies");
                self.error(
                    &ptr,
                    format!("`{version}` is not a pinned add-on version"),
                    Some("`vX.Y.Z-eksbuild.N`, for example `v0.151.0-eksbuild.1`"),
                    hint,
                );
                continue;
            }
            if key != "adot" {
                continue;
            }
            match adot_versions::release(version) {
                None => {
                    let known: Vec<&str> = adot_versions::ADOT_RELEASES
                        .iter()
                        .map(|r| r.version)
                        .collect();
                    self.error(
                        &ptr,
                        format!("ADOT add-on `{version}` is not in the generator's compatibility table"),
                        Some(&format!("a version from {MIN_ADOT_VERSION} on: {}", known.join(", "))),
                        Some("the generator emits the opentelemetry.io/v1beta1 collector, which needs add-on v0.102.0 or newer; for a newer release, add it to generator/src/blueprint/adot_versions.rs"),
                    );
                }
                Some(release) if k8s_ok => {
                    let minor = adot_versions::kubernetes_minor(k8s).unwrap_or_default();
                    if !(release.min_kubernetes..=release.max_kubernetes).contains(&minor) {
                        let supporting = adot_versions::supporting(k8s);
                        let hint = if supporting.is_empty() {
                            format!("no ADOT add-on in the table supports Kubernetes {k8s} yet")
                        } else {
                            format!("for Kubernetes {k8s} use {}", supporting.join(" or "))
                        };
                        self.error(
                            &ptr,
                            format!(
                                "ADOT add-on {} does not support Kubernetes {k8s}",
                                release.version
                            ),
                            Some(&format!(
                                "Kubernetes 1.{} to 1.{} for this add-on",
                                release.min_kubernetes, release.max_kubernetes
                            )),
                            Some(&hint),
                        );
                    }
                }
                Some(_) => {}
            }
        }
    }

    fn check_identity(
        &mut self,
        spec: &crate::blueprint::model::Spec,
        region: &str,
        region_ok: bool,
    ) {
        let id = &spec.identity;
        if let Some(role) = &id.role_name {
            let ok = !role.is_empty()
                && role.len() <= 64
                && role
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
            if !ok {
                self.error(
                    "/spec/identity/role_name",
                    format!("invalid IAM role name `{role}`"),
                    Some("1 to 64 characters of `A-Za-z0-9+=,.@_-`"),
                    None,
                );
            }
        }
        let partition = Partition::of_region(region);
        if let Some(arns) = &id.policy_arns {
            if arns.is_empty() && spec.collector.exporter.kind == ExporterType::XrayApi {
                self.error("/spec/identity/policy_arns", "the collector's role needs a policy".to_owned(), Some("at least one managed policy ARN, such as `arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess`"), None);
            }
            for (idx, arn) in arns.iter().enumerate() {
                self.policy_arn(
                    &format!("/spec/identity/policy_arns/{idx}"),
                    arn,
                    partition,
                    region_ok,
                );
                if arns[..idx].contains(arn) {
                    self.error(
                        &format!("/spec/identity/policy_arns/{idx}"),
                        format!("policy `{arn}` is listed twice"),
                        None,
                        None,
                    );
                }
            }
        }
        if let Some(arn) = &id.permissions_boundary_arn {
            self.policy_arn(
                "/spec/identity/permissions_boundary_arn",
                arn,
                partition,
                region_ok,
            );
        }
    }

    fn policy_arn(&mut self, ptr: &str, arn: &str, partition: Partition, region_ok: bool) {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && Partition::from_id(parts[1]).is_some()
            && parts[2] == "iam"
            && parts[3].is_empty()
            && (parts[4] == "aws"
                || (parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit())))
            && parts[5].strip_prefix("policy/").is_some_and(|n| {
                !n.is_empty()
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
            });
        if !ok {
            self.error(
                ptr,
                format!("`{arn}` is not an IAM policy ARN"),
                Some("`arn:<partition>:iam::<account or aws>:policy/<name>`"),
                None,
            );
        } else if region_ok && parts[1] != partition.id() {
            self.error(
                ptr,
                format!(
                    "`{arn}` is in partition `{}`, but the cluster's region is in `{partition}`",
                    parts[1]
                ),
                Some(&format!("`arn:{partition}:...`")),
                None,
            );
        }
    }

    fn check_collector(&mut self, spec: &crate::blueprint::model::Spec) {
        let c = &spec.collector;
        let base = "/spec/collector";
        self.dns_label(&format!("{base}/name"), &c.name, 42);
        self.dns_label(&format!("{base}/namespace"), &c.namespace, 63);
        if ["kube-system", "kube-public", "kube-node-lease", "default"]
            .contains(&c.namespace.as_str())
        {
            self.error(
                &format!("{base}/namespace"),
                format!("the collector should not run in `{}`", c.namespace),
                Some("a namespace of its own, such as `aws-otel-eks`"),
                Some("the rendered manifests create and label the namespace"),
            );
        }
        if !is_dns_subdomain(&c.service_account) {
            self.error(&format!("{base}/service_account"), format!("invalid ServiceAccount name `{}`", c.service_account), Some("a DNS-1123 subdomain: lower-case letters, digits, `-` and `.`, at most 253 characters"), None);
        }
        if c.service_account == "default" {
            self.error(&format!("{base}/service_account"), "the collector must not use the namespace's `default` ServiceAccount".to_owned(), Some("a dedicated ServiceAccount name"), Some("the IAM role trusts exactly this ServiceAccount; sharing `default` gives every pod in the namespace X-Ray write access"));
        }
        let daemonset = c.mode == CollectorMode::Daemonset;
        if daemonset {
            let set = [
                ("replicas", c.replicas.is_some()),
                ("autoscaling", c.autoscaling.is_some()),
                ("pod_disruption_budget", c.pod_disruption_budget.is_some()),
            ];
            for (field, is_set) in set {
                if is_set {
                    self.error(
                        &format!("{base}/{field}"),
                        format!("`{field}` does not apply to a daemonset"),
                        None,
                        Some("a daemonset runs one pod per matching node; remove this field or use `mode: deployment`"),
                    );
                }
            }
        }
        if let Some(a) = &c.autoscaling {
            if a.min_replicas > a.max_replicas {
                self.error(
                    &format!("{base}/autoscaling/min_replicas"),
                    format!(
                        "min_replicas {} is larger than max_replicas {}",
                        a.min_replicas, a.max_replicas
                    ),
                    Some("min_replicas <= max_replicas"),
                    None,
                );
            }
        }
        if let Some(p) = &c.pod_disruption_budget {
            let ptr = format!("{base}/pod_disruption_budget");
            match (p.min_available, p.max_unavailable) {
                (Some(_), Some(_)) | (None, None) => self.error(&ptr, "a pod disruption budget takes exactly one of `min_available` and `max_unavailable`".to_owned(), None, None),
                (Some(n), None) if !daemonset => {
                    let floor = c
                        .autoscaling
                        .as_ref()
                        .map_or(c.replicas.unwrap_or(DEFAULT_REPLICAS), |a| a.min_replicas);
                    if n >= floor {
                        self.error(&format!("{ptr}/min_available"), format!("min_available {n} is not below the replica count {floor}"), Some(&format!("at most {}", floor.saturating_sub(1))), Some("otherwise no pod may ever be evicted and node drains hang"));
                    }
                }
                (None, Some(0)) => self.error(&format!("{ptr}/max_unavailable"), "max_unavailable 0 blocks every node drain".to_owned(), Some("at least 1"), None),
                _ => {}
            }
        }

        let img = &c.image;
        if !is_image_repository(&img.repository) {
            self.error(&format!("{base}/image/repository"), format!("invalid image repository `{}`", img.repository), Some("a lower-case repository such as `ghcr.io/xray-blueprints/xray-collector`, without tag or digest"), None);
        }
        let tag_ok = !img.tag.is_empty()
            && img.tag.len() <= 128
            && img
                .tag
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
            && !img.tag.starts_with(['.', '-']);
        if !tag_ok {
            self.error(
                &format!("{base}/image/tag"),
                format!("invalid image tag `{}`", img.tag),
                Some("1 to 128 characters of `A-Za-z0-9_.-`"),
                None,
            );
        } else if img.tag == "latest" && !img.digest.as_deref().is_some_and(is_digest) {
            self.error(
                &format!("{base}/image/tag"),
                "the image tag `latest` is not pinned".to_owned(),
                Some("a version tag, or a `digest`"),
                Some("with `latest`, two applies of the same output can run different collectors"),
            );
        }
        if let Some(d) = &img.digest {
            if !is_digest(d) {
                self.error(
                    &format!("{base}/image/digest"),
                    format!("invalid image digest `{d}`"),
                    Some("`sha256:` and 64 lower-case hex digits"),
                    None,
                );
            }
        }
        let r = &c.resources;
        for (what, req, lim) in [
            (
                "cpu",
                cpu_millis(&r.requests.cpu),
                cpu_millis(&r.limits.cpu),
            ),
            (
                "memory",
                mem_bytes(&r.requests.memory),
                mem_bytes(&r.limits.memory),
            ),
        ] {
            if let (Some(req), Some(lim)) = (req, lim) {
                if req > lim {
                    self.error(
                        &format!("{base}/resources/requests/{what}"),
                        format!("the {what} request is larger than its limit"),
                        Some("requests <= limits"),
                        None,
                    );
                }
            }
        }
        for (idx, t) in c.tolerations.iter().enumerate() {
            let ptr = format!("{base}/tolerations/{idx}");
            if t.operator == TolerationOperator::Exists && t.value.is_some() {
                self.error(
                    &format!("{ptr}/value"),
                    "a toleration with `operator: Exists` takes no value".to_owned(),
                    None,
                    None,
                );
            }
            if t.operator == TolerationOperator::Equal
                && t.key.as_deref().unwrap_or_default().is_empty()
            {
                self.error(
                    &ptr,
                    "a toleration with `operator: Equal` needs a key".to_owned(),
                    None,
                    Some("use `operator: Exists` without a key to tolerate every taint"),
                );
            }
        }

        // Ports: UDP and TCP are separate spaces; 13133 and 8888 are taken by the health check and
        // the collector's own metrics; the restricted security context cannot bind below 1024.
        let rx = &c.receivers;
        let mut tcp: Vec<(String, u16)> = vec![
            ("the health_check extension".to_owned(), HEALTH_CHECK_PORT),
            ("the collector's metrics".to_owned(), METRICS_PORT),
        ];
        let mut ports: Vec<(String, u16, bool)> = vec![(
            format!("{base}/receivers/xray/udp_port"),
            rx.xray.udp_port,
            false,
        )];
        if let Some(p) = &rx.xray.sampling_proxy {
            ports.push((
                format!("{base}/receivers/xray/sampling_proxy/tcp_port"),
                p.tcp_port,
                true,
            ));
        }
        if let Some(o) = &rx.otlp {
            if o.grpc.is_none() && o.http.is_none() {
                self.error(
                    &format!("{base}/receivers/otlp"),
                    "the OTLP receiver has no protocol".to_owned(),
                    Some("`grpc:` or `http:` (or both)"),
                    None,
                );
            }
            if let Some(g) = &o.grpc {
                ports.push((format!("{base}/receivers/otlp/grpc/port"), g.port, true));
            }
            if let Some(h) = &o.http {
                ports.push((format!("{base}/receivers/otlp/http/port"), h.port, true));
            }
        }
        for (ptr, port, is_tcp) in ports {
            if port < 1024 {
                self.error(&ptr, format!("port {port} is privileged"), Some("a port from 1024 to 65535"), Some("the collector runs as non-root without capabilities and cannot bind ports below 1024"));
                continue;
            }
            if is_tcp {
                if let Some((other, _)) = tcp.iter().find(|(_, p)| *p == port) {
                    self.error(
                        &ptr,
                        format!("TCP port {port} is already used by {other}"),
                        Some("a TCP port no other receiver uses"),
                        None,
                    );
                }
                tcp.push((format!("`{ptr}`"), port));
            }
        }

        let b = &c.batch;
        if b.send_batch_size > 50 {
            self.error(
                &format!("{base}/batch/send_batch_size"),
                format!("send_batch_size {} exceeds 50", b.send_batch_size),
                Some("at most 50"),
                Some("PutTraceSegments accepts at most 50 segments per call"),
            );
        }
        if b.send_batch_max_size > 50 {
            self.error(
                &format!("{base}/batch/send_batch_max_size"),
                format!("send_batch_max_size {} exceeds 50", b.send_batch_max_size),
                Some("at most 50"),
                Some("PutTraceSegments accepts at most 50 segments per call"),
            );
        } else if b.send_batch_max_size < b.send_batch_size && b.send_batch_size <= 50 {
            self.error(
                &format!("{base}/batch/send_batch_max_size"),
                format!(
                    "send_batch_max_size {} is below send_batch_size {}",
                    b.send_batch_max_size, b.send_batch_size
                ),
                Some("send_batch_size <= send_batch_max_size"),
                None,
            );
        }
        let e = &c.exporter;
        if let Some(region) = &e.region {
            if !is_region(region) {
                self.error(
                    &format!("{base}/exporter/region"),
                    format!("invalid AWS region `{region}`"),
                    Some("a region such as `us-east-1`"),
                    None,
                );
            }
        }
        if e.index_all_attributes
            && !e.indexed_attributes.is_empty()
            && e.kind == ExporterType::XrayApi
        {
            self.error(
                &format!("{base}/exporter/indexed_attributes"),
                "indexed_attributes has no effect with index_all_attributes".to_owned(),
                None,
                Some("remove one of the two"),
            );
        }
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        for (idx, attr) in e.indexed_attributes.iter().enumerate() {
            if attr.trim().is_empty() {
                self.error(
                    &format!("{base}/exporter/indexed_attributes/{idx}"),
                    "empty attribute name".to_owned(),
                    None,
                    None,
                );
            } else if seen.insert(attr, ()).is_some() {
                self.error(
                    &format!("{base}/exporter/indexed_attributes/{idx}"),
                    format!("attribute `{attr}` is listed twice"),
                    None,
                    None,
                );
            }
        }
    }

    /// The exporter choice against the partition, and Transaction Search.
    fn check_export(
        &mut self,
        spec: &crate::blueprint::model::Spec,
        region: &str,
        region_ok: bool,
    ) {
        let e = &spec.collector.exporter;
        let base = "/spec/collector/exporter";
        let partition = Partition::of_region(region);
        if let Some(exporter_region) = e.region.as_deref().filter(|r| is_region(r)) {
            if region_ok && Partition::of_region(exporter_region) != partition {
                self.error(
                    &format!("{base}/region"),
                    format!(
                        "region `{exporter_region}` is in partition `{}`, but the cluster's region `{region}` is in `{partition}`",
                        Partition::of_region(exporter_region)
                    ),
                    Some(&format!("a region of partition `{partition}`")),
                    Some("the collector's IAM role exists only in the cluster's partition, so it cannot sign requests to another"),
                );
            }
        }
        if e.kind == ExporterType::Otlp {
            if !e.indexed_attributes.is_empty() {
                self.error(
                    &format!("{base}/indexed_attributes"),
                    "indexed_attributes applies only to the `xray-api` exporter".to_owned(),
                    None,
                    Some(OTLP_ANNOTATIONS_HINT),
                );
            }
            if e.index_all_attributes {
                self.error(
                    &format!("{base}/index_all_attributes"),
                    "index_all_attributes applies only to the `xray-api` exporter".to_owned(),
                    None,
                    Some(OTLP_ANNOTATIONS_HINT),
                );
            }
            let exporter_partition = e.region.as_deref().map_or(partition, Partition::of_region);
            if region_ok && exporter_partition == Partition::AwsCn {
                self.error(
                    &format!("{base}/type"),
                    "the `otlp` exporter is not offered in the China partition (`aws-cn`)".to_owned(),
                    Some("`xray-api`"),
                    Some("X-Ray's OTLP endpoint needs CloudWatch Transaction Search, which the generator does not know to exist in the China regions; use `type: xray-api` (PutTraceSegments)"),
                );
            }
        }
        if let Some(ts) = &spec.transaction_search {
            if let Some(exporter_region) = e.region.as_deref() {
                if ts.enabled && exporter_region != region {
                    self.error(
                        &format!("{base}/region"),
                        format!("the exporter sends to `{exporter_region}`, but Transaction Search is enabled in the cluster's region `{region}`"),
                        Some(&format!("`{region}`, or no `region`")),
                        Some("Transaction Search is a per-region account setting, and the Terraform and CDK outputs enable it in the cluster's region"),
                    );
                }
            }
            if ts.enabled && region_ok && partition == Partition::AwsCn {
                self.error(
                    "/spec/transaction_search/enabled",
                    "Transaction Search cannot be enabled in the China partition (`aws-cn`)".to_owned(),
                    Some("`false`, or remove `transaction_search`"),
                    Some("CloudFormation has no AWS::XRay::TransactionSearchConfig in the China regions"),
                );
            }
        }
    }

    fn dns_label(&mut self, ptr: &str, value: &str, max: usize) {
        if !is_dns_label(value, max) {
            self.error(
                ptr,
                format!("`{value}` is not a DNS-1123 label"),
                Some(&format!("at most {max} lower-case letters, digits and `-`, starting and ending with a letter or digit")),
                None,
            );
        }
    }
}

/// Why the `xray-api`-only annotation options have no `otlp` counterpart.
const OTLP_ANNOTATIONS_HINT: &str = "with `type: otlp` the collector forwards spans unchanged, so annotations come from the span attributes the application sets; set them there and remove this field";
