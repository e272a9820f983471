//! Every collector config the generator renders (the `spec.config` of each golden
//! OpenTelemetryCollector) passes `xray-collector validate`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use xray_collector::config::yaml;

#[test]
fn every_golden_collector_config_validates() {
    let root = harness::project_root();
    let blueprints = std::fs::read_dir(root.join("blueprints"))
        .map(|it| {
            it.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
                .count()
        })
        .unwrap_or(0);
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(root.join("golden"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|blueprint| blueprint.path().join("kubernetes"))
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    manifests.sort();

    let dir = tempfile::tempdir().unwrap();
    let mut validated = Vec::new();
    let mut failures = Vec::new();
    for path in &manifests {
        let text = std::fs::read_to_string(path).unwrap();
        let docs = yaml::parse_documents(&text)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message));
        for doc in docs
            .iter()
            .filter(|d| d["kind"] == "OpenTelemetryCollector")
        {
            let config = match &doc["spec"]["config"] {
                Value::String(s) => s.clone(),
                Value::Null => panic!(
                    "{}: OpenTelemetryCollector without spec.config",
                    path.display()
                ),
                // JSON is YAML: the object form is written as it is.
                other => other.to_string(),
            };
            let name = doc["metadata"]["name"].as_str().unwrap_or("collector");
            let file = dir.path().join(format!("{}-{name}.yaml", validated.len()));
            std::fs::write(&file, config).unwrap();
            let out = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
                .args(["validate", &format!("--config={}", file.display())])
                .output()
                .unwrap();
            if !out.status.success() {
                failures.push(format!(
                    "{} ({name}):\n{}",
                    path.strip_prefix(&root).unwrap_or(path).display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            validated.push(path.clone());
        }
    }
    assert!(
        failures.is_empty(),
        "golden collector configs that do not validate:\n{}",
        failures.join("\n")
    );
    // One OpenTelemetryCollector per blueprint: none may be missed.
    assert_eq!(
        validated.len(),
        blueprints,
        "expected one OpenTelemetryCollector per blueprint in golden/*/kubernetes, found {validated:?}"
    );
}
