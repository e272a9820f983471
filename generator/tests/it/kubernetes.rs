//! Checks of the golden Kubernetes manifests (`golden/<blueprint>/kubernetes/`) with real tools and
//! against the blueprint they came from.
//!
//! * `shared/validators/validate_manifests.py --strict` validates every object for the blueprint's
//!   Kubernetes version (kubernetes-validate for built-in kinds) and the `OpenTelemetryCollector`
//!   against the operator's CRD schema; one call per blueprint.
//! * checkov (offline) reports zero failed checks over all golden manifests, in one call; a skip is
//!   allowed only in-file (`checkov.io/skipN` annotations) and must carry a reason.
//! * `kubectl kustomize` builds every `kustomization.yaml` (when kubectl is installed).
//! * The manifests themselves: names agree with the plan everywhere (namespace, ServiceAccount, IRSA
//!   role ARN), X-Ray is exposed as 2000/UDP, receivers bind 0.0.0.0, the security context is
//!   restricted, the batch never exceeds the PutTraceSegments limit.
//!   checkov has no policies for the `OpenTelemetryCollector` kind, so the collector pod's security
//!   context is asserted here directly.
//!
//! The golden files are kept equal to the renderer's output by the golden test.

use std::path::{Path, PathBuf};
use std::process::Command;

use blueprint::blueprint::load::{Source, load};
use blueprint::blueprint::validate::validate;
use blueprint::plan::Plan;
use serde_json::Value;

struct Case {
    name: String,
    dir: PathBuf,
    plan: Plan,
}

fn cases() -> Vec<Case> {
    let root = harness::project_root();
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(root.join("blueprints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let bp = validate(&Source {
            name: path.display().to_string(),
            text: std::fs::read_to_string(&path).unwrap(),
        })
        .expect("example blueprints are valid");
        out.push(Case {
            dir: root.join("golden").join(&name).join("kubernetes"),
            name,
            plan: Plan::new(&bp),
        });
    }
    assert!(out.len() >= 4);
    out
}

/// The object manifests of a case (every `.yaml` except `kustomization.yaml`), sorted.
fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && p.file_name().is_some_and(|n| n != "kustomization.yaml")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no manifests", dir.display());
    files
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    load(&Source {
        name: path.display().to_string(),
        text,
    })
    .unwrap_or_else(|err| panic!("{}: not YAML: {err:?}", path.display()))
    .value
}

#[test]
fn manifests_pass_kubernetes_validate_and_the_crd_schema() {
    let check = "validate_manifests.py --strict on golden Kubernetes manifests";
    let Some(python) = harness::python(check) else {
        return;
    };
    let script = harness::shared_dir().join("validators/validate_manifests.py");
    for case in cases() {
        let files = manifests(&case.dir);
        let out = Command::new(&python)
            .arg(&script)
            .arg("--strict")
            .arg("-k")
            .arg(&case.plan.cluster.kubernetes_version)
            .arg("--crd-dir")
            .arg(harness::crd_dir())
            .args(&files)
            .output()
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{}: validator failed:\n{stdout}\n{stderr}",
            case.name
        );
        // Every document was checked, the custom resource against the CRD.
        assert_eq!(stdout.matches("OK ").count(), files.len(), "{stdout}");
        assert!(
            stdout.contains("OpenTelemetryCollector/") && stdout.contains("against CRD"),
            "{stdout}"
        );
    }
}

#[test]
fn checkov_finds_no_failed_check() {
    let Some(checkov) = harness::require_tool("checkov", "checkov on golden Kubernetes manifests")
    else {
        return;
    };
    let mut cmd = Command::new(checkov);
    cmd.args([
        "--framework",
        "kubernetes",
        "--compact",
        "--quiet",
        "-o",
        "json",
    ]);
    let mut n_files = 0;
    for case in cases() {
        for file in manifests(&case.dir) {
            cmd.arg("-f").arg(file);
            n_files += 1;
        }
    }
    let out = cmd.output().expect("checkov runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "checkov failed ({n_files} files):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!("checkov output is not JSON ({err}):\n{stdout}");
    });
    let summary = report.get("summary").unwrap_or(&report);
    assert_eq!(summary["failed"], 0, "{stdout}");
    assert_eq!(summary["parsing_errors"], 0, "{stdout}");
    // The namespaces and service accounts were really scanned.
    assert!(summary["passed"].as_u64().unwrap_or(0) > 0, "{stdout}");
    // Any skip must be an in-file annotation with a reason.
    for case in cases() {
        for file in manifests(&case.dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            for line in text.lines().filter(|l| l.contains("checkov.io/skip")) {
                let reason = line.split_once('=').map(|(_, r)| r.trim()).unwrap_or("");
                assert!(
                    reason.len() > 3,
                    "{}: skip without a reason: {line}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn kustomize_builds_every_kustomization() {
    let Some(kubectl) = harness::find_tool("kubectl") else {
        harness::record_skip(
            "kubectl kustomize on golden Kubernetes manifests",
            "kubectl",
        );
        return;
    };
    for case in cases() {
        let out = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&case.dir)
            .output()
            .expect("kubectl runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: kubectl kustomize failed: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
        for kind in [
            "kind: Namespace",
            "kind: ServiceAccount",
            "kind: OpenTelemetryCollector",
        ] {
            assert!(
                stdout.contains(kind),
                "{}: {kind} missing from the build",
                case.name
            );
        }
    }
}

#[test]
fn names_agree_everywhere_and_xray_is_udp() {
    for case in cases() {
        let plan = &case.plan;
        let ns = read_yaml(&case.dir.join("namespace.yaml"));
        let sa = read_yaml(&case.dir.join("serviceaccount.yaml"));
        let cr = read_yaml(&case.dir.join("opentelemetrycollector.yaml"));
        let spec = &cr["spec"];

        // One namespace and one ServiceAccount name, in every object and in the IAM trust subject.
        let namespace = ns["metadata"]["name"].as_str().unwrap();
        let service_account = sa["metadata"]["name"].as_str().unwrap();
        assert_eq!(sa["metadata"]["namespace"], namespace, "{}", case.name);
        assert_eq!(cr["metadata"]["namespace"], namespace, "{}", case.name);
        assert_eq!(spec["serviceAccount"], service_account, "{}", case.name);
        assert_eq!(
            plan.identity.service_account_subject,
            format!("system:serviceaccount:{namespace}:{service_account}"),
            "{}",
            case.name
        );
        let annotation = &sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"];
        if plan.identity.irsa {
            assert_eq!(annotation, &Value::String(plan.identity.role_arn.clone()));
        } else {
            assert!(
                annotation.is_null(),
                "{}: role annotation under Pod Identity",
                case.name
            );
        }
        // The token is mounted for k8sattributes and the eks detector, and the ClusterRole grants
        // exactly what they read: get/list/watch on pods, namespaces and ReplicaSets.
        assert_eq!(sa["automountServiceAccountToken"], true);
        let role = read_yaml(&case.dir.join("clusterrole.yaml"));
        let binding = read_yaml(&case.dir.join("clusterrolebinding.yaml"));
        assert_eq!(
            role["rules"],
            serde_json::json!([
                {"apiGroups": [""], "resources": ["namespaces", "pods"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
            ]),
            "{}",
            case.name
        );
        assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
        assert_eq!(
            binding["subjects"],
            serde_json::json!([{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]),
            "{}",
            case.name
        );
        let env = spec["env"].as_array().unwrap();
        assert!(
            env.iter().any(
                |e| e["name"] == "K8S_CLUSTER_NAME" && e["value"] == plan.cluster.name.as_str()
            ),
            "{}: the cluster name reaches the pod as K8S_CLUSTER_NAME",
            case.name
        );
        let processors = &spec["config"]["service"]["pipelines"]["traces"]["processors"];
        assert_eq!(processors[0], "memory_limiter", "{}", case.name);

        // The image is ours, as planned.
        assert_eq!(spec["image"], Value::String(plan.collector.image.clone()));

        // X-Ray segments arrive on UDP; the CRD's default protocol would be TCP.
        let ports = spec["ports"].as_array().unwrap();
        let xray = ports
            .iter()
            .find(|p| p["name"] == "xray")
            .expect("xray port");
        assert_eq!(xray["protocol"], "UDP");
        assert_eq!(xray["port"], 2000);
        let proxy = ports.iter().find(|p| p["name"] == "xray-proxy");
        assert_eq!(
            proxy.is_some(),
            plan.ports.xray_proxy_tcp.is_some(),
            "{}",
            case.name
        );
        if let Some(proxy) = proxy {
            assert_eq!(proxy["protocol"], "TCP");
        }

        // Receivers bind every interface, and the pipeline is wired.
        let config = &spec["config"];
        assert_eq!(config["receivers"]["awsxray"]["endpoint"], "0.0.0.0:2000");
        assert_eq!(config["receivers"]["awsxray"]["transport"], "udp");
        for proto in ["grpc", "http"] {
            if let Some(ep) = config["receivers"]["otlp"]["protocols"][proto]["endpoint"].as_str() {
                assert!(
                    ep.starts_with("0.0.0.0:"),
                    "{}: {proto} binds {ep}",
                    case.name
                );
            }
        }
        assert_eq!(
            config["service"]["pipelines"]["traces"]["exporters"],
            serde_json::json!([plan.collector.exporter_component]),
            "{}",
            case.name
        );
        assert_eq!(config["service"]["extensions"][0], "health_check");
        if plan.collector.otlp_export {
            // X-Ray's OTLP endpoint: OTLP/HTTP, SigV4-signed for service xray in the exporter's
            // region, gzip, and no awsxray exporter left behind.
            let region = &plan.collector.exporter_region;
            let exporter = &config["exporters"]["otlphttp"];
            assert_eq!(
                exporter["traces_endpoint"],
                format!("https://xray.{region}.amazonaws.com/v1/traces"),
                "{}",
                case.name
            );
            assert_eq!(exporter["auth"]["authenticator"], "sigv4auth");
            assert_eq!(exporter["compression"], "gzip");
            assert_eq!(
                config["extensions"]["sigv4auth"],
                serde_json::json!({"region": region, "service": "xray"}),
                "{}",
                case.name
            );
            assert_eq!(
                config["service"]["extensions"],
                serde_json::json!(["health_check", "sigv4auth"])
            );
            assert_eq!(config["exporters"].as_object().unwrap().len(), 1);
        } else {
            assert!(config["extensions"]["sigv4auth"].is_null(), "{}", case.name);
        }
        assert!(
            config["processors"]["batch"]["send_batch_max_size"]
                .as_u64()
                .unwrap()
                <= 50
        );
        assert_eq!(
            config, &plan.collector.config,
            "{}: config differs from the plan",
            case.name
        );

        // Restricted security context.
        let sc = &spec["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"][0], "ALL");
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(
            spec["podSecurityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );

        // Every object carries the app.kubernetes.io labels.
        for obj in [&ns, &sa, &cr] {
            for key in [
                "name",
                "instance",
                "managed-by",
                "part-of",
                "version",
                "component",
            ] {
                let label = format!("app.kubernetes.io/{key}");
                assert!(
                    obj["metadata"]["labels"][&label].is_string(),
                    "{}: no {label}",
                    case.name
                );
            }
        }

        // The README gives the exact address applications use.
        let readme = std::fs::read_to_string(case.dir.join("README.md")).unwrap();
        let address = format!(
            "AWS_XRAY_DAEMON_ADDRESS={}-collector.{namespace}:2000",
            cr["metadata"]["name"].as_str().unwrap()
        );
        assert!(
            readme.contains(&address),
            "{}: README lacks {address}",
            case.name
        );
        // The OTLP endpoint needs Transaction Search, which manifests cannot switch on: the README
        // says so whenever the exporter is otlp.
        assert_eq!(
            readme.contains("requires CloudWatch Transaction Search"),
            plan.collector.otlp_export,
            "{}: README and the Transaction Search requirement",
            case.name
        );
    }
}
