//! Checks of the golden AWS CDK cloud assemblies (`golden/<blueprint>/cdk/`) with the real tools.
//!
//! * cfn-lint lints every `*.template.json` in one call and must exit 0 (no errors, no warnings).
//! * checkov (offline) must report zero failed checks, and every in-file skip must carry a reason.
//! * The pinned AWS CDK CLI must list the stack of every assembly with `cdk ls --app DIR`, offline.
//! * cfn-lint does not look inside `Fn::Sub` strings, so every policy written as a `Fn::Sub` string is
//!   substituted with sample values, parsed and checked here (principal, action, conditions).
//! * The collector role's trust (after substitution) names exactly the namespace and ServiceAccount of
//!   the ServiceAccount that the Kubernetes target renders, and that ServiceAccount's IRSA annotation
//!   names the role the stack creates.
//! * Every template stays within 50 KiB as YAML, the CDK CLI's limit for an inline template.
//! * ADOT depends on cert-manager and both are pinned; the inline policy has exactly the actions of
//!   the exporter and the sampling proxy, and the Transaction Search resources follow the plan.
//! * `cdk deploy --app DIR` deploys every existing-cluster assembly against moto (CloudFormation,
//!   IAM and STS in the stack's account) with no bootstrap stack; the role IAM then holds has the
//!   template's trust policy (the `Fn::Sub` string form evaluated) and permissions boundary.
//!
//! Besides the golden assemblies, the checks run on the variants of `tests/variant-blueprints/`
//! listed in `VARIANTS`. moto's CloudFormation skips EKS resource types (so created-cluster
//! assemblies cannot deploy there) and the `AWS::APS::*` types of `spec.metrics` (workspace,
//! scraper, rule groups namespace), ignores a role's `ManagedPolicyArns` and has no
//! `AWS::XRay::TransactionSearchConfig`: those parts are covered by cfn-lint, checkov and the
//! policy checks, not by a deploy (the Terraform tests create the AMP workspace and rule groups
//! in moto; the scraper is planned only).
//! * Add-ons the blueprint marks `existing` (and the Pod Identity agent on Auto Mode) get no
//!   resource, and installed ones resolve conflicts with `NONE`, never `OVERWRITE`.
//!
//! * The golden assemblies are exactly what the renderer produces now.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use blueprint::blueprint::load::Source;
use blueprint::blueprint::model::TargetName;
use blueprint::blueprint::validate;
use blueprint::plan::Plan;
use blueprint::render::{self, Target};
use serde_json::{Map, Value, json};

/// The CDK CLI sends a template inline (no bootstrap bucket) only up to this many bytes of YAML.
const INLINE_TEMPLATE_LIMIT_BYTES: usize = 50 * 1024;

/// One cloud assembly under test: a golden one, or one rendered from a variant blueprint.
struct Assembly {
    /// The blueprint name.
    blueprint: String,
    /// The plan it was rendered from.
    plan: Plan,
    /// The assembly directory (`golden/<blueprint>/cdk` for golden assemblies).
    dir: PathBuf,
    /// The parsed `manifest.json`.
    manifest: Value,
    /// Each stack artifact id with its parsed template.
    stacks: BTreeMap<String, Value>,
}

impl Assembly {
    /// Reads the assembly in `dir`.
    fn read(plan: Plan, dir: PathBuf) -> Assembly {
        let manifest = read_json(&dir.join("manifest.json"));
        let artifacts = manifest["artifacts"]
            .as_object()
            .expect("manifest.json has an artifacts object");
        let mut stacks = BTreeMap::new();
        for (id, artifact) in artifacts {
            if artifact["type"] == "aws:cloudformation:stack" {
                let template = read_json(&dir.join(template_file(&manifest, id)));
                stacks.insert(id.clone(), template);
            }
        }
        Assembly {
            blueprint: plan.name.clone(),
            plan,
            dir,
            manifest,
            stacks,
        }
    }

    fn template_paths(&self) -> Vec<PathBuf> {
        self.stacks
            .keys()
            .map(|id| self.dir.join(template_file(&self.manifest, id)))
            .collect()
    }
}

fn golden_dir() -> PathBuf {
    harness::project_root().join("golden")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()))
}

fn template_file(manifest: &Value, artifact: &str) -> String {
    manifest["artifacts"][artifact]["properties"]["templateFile"]
        .as_str()
        .unwrap_or_else(|| panic!("artifact {artifact} has no properties.templateFile"))
        .to_owned()
}

fn plan_of(name: &str, text: &str) -> Plan {
    let source = Source {
        name: name.to_owned(),
        text: text.to_owned(),
    };
    let blueprint =
        validate::validate(&source).unwrap_or_else(|_| panic!("{name} is not a valid blueprint"));
    Plan::new(&blueprint)
}

/// The plan of every example blueprint (`blueprints/*.yaml`), by blueprint name.
fn example_plans() -> BTreeMap<String, Plan> {
    let dir = harness::project_root().join("blueprints");
    let mut plans = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("blueprints/ exists") {
        let path = entry.expect("readable blueprints/ entry").path();
        if path.extension().is_none_or(|ext| ext != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable blueprint");
        let plan = plan_of(&path.display().to_string(), &text);
        plans.insert(plan.name.clone(), plan);
    }
    assert!(!plans.is_empty(), "no example blueprints in blueprints/");
    plans
}

/// Every golden assembly; fails when there is none, so that the checks below cannot pass vacuously.
fn golden_assemblies() -> Vec<Assembly> {
    let mut plans = example_plans();
    let mut found = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(golden_dir())
        .expect("golden/ exists")
        .map(|entry| entry.expect("readable golden/ entry").path())
        .collect();
    entries.sort();
    for blueprint_dir in entries {
        let dir = blueprint_dir.join("cdk");
        if !dir.join("manifest.json").is_file() {
            continue;
        }
        let name = blueprint_dir
            .file_name()
            .expect("directory name")
            .to_string_lossy()
            .into_owned();
        let plan = plans
            .remove(&name)
            .unwrap_or_else(|| panic!("golden/{name} has no blueprints/{name}.yaml"));
        found.push(Assembly::read(plan, dir));
    }
    assert!(
        !found.is_empty(),
        "no golden cloud assembly under golden/*/cdk/"
    );
    found
}

/// Blueprints (`tests/variant-blueprints/<name>.yaml`) that exercise what the examples do not: a
/// created cluster in existing subnets with Pod Identity, two node groups (one spot, scaled to
/// zero), a private endpoint, no control-plane logs and the config-map authentication mode; an
/// existing cluster whose OIDC issuer is a deploy-time parameter; a created two-zone VPC with a
/// private endpoint and a daemonset collector; and the `otlp` exporter without the sampling proxy,
/// with Transaction Search at 5 %.
const VARIANTS: [&str; 5] = [
    "variant-created-metrics",
    "variant-created-pod-identity",
    "variant-existing-no-issuer",
    "variant-private-vpc",
    "variant-otlp-transaction-search",
];

/// The golden assemblies plus the variants rendered into a temporary directory (kept alive by the
/// returned handle).
fn all_assemblies() -> (tempfile::TempDir, Vec<Assembly>) {
    let scratch = tempfile::tempdir().expect("temporary directory");
    let mut found = golden_assemblies();
    for name in VARIANTS {
        let plan = plan_of(name, &harness::variant_blueprint(name));
        assert_eq!(plan.name, name);
        let files = render::render(&plan, &[Target::Cdk]).expect("the CDK target renders");
        let root = scratch.path().join(name);
        for (path, text) in &files {
            let dest = root.join(path);
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("create directories");
            std::fs::write(dest, text).expect("write a rendered file");
        }
        found.push(Assembly::read(plan, root.join("cdk")));
    }
    (scratch, found)
}

/// Every example blueprint that asks for the CDK target has a golden assembly equal to a fresh
/// render, with exactly one stack in an environment naming the blueprint's account and region.
#[test]
fn every_example_blueprint_has_a_fresh_golden_assembly() {
    let assemblies = golden_assemblies();
    let with_assembly: BTreeSet<String> = assemblies.iter().map(|a| a.blueprint.clone()).collect();
    for (name, plan) in example_plans() {
        if !plan.targets.contains(&TargetName::Cdk) {
            continue;
        }
        assert!(
            with_assembly.contains(&name),
            "blueprint {name} has no golden/{name}/cdk/manifest.json"
        );
        let fresh = render::render(&plan, &[Target::Cdk]).expect("the CDK target renders");
        let committed = render::read_tree(&golden_dir().join(&name), &[Target::Cdk])
            .expect("readable golden files");
        assert_eq!(
            committed.keys().collect::<Vec<_>>(),
            fresh.keys().collect::<Vec<_>>(),
            "{name}: golden cdk/ files differ from a fresh render"
        );
        for (path, text) in &fresh {
            assert!(
                committed[path] == *text,
                "{name}: {} differs from a fresh render; run `blueprint render blueprints/*.yaml --out golden --target cdk`",
                path.display()
            );
        }
    }
    for assembly in &assemblies {
        assert_eq!(
            assembly.stacks.len(),
            1,
            "{}: expected exactly one stack artifact",
            assembly.blueprint
        );
        assert!(
            assembly.dir.join("README.md").is_file(),
            "{}: the assembly has no README.md",
            assembly.blueprint
        );
        let version = assembly.manifest["version"].as_str().expect("version");
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|major| major.parse().ok())
            .expect("the manifest version is a full semver");
        assert_eq!(
            version.split('.').count(),
            3,
            "version {version} is not semver"
        );
        assert!(
            major <= 54,
            "schema {version} is newer than CDK CLIs from 2025 accept"
        );
        for (id, template) in &assembly.stacks {
            let environment = assembly.manifest["artifacts"][id]["environment"]
                .as_str()
                .expect("the stack artifact has an environment");
            let rest = environment
                .strip_prefix("aws://")
                .expect("environment starts with aws://");
            let (account, region) = rest.split_once('/').expect("aws://ACCOUNT/REGION");
            assert!(
                account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()),
                "{id}: account {account} is not 12 digits"
            );
            assert!(!region.is_empty(), "{id}: empty region");
            assert!(
                template["Resources"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{id}: the template has no resources"
            );
        }
    }
}

#[test]
fn cfn_lint_reports_no_errors_and_no_warnings() {
    let Some(cfn_lint) = harness::require_tool("cfn-lint", "cdk: cfn-lint on the CDK templates")
    else {
        return;
    };
    let (_scratch, assemblies) = all_assemblies();
    let templates: Vec<PathBuf> = assemblies
        .iter()
        .flat_map(Assembly::template_paths)
        .collect();
    // One call for every template: cfn-lint's start-up dominates its run time.
    let out = Command::new(cfn_lint)
        .arg("--format")
        .arg("parseable")
        .args(&templates)
        .output()
        .expect("cfn-lint runs");
    assert!(
        out.status.success(),
        "cfn-lint exit status {:?} on {} templates (2 = error, 4 = warning, 8 = informational):\n{}{}",
        out.status.code(),
        templates.len(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn checkov_reports_no_failed_checks_and_every_skip_has_a_reason() {
    let Some(checkov) = harness::require_tool("checkov", "cdk: checkov on the CDK templates")
    else {
        return;
    };
    let (_scratch, assemblies) = all_assemblies();
    let templates: Vec<PathBuf> = assemblies
        .iter()
        .flat_map(Assembly::template_paths)
        .collect();
    let mut cmd = Command::new(checkov);
    cmd.args(["--framework", "cloudformation", "--compact", "-o", "json"]);
    for template in &templates {
        cmd.arg("-f").arg(template);
    }
    let out = cmd.output().expect("checkov runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "checkov output is not JSON ({err}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // One framework gives one report object; keep the list form working too.
    let reports = match report {
        Value::Array(reports) => reports,
        report => vec![report],
    };
    let mut resources = 0;
    for report in &reports {
        let summary = &report["summary"];
        let failed: Vec<String> = report["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|check| {
                format!(
                    "{} {} {} ({})",
                    check["file_path"].as_str().unwrap_or("?"),
                    check["resource"].as_str().unwrap_or("?"),
                    check["check_id"].as_str().unwrap_or("?"),
                    check["check_name"].as_str().unwrap_or("?")
                )
            })
            .collect();
        assert!(
            failed.is_empty(),
            "checkov failed checks:\n{}",
            failed.join("\n")
        );
        assert_eq!(summary["failed"], json!(0), "checkov summary: {summary}");
        assert_eq!(
            summary["parsing_errors"],
            json!(0),
            "checkov summary: {summary}"
        );
        for skipped in report["results"]["skipped_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let reason = skipped["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or("");
            assert!(
                reason.split_whitespace().count() >= 3,
                "checkov skip {} on {} has no real reason: {reason:?}",
                skipped["check_id"],
                skipped["resource"]
            );
        }
        resources += summary["resource_count"].as_u64().unwrap_or(0);
    }
    let expected: usize = assemblies
        .iter()
        .flat_map(|a| a.stacks.values())
        .map(|t| t["Resources"].as_object().map_or(0, Map::len))
        .sum();
    assert_eq!(
        resources as usize, expected,
        "checkov scanned a different number of resources than the templates hold"
    );
    // Skips are only ever recorded in the template, with a reason, never as command-line flags.
    for assembly in &assemblies {
        for template in assembly.stacks.values() {
            for (name, resource) in template["Resources"].as_object().expect("Resources") {
                for skip in resource["Metadata"]["checkov"]["skip"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let comment = skip["comment"].as_str().unwrap_or("");
                    assert!(
                        skip["id"].as_str().is_some_and(|id| id.starts_with("CKV")),
                        "{name}: checkov skip without a check id: {skip}"
                    );
                    assert!(
                        comment.split_whitespace().count() >= 3,
                        "{name}: checkov skip {} has no real reason",
                        skip["id"]
                    );
                }
            }
        }
    }
}

#[test]
fn cdk_cli_lists_the_stack_of_every_assembly_offline() {
    let Some(cdk) = harness::require_tool("cdk", "cdk: cdk ls --app on the assemblies") else {
        return;
    };
    let (_scratch, assemblies) = all_assemblies();
    for assembly in &assemblies {
        // The CLI writes lock files into the assembly directory, so it gets a copy.
        let scratch = tempfile::tempdir().expect("temporary directory");
        let copy = scratch.path().join("cdk.out");
        std::fs::create_dir(&copy).expect("create the copy");
        for entry in std::fs::read_dir(&assembly.dir).expect("readable assembly") {
            let path = entry.expect("readable entry").path();
            std::fs::copy(&path, copy.join(path.file_name().expect("file name")))
                .expect("copy the assembly");
        }
        let out = Command::new(&cdk)
            .current_dir(scratch.path())
            .args([
                "ls",
                "--app",
                "cdk.out",
                "--no-notices",
                "--no-version-reporting",
            ])
            .env("CDK_DISABLE_VERSION_CHECK", "1")
            .env("CDK_DISABLE_CLI_TELEMETRY", "true")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // No credentials exist here; these keep the SDK from searching for any.
            .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            )
            .env("HOME", scratch.path())
            .output()
            .expect("cdk runs");
        assert!(
            out.status.success(),
            "{}: cdk ls failed:\n{}{}",
            assembly.blueprint,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        let expected: Vec<String> = assembly.stacks.keys().cloned().collect();
        assert_eq!(listed, expected, "{}: cdk ls output", assembly.blueprint);
    }
}

#[test]
fn every_template_fits_the_inline_deploy_limit_as_yaml() {
    let Some(python) = harness::python("cdk: template size as YAML") else {
        return;
    };
    let (_scratch, assemblies) = all_assemblies();
    for assembly in &assemblies {
        for path in assembly.template_paths() {
            // PyYAML (a cfn-lint dependency) converts the JSON template to block YAML, as the CLI does.
            let out = Command::new(&python)
                .args([
                    "-c",
                    "import json, sys, yaml\n\
                     t = json.load(open(sys.argv[1]))\n\
                     print(len(yaml.safe_dump(t, default_flow_style=False, sort_keys=False).encode()))",
                ])
                .arg(&path)
                .output()
                .expect("python runs");
            assert!(
                out.status.success(),
                "YAML conversion failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let yaml_bytes: usize = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("a byte count");
            assert!(yaml_bytes > 0, "{}: empty YAML", path.display());
            assert!(
                yaml_bytes <= INLINE_TEMPLATE_LIMIT_BYTES,
                "{}: {yaml_bytes} bytes as YAML, over the CDK CLI's {INLINE_TEMPLATE_LIMIT_BYTES}-byte inline limit",
                path.display()
            );
        }
    }
}

/// Sample values for the `${…}` variables of a `Fn::Sub` string. Each variable gets a value that a
/// real deployment could produce, so that the parsed policy can be checked for its meaning.
fn sample_value(name: &str, mapping: &Map<String, Value>) -> String {
    match name {
        "AWS::Partition" => "aws".to_owned(),
        "AWS::AccountId" => "111122223333".to_owned(),
        "AWS::Region" => "us-east-1".to_owned(),
        "AWS::StackName" => "SampleStack".to_owned(),
        "AWS::URLSuffix" => "amazonaws.com".to_owned(),
        _ => {
            let value = mapping.get(name).unwrap_or_else(|| {
                panic!("Fn::Sub variable ${{{name}}} is neither a pseudo parameter nor mapped")
            });
            sample_of_expression(value)
        }
    }
}

/// The sample issuer every `Fn::GetAtt Cluster.OpenIdConnectIssuerUrl` resolves to in these checks.
const SAMPLE_ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";

/// A sample value for one intrinsic-function expression used as a `Fn::Sub` variable.
fn sample_of_expression(value: &Value) -> String {
    if let Some(text) = value.as_str() {
        return text.to_owned();
    }
    if let Some(args) = value.get("Fn::GetAtt").and_then(Value::as_array) {
        let attribute = args[1].as_str().expect("GetAtt attribute");
        return match attribute {
            "OpenIdConnectIssuerUrl" => format!("https://{SAMPLE_ISSUER}"),
            "Arn" if args[0] == "OidcProvider" => {
                format!("arn:aws:iam::111122223333:oidc-provider/{SAMPLE_ISSUER}")
            }
            "Arn" => format!(
                "arn:aws:iam::111122223333:role/{}",
                args[0].as_str().unwrap_or("x")
            ),
            other => panic!("no sample for GetAtt attribute {other}"),
        };
    }
    if let Some(name) = value.get("Ref").and_then(Value::as_str) {
        return match name {
            "OidcIssuer" => SAMPLE_ISSUER.to_owned(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::AccountId" => "111122223333".to_owned(),
            "AWS::Region" => "us-east-1".to_owned(),
            other => format!("sample-{other}"),
        };
    }
    if let Some(args) = value.get("Fn::Select").and_then(Value::as_array) {
        let index = args[0].as_u64().expect("Select index") as usize;
        let list = args[1]
            .get("Fn::Split")
            .and_then(Value::as_array)
            .expect("Fn::Select over Fn::Split");
        let separator = list[0].as_str().expect("Split separator");
        let source = sample_of_expression(&list[1]);
        return source
            .split(separator)
            .nth(index)
            .unwrap_or_else(|| panic!("Fn::Select index {index} out of range on {source}"))
            .to_owned();
    }
    if let Some(sub) = value.get("Fn::Sub") {
        return substitute(sub);
    }
    if let Some(args) = value.get("Fn::Join").and_then(Value::as_array) {
        let separator = args[0].as_str().expect("Join separator");
        let parts: Vec<String> = args[1]
            .as_array()
            .expect("Join list")
            .iter()
            .map(sample_of_expression)
            .collect();
        return parts.join(separator);
    }
    panic!("no sample value for expression {value}");
}

/// Substitutes a `Fn::Sub` argument (string or `[string, mapping]`) with sample values.
fn substitute(sub: &Value) -> String {
    let empty = Map::new();
    let (text, mapping) = match sub {
        Value::String(text) => (text.as_str(), &empty),
        Value::Array(args) => (
            args[0].as_str().expect("Fn::Sub template string"),
            args[1].as_object().expect("Fn::Sub variable map"),
        ),
        other => panic!("malformed Fn::Sub {other}"),
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        if let Some(literal) = after.strip_prefix('!') {
            // `${!Literal}` is written out as `${Literal}`.
            out.push_str("${");
            rest = literal;
            continue;
        }
        let end = after.find('}').expect("closed ${…} in Fn::Sub");
        out.push_str(&sample_value(&after[..end], mapping));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every `Fn::Sub` in `value` (depth first), with the JSON path leading to it.
fn collect_subs<'a>(value: &'a Value, path: String, found: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "Fn::Sub" {
                    found.push((path.clone(), child));
                }
                collect_subs(child, format!("{path}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (idx, child) in items.iter().enumerate() {
                collect_subs(child, format!("{path}/{idx}"), found);
            }
        }
        _ => {}
    }
}

/// The ServiceAccount that the Kubernetes target renders for a plan: namespace, name, and the
/// `eks.amazonaws.com/role-arn` annotation (`-` when there is none).
fn kubernetes_service_account(python: &Path, plan: &Plan) -> (String, String, String) {
    let files = render::render(plan, &[Target::Kubernetes]).expect("the Kubernetes target renders");
    let scratch = tempfile::tempdir().expect("temporary directory");
    for (path, text) in &files {
        let dest = scratch.path().join(path);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("create directories");
        std::fs::write(dest, text).expect("write a rendered file");
    }
    let out = Command::new(python)
        .args([
            "-c",
            "import pathlib, sys, yaml\n\
             for path in sorted(pathlib.Path(sys.argv[1]).rglob('*.yaml')):\n\
             \x20   for doc in yaml.safe_load_all(path.read_text()):\n\
             \x20       if doc and doc.get('kind') == 'ServiceAccount':\n\
             \x20           m = doc['metadata']\n\
             \x20           role = (m.get('annotations') or {}).get('eks.amazonaws.com/role-arn', '-')\n\
             \x20           print(m['namespace'], m['name'], role)",
        ])
        .arg(scratch.path())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "reading the Kubernetes target of {}: {}",
        plan.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let accounts: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        accounts.len(),
        1,
        "{}: expected one ServiceAccount in the Kubernetes target, found {accounts:?}",
        plan.name
    );
    let fields: Vec<&str> = accounts[0].split(' ').collect();
    assert_eq!(fields.len(), 3, "namespace, name and role: {fields:?}");
    (
        fields[0].to_owned(),
        fields[1].to_owned(),
        fields[2].to_owned(),
    )
}

/// The trust policy of the collector role as a plain JSON document: parsed from the substituted
/// `Fn::Sub` string, or taken as written when it is an object.
fn collector_trust(template: &Value) -> Value {
    let document =
        &template["Resources"]["CollectorRole"]["Properties"]["AssumeRolePolicyDocument"];
    match document.get("Fn::Sub") {
        Some(sub) => serde_json::from_str(&substitute(sub)).expect("the trust policy parses"),
        None => resolve_plain(document),
    }
}

/// Resolves the intrinsics inside an object policy (`Fn::Sub` and `Ref` of pseudo parameters) to
/// sample values, so that it can be checked like a substituted string policy.
fn resolve_plain(value: &Value) -> Value {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key("Fn::Sub") => {
            Value::String(substitute(&map["Fn::Sub"]))
        }
        Value::Object(map) if map.len() == 1 && map.contains_key("Ref") => {
            Value::String(sample_of_expression(value))
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, child)| (key.clone(), resolve_plain(child)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(resolve_plain).collect()),
        other => other.clone(),
    }
}

/// `as_strings` of a property that may be absent (none then).
fn strings_or_none(value: &Value) -> Vec<String> {
    if value.is_null() {
        Vec::new()
    } else {
        as_strings(value)
    }
}

fn as_strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("expected a string or a list of strings, found {other}"),
    }
}

#[test]
fn policies_in_sub_strings_parse_and_trust_exactly_the_kubernetes_service_account() {
    let Some(python) = harness::python("cdk: trust policy against the Kubernetes ServiceAccount")
    else {
        return;
    };
    let (_scratch, assemblies) = all_assemblies();
    let mut n_sub_policies = 0;
    for assembly in &assemblies {
        let (namespace, service_account, annotated_role) =
            kubernetes_service_account(&python, &assembly.plan);
        for (id, template) in &assembly.stacks {
            // 1. Every Fn::Sub string that holds a JSON document parses after substitution and is a
            //    well-formed policy.
            let mut subs = Vec::new();
            collect_subs(template, String::new(), &mut subs);
            for (path, sub) in subs {
                let text = substitute(sub);
                if !text.trim_start().starts_with('{') {
                    continue;
                }
                n_sub_policies += 1;
                let policy: Value = serde_json::from_str(&text).unwrap_or_else(|err| {
                    panic!("{id}{path}: the Fn::Sub policy does not parse ({err}):\n{text}")
                });
                assert_eq!(policy["Version"], "2012-10-17", "{id}{path}");
                let statements = policy["Statement"].as_array().expect("Statement list");
                assert!(!statements.is_empty(), "{id}{path}: no statements");
                for statement in statements {
                    assert_eq!(statement["Effect"], "Allow", "{id}{path}");
                    assert!(
                        statement["Principal"].is_object(),
                        "{id}{path}: no principal"
                    );
                    assert!(!as_strings(&statement["Action"]).is_empty(), "{id}{path}");
                }
            }

            // 2. The collector role trusts exactly the collector's ServiceAccount.
            let role = &template["Resources"]["CollectorRole"];
            assert_eq!(role["Type"], "AWS::IAM::Role", "{id}: no CollectorRole");
            let trust = collector_trust(template);
            let statements = trust["Statement"].as_array().expect("Statement list");
            assert_eq!(statements.len(), 1, "{id}: one trust statement expected");
            let statement = &statements[0];
            assert_eq!(statement["Effect"], "Allow");
            let principal = statement["Principal"]
                .as_object()
                .expect("Principal object");
            assert_eq!(
                principal.len(),
                1,
                "{id}: one principal expected: {principal:?}"
            );
            let subject = format!("system:serviceaccount:{namespace}:{service_account}");
            let role_name = role["Properties"]["RoleName"].as_str().expect("RoleName");
            if let Some(federated) = principal.get("Federated") {
                // The ServiceAccount names the role this stack creates, in the stack's account.
                let environment = assembly.manifest["artifacts"][id]["environment"]
                    .as_str()
                    .expect("environment");
                let account = environment.trim_start_matches("aws://").split('/').next();
                let expected_arn = format!(
                    "arn:aws:iam::{}:role/{role_name}",
                    account.expect("account")
                );
                assert_eq!(annotated_role, expected_arn, "{id}: IRSA annotation");
                // IRSA: the cluster's OIDC provider may assume the role for this one subject.
                let federated = federated.as_str().expect("Federated ARN");
                let issuer = federated
                    .split_once(":oidc-provider/")
                    .map(|(_, issuer)| issuer)
                    .unwrap_or_else(|| panic!("{id}: {federated} is not an OIDC provider ARN"));
                assert!(federated.starts_with("arn:aws:iam::"), "{id}: {federated}");
                assert!(
                    !issuer.starts_with("https://"),
                    "{id}: issuer keeps https://"
                );
                assert_eq!(
                    as_strings(&statement["Action"]),
                    ["sts:AssumeRoleWithWebIdentity"],
                    "{id}"
                );
                let conditions = statement["Condition"].as_object().expect("Condition");
                assert_eq!(
                    conditions.keys().collect::<Vec<_>>(),
                    ["StringEquals"],
                    "{id}: exact-match conditions only"
                );
                let expected = json!({
                    format!("{issuer}:aud"): "sts.amazonaws.com",
                    format!("{issuer}:sub"): subject,
                });
                assert_eq!(
                    conditions["StringEquals"], expected,
                    "{id}: IRSA conditions"
                );
            } else {
                // Pod Identity: the EKS Pod Identity service, with the session tags it sets pinned
                // to the ServiceAccount.
                assert_eq!(
                    principal.get("Service"),
                    Some(&json!("pods.eks.amazonaws.com")),
                    "{id}: neither an OIDC nor the Pod Identity principal"
                );
                let mut actions = as_strings(&statement["Action"]);
                actions.sort();
                assert_eq!(actions, ["sts:AssumeRole", "sts:TagSession"], "{id}");
                let equals = &statement["Condition"]["StringEquals"];
                assert_eq!(
                    equals["aws:RequestTag/kubernetes-namespace"],
                    json!(namespace)
                );
                assert_eq!(
                    equals["aws:RequestTag/kubernetes-service-account"],
                    json!(service_account)
                );
                assert_eq!(
                    annotated_role, "-",
                    "{id}: Pod Identity needs no IRSA annotation"
                );
                let association = template["Resources"]
                    .as_object()
                    .expect("Resources")
                    .values()
                    .find(|r| r["Type"] == "AWS::EKS::PodIdentityAssociation")
                    .unwrap_or_else(|| panic!("{id}: Pod Identity without an association"));
                assert_eq!(association["Properties"]["Namespace"], json!(namespace));
                assert_eq!(
                    association["Properties"]["ServiceAccount"],
                    json!(service_account)
                );
            }

            // 3. The role carries at least one managed policy, each a well-formed IAM policy ARN, or
            //    the otlp exporter's inline policy (checked in detail below).
            let policies =
                strings_or_none(&resolve_plain(&role["Properties"]["ManagedPolicyArns"]));
            assert!(
                !policies.is_empty() || role["Properties"]["Policies"].is_array(),
                "{id}: the collector role has no policy"
            );
            for arn in &policies {
                assert!(
                    arn.starts_with("arn:aws")
                        && arn.contains(":iam::")
                        && arn.contains(":policy/"),
                    "{id}: {arn} is not an IAM policy ARN"
                );
            }
        }
    }
    assert!(n_sub_policies > 0, "no Fn::Sub policy was checked");
}

/// The exporter's IAM and Transaction Search, as the plan says: under `otlp` the collector role has
/// one inline policy with exactly `xray:PutTraceSegments` (plus the three sampling actions when the
/// sampling proxy is on) on `*`, and no managed `AWSXRayDaemonWriteAccess` unless the blueprint
/// names it; under `xray-api`, no inline policy. With Transaction Search, the CloudWatch Logs
/// resource policy is AWS's documented one and `AWS::XRay::TransactionSearchConfig` waits for it.
#[test]
fn exporter_policy_and_transaction_search_follow_the_plan() {
    let (_scratch, assemblies) = all_assemblies();
    let mut otlp = 0;
    let mut searched = 0;
    for assembly in &assemblies {
        let plan = &assembly.plan;
        for (id, template) in &assembly.stacks {
            let resources = template["Resources"].as_object().expect("Resources");
            let role = &resources["CollectorRole"]["Properties"];
            let managed = strings_or_none(&resolve_plain(&role["ManagedPolicyArns"]));
            if plan.collector.otlp_export {
                otlp += 1;
                let policies = role["Policies"].as_array().expect("an inline policy");
                assert_eq!(policies.len(), 1, "{id}");
                assert_eq!(policies[0]["PolicyName"], "xray-otlp-export", "{id}");
                let mut actions = Vec::new();
                for statement in policies[0]["PolicyDocument"]["Statement"]
                    .as_array()
                    .expect("statements")
                {
                    assert_eq!(statement["Effect"], "Allow", "{id}");
                    assert_eq!(statement["Resource"], "*", "{id}");
                    actions.extend(as_strings(&statement["Action"]));
                }
                actions.sort();
                let mut expected = vec!["xray:PutTraceSegments"];
                if plan.ports.xray_proxy_tcp.is_some() {
                    expected.extend([
                        "xray:GetSamplingRules",
                        "xray:GetSamplingStatisticSummaries",
                        "xray:GetSamplingTargets",
                    ]);
                }
                expected.sort();
                assert_eq!(actions, expected, "{id}: inline policy actions");
                assert_eq!(managed, plan.identity.policy_arns, "{id}");
                assert!(
                    !managed
                        .iter()
                        .any(|a| a.ends_with("/AWSXRayDaemonWriteAccess")),
                    "{id}: the managed X-Ray policy under otlp"
                );
            } else {
                assert!(
                    role["Policies"].is_null(),
                    "{id}: inline policy under xray-api"
                );
                assert_eq!(managed, plan.identity.policy_arns, "{id}");
            }

            let config = resources
                .iter()
                .find(|(_, r)| r["Type"] == "AWS::XRay::TransactionSearchConfig");
            let Some(ts) = &plan.transaction_search else {
                assert!(config.is_none(), "{id}: Transaction Search not asked for");
                assert!(
                    !resources
                        .values()
                        .any(|r| r["Type"] == "AWS::Logs::ResourcePolicy"),
                    "{id}: a log resource policy without Transaction Search"
                );
                continue;
            };
            searched += 1;
            let (_, config) = config.expect("an AWS::XRay::TransactionSearchConfig");
            assert_eq!(
                config["Properties"],
                json!({ "IndexingPercentage": ts.indexing_percent }),
                "{id}"
            );
            let (policy_id, policy) = resources
                .iter()
                .find(|(_, r)| r["Type"] == "AWS::Logs::ResourcePolicy")
                .expect("an AWS::Logs::ResourcePolicy");
            assert!(
                as_strings(&config["DependsOn"]).contains(policy_id),
                "{id}: the Transaction Search config must wait for the log resource policy"
            );
            assert_eq!(
                policy["Properties"]["PolicyName"],
                "TransactionSearchAccess"
            );
            let document: Value = serde_json::from_str(
                policy["Properties"]["PolicyDocument"]
                    .as_str()
                    .expect("a policy document string"),
            )
            .expect("the policy document parses");
            let region = &plan.aws.region;
            let account = &plan.aws.account_id;
            assert_eq!(
                document,
                json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "TransactionSearchXRayAccess",
                        "Effect": "Allow",
                        "Principal": { "Service": "xray.amazonaws.com" },
                        "Action": "logs:PutLogEvents",
                        "Resource": [
                            format!("arn:aws:logs:{region}:{account}:log-group:aws/spans:*"),
                            format!("arn:aws:logs:{region}:{account}:log-group:/aws/application-signals/data:*"),
                        ],
                        "Condition": {
                            "ArnLike": { "aws:SourceArn": format!("arn:aws:xray:{region}:{account}:*") },
                            "StringEquals": { "aws:SourceAccount": account },
                        },
                    }],
                }),
                "{id}: the Transaction Search resource policy"
            );
        }
    }
    assert!(
        otlp > 0 && searched > 0,
        "no otlp or Transaction Search assembly was checked"
    );
}

/// The ADOT add-on waits for cert-manager when the stack installs it, installed add-ons are pinned
/// and never overwrite, and `existing` ones get no resource.
#[test]
fn adot_addon_depends_on_cert_manager_and_both_are_pinned() {
    let (_scratch, assemblies) = all_assemblies();
    for assembly in &assemblies {
        for (id, template) in &assembly.stacks {
            let resources = template["Resources"].as_object().expect("Resources");
            let addon = |name: &str| {
                resources
                    .iter()
                    .find(|(_, r)| {
                        r["Type"] == "AWS::EKS::Addon" && r["Properties"]["AddonName"] == name
                    })
                    .unwrap_or_else(|| panic!("{id}: no {name} add-on"))
            };
            let plan = &assembly.plan;
            let (_, adot) = addon("adot");
            let mut pinned = vec![adot];
            if plan.addons.cert_manager.install {
                let (cert_manager_id, cert_manager) = addon("cert-manager");
                let depends = as_strings(&adot["DependsOn"]);
                assert!(
                    depends.contains(cert_manager_id),
                    "{id}: the adot add-on does not depend on {cert_manager_id}"
                );
                pinned.push(cert_manager);
            } else {
                // An existing cert-manager gets no resource, and nothing is overwritten.
                assert!(
                    !resources
                        .values()
                        .any(|r| r["Properties"]["AddonName"] == "cert-manager"),
                    "{id}: an existing cert-manager must not be created"
                );
            }
            if plan
                .addons
                .pod_identity_agent
                .as_ref()
                .is_some_and(|agent| !agent.install)
            {
                assert!(
                    !resources.contains_key("PodIdentityAgentAddon"),
                    "{id}: an existing Pod Identity agent must not be created"
                );
            }
            for addon in pinned {
                let version = addon["Properties"]["AddonVersion"].as_str().unwrap_or("");
                assert!(
                    version.starts_with('v') && version.contains("eksbuild"),
                    "{id}: add-on version {version:?} is not pinned"
                );
                // CloudFormation's one ResolveConflicts takes the blueprint's create choice, and
                // the examples, which keep the default, never OVERWRITE a team's settings.
                assert_eq!(
                    addon["Properties"]["ResolveConflicts"],
                    plan.addons.adot.resolve_conflicts.as_str()
                );
                if !assembly.blueprint.starts_with("variant-") {
                    assert_eq!(addon["Properties"]["ResolveConflicts"], "NONE", "{id}");
                }
            }
            // Nothing in the template needs an asset, and so a bootstrap: no Lambda, no custom resource.
            for (name, resource) in resources {
                let kind = resource["Type"].as_str().unwrap_or("");
                assert!(
                    !kind.starts_with("Custom::")
                        && kind != "AWS::CloudFormation::CustomResource"
                        && kind != "AWS::Lambda::Function"
                        && kind != "AWS::CloudFormation::Stack",
                    "{id}: {name} is a {kind}, which needs assets or a bootstrap"
                );
            }
        }
    }
}

/// `cdk deploy --app DIR` deploys the assembly as it is, with no `cdk bootstrap`, against moto
/// playing CloudFormation, IAM and STS in the stack's account; the role moto's CloudFormation
/// creates has exactly the trust policy and permissions boundary the template asks for.
///
/// moto's CloudFormation creates IAM roles but skips EKS resource types (it warns "not supported"),
/// so only assemblies for existing clusters deploy there: a created cluster's template reads
/// attributes of `AWS::EKS::Cluster`, which moto cannot provide. The variant whose OIDC issuer is a
/// deploy-time parameter exercises the `Fn::Sub` string trust policy through moto's CloudFormation.
#[test]
fn cdk_deploy_needs_no_bootstrap_and_creates_the_collector_role_in_moto() {
    let check = "cdk: cdk deploy --app against moto";
    let Some(cdk) = harness::require_tool("cdk", check) else {
        return;
    };
    let Some(python) = harness::python(check) else {
        return;
    };
    let (_scratch, assemblies) = all_assemblies();
    let mut deployed = Vec::new();
    for assembly in assemblies.iter().filter(|a| a.plan.cluster.existing) {
        let Some(moto) =
            harness::MotoServer::start_in_account(check, &assembly.plan.aws.account_id)
        else {
            return;
        };
        let (stack, template) = assembly.stacks.iter().next().expect("one stack");
        let scratch = tempfile::tempdir().expect("temporary directory");
        let copy = scratch.path().join("cdk.out");
        std::fs::create_dir(&copy).expect("create the copy");
        for entry in std::fs::read_dir(&assembly.dir).expect("readable assembly") {
            let path = entry.expect("readable entry").path();
            std::fs::copy(&path, copy.join(path.file_name().expect("file name")))
                .expect("copy the assembly");
        }
        let mut cmd = Command::new(&cdk);
        cmd.current_dir(scratch.path())
            .args(["deploy", "--app", "cdk.out", "--require-approval", "never"])
            .args(["--no-notices", "--no-version-reporting", stack.as_str()])
            .env("CDK_DISABLE_VERSION_CHECK", "1")
            .env("CDK_DISABLE_CLI_TELEMETRY", "true")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_REGION", &assembly.plan.aws.region)
            .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            )
            // The CLI caches the account of an access key under $HOME/.cdk; each moto plays its own.
            .env("HOME", scratch.path())
            .env("CDK_HOME", scratch.path());
        if template["Parameters"]
            .as_object()
            .is_some_and(|p| p.contains_key("OidcIssuer"))
        {
            cmd.arg("--parameters")
                .arg(format!("{stack}:OidcIssuer={SAMPLE_ISSUER}"));
        }
        let out = cmd.output().expect("cdk runs");
        assert!(
            out.status.success(),
            "{stack}: cdk deploy failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        let report = Command::new(&python)
            .args([
                "-c",
                "import boto3, json, sys\n\
                 endpoint, region, stack, role = sys.argv[1:5]\n\
                 kw = dict(endpoint_url=endpoint, region_name=region,\n\
                 \x20         aws_access_key_id='AKIAIOSFODNN7EXAMPLE', aws_secret_access_key='x')\n\
                 cf, iam = boto3.client('cloudformation', **kw), boto3.client('iam', **kw)\n\
                 s = cf.describe_stacks(StackName=stack)['Stacks'][0]\n\
                 r = iam.get_role(RoleName=role)['Role']\n\
                 import ast\n\
                 def document(d):\n\
                 \x20   # moto's CloudFormation stores a role's inline policy as a Python repr string.\n\
                 \x20   return ast.literal_eval(d) if isinstance(d, str) else d\n\
                 inline = {n: document(iam.get_role_policy(RoleName=role, PolicyName=n)['PolicyDocument'])\n\
                 \x20         for n in iam.list_role_policies(RoleName=role)['PolicyNames']}\n\
                 logs = boto3.client('logs', **kw)\n\
                 resource_policies = {p['policyName']: json.loads(p['policyDocument'])\n\
                 \x20         for p in logs.describe_resource_policies()['resourcePolicies']}\n\
                                 print(json.dumps({\n\
                 \x20   'status': s['StackStatus'],\n\
                 \x20   'stacks': sorted(x['StackName'] for x in cf.describe_stacks()['Stacks']),\n\
                 \x20   'tags': {t['Key']: t['Value'] for t in s.get('Tags', [])},\n\
                 \x20   'trust': r['AssumeRolePolicyDocument'],\n\
                 \x20   'boundary': r.get('PermissionsBoundary', {}).get('PermissionsBoundaryArn'),\n\
                 \x20   'inline': inline,\n\
                 \x20   'resource_policies': resource_policies,\n\
                                 }))",
            ])
            .arg(moto.endpoint())
            .arg(&assembly.plan.aws.region)
            .arg(stack)
            .arg(&assembly.plan.identity.role_name)
            .output()
            .expect("python runs");
        assert!(
            report.status.success(),
            "{stack}: reading moto: {}",
            String::from_utf8_lossy(&report.stderr)
        );
        let report: Value = serde_json::from_slice(&report.stdout).expect("JSON report");
        assert_eq!(report["status"], "CREATE_COMPLETE", "{stack}: {report}");
        // The CLI deployed without a bootstrap: the only stack is ours, no CDKToolkit.
        assert_eq!(report["stacks"], json!([stack]), "{stack}: {report}");
        assert_eq!(
            report["tags"], assembly.manifest["artifacts"][stack]["properties"]["tags"],
            "{stack}: stack tags"
        );
        assert_eq!(
            report["trust"],
            collector_trust(template),
            "{stack}: the trust policy IAM holds"
        );
        // moto's CloudFormation ignores a role's ManagedPolicyArns (5.2.5), so the attached policies
        // are checked by cfn-lint and the policy test above, not here.
        assert_eq!(
            report["boundary"],
            json!(assembly.plan.identity.permissions_boundary_arn),
            "{stack}"
        );
        // The otlp exporter's inline policy, as IAM holds it after moto's CloudFormation created the
        // role; and the Transaction Search resource policy in moto's CloudWatch Logs. (moto has no
        // X-Ray Transaction Search API: its CloudFormation skips AWS::XRay::TransactionSearchConfig,
        // which cfn-lint and the test above check instead.)
        let expected_inline: Map<String, Value> = assembly
            .plan
            .identity
            .inline_policy
            .iter()
            .map(|p| (p.name.clone(), p.document.clone()))
            .collect();
        assert_eq!(
            report["inline"],
            Value::Object(expected_inline),
            "{stack}: inline policies"
        );
        let expected_resource_policies: Map<String, Value> = assembly
            .plan
            .transaction_search
            .iter()
            .map(|ts| (ts.policy_name.clone(), ts.policy_document.clone()))
            .collect();
        assert_eq!(
            report["resource_policies"],
            Value::Object(expected_resource_policies),
            "{stack}: CloudWatch Logs resource policies"
        );
        deployed.push(stack.clone());
    }
    assert!(
        deployed.len() >= 4
            && deployed.iter().any(|s| s == "XrayVariantExistingNoIssuer")
            && deployed
                .iter()
                .any(|s| s == "XrayVariantOtlpTransactionSearch"),
        "expected every existing-cluster assembly, the Fn::Sub trust variant among them, to deploy; deployed {deployed:?}"
    );
}
