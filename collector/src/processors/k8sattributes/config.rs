//! `processors.k8sattributes`: contrib's keys (the part this collector runs), and their checks.
//! Every contrib key outside that part is a located error.

use serde::Deserialize;

use crate::config::component::{Checker, Component};

/// The metadata this processor can extract (`extract.metadata`).
pub const METADATA: [&str; 9] = [
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.pod.start_time",
    "k8s.pod.ip",
    "k8s.namespace.name",
    "k8s.node.name",
    "k8s.deployment.name",
    "k8s.replicaset.name",
    "k8s.replicaset.uid",
];

/// contrib's default `extract.metadata`.
pub const DEFAULT_METADATA: [&str; 6] = [
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.pod.start_time",
    "k8s.deployment.name",
    "k8s.node.name",
];

/// Default of [`K8sAttributesConfig::max_pods`].
pub const DEFAULT_MAX_PODS: usize = 20_000;

/// `processors.k8sattributes`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct K8sAttributesConfig {
    /// How to reach the Kubernetes API: `serviceAccount` (in-cluster: `KUBERNETES_SERVICE_HOST`,
    /// the pod's token and CA file; the default) or `kubeConfig` (the file `KUBECONFIG` names,
    /// else `~/.kube/config`).
    pub auth_type: String,
    /// Only tag `k8s.pod.ip` (from the connection); no API access.
    pub passthrough: bool,
    /// What to extract.
    pub extract: ExtractConfig,
    /// Which pods to watch.
    pub filter: FilterConfig,
    /// How a resource finds its pod; default: `k8s.pod.ip`, `k8s.pod.uid`, then the connection.
    pub pod_association: Vec<AssociationConfig>,
    /// contrib's pod exclusion list; only an empty list is supported.
    pub exclude: Option<serde_json::Value>,
    /// contrib's start-up wait for the first list; only `false` is supported (spans pass
    /// unchanged until the cache is filled).
    pub wait_for_metadata: bool,
    /// Most pods the cache holds (an extension of contrib's keys); default 20000. Pods beyond it
    /// are not cached and are counted.
    pub max_pods: usize,
    /// The watch, started by the first pipeline that builds this processor (not a key).
    #[serde(skip)]
    pub watch: WatchSlot,
}

/// The watch state one processor id shares between its pipelines; configs compare equal
/// whatever it holds.
#[derive(Clone, Default)]
pub struct WatchSlot(pub std::sync::OnceLock<std::sync::Arc<super::watch::Shared>>);

impl PartialEq for WatchSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for WatchSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "WatchSlot(started)"
        } else {
            "WatchSlot"
        })
    }
}

impl Default for K8sAttributesConfig {
    fn default() -> Self {
        K8sAttributesConfig {
            auth_type: "serviceAccount".to_owned(),
            passthrough: false,
            extract: ExtractConfig::default(),
            filter: FilterConfig::default(),
            pod_association: Vec::new(),
            exclude: None,
            wait_for_metadata: false,
            max_pods: DEFAULT_MAX_PODS,
            watch: WatchSlot::default(),
        }
    }
}

/// `extract`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExtractConfig {
    /// Resource attributes to set from the pod; default [`DEFAULT_METADATA`].
    pub metadata: Vec<String>,
    /// Labels to copy.
    pub labels: Vec<FieldExtractConfig>,
    /// Annotations to copy.
    pub annotations: Vec<FieldExtractConfig>,
    /// contrib's OTel-annotation switch; only `false` is supported.
    pub otel_annotations: bool,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            metadata: DEFAULT_METADATA.iter().map(|s| (*s).to_owned()).collect(),
            labels: Vec::new(),
            annotations: Vec::new(),
            otel_annotations: false,
        }
    }
}

/// One `extract.labels` / `extract.annotations` rule.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FieldExtractConfig {
    /// The attribute name; default `k8s.<from>.labels.<key>` / `k8s.<from>.annotations.<key>`.
    pub tag_name: String,
    /// The label or annotation key.
    pub key: String,
    /// contrib's regular-expression key; not supported.
    pub key_regex: String,
    /// `pod` (default) or `namespace`.
    pub from: String,
}

/// `filter`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// Watch only the pods of this node.
    pub node: String,
    /// Watch only the pods of the node this environment variable names (daemonsets set it from
    /// `spec.nodeName` through the downward API).
    pub node_from_env_var: String,
    /// Watch only this namespace.
    pub namespace: String,
    /// contrib's label and field filters; only empty lists are supported.
    pub labels: Vec<serde_json::Value>,
    /// See `labels`.
    pub fields: Vec<serde_json::Value>,
}

/// One `pod_association` rule: its sources must all match.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AssociationConfig {
    /// The sources, all needed.
    pub sources: Vec<AssociationSource>,
}

/// One association source.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AssociationSource {
    /// `connection` or `resource_attribute`.
    pub from: String,
    /// For `resource_attribute`: `k8s.pod.ip` or `k8s.pod.uid`.
    pub name: String,
}

/// Where a resource's pod is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The client address (UDP datagram source, OTLP peer).
    Connection,
    /// The resource attribute `k8s.pod.ip`.
    PodIp,
    /// The resource attribute `k8s.pod.uid`.
    PodUid,
}

impl K8sAttributesConfig {
    /// The association rules, each a list of sources; contrib's default when none is given.
    pub fn association(&self) -> Vec<Vec<Source>> {
        if self.pod_association.is_empty() {
            return vec![
                vec![Source::PodIp],
                vec![Source::PodUid],
                vec![Source::Connection],
            ];
        }
        self.pod_association
            .iter()
            .map(|rule| {
                rule.sources
                    .iter()
                    .filter_map(|s| match (s.from.as_str(), s.name.as_str()) {
                        ("connection", _) => Some(Source::Connection),
                        ("resource_attribute", "k8s.pod.ip") => Some(Source::PodIp),
                        ("resource_attribute", "k8s.pod.uid") => Some(Source::PodUid),
                        _ => None,
                    })
                    .collect()
            })
            .collect()
    }

    /// The node to watch: `filter.node`, else the value of `filter.node_from_env_var`.
    pub fn node(&self) -> Option<String> {
        if !self.filter.node.is_empty() {
            return Some(self.filter.node.clone());
        }
        if self.filter.node_from_env_var.is_empty() {
            return None;
        }
        std::env::var(&self.filter.node_from_env_var)
            .ok()
            .filter(|v| !v.is_empty())
    }

    /// Whether the watch needs replicasets (for `k8s.deployment.name`).
    pub fn needs_replicasets(&self) -> bool {
        self.extract
            .metadata
            .iter()
            .any(|m| m == "k8s.deployment.name")
    }

    /// Whether the watch needs namespaces (for their labels or annotations).
    pub fn needs_namespaces(&self) -> bool {
        self.extract
            .labels
            .iter()
            .chain(&self.extract.annotations)
            .any(|r| r.from == "namespace")
    }
}

impl Component for K8sAttributesConfig {
    const TYPE: &'static str = "k8sattributes";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if !matches!(self.auth_type.as_str(), "serviceAccount" | "kubeConfig") {
            c.error(
                "auth_type",
                format!(
                    "auth_type `{}` is not supported; use `serviceAccount` (in-cluster) or `kubeConfig`",
                    self.auth_type
                ),
            );
        }
        for (i, m) in self.extract.metadata.iter().enumerate() {
            if !METADATA.contains(&m.as_str()) {
                c.error(
                    &format!("extract/metadata/{i}"),
                    format!(
                        "metadata `{m}` is not supported; supported: {}",
                        METADATA.join(", ")
                    ),
                );
            }
        }
        for (list, rules) in [
            ("labels", &self.extract.labels),
            ("annotations", &self.extract.annotations),
        ] {
            for (i, rule) in rules.iter().enumerate() {
                let at = format!("extract/{list}/{i}");
                if !rule.key_regex.is_empty() {
                    c.error(
                        &format!("{at}/key_regex"),
                        "key_regex is not supported; name each key with `key`",
                    );
                } else if rule.key.is_empty() {
                    c.error(&format!("{at}/key"), "`key` is required");
                }
                if !matches!(rule.from.as_str(), "" | "pod" | "namespace") {
                    c.error(
                        &format!("{at}/from"),
                        format!(
                            "from `{}` is not supported; use `pod` or `namespace`",
                            rule.from
                        ),
                    );
                }
            }
        }
        if self.extract.otel_annotations {
            c.error(
                "extract/otel_annotations",
                "otel_annotations is not supported",
            );
        }
        if !self.filter.labels.is_empty() {
            c.error("filter/labels", "label filters are not supported");
        }
        if !self.filter.fields.is_empty() {
            c.error("filter/fields", "field filters are not supported");
        }
        if !self.filter.node.is_empty() && !self.filter.node_from_env_var.is_empty() {
            c.error(
                "filter/node_from_env_var",
                "set `node` or `node_from_env_var`, not both",
            );
        }
        for (i, rule) in self.pod_association.iter().enumerate() {
            if rule.sources.is_empty() {
                c.error(
                    &format!("pod_association/{i}/sources"),
                    "at least one source is required",
                );
            }
            for (j, s) in rule.sources.iter().enumerate() {
                let at = format!("pod_association/{i}/sources/{j}");
                match (s.from.as_str(), s.name.as_str()) {
                    ("connection", _) | ("resource_attribute", "k8s.pod.ip" | "k8s.pod.uid") => {}
                    ("resource_attribute", other) => c.error(
                        &format!("{at}/name"),
                        format!(
                            "association by `{other}` is not supported; use `k8s.pod.ip` or `k8s.pod.uid`"
                        ),
                    ),
                    (other, _) => c.error(
                        &format!("{at}/from"),
                        format!(
                            "from `{other}` is not supported; use `connection` or `resource_attribute`"
                        ),
                    ),
                }
            }
        }
        match &self.exclude {
            None => {}
            Some(serde_json::Value::Object(map))
                if map
                    .get("pods")
                    .is_none_or(|p| p.as_array().is_some_and(Vec::is_empty))
                    && map.keys().all(|k| k == "pods") => {}
            Some(_) => c.error(
                "exclude",
                "pod exclusion is not supported; only `exclude: {pods: []}`",
            ),
        }
        if self.wait_for_metadata {
            c.error(
                "wait_for_metadata",
                "wait_for_metadata is not supported: spans pass unchanged until the pod cache is filled",
            );
        }
        if self.max_pods == 0 {
            c.error("max_pods", "must be at least 1");
        }
    }
}
