//! The metrics path (`spec.metrics`) checked by Prometheus itself and against the collector.
//!
//! * The scrape configuration the AMP managed scraper gets is parsed by `promtool check config`
//!   (Debian's `prometheus` package; `--syntax-only`, because the token file it names exists only
//!   inside the scraper; Debian's build lacks Kubernetes discovery, so each job's
//!   `kubernetes_sd_configs` is swapped for a static target first), and kept within the managed
//!   scraper's documented limits.
//! * The alert rules pass `promtool check rules`.
//! * Every metric the rules name is one the collector registers: the registry prefix and the
//!   counter names in `collector/src/telemetry/mod.rs`, with the `_total` suffix counters get on
//!   `/metrics` (the collector's own telemetry test scrapes a live registry and asserts that form,
//!   for example `xray_collector_receiver_refused_items_total`).
//! * The three targets carry the same scrape configuration and rules.

use std::path::PathBuf;
use std::process::Command;

use blueprint::blueprint::load::Source;
use blueprint::blueprint::validate::validate;
use blueprint::plan::Plan;
use blueprint::plan::metrics::{
    ALERTED_METRICS, alert_expressions, collector_alert_rules, scrape_configuration,
};

fn root() -> PathBuf {
    harness::project_root()
}

fn metrics_plan() -> Plan {
    let name = "guide-traces-and-metrics";
    let path = root().join(format!("blueprints/{name}.yaml"));
    let text = std::fs::read_to_string(&path).expect("example");
    let source = Source {
        name: format!("{name}.yaml"),
        text,
    };
    Plan::new(&validate(&source).expect("the metrics example is valid"))
}

fn promtool(args: &[&str], file: &str, text: &str) {
    let Some(promtool) = harness::require_tool("promtool", "promtool check of the scraper config")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(file);
    std::fs::write(&path, text).expect("write");
    let out = Command::new(promtool)
        .args(args)
        .arg(&path)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {} failed:\n{}\n{}\n{text}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_parses_the_scrape_configuration() {
    let plan = metrics_plan();
    let metrics = plan.metrics.expect("metrics");
    // Debian builds Prometheus without Kubernetes service discovery (its client libraries are not
    // packaged), so its promtool refuses `kubernetes_sd_configs` as an unknown field. promtool
    // parses everything else (global, schemes, authorisation, every relabel rule and its regex):
    // the same configuration with each job's discovery swapped for one static target. The
    // discovery blocks themselves are checked above the swap: role and namespaces only.
    let mut config = scrape_configuration(
        &plan.cluster.name,
        30,
        &plan.collector.namespace,
        &plan.collector.name,
    );
    assert_eq!(
        blueprint::yaml::to_yaml(&config),
        metrics.scrape_configuration,
        "the plan's scrape configuration is scrape_configuration()"
    );
    for job in config["scrape_configs"].as_array_mut().expect("jobs") {
        let job = job.as_object_mut().expect("job");
        let sd = job
            .remove("kubernetes_sd_configs")
            .expect("kubernetes_sd_configs");
        for entry in sd.as_array().expect("list") {
            let entry = entry.as_object().expect("entry");
            assert!(["pod", "node"].contains(&entry["role"].as_str().unwrap_or("")));
            assert!(
                entry.keys().all(|k| k == "role" || k == "namespaces"),
                "{entry:?}"
            );
        }
        job.insert(
            "static_configs".to_owned(),
            serde_json::json!([{"targets": ["192.0.2.1:8888"]}]),
        );
    }
    promtool(
        &["check", "config", "--syntax-only"],
        "scrape.yaml",
        &serde_json::to_string_pretty(&config).expect("json"),
    );
    // The managed scraper's limits: an interval of 30 s or more, only kubernetes_sd_configs, the
    // API server as the only host name, bearer auth only from the service-account token.
    let config = &metrics.scrape_configuration;
    assert!(config.contains("scrape_interval: \"30s\""), "{config}");
    for forbidden in [
        "static_configs",
        "_sd_configs:\n      - files",
        "basic_auth",
        "tls_config",
    ] {
        assert!(!config.contains(forbidden), "{forbidden} in\n{config}");
    }
    for line in config.lines().filter(|l| l.contains("_sd_configs")) {
        assert!(
            line.trim_start().starts_with("kubernetes_sd_configs"),
            "{line}"
        );
    }
    for line in config.lines().filter(|l| l.contains("credentials_file")) {
        assert!(
            line.ends_with("/var/run/secrets/kubernetes.io/serviceaccount/token"),
            "{line}"
        );
    }
    for line in config
        .lines()
        .filter(|l| l.contains("replacement:") && l.contains(":443"))
    {
        assert!(line.contains("kubernetes.default.svc:443"), "{line}");
    }
    for job in [
        "kubernetes-pods",
        "kubernetes-cadvisor",
        "kubernetes-kubelet",
        "xray-collector",
    ] {
        assert!(metrics.scrape_jobs.iter().any(|j| j == job), "no job {job}");
    }
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let plan = metrics_plan();
    let metrics = plan.metrics.expect("metrics");
    promtool(&["check", "rules"], "rules.yaml", &metrics.rules);
}

#[test]
fn the_rules_name_counters_the_collector_exports() {
    let telemetry = std::fs::read_to_string(root().join("collector/src/telemetry/mod.rs"))
        .expect("collector telemetry source");
    assert!(
        telemetry.contains("Registry::with_prefix(\"xray_collector\")"),
        "the collector's metric prefix changed"
    );
    for metric in ALERTED_METRICS {
        let name = metric
            .strip_prefix("xray_collector_")
            .and_then(|m| m.strip_suffix("_total"))
            .unwrap_or_else(|| panic!("{metric} is not prefixed and suffixed as on /metrics"));
        assert!(
            telemetry.contains(&format!("\"{name}\"")),
            "the collector registers no counter `{name}` (for {metric})"
        );
    }
    let exprs = alert_expressions(&collector_alert_rules("ns", "xray", 5));
    for metric in ALERTED_METRICS {
        assert!(
            exprs.values().any(|e| e.contains(metric)),
            "no alert on {metric}"
        );
    }
}

#[test]
fn every_target_carries_the_same_scraper_configuration_and_rules() {
    let plan = metrics_plan();
    let metrics = plan.metrics.as_ref().expect("metrics");
    let golden = root().join("golden/guide-traces-and-metrics");
    let tf = std::fs::read_to_string(golden.join("terraform/cluster/metrics.tf")).expect("tf");
    assert!(tf.contains(&metrics.scrape_configuration));
    assert!(tf.contains(&metrics.rules));
    let cdk = std::fs::read_to_string(golden.join("cdk/XrayGuideTracesAndMetrics.template.json"))
        .expect("cdk");
    let template: serde_json::Value = serde_json::from_str(&cdk).expect("json");
    let resources = &template["Resources"];
    assert_eq!(
        resources["MetricsScraper"]["Properties"]["ScrapeConfiguration"]["ConfigurationBlob"]["Fn::Base64"],
        serde_json::json!(metrics.scrape_configuration)
    );
    assert_eq!(
        resources["CollectorAlertRules"]["Properties"]["Data"],
        serde_json::json!(metrics.rules)
    );
    for file in [
        "scraper-clusterrole.yaml",
        "scraper-clusterrolebinding.yaml",
    ] {
        let text = std::fs::read_to_string(golden.join("kubernetes").join(file)).expect(file);
        assert!(text.contains("aps-collector"), "{file}");
    }
}
