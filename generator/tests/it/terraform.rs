//! The golden Terraform, checked by the real tools.
//!
//! * `terraform fmt -check` over every golden Terraform file, and the `hcl*` filters' output is
//!   fmt-clean and reads back equal; every variable is used, every variable and output described;
//! * `terraform validate` of every golden `terraform/cluster/` (with no warning besides the one about
//!   the offline provider's development override);
//! * `terraform plan` and `terraform apply` of every `terraform/cluster/` against a local moto server,
//!   through an `*_override.tf` file added to a temporary copy (the golden files are never
//!   written). moto has no EKS add-on or pod identity association API, so those resources are
//!   planned but not applied, and the test prints which ones. For an existing cluster, the test first
//!   creates the cluster (and, under IRSA, its IAM OIDC provider) in moto, as the blueprint names them.
//!   After the apply, the collector role's trust policy read back from moto must name exactly the
//!   namespace and service account of the Kubernetes target, and its ARN must be the one the
//!   Kubernetes target's service account carries;
//! * checkov over every golden `terraform/`: no failed check, and every skipped check skipped in the
//!   file with a reason;
//! * `terraform/workloads/` cannot be validated here: the `hashicorp/kubernetes` provider is not in
//!   the offline mirror. Besides fmt and checkov, it is parsed with python-hcl2 and its objects are
//!   compared with the Kubernetes target's manifests (`workloads_objects_equal_the_kubernetes_target`).
//!
//! The variants `tests/variant-blueprints/variant-existing-subnets.yaml` (a created cluster in
//! existing subnets, Pod Identity on it, a permissions boundary, tags with `${`) and
//! `variant-otlp-pod-identity.yaml` (`otlp` with the sampling proxy and Transaction Search) take
//! the branches no example takes through the same checks. moto has no
//! `UpdateTraceSegmentDestination` or `UpdateIndexingRule`, so the Transaction Search commands are
//! planned and read from the saved plan, not applied.
//!
//! Without terraform or its provider mirror the Terraform checks are recorded as loud skips
//! (`harness::terraform`); checkov, moto and python are required tools under `tests/run`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Resource types that moto 5.2 does not implement (HTTP 404): planned, never applied. moto serves
/// AMP workspaces and rule groups namespaces, but not the managed scraper.
const NOT_IN_MOTO: [&str; 3] = [
    "aws_eks_addon",
    "aws_eks_pod_identity_association",
    "aws_prometheus_scraper",
];

/// The longest any single terraform command may take; far above the 5 to 80 s they take on two
/// loaded cores, so that a hang fails with terraform's output instead of stalling the suite.
const TERRAFORM_TIMEOUT: Duration = Duration::from_secs(300);

/// The summary of the one warning every command prints under `dev_overrides`.
const DEV_OVERRIDES_WARNING: &str = "Provider development overrides are in effect";

fn golden_dir() -> PathBuf {
    harness::project_root().join("golden")
}

/// The blueprints whose golden output has a `terraform/` directory, sorted.
fn golden_terraform_blueprints() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("read golden/")
        .flatten()
        .filter(|e| e.path().join("terraform").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The blueprint files under `blueprints/`, by name (file stem), sorted.
fn blueprint_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(harness::project_root().join("blueprints"))
        .expect("read blueprints/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from)
        .expect("read the directory to copy")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy a file");
        }
    }
}

/// Terraform with the harness's offline CLI configuration, copied into `dir` so that concurrent
/// tests never read the shared file while another test rewrites it.
struct Tf {
    binary: PathBuf,
    cli_config: PathBuf,
}

impl Tf {
    fn new(check: &str, dir: &Path) -> Option<Tf> {
        let tf = harness::terraform(check)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            let text = std::fs::read_to_string(&tf.cli_config).unwrap_or_default();
            if text.contains("dev_overrides") && text.trim_end().ends_with('}') {
                break text;
            }
            assert!(
                Instant::now() < deadline,
                "no complete terraform CLI config"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let cli_config = dir.join("terraformrc");
        std::fs::write(&cli_config, text).expect("write the CLI config");
        Some(Tf {
            binary: tf.binary,
            cli_config,
        })
    }

    /// Runs terraform in `dir` with no AWS configuration from the environment: fake keys, no
    /// profile, no instance metadata.
    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        // Output goes to files, not pipes, so that a hung terraform can be killed and its output
        // still shown.
        let log = tempfile::tempdir().expect("tempdir for terraform output");
        let stdout_path = log.path().join("stdout");
        let stderr_path = log.path().join("stderr");
        let mut child = Command::new(&self.binary)
            .args(args)
            .current_dir(dir)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("run terraform");
        let deadline = Instant::now() + TERRAFORM_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for terraform") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "terraform {} in {} did not finish within {} s:\n{}\n{}",
                    args.join(" "),
                    dir.display(),
                    TERRAFORM_TIMEOUT.as_secs(),
                    std::fs::read_to_string(&stdout_path).unwrap_or_default(),
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        Output {
            status,
            stdout: std::fs::read(&stdout_path).unwrap_or_default(),
            stderr: std::fs::read(&stderr_path).unwrap_or_default(),
        }
    }

    /// Like `run`, but fails the test with terraform's output when it exits non-zero.
    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run(dir, args);
        assert!(
            out.status.success(),
            "terraform {} in {} failed ({}):\n{}\n{}",
            args.join(" "),
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The plan of `blueprints/<name>.yaml`, when `name` is an example blueprint.
fn example_plan(name: &str) -> Option<blueprint::plan::Plan> {
    let path = harness::project_root().join(format!("blueprints/{name}.yaml"));
    let text = std::fs::read_to_string(path).ok()?;
    let source = blueprint::blueprint::load::Source {
        name: format!("{name}.yaml"),
        text,
    };
    Some(blueprint::plan::Plan::new(
        &blueprint::blueprint::validate::validate(&source).expect("example blueprints are valid"),
    ))
}

/// Runs a Python script from the tools venv, failing the test with its output when it fails.
fn python(check: &str, script: &str, args: &[&str]) -> Option<String> {
    let python = harness::python(check)?;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{check}: python failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_blueprint_renders_terraform_with_its_own_tests() {
    let golden = golden_terraform_blueprints();
    assert_eq!(
        golden,
        blueprint_files(),
        "every blueprint in blueprints/ must have a golden terraform/ directory"
    );
    let tested: Vec<&str> = TESTED_BLUEPRINTS.to_vec();
    assert_eq!(
        golden, tested,
        "every golden terraform/ needs its validate, apply and checkov tests (blueprint_tests! below)"
    );
}

#[test]
fn fmt_check_passes_on_every_golden_terraform_file() {
    let blueprints = golden_terraform_blueprints();
    assert!(!blueprints.is_empty(), "no golden terraform/ directory");
    for name in blueprints {
        fmt_check(&name, &golden_dir().join(&name));
    }
}

/// `terraform fmt -check` of `<base>/terraform` (it only reads; it lists unformatted files and
/// exits 3).
pub(super) fn fmt_check(name: &str, base: &Path) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let check = format!("terraform fmt -check of {name}/terraform");
    let Some(tf) = Tf::new(&check, scratch.path()) else {
        return;
    };
    let dir = base.join("terraform");
    let files: Vec<_> = ["cluster", "workloads"]
        .iter()
        .flat_map(|m| {
            std::fs::read_dir(dir.join(m))
                .expect("module dir")
                .flatten()
        })
        .filter(|e| e.path().extension().is_some_and(|x| x == "tf"))
        .collect();
    assert!(files.len() >= 8, "{name}: too few .tf files: {files:?}");
    let out = tf.run(&dir, &["fmt", "-check", "-diff", "-recursive", "-no-color"]);
    assert!(
        out.status.success(),
        "{name}: terraform fmt -check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The HCL writer on values no example has: non-ASCII and quoted keys (`terraform fmt` aligns on
/// characters), lists of lists, empty collections, nulls, numbers, escapes. `terraform fmt -check`
/// must accept its output as is, and python-hcl2 must read back the same value.
#[test]
fn hcl_expressions_are_terraform_fmt_clean_and_read_back_equal() {
    use blueprint::render::terraform::hcl;

    let value = serde_json::json!({
        "a": 1,
        "ключ": "значение",
        "日本語": true,
        "key with spaces": null,
        "nested": {"empty_list": [], "empty_map": {}, "x": -2.5},
        "lists": [[1, 2], ["a"], []],
        "objects": [{"k": "v", "longer_key": "w"}, {}],
        "text": "quote \" backslash \\ tab \t newline \n ${not} %{an} interpolation",
        "z": ["p", "q"],
    });
    let text = format!("locals {{\n  value = {}\n}}\n", hcl::expression(&value, 2));
    let scratch = tempfile::tempdir().expect("tempdir");
    std::fs::write(scratch.path().join("main.tf"), &text).expect("write main.tf");
    let Some(tf) = Tf::new("terraform fmt -check of HCL expressions", scratch.path()) else {
        return;
    };
    let out = tf.run(scratch.path(), &["fmt", "-check", "-diff", "-no-color"]);
    assert!(
        out.status.success(),
        "terraform fmt would change:\n{text}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let script = r#"
import json, sys
import hcl2
opts = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
with open(sys.argv[1]) as f:
    print(json.dumps(hcl2.load(f, serialization_options=opts)["locals"][0]["value"]))
"#;
    let main_tf = scratch.path().join("main.tf");
    let Some(parsed) = python("python-hcl2 read-back", script, &[path_str(&main_tf)]) else {
        return;
    };
    let parsed: Value = serde_json::from_str(&parsed).expect("JSON from python");
    // python-hcl2 returns escapes and `$${` as written; compare everything else exactly.
    let mut expected = value.clone();
    expected["text"] = parsed["text"].clone();
    assert_eq!(parsed, expected, "HCL read back differs:\n{text}");
    assert!(
        parsed["text"]
            .as_str()
            .is_some_and(|t| t.contains("$${not} %%{an}")),
        "interpolation escapes: {}",
        parsed["text"]
    );
}

/// What `terraform validate` does not catch: a variable that nothing uses, or a variable or output
/// without a description.
#[test]
fn every_variable_is_used_and_every_variable_and_output_described() {
    let blueprints = golden_terraform_blueprints();
    assert!(!blueprints.is_empty(), "no golden terraform/ directory");
    for name in blueprints {
        for module in ["cluster", "workloads"] {
            let dir = golden_dir().join(&name).join("terraform").join(module);
            let mut text = String::new();
            for entry in std::fs::read_dir(&dir).expect("module dir").flatten() {
                if entry.path().extension().is_some_and(|x| x == "tf") {
                    text.push_str(&std::fs::read_to_string(entry.path()).expect("read .tf"));
                    text.push('\n');
                }
            }
            let blocks: Vec<(&str, &str, &str)> = ["variable", "output"]
                .iter()
                .flat_map(|kind| {
                    let prefix = format!("{kind} \"");
                    text.match_indices(&prefix)
                        .filter(|(at, _)| *at == 0 || text[..*at].ends_with('\n'))
                        .map(|(at, _)| {
                            let rest = &text[at + prefix.len()..];
                            let var = &rest[..rest.find('"').expect("closing quote")];
                            let body = &rest[..rest.find("\n}\n").expect("end of block")];
                            (*kind, var, body)
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            assert!(
                !blocks.is_empty(),
                "{name}/{module}: no variables or outputs"
            );
            for (kind, var, body) in blocks {
                assert!(
                    body.contains("\n  description = \""),
                    "{name}/{module}: {kind} {var} has no description"
                );
                if kind == "variable" {
                    let used = text.match_indices(&format!("var.{var}")).any(|(at, m)| {
                        !text[at + m.len()..]
                            .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    });
                    assert!(used, "{name}/{module}: variable {var} is never used");
                }
            }
        }
    }
}

/// `terraform validate` of a copy of `golden/<name>/terraform/cluster`.
pub(super) fn validate_cluster(name: &str, base: &Path) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let check = format!("terraform validate of {name}/terraform/cluster");
    let Some(tf) = Tf::new(&check, scratch.path()) else {
        return;
    };
    let dir = scratch.path().join("cluster");
    copy_dir(&base.join("terraform/cluster"), &dir);
    let out = tf.run(&dir, &["validate", "-json", "-no-color"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "{name}: terraform validate printed no JSON ({err}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let diagnostics: Vec<&Value> = report["diagnostics"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter(|d| d["summary"] != DEV_OVERRIDES_WARNING)
                .collect()
        })
        .unwrap_or_default();
    assert!(
        report["valid"] == true && diagnostics.is_empty(),
        "{name}: terraform validate: {report:#}"
    );
}

/// The Python side of an existing-cluster apply: creates in moto the cluster that the golden
/// `cluster.tf` reads with `data "aws_eks_cluster"`, and the IAM OIDC provider it reads with
/// `data "aws_iam_openid_connect_provider"`, named and placed as the variable defaults say.
const CREATE_EXISTING: &str = r#"
import json, sys
import boto3, hcl2

cluster_dir, endpoint = sys.argv[1], sys.argv[2]
opts = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
def load(name):
    with open(f"{cluster_dir}/{name}") as f:
        return hcl2.load(f, serialization_options=opts)
defaults = {k: v.get("default") for block in load("variables.tf")["variable"] for k, v in block.items()}
data = {(t, n) for block in load("cluster.tf").get("data", []) for t, v in block.items() for n in v}
done = []
if ("aws_eks_cluster", "this") in data:
    kw = dict(endpoint_url=endpoint, region_name=defaults["region"],
              aws_access_key_id="testing", aws_secret_access_key="testing")
    eks, iam = boto3.client("eks", **kw), boto3.client("iam", **kw)
    account = defaults["account_id"]
    eks.create_cluster(name=defaults["cluster_name"], roleArn=f"arn:aws:iam::{account}:role/existing-cluster",
                       resourcesVpcConfig={"subnetIds": []})
    done.append("cluster " + defaults["cluster_name"])
    if ("aws_iam_openid_connect_provider", "this") in data:
        issuer = eks.describe_cluster(name=defaults["cluster_name"])["cluster"]["identity"]["oidc"]["issuer"]
        iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"],
                                           ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
        done.append("IAM OIDC provider " + issuer)
print(json.dumps(done))
"#;

/// Reads the collector role back from moto and checks it against the Kubernetes target's
/// ServiceAccount: the trust policy names exactly its namespace and name (IRSA: `StringEquals` on
/// `<issuer>:sub` and `<issuer>:aud`; Pod Identity: the session tags), the role ARN is its
/// `eks.amazonaws.com/role-arn` annotation (IRSA), and the attached policies and the tags are the
/// variables'.
const CHECK_ROLE: &str = r#"
import json, sys
import boto3, hcl2, yaml

cluster_dir, k8s_dir, endpoint = sys.argv[1], sys.argv[2], sys.argv[3]
opts = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
with open(f"{cluster_dir}/variables.tf") as f:
    defaults = {k: v.get("default") for block in hcl2.load(f, serialization_options=opts)["variable"] for k, v in block.items()}
with open(f"{k8s_dir}/serviceaccount.yaml") as f:
    sa = yaml.safe_load(f)
namespace, name = sa["metadata"]["namespace"], sa["metadata"]["name"]
annotations = sa["metadata"].get("annotations") or {}

kw = dict(endpoint_url=endpoint, region_name=defaults["region"],
          aws_access_key_id="testing", aws_secret_access_key="testing")
iam, eks = boto3.client("iam", **kw), boto3.client("eks", **kw)
role = iam.get_role(RoleName=defaults["collector_role_name"])["Role"]
trust = role["AssumeRolePolicyDocument"]
if isinstance(trust, str):
    trust = json.loads(trust)
problems = []
def expect(what, got, want):
    if got != want:
        problems.append(f"{what}: got {got!r}, want {want!r}")

statements = trust["Statement"]
expect("number of trust statements", len(statements), 1)
st = statements[0]
expect("Effect", st["Effect"], "Allow")
if "eks.amazonaws.com/role-arn" in annotations:
    issuer = eks.describe_cluster(name=defaults["cluster_name"])["cluster"]["identity"]["oidc"]["issuer"]
    issuer = issuer.removeprefix("https://")
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    provider = [p for p in providers if p.endswith("/" + issuer)]
    expect("IAM OIDC providers for the cluster's issuer", len(provider), 1)
    expect("Action", st["Action"], "sts:AssumeRoleWithWebIdentity")
    expect("Principal", st["Principal"], {"Federated": provider[0] if provider else None})
    expect("Condition", st["Condition"], {"StringEquals": {
        f"{issuer}:sub": f"system:serviceaccount:{namespace}:{name}",
        f"{issuer}:aud": "sts.amazonaws.com",
    }})
    expect("role ARN vs the ServiceAccount's annotation", role["Arn"], annotations["eks.amazonaws.com/role-arn"])
    mode = "irsa"
else:
    actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
    expect("Action", sorted(actions), ["sts:AssumeRole", "sts:TagSession"])
    expect("Principal", st["Principal"], {"Service": "pods.eks.amazonaws.com"})
    expect("Condition", st["Condition"], {"StringEquals": {
        "aws:SourceAccount": defaults["account_id"],
        "aws:RequestTag/eks-cluster-name": defaults["cluster_name"],
        "aws:RequestTag/kubernetes-namespace": namespace,
        "aws:RequestTag/kubernetes-service-account": name,
    }})
    mode = "pod_identity"
attached = sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"])
expect("attached policies", attached, sorted(defaults["collector_policy_arns"]))
# The inline policy follows the Kubernetes target's collector config: with the otlphttp exporter,
# exactly xray:PutTraceSegments (what X-Ray's OTLP endpoint is authorised as), plus the sampling
# actions when the awsxray receiver runs the sampling proxy; with awsxray, none (the managed policy).
with open(f"{k8s_dir}/opentelemetrycollector.yaml") as f:
    config = yaml.safe_load(f)["spec"]["config"]
inline = {}
for policy_name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
    doc = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=policy_name)["PolicyDocument"]
    if isinstance(doc, str):
        doc = json.loads(doc)
    inline[policy_name] = doc
if "otlphttp" in config["exporters"]:
    want = ["xray:PutTraceSegments"]
    if "proxy_server" in config["receivers"]["awsxray"]:
        want += ["xray:GetSamplingRules", "xray:GetSamplingStatisticSummaries", "xray:GetSamplingTargets"]
    expect("inline policies", sorted(inline), ["xray-otlp-export"])
    statements = inline.get("xray-otlp-export", {}).get("Statement", [])
    got = []
    for st in statements:
        expect("inline statement effect", st["Effect"], "Allow")
        expect("inline statement resource", st["Resource"], "*")
        got += st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
    expect("inline policy actions", sorted(got), sorted(want))
    expect("no managed X-Ray policy under otlp", [a for a in attached if a.endswith("/AWSXRayDaemonWriteAccess")], [])
else:
    expect("inline policies", inline, {})
# The provider's default_tags put the blueprint's tags on every taggable resource.
tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
# python-hcl2 leaves HCL's template escapes in place: `$${` and `%%{` stand for `${` and `%{`.
unescape = lambda v: v.replace("$${", "${").replace("%%{", "%{")
expect("role tags", tags, {k: unescape(v) for k, v in defaults["tags"].items()})
if problems:
    sys.exit("collector role " + role["Arn"] + ":\n  " + "\n  ".join(problems) + "\ntrust policy: " + json.dumps(trust))
print(json.dumps({"mode": mode, "role": role["Arn"], "subject": f"{namespace}/{name}"}))
"#;

/// `terraform plan` and `terraform apply` of a copy of `golden/<name>/terraform/cluster` against
/// moto, then the collector role read back.
pub(super) fn apply_cluster_against_moto(name: &str, base: &Path) {
    let check = format!("terraform plan/apply of {name}/terraform/cluster against moto");
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(tf) = Tf::new(&check, scratch.path()) else {
        return;
    };
    let dir = scratch.path().join("cluster");
    copy_dir(&base.join("terraform/cluster"), &dir);
    let account = account_id_of(&dir);
    let Some(moto) = harness::MotoServer::start_in_account(&check, &account) else {
        return;
    };
    let endpoint = moto.endpoint();
    std::fs::write(dir.join("moto_override.tf"), moto_override(&endpoint)).expect("override");

    let Some(created) = python(&check, CREATE_EXISTING, &[path_str(&dir), &endpoint]) else {
        return;
    };
    eprintln!(
        "{name}: created in moto before planning: {}",
        created.trim()
    );

    let started = Instant::now();
    // `plan -json` streams one `planned_change` message per resource; reading them there saves
    // `terraform show`, which would load the 675 MB provider once more.
    let events = tf.ok(
        &dir,
        &["plan", "-input=false", "-no-color", "-json", "-out=tfplan"],
    );
    let mut planned: Vec<(String, String)> = Vec::new();
    for line in events.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if event["type"] != "planned_change" {
            continue;
        }
        let change = &event["change"];
        let address = change["resource"]["addr"].as_str().unwrap_or_default();
        if address.starts_with("data.") {
            continue;
        }
        assert_eq!(
            change["action"], "create",
            "{name}: {address} is not a plain create"
        );
        let ty = change["resource"]["resource_type"]
            .as_str()
            .unwrap_or_default();
        planned.push((address.to_owned(), ty.to_owned()));
    }
    let (skipped, applied): (Vec<_>, Vec<_>) = planned
        .iter()
        .partition(|(_, ty)| NOT_IN_MOTO.contains(&ty.as_str()) || ty == "terraform_data");
    if planned.iter().any(|(_, ty)| ty == "terraform_data") {
        check_transaction_search_commands(name, &tf, &dir, &endpoint);
    }
    assert!(
        planned.iter().any(|(_, ty)| ty == "aws_eks_addon"),
        "{name}: the plan has no EKS add-on"
    );
    assert!(
        planned.iter().any(|(a, _)| a == "aws_iam_role.collector"),
        "{name}: the plan has no collector role"
    );
    // Exactly the add-ons the blueprint installs are planned: one the cluster has already
    // (`mode: existing`, or the Pod Identity agent on Auto Mode) is neither created nor overwritten.
    if let Some(plan) = example_plan(name) {
        let mut want: Vec<String> = [
            (
                "pod_identity_agent",
                plan.addons.pod_identity_agent.as_ref(),
            ),
            ("cert_manager", Some(&plan.addons.cert_manager)),
            ("adot", Some(&plan.addons.adot)),
        ]
        .into_iter()
        .filter(|(_, addon)| addon.is_some_and(|a| a.install))
        .map(|(key, _)| format!("aws_eks_addon.{key}"))
        .collect();
        want.sort();
        let mut got: Vec<String> = planned
            .iter()
            .filter(|(_, ty)| ty == "aws_eks_addon")
            .map(|(a, _)| a.clone())
            .collect();
        got.sort();
        assert_eq!(got, want, "{name}: planned add-ons");
        let addons = std::fs::read_to_string(dir.join("addons.tf")).expect("addons.tf");
        assert!(
            !addons.contains("\"OVERWRITE\""),
            "{name}: an add-on overwrites conflicting fields though the blueprint does not ask for it"
        );
    }

    let mut args: Vec<String> = ["apply", "-input=false", "-no-color", "-auto-approve"]
        .map(String::from)
        .to_vec();
    args.extend(applied.iter().map(|(a, _)| format!("-target={a}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tf.ok(&dir, &args);
    let elapsed = started.elapsed();

    let mut in_state: Vec<String> = tf
        .ok(&dir, &["state", "list"])
        .lines()
        .filter(|l| !l.starts_with("data."))
        .map(String::from)
        .collect();
    let mut want: Vec<String> = applied.iter().map(|(a, _)| a.clone()).collect();
    want.sort();
    in_state.sort();
    assert_eq!(
        in_state, want,
        "{name}: the state must hold exactly the planned resources that moto implements"
    );
    eprintln!(
        "{name}: planned {} resources and applied {} against moto in {:.1} s; NOT APPLIED, because moto has no API for them (planned only): {}",
        planned.len(),
        want.len(),
        elapsed.as_secs_f64(),
        skipped
            .iter()
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    if planned
        .iter()
        .any(|(a, _)| a == "aws_cloudwatch_log_resource_policy.transaction_search")
    {
        let Some(policy) = python(
            &check,
            CHECK_TRANSACTION_SEARCH_POLICY,
            &[path_str(&dir), &endpoint],
        ) else {
            return;
        };
        eprintln!(
            "{name}: Transaction Search resource policy read back from moto: {}",
            policy.trim()
        );
    }

    let k8s = base.join("kubernetes");
    let Some(role) = python(
        &check,
        CHECK_ROLE,
        &[path_str(&dir), path_str(&k8s), &endpoint],
    ) else {
        return;
    };
    eprintln!(
        "{name}: collector role read back from moto: {}",
        role.trim()
    );
}

/// Reads the Transaction Search resource policy back from moto's CloudWatch Logs and checks it
/// against what AWS documents: `xray.amazonaws.com` may `logs:PutLogEvents` into `aws/spans` and
/// `/aws/application-signals/data` of this account and region, only for X-Ray resources of this
/// account (`aws:SourceArn`, `aws:SourceAccount`).
const CHECK_TRANSACTION_SEARCH_POLICY: &str = r#"
import json, sys
import boto3, hcl2

cluster_dir, endpoint = sys.argv[1], sys.argv[2]
opts = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
with open(f"{cluster_dir}/variables.tf") as f:
    defaults = {k: v.get("default") for block in hcl2.load(f, serialization_options=opts)["variable"] for k, v in block.items()}
region, account = defaults["region"], defaults["account_id"]
logs = boto3.client("logs", endpoint_url=endpoint, region_name=region,
                    aws_access_key_id="testing", aws_secret_access_key="testing")
policies = {p["policyName"]: json.loads(p["policyDocument"]) for p in logs.describe_resource_policies()["resourcePolicies"]}
problems = []
def expect(what, got, want):
    if got != want:
        problems.append(f"{what}: got {got!r}, want {want!r}")
expect("resource policies", sorted(policies), ["TransactionSearchAccess"])
doc = policies.get("TransactionSearchAccess", {"Statement": [{}]})
expect("statements", len(doc["Statement"]), 1)
st = doc["Statement"][0]
expect("Effect", st.get("Effect"), "Allow")
expect("Principal", st.get("Principal"), {"Service": "xray.amazonaws.com"})
actions = st.get("Action")
expect("Action", actions if isinstance(actions, list) else [actions], ["logs:PutLogEvents"])
expect("Resource", sorted(st.get("Resource", [])), sorted(
    f"arn:aws:logs:{region}:{account}:log-group:{g}:*" for g in ["aws/spans", "/aws/application-signals/data"]))
expect("Condition", st.get("Condition"), {
    "ArnLike": {"aws:SourceArn": f"arn:aws:xray:{region}:{account}:*"},
    "StringEquals": {"aws:SourceAccount": account},
})
if problems:
    sys.exit("Transaction Search resource policy:\n  " + "\n  ".join(problems) + "\n" + json.dumps(doc))
print(json.dumps({"policy": "TransactionSearchAccess", "resources": st["Resource"]}))
"#;

/// The Transaction Search commands that `terraform_data.transaction_search` runs (hashicorp/aws 5.x
/// has no resource for them): the saved plan must hold exactly the commands of the blueprint's plan,
/// and the real aws CLI must accept their syntax. moto has no `UpdateTraceSegmentDestination` or
/// `UpdateIndexingRule`, so the commands are not applied; the CLI is run against moto only to check
/// that it parses and validates every parameter and sends the request (a syntax or parameter error
/// stops it before any request; moto answers the unknown actions with HTTP 404).
fn check_transaction_search_commands(name: &str, tf: &Tf, dir: &Path, endpoint: &str) {
    let shown = tf.ok(dir, &["show", "-json", "-no-color", "tfplan"]);
    let shown: Value = serde_json::from_str(&shown).expect("terraform show -json prints JSON");
    let change = shown["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["address"] == "terraform_data.transaction_search")
        .unwrap_or_else(|| panic!("{name}: no terraform_data.transaction_search in the plan"));
    assert_eq!(change["change"]["actions"], serde_json::json!(["create"]));
    let input = &change["change"]["after"]["input"];

    let text = if name == OTLP_VARIANT_NAME {
        harness::variant_blueprint(name)
    } else {
        let path = harness::project_root()
            .join("blueprints")
            .join(format!("{name}.yaml"));
        std::fs::read_to_string(&path).expect("the blueprint of a golden directory")
    };
    let source = blueprint::blueprint::load::Source {
        name: format!("{name}.yaml"),
        text,
    };
    let plan = blueprint::plan::Plan::new(
        &blueprint::blueprint::validate::validate(&source).expect("a valid example blueprint"),
    );
    let ts = plan
        .transaction_search
        .expect("the blueprint enables Transaction Search");
    assert_eq!(
        input["destination_command"], ts.destination_command,
        "{name}: the planned destination command"
    );
    assert_eq!(
        input["indexing_command"], ts.indexing_command,
        "{name}: the planned indexing command"
    );

    let check = format!("{name}: aws CLI syntax of the Transaction Search commands");
    // The aws CLI is a pinned test tool (tests/tools/requirements-awscli.txt, installed by
    // tests/run into .tools/awscli).
    let Some(aws) = harness::require_tool("aws", &check) else {
        return;
    };
    for command in [&ts.destination_command, &ts.indexing_command] {
        let line = command.replacen("aws ", &format!("'{}' ", aws.display()), 1);
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{line} --endpoint-url {endpoint}"))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("run the aws CLI");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The CLI validates every parameter before it sends anything ("Parameter validation
        // failed", or a usage error); reaching moto, which answers 404 to these unknown actions,
        // proves that the command is well-formed.
        let answer = stderr
            .lines()
            .find(|l| l.starts_with("An error occurred (404) when calling the Update"))
            .unwrap_or_else(|| {
                panic!(
                    "{name}: the aws CLI did not send `{command}` ({}):\n{stderr}",
                    out.status
                )
            });
        eprintln!(
            "{name}: NOT APPLIED, because moto has no such X-Ray API (terraform_data.transaction_search planned only); the aws CLI accepts `{command}` and sent it (moto: {})",
            answer.split(':').next().unwrap_or(answer)
        );
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// The `account_id` variable's default, which moto then plays.
fn account_id_of(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("variables.tf")).expect("variables.tf");
    let block = text
        .split("variable \"account_id\"")
        .nth(1)
        .expect("an account_id variable");
    let default = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("default"))
        .expect("a default account id");
    default
        .trim_start_matches([' ', '='])
        .trim_matches('"')
        .to_owned()
}

fn moto_override(endpoint: &str) -> String {
    let services = ["amp", "ec2", "ecr", "eks", "iam", "kms", "logs", "sts"];
    let endpoints: String = services
        .iter()
        .map(|s| format!("    {s:<4} = \"{endpoint}\"\n"))
        .collect();
    format!(
        "# Added by generator/tests/it/terraform.rs to a temporary copy: points the provider at moto.\n\
         provider \"aws\" {{\n  access_key                  = \"testing\"\n  secret_key                  = \"testing\"\n  skip_credentials_validation = true\n  skip_metadata_api_check     = true\n  skip_region_validation      = true\n  max_retries                 = 3\n\n  endpoints {{\n{endpoints}  }}\n}}\n"
    )
}

/// checkov over `golden/<name>/terraform`: no failed check, no parsing error, and every skip
/// carries its reason in the file. (`--quiet` is left out so that the skipped checks are reported.)
pub(super) fn checkov(name: &str, base: &Path) {
    let check = format!("checkov of {name}/terraform");
    let Some(checkov) = harness::require_tool("checkov", &check) else {
        return;
    };
    let dir = base.join("terraform");
    let out = Command::new(checkov)
        .args(["--framework", "terraform", "--compact", "-o", "json", "-d"])
        .arg(&dir)
        .output()
        .expect("run checkov");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "{name}: checkov printed no JSON ({err}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let reports: Vec<&Value> = match &report {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut passed = 0;
    for report in reports {
        let summary = &report["summary"];
        passed += summary["passed"].as_u64().unwrap_or(0);
        let failed = report["results"]["failed_checks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let failures: Vec<String> = failed
            .iter()
            .map(|c| {
                format!(
                    "{} {} {}:{}",
                    c["check_id"], c["resource"], c["file_path"], c["file_line_range"]
                )
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{name}: checkov failed checks:\n{}",
            failures.join("\n")
        );
        assert_eq!(summary["failed"], 0, "{name}: checkov summary {summary}");
        assert_eq!(
            summary["parsing_errors"], 0,
            "{name}: checkov summary {summary}"
        );
        for skipped in report["results"]["skipped_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let reason = skipped["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or_default();
            assert!(
                reason.len() > 20,
                "{name}: {} on {} is skipped without a reason",
                skipped["check_id"],
                skipped["resource"]
            );
        }
    }
    // A scan that parsed nothing would pass vacuously.
    assert!(passed > 0, "{name}: checkov ran no check");
    assert!(
        out.status.success(),
        "{name}: checkov exited {}",
        out.status
    );
}

/// Parses every golden `workloads/` with python-hcl2 and compares its objects with the Kubernetes
/// target's manifests of the same blueprint.
const WORKLOADS_MATCH: &str = r#"
import glob, json, os, sys
import hcl2, yaml

opts = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
def load(path):
    with open(path) as f:
        return hcl2.load(f, serialization_options=opts)

# python-hcl2 leaves HCL's template escapes in place: `$${` and `%%{` stand for `${` and `%{`.
def unescape(v):
    if isinstance(v, str):
        return v.replace("$${", "${").replace("%%{", "%{")
    if isinstance(v, list):
        return [unescape(x) for x in v]
    if isinstance(v, dict):
        return {k: unescape(x) for k, x in v.items()}
    return v

failures, summary = [], {}
for base in sys.argv[1:]:
    name = os.path.basename(base)
    tf = load(f"{base}/terraform/workloads/main.tf")
    defaults = {k: v.get("default") for b in load(f"{base}/terraform/workloads/variables.tf")["variable"] for k, v in b.items()}
    res = {(t, n): v for b in tf["resource"] for t, x in b.items() for n, v in x.items()}
    k8s = {}
    for path in sorted(glob.glob(f"{base}/kubernetes/*.yaml")):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc and doc.get("kind") != "Kustomization":
                    # The AMP scraper's RBAC objects are kept apart from the collector's.
                    prefix = "scraper/" if os.path.basename(path).startswith("scraper-") else ""
                    k8s[prefix + doc["kind"]] = doc
    def expect(what, got, want):
        if got != want:
            failures.append(f"{name}: {what}: terraform {json.dumps(got, sort_keys=True)} != kubernetes {json.dumps(want, sort_keys=True)}")
    kinds = sorted(("scraper/" if n == "scraper" else "") + ({"kubernetes_namespace_v1": "Namespace", "kubernetes_service_account_v1": "ServiceAccount", "kubernetes_cluster_role_v1": "ClusterRole", "kubernetes_cluster_role_binding_v1": "ClusterRoleBinding"}.get(t) or v["manifest"]["kind"]) for (t, n), v in res.items())
    expect("object kinds", kinds, sorted(k8s))

    ns, ns_k = res[("kubernetes_namespace_v1", "collector")]["metadata"][0], k8s["Namespace"]["metadata"]
    expect("namespace name", ns["name"], "${var.collector_namespace}")
    expect("namespace", defaults["collector_namespace"], ns_k["name"])
    expect("namespace labels", ns.get("labels"), ns_k.get("labels"))

    sa_r = res[("kubernetes_service_account_v1", "collector")]
    sa, sa_k = sa_r["metadata"][0], k8s["ServiceAccount"]
    expect("service account name", sa["name"], "${var.collector_service_account}")
    expect("service account", defaults["collector_service_account"], sa_k["metadata"]["name"])
    expect("service account namespace", sa["namespace"], "${kubernetes_namespace_v1.collector.metadata[0].name}")
    expect("service account labels", sa.get("labels"), sa_k["metadata"].get("labels"))
    expect("automount token", sa_r["automount_service_account_token"], sa_k.get("automountServiceAccountToken"))
    ann, ann_k = dict(sa.get("annotations") or {}), dict(sa_k["metadata"].get("annotations") or {})
    if "eks.amazonaws.com/role-arn" in ann_k:
        expect("role-arn annotation", ann.pop("eks.amazonaws.com/role-arn", None), "${data.aws_iam_role.collector.arn}")
        arn = ann_k.pop("eks.amazonaws.com/role-arn")
        expect("collector role (read by name)", defaults["collector_role_name"], arn.split(":role/", 1)[1])
    expect("service account annotations", ann, ann_k)

    role, role_k = res[("kubernetes_cluster_role_v1", "collector")], k8s["ClusterRole"]
    expect("cluster role name", role["metadata"][0]["name"], role_k["metadata"]["name"])
    expect("cluster role labels", role["metadata"][0].get("labels"), role_k["metadata"].get("labels"))
    expect("cluster role rules", [{"apiGroups": r["api_groups"], "resources": r["resources"], "verbs": r["verbs"]} for r in role["rule"]], role_k["rules"])
    binding, binding_k = res[("kubernetes_cluster_role_binding_v1", "collector")], k8s["ClusterRoleBinding"]
    expect("cluster role binding name", binding["metadata"][0]["name"], binding_k["metadata"]["name"])
    expect("cluster role binding role", binding["role_ref"][0]["name"], "${kubernetes_cluster_role_v1.collector.metadata[0].name}")
    expect("cluster role binding subject", binding["subject"][0]["name"], "${kubernetes_service_account_v1.collector.metadata[0].name}")
    expect("cluster role binding subject namespace", binding["subject"][0]["namespace"], "${kubernetes_namespace_v1.collector.metadata[0].name}")
    cr, cr_k = res[("kubernetes_manifest", "collector")]["manifest"], k8s["OpenTelemetryCollector"]
    expect("apiVersion", cr["apiVersion"], cr_k["apiVersion"])
    expect("name", cr["metadata"]["name"], cr_k["metadata"]["name"])
    expect("collector namespace", cr["metadata"]["namespace"], "${kubernetes_namespace_v1.collector.metadata[0].name}")
    expect("collector labels", cr["metadata"].get("labels"), cr_k["metadata"].get("labels"))
    spec = dict(cr["spec"])
    expect("spec.serviceAccount", spec.get("serviceAccount"), "${kubernetes_service_account_v1.collector.metadata[0].name}")
    spec["serviceAccount"] = defaults["collector_service_account"]
    expect("spec", unescape(spec), cr_k["spec"])
    if ("kubernetes_cluster_role_v1", "scraper") in res:
        role, role_k = res[("kubernetes_cluster_role_v1", "scraper")], k8s["scraper/ClusterRole"]
        expect("cluster role name", role["metadata"][0]["name"], role_k["metadata"]["name"])
        expect("cluster role labels", role["metadata"][0].get("labels"), role_k["metadata"].get("labels"))
        rules = [{"apiGroups": r["api_groups"], "resources": r["resources"], "verbs": r["verbs"]} if "api_groups" in r else {"nonResourceURLs": r["non_resource_urls"], "verbs": r["verbs"]} for r in role["rule"]]
        expect("cluster role rules", rules, role_k["rules"])
        binding, binding_k = res[("kubernetes_cluster_role_binding_v1", "scraper")], k8s["scraper/ClusterRoleBinding"]
        expect("binding name", binding["metadata"][0]["name"], binding_k["metadata"]["name"])
        subject = binding["subject"][0]
        expect("binding subject", {"apiGroup": subject["api_group"], "kind": subject["kind"], "name": subject["name"]}, binding_k["subjects"][0])
        expect("binding role", binding["role_ref"][0]["name"], "${kubernetes_cluster_role_v1.scraper.metadata[0].name}")
        expect("binding role (kubernetes)", binding_k["roleRef"]["name"], role_k["metadata"]["name"])
    summary[name] = {"objects": kinds, "spec_keys": len(spec), "config_receivers": sorted(spec["config"]["receivers"])}
if failures:
    sys.exit("\n".join(failures))
print(json.dumps(summary, sort_keys=True))
"#;

#[test]
fn workloads_objects_equal_the_kubernetes_target() {
    let bases: Vec<PathBuf> = golden_terraform_blueprints()
        .iter()
        .map(|name| golden_dir().join(name))
        .collect();
    assert!(!bases.is_empty(), "no golden terraform/ directory");
    workloads_match(&bases);
}

/// Compares `<base>/terraform/workloads` with `<base>/kubernetes` for every base (`WORKLOADS_MATCH`).
pub(super) fn workloads_match(bases: &[PathBuf]) {
    let check = "python-hcl2 comparison of terraform/workloads with kubernetes/";
    let args: Vec<&str> = bases.iter().map(|b| path_str(b)).collect();
    let Some(summary) = python(check, WORKLOADS_MATCH, &args) else {
        return;
    };
    eprintln!(
        "workloads/ equals kubernetes/ (terraform validate of workloads/ cannot run offline: no hashicorp/kubernetes provider in the mirror): {}",
        summary.trim()
    );
}

/// `tests/variant-blueprints/variant-created-metrics.yaml`: metrics on a cluster the blueprint
/// creates (the scraper in the created VPC's subnets with the cluster security group, after the
/// node groups), a workspace encrypted with a given KMS key, add-ons that overwrite on create and
/// keep their software on delete.
#[test]
fn variant_created_cluster_with_metrics() {
    use blueprint::blueprint::load::Source;
    use blueprint::blueprint::validate::validate;
    use blueprint::plan::Plan;
    use blueprint::render::{self, Target};

    let name = "variant-created-metrics";
    let source = Source {
        name: format!("{name}.yaml"),
        text: harness::variant_blueprint(name),
    };
    let bp = validate(&source).unwrap_or_else(|diags| {
        let text: String = diags.iter().map(|d| d.render(&source.text)).collect();
        panic!("the metrics variant blueprint is invalid:\n{text}")
    });
    let plan = Plan::new(&bp);
    let files = render::render(&plan, &[Target::Terraform, Target::Kubernetes]).expect("renders");
    let scratch = tempfile::tempdir().expect("tempdir");
    let base = scratch.path().join(name);
    for (path, text) in &files {
        let dest = base.join(path);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::write(dest, text).expect("write");
    }
    let metrics = std::fs::read_to_string(base.join("terraform/cluster/metrics.tf")).expect("tf");
    assert!(metrics.contains("aws_eks_cluster.this.vpc_config[0].cluster_security_group_id"));
    assert!(metrics.contains("kms_key_arn = \"arn:aws:kms:eu-west-1:333344445555:key/"));
    assert!(
        !metrics.contains("aws_kms_key"),
        "a given key is not created again"
    );
    let addons = std::fs::read_to_string(base.join("terraform/cluster/addons.tf")).expect("tf");
    assert!(addons.contains("resolve_conflicts_on_create = \"OVERWRITE\""));
    assert!(addons.contains("resolve_conflicts_on_update = \"NONE\""));
    assert!(addons.contains("preserve                    = true"));

    fmt_check(name, &base);
    validate_cluster(name, &base);
    checkov(name, &base);
    workloads_match(std::slice::from_ref(&base));
}

/// `tests/variant-blueprints/variant-existing-subnets.yaml` takes the branches no example takes: a
/// created cluster in existing subnets, Pod Identity on a created cluster, a permissions boundary,
/// all five log types, two node groups (spot, arm64), node selector and tolerations, and an
/// indexed attribute that HCL would otherwise read as interpolations (AWS tags cannot hold `$`, so
/// the attribute carries it to the workloads module).
#[test]
fn variant_created_cluster_in_existing_subnets_with_pod_identity() {
    use blueprint::blueprint::load::Source;
    use blueprint::blueprint::validate::validate;
    use blueprint::plan::Plan;
    use blueprint::render::{self, Target};

    let name = "variant-existing-subnets";
    let source = Source {
        name: format!("{name}.yaml"),
        text: harness::variant_blueprint(name),
    };
    let bp = validate(&source).unwrap_or_else(|diags| {
        let text: String = diags.iter().map(|d| d.render(&source.text)).collect();
        panic!("the variant blueprint is invalid:\n{text}")
    });
    let plan = Plan::new(&bp);
    let files = render::render(&plan, &[Target::Terraform, Target::Kubernetes]).expect("renders");
    let scratch = tempfile::tempdir().expect("tempdir");
    let base = scratch.path().join(name);
    for (path, text) in &files {
        let dest = base.join(path);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::write(dest, text).expect("write");
    }
    let cluster =
        std::fs::read_to_string(base.join("terraform/cluster/cluster.tf")).expect("cluster.tf");
    assert!(cluster.contains("subnet_ids              = var.subnet_ids"));
    assert!(!base.join("terraform/cluster/network.tf").exists());
    let workloads =
        std::fs::read_to_string(base.join("terraform/workloads/main.tf")).expect("main.tf");
    assert!(
        workloads.contains(r#""team $${x} %%{y} \"quoted\"""#),
        "attribute escaping"
    );

    fmt_check(name, &base);
    validate_cluster(name, &base);
    checkov(name, &base);
    workloads_match(std::slice::from_ref(&base));
    apply_cluster_against_moto(name, &base);
}

/// The variant blueprint (`tests/variant-blueprints/<name>.yaml`) with the `otlp` exporter.
const OTLP_VARIANT_NAME: &str = "variant-otlp-pod-identity";

/// `tests/variant-blueprints/variant-otlp-pod-identity.yaml`: the `otlp` exporter with the sampling
/// proxy, EKS Pod Identity on an existing cluster, and Transaction Search at 10 %: the inline
/// policy with the sampling actions, the resource policy applied to moto, and the CLI commands
/// checked.
#[test]
fn variant_otlp_exporter_with_transaction_search_and_pod_identity() {
    use blueprint::blueprint::load::Source;
    use blueprint::blueprint::validate::validate;
    use blueprint::plan::Plan;
    use blueprint::render::{self, Target};

    let name = OTLP_VARIANT_NAME;
    let source = Source {
        name: format!("{name}.yaml"),
        text: harness::variant_blueprint(name),
    };
    let bp = validate(&source).unwrap_or_else(|diags| {
        let text: String = diags.iter().map(|d| d.render(&source.text)).collect();
        panic!("the otlp variant blueprint is invalid:\n{text}")
    });
    let plan = Plan::new(&bp);
    let files = render::render(&plan, &[Target::Terraform, Target::Kubernetes]).expect("renders");
    let scratch = tempfile::tempdir().expect("tempdir");
    let base = scratch.path().join(name);
    for (path, text) in &files {
        let dest = base.join(path);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::write(dest, text).expect("write");
    }
    assert!(
        base.join("terraform/cluster/transaction_search.tf")
            .is_file()
    );

    fmt_check(name, &base);
    validate_cluster(name, &base);
    checkov(name, &base);
    workloads_match(std::slice::from_ref(&base));
    apply_cluster_against_moto(name, &base);
}

/// Per-blueprint tests, one module each, so that nextest runs the blueprints in parallel.
macro_rules! blueprint_tests {
    ($($module:ident => $name:literal),* $(,)?) => {
        const TESTED_BLUEPRINTS: &[&str] = &[$($name),*];
        $(
            mod $module {
                #[test]
                fn validate() {
                    super::validate_cluster($name, &super::golden_dir().join($name));
                }

                #[test]
                fn plan_and_apply_against_moto() {
                    super::apply_cluster_against_moto($name, &super::golden_dir().join($name));
                }

                #[test]
                fn checkov() {
                    super::checkov($name, &super::golden_dir().join($name));
                }
            }
        )*
    };
}

blueprint_tests! {
    daemonset_otlp_proxy => "daemonset-otlp-proxy",
    existing_cluster_adoption => "existing-cluster-adoption",
    guide_existing_cluster => "guide-existing-cluster",
    guide_traces_and_metrics => "guide-traces-and-metrics",
    new_cluster_vpc => "new-cluster-vpc",
    pod_identity => "pod-identity",
    xray_sdk_migration => "xray-sdk-migration",
}
