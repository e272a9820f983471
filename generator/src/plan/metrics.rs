//! Metrics to Amazon Managed Service for Prometheus (AMP) through its managed scraper, and the
//! collector's self-monitoring alerts.
//!
//! Everything the three targets show comes from here: the workspace (created with a KMS key, or
//! existing), the scraper's scrape configuration (a Prometheus configuration limited to what the
//! managed scraper accepts: `global`, `scrape_configs` with `kubernetes_sd_configs`, relabelling,
//! a scrape interval of at least 30 s, the API server as the only host name, bearer authorisation
//! only from the service-account token file), the Kubernetes RBAC the scraper's user
//! `aps-collector-user` needs, and the alert rule file.
//!
//! The alert rules ([`collector_alert_rules`]) are also the collector's self-monitoring alerts for
//! any Prometheus that scrapes it: they need only the collector's `/metrics` (the counters of
//! `collector/src/telemetry/mod.rs`, prefixed `xray_collector_` and, being counters, suffixed
//! `_total` on `/metrics`), not AMP.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::blueprint::model::{Blueprint, Metrics, MetricsWorkspace};
use crate::blueprint::rules::METRICS_PORT;
use crate::plan::aws::AwsPlan;

/// The Kubernetes user the managed scraper acts as (AMP's access entry and its documented
/// `aws-auth` mapping both name it).
pub const SCRAPER_USER: &str = "aps-collector-user";

/// The ClusterRole that lets the scraper discover and scrape targets.
pub const SCRAPER_CLUSTER_ROLE: &str = "aps-collector-role";

/// The ClusterRoleBinding of [`SCRAPER_CLUSTER_ROLE`] to [`SCRAPER_USER`].
pub const SCRAPER_CLUSTER_ROLE_BINDING: &str = "aps-collector-user-role-binding";

/// The collector's counters the alerts watch, as `/metrics` spells them.
pub const ALERTED_METRICS: [&str; 3] = [
    "xray_collector_exporter_dropped_items_total",
    "xray_collector_exporter_failed_items_total",
    "xray_collector_receiver_refused_items_total",
];

/// The metrics path: AMP, the managed scraper and the alert rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsPlan {
    /// Whether the blueprint creates the workspace.
    pub create_workspace: bool,
    /// The alias of a created workspace.
    pub workspace_alias: String,
    /// The KMS key that encrypts a created workspace; `None`: the blueprint creates one.
    pub kms_key_arn: Option<String>,
    /// The ARN of an existing workspace.
    pub existing_workspace_arn: Option<String>,
    /// The id (`ws-...`) of an existing workspace.
    pub existing_workspace_id: Option<String>,
    /// The scraper's alias.
    pub scraper_alias: String,
    /// The scraper's subnets; `None`: the cluster's.
    pub subnet_ids: Option<Vec<String>>,
    /// The scraper's security groups; `None`: the cluster security group.
    pub security_group_ids: Option<Vec<String>>,
    /// The scrape configuration, YAML (Terraform passes it as is, CloudFormation base64-encodes it).
    pub scrape_configuration: String,
    /// The scrape configuration as a value (for tests and the README).
    pub scrape_jobs: Vec<String>,
    /// The rule groups namespace's name in the workspace.
    pub rule_namespace: String,
    /// The alert rule file, YAML.
    pub rules: String,
    /// The alert names, for the README.
    pub alert_names: Vec<String>,
    /// The ClusterRole's rules (Kubernetes `rules`).
    pub cluster_role_rules: Value,
    /// The Kubernetes user, ClusterRole and ClusterRoleBinding names.
    pub scraper_user: String,
    /// The ClusterRole name.
    pub cluster_role: String,
    /// The ClusterRoleBinding name.
    pub cluster_role_binding: String,
}

impl MetricsPlan {
    /// The metrics path of a blueprint with `spec.metrics`.
    pub fn new(
        blueprint: &Blueprint,
        metrics: &Metrics,
        _aws: &AwsPlan,
        cluster_name: &str,
    ) -> MetricsPlan {
        let collector = &blueprint.spec.collector;
        let (create_workspace, workspace_alias, kms_key_arn, existing_arn) = match &metrics
            .workspace
        {
            MetricsWorkspace::Create(new) => (
                true,
                new.alias
                    .clone()
                    .unwrap_or_else(|| format!("{cluster_name}-xray")),
                new.kms_key_arn.clone(),
                None,
            ),
            MetricsWorkspace::Existing(ws) => (false, String::new(), None, Some(ws.arn.clone())),
        };
        let existing_workspace_id = existing_arn
            .as_ref()
            .and_then(|arn| arn.rsplit('/').next().map(str::to_owned));
        let config = scrape_configuration(
            cluster_name,
            metrics.scrape_interval_secs,
            &collector.namespace,
            &collector.name,
        );
        let scrape_jobs = config["scrape_configs"]
            .as_array()
            .map(|jobs| {
                jobs.iter()
                    .filter_map(|j| j["job_name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let rules = collector_alert_rules(
            &collector.namespace,
            &collector.name,
            metrics.alert_for_mins,
        );
        let alert_names = rules["groups"][0]["rules"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|rule| rule["alert"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        MetricsPlan {
            create_workspace,
            workspace_alias,
            kms_key_arn,
            existing_workspace_arn: existing_arn,
            existing_workspace_id,
            scraper_alias: format!("{cluster_name}-xray"),
            subnet_ids: metrics.subnet_ids.clone(),
            security_group_ids: metrics.security_group_ids.clone(),
            scrape_configuration: crate::yaml::to_yaml(&config),
            scrape_jobs,
            rule_namespace: format!("{}-{}", collector.namespace, collector.name),
            rules: crate::yaml::to_yaml(&rules),
            alert_names,
            cluster_role_rules: cluster_role_rules(),
            scraper_user: SCRAPER_USER.to_owned(),
            cluster_role: SCRAPER_CLUSTER_ROLE.to_owned(),
            cluster_role_binding: SCRAPER_CLUSTER_ROLE_BINDING.to_owned(),
        }
    }
}

/// The token file the managed scraper authenticates to the API server with (the only credentials
/// file it accepts).
const TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// A job that scrapes every node through the API server's node proxy at `path` (cAdvisor or the
/// kubelet): the managed scraper reaches nodes only this way, as `kubernetes.default.svc`.
fn node_proxy_job(name: &str, path: &str) -> Value {
    json!({
        "job_name": name,
        "scheme": "https",
        "authorization": {"type": "Bearer", "credentials_file": TOKEN_FILE},
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [
            {"action": "labelmap", "regex": "__meta_kubernetes_node_label_(.+)"},
            {"target_label": "__address__", "replacement": "kubernetes.default.svc:443"},
            {
                "source_labels": ["__meta_kubernetes_node_name"],
                "regex": "(.+)",
                "target_label": "__metrics_path__",
                "replacement": format!("/api/v1/nodes/$1/proxy{path}"),
            },
        ],
    })
}

/// The scraper's Prometheus configuration: annotated pods (the usual `prometheus.io/scrape`,
/// `prometheus.io/path`, `prometheus.io/port`, `prometheus.io/scheme`), cAdvisor and the kubelet
/// through the API server, and the collector's own `/metrics` on port 8888 (its pods found by the
/// labels the OpenTelemetry Operator puts on them, so no annotation is needed; the annotated-pods
/// job skips them, so they are never scraped twice).
pub fn scrape_configuration(
    cluster_name: &str,
    interval_secs: u32,
    namespace: &str,
    collector_name: &str,
) -> Value {
    let instance = format!("{namespace}.{collector_name}");
    json!({
        "global": {
            "scrape_interval": format!("{interval_secs}s"),
            "external_labels": {"cluster": cluster_name},
        },
        "scrape_configs": [
            {
                "job_name": "kubernetes-pods",
                "kubernetes_sd_configs": [{"role": "pod"}],
                "relabel_configs": [
                    {
                        "action": "keep",
                        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                        "regex": "true",
                    },
                    {
                        "action": "drop",
                        "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"],
                        "regex": instance,
                    },
                    {
                        "action": "replace",
                        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scheme"],
                        "regex": "(https?)",
                        "target_label": "__scheme__",
                    },
                    {
                        "action": "replace",
                        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
                        "regex": "(.+)",
                        "target_label": "__metrics_path__",
                    },
                    {
                        "action": "replace",
                        "source_labels": ["__meta_kubernetes_pod_ip", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
                        "regex": "(.+);([0-9]+)",
                        "replacement": "$1:$2",
                        "target_label": "__address__",
                    },
                    {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"},
                    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                ],
            },
            node_proxy_job("kubernetes-cadvisor", "/metrics/cadvisor"),
            node_proxy_job("kubernetes-kubelet", "/metrics"),
            {
                "job_name": "xray-collector",
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
                "relabel_configs": [
                    {
                        "action": "keep",
                        "source_labels": [
                            "__meta_kubernetes_pod_label_app_kubernetes_io_component",
                            "__meta_kubernetes_pod_label_app_kubernetes_io_instance",
                        ],
                        "regex": format!("opentelemetry-collector;{}", instance.replace('.', "\\.")),
                    },
                    {
                        "action": "replace",
                        "source_labels": ["__meta_kubernetes_pod_ip"],
                        "regex": "(.+)",
                        "replacement": format!("$1:{METRICS_PORT}"),
                        "target_label": "__address__",
                    },
                    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                ],
            },
        ],
    })
}

/// The collector's alert rules, one Prometheus rule file with one group: any exporter dropping or
/// failing items, any receiver refusing them, sustained for `for_mins` minutes. Selected by the
/// labels the xray-collector job sets (`namespace`), so two collectors alert apart (`pod`).
pub fn collector_alert_rules(namespace: &str, collector_name: &str, for_mins: u32) -> Value {
    let selector = format!("{{namespace=\"{namespace}\"}}");
    let alert = |name: &str, metric: &str, by: &str, summary: &str, description: &str| {
        json!({
            "alert": name,
            "expr": format!("sum by (pod, {by}, reason) (rate({metric}{selector}[5m])) > 0"),
            "for": format!("{for_mins}m"),
            "labels": {"severity": "warning", "collector": collector_name},
            "annotations": {
                "summary": summary,
                "description": description,
            },
        })
    };
    json!({
        "groups": [{
            "name": format!("xray-collector-{namespace}-{collector_name}"),
            "rules": [
                alert(
                    "XrayCollectorExporterDroppingItems",
                    ALERTED_METRICS[0],
                    "exporter",
                    "The X-Ray collector drops spans before sending them",
                    "Exporter {{ $labels.exporter }} on {{ $labels.pod }} drops items ({{ $labels.reason }}): its sending queue is full or the shutdown deadline passed. Spans are lost.",
                ),
                alert(
                    "XrayCollectorExporterFailingItems",
                    ALERTED_METRICS[1],
                    "exporter",
                    "The X-Ray collector cannot deliver spans",
                    "Exporter {{ $labels.exporter }} on {{ $labels.pod }} fails to deliver items ({{ $labels.reason }}): X-Ray refuses them or retries are exhausted.",
                ),
                alert(
                    "XrayCollectorReceiverRefusingItems",
                    ALERTED_METRICS[2],
                    "receiver",
                    "The X-Ray collector refuses incoming spans",
                    "Receiver {{ $labels.receiver }} on {{ $labels.pod }} refuses items ({{ $labels.reason }}): malformed input, a full pipeline or shutdown.",
                ),
            ],
        }],
    })
}

/// The ClusterRole rules AMP documents for the scraper (the same rules as the access entry policy
/// AMP creates itself).
fn cluster_role_rules() -> Value {
    json!([
        {
            "apiGroups": [""],
            "resources": ["nodes", "nodes/proxy", "nodes/metrics", "services", "endpoints", "pods", "ingresses", "configmaps"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": ["extensions", "networking.k8s.io"],
            "resources": ["ingresses/status", "ingresses"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": ["metrics.eks.amazonaws.com"],
            "resources": ["kcm/metrics", "ksh/metrics"],
            "verbs": ["get"],
        },
        {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
    ])
}

/// The rule file's alert expressions by alert name (tests and the README use them).
pub fn alert_expressions(rules: &Value) -> BTreeMap<String, String> {
    rules["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| {
            Some((
                r["alert"].as_str()?.to_owned(),
                r["expr"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrape_configuration_keeps_to_what_the_managed_scraper_accepts() {
        let config = scrape_configuration("c", 30, "tracing", "xray");
        let top: Vec<&String> = config.as_object().expect("object").keys().collect();
        assert_eq!(top, ["global", "scrape_configs"]);
        for job in config["scrape_configs"].as_array().expect("jobs") {
            for key in job.as_object().expect("job").keys() {
                assert!(
                    [
                        "job_name",
                        "scheme",
                        "authorization",
                        "kubernetes_sd_configs",
                        "relabel_configs"
                    ]
                    .contains(&key.as_str()),
                    "{key}"
                );
            }
            if let Some(auth) = job.get("authorization") {
                assert_eq!(auth["credentials_file"], TOKEN_FILE);
            }
        }
        assert_eq!(config["global"]["scrape_interval"], "30s");
    }

    #[test]
    fn every_alert_watches_one_exported_counter() {
        let rules = collector_alert_rules("tracing", "xray", 5);
        let exprs = alert_expressions(&rules);
        assert_eq!(exprs.len(), 3);
        for metric in ALERTED_METRICS {
            assert_eq!(
                exprs.values().filter(|e| e.contains(metric)).count(),
                1,
                "{metric}"
            );
        }
    }
}
