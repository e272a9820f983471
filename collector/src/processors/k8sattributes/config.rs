//! `processors.k8sattributes`: contrib's keys (the part this collector runs), and their checks.
//! Every contrib key outside that part is a located error.
//!
//! Supported: `auth_type`, `passthrough`, `extract.metadata` (the [`METADATA`] list),
//! `extract.labels` / `extract.annotations` (`key` or `key_regex`, `tag_name`, `from: pod |
//! namespace`), `extract.otel_annotations` (every pod annotation `resource.opentelemetry.io/<key>` as
//! resource attribute `<key>`), `filter.node` / `node_from_env_var` / `namespace` / `labels` / `fields` (sent as
//! the pod watch's label and field selectors), `pod_association` (`connection`, and the resource
//! attributes `k8s.pod.ip`, `k8s.pod.uid`, `host.name` holding an IP, `container.id`, and
//! `k8s.pod.name` with `k8s.namespace.name`), `wait_for_metadata` /
//! `wait_for_metadata_timeout`, `exclude.pods` (name patterns; default `jaeger-agent` and
//! `jaeger-collector`, as contrib's), and `max_pods` (an extension).

use std::time::Duration;

use regex::Regex;
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

/// Default of [`K8sAttributesConfig::wait_for_metadata_timeout`].
pub const DEFAULT_WAIT_FOR_METADATA_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// How a resource finds its pod; default: `k8s.pod.ip`, `k8s.pod.uid`, the connection, then
    /// `host.name` when it holds an IP (contrib's last resort too).
    pub pod_association: Vec<AssociationConfig>,
    /// Pods whose spans are left as they came (contrib's `exclude`).
    pub exclude: ExcludeConfig,
    /// Block start-up until the watches have listed once (contrib's key); without it spans pass
    /// unchanged until the cache is filled.
    pub wait_for_metadata: bool,
    /// How long `wait_for_metadata` waits before start-up fails; default 10s, as in contrib.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub wait_for_metadata_timeout: Duration,
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
            exclude: ExcludeConfig::default(),
            wait_for_metadata: false,
            wait_for_metadata_timeout: DEFAULT_WAIT_FOR_METADATA_TIMEOUT,
            max_pods: DEFAULT_MAX_PODS,
            watch: WatchSlot::default(),
        }
    }
}

/// The annotation with which a pod opts out of this processor (contrib's), when its value is
/// `true` (any case, surrounding space ignored).
pub const IGNORE_ANNOTATION: &str = "opentelemetry.io/k8s-processor/ignore";

/// `exclude`: pods whose spans this processor leaves as they came. A pod is excluded when a
/// pattern matches anywhere in its name (contrib's unanchored match), or when it carries
/// [`IGNORE_ANNOTATION`]; its spans are associated with it and then left unchanged, as contrib
/// does, rather than matched to another pod.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExcludeConfig {
    /// Name patterns (regular expressions); default `jaeger-agent` and `jaeger-collector`,
    /// contrib's default. `pods: []` excludes none by name.
    pub pods: Vec<ExcludePodConfig>,
}

impl Default for ExcludeConfig {
    fn default() -> Self {
        ExcludeConfig {
            pods: ["jaeger-agent", "jaeger-collector"]
                .into_iter()
                .map(|name| ExcludePodConfig {
                    name: name.to_owned(),
                })
                .collect(),
        }
    }
}

impl ExcludeConfig {
    /// The compiled name patterns of a checked config.
    pub fn patterns(&self) -> Result<Vec<Regex>, regex::Error> {
        self.pods.iter().map(|p| Regex::new(&p.name)).collect()
    }
}

/// One `exclude.pods` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExcludePodConfig {
    /// A regular expression matched anywhere in the pod's name.
    pub name: String,
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
    /// Copy every pod annotation `resource.opentelemetry.io/<key>` as resource attribute
    /// `<key>` (contrib's switch; the OpenTelemetry Operator's way to set resource attributes
    /// per pod).
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
    /// With a `key_regex` that has capture groups, a template: `$1`, `${1}`, `$name` and `$0`
    /// (the whole key) are replaced by what the groups matched, as contrib does.
    pub tag_name: String,
    /// The label or annotation key.
    pub key: String,
    /// A regular expression every key must match in full (contrib anchors it as
    /// `^(?:key_regex)$`); each matching key with a non-empty value becomes an attribute.
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
    /// Label filters: the pod watch's label selector.
    pub labels: Vec<FieldFilterConfig>,
    /// Field filters: the pod watch's field selector (with the node's `spec.nodeName`).
    pub fields: Vec<FieldFilterConfig>,
}

/// One `filter.labels` / `filter.fields` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FieldFilterConfig {
    /// The label key or field path.
    pub key: String,
    /// The value compared with (not for `exists` / `does-not-exist`).
    pub value: String,
    /// `equals` (the default) or `not-equals`; for labels also `exists` and `does-not-exist`.
    pub op: String,
}

/// The label-selector operators contrib accepts.
const LABEL_OPS: [&str; 4] = ["equals", "not-equals", "exists", "does-not-exist"];

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters
/// (alphanumerics, `-`, `_`, `.`; alphanumeric at both ends).
fn valid_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty() && name.len() <= 63 && valid_label_value(name);
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    name_ok && prefix_ok
}

/// A label value: empty, or up to 63 alphanumerics, `-`, `_`, `.`, alphanumeric at both ends.
fn valid_label_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let bytes = value.as_bytes();
    value.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A field-selector value with `\`, `,` and `=` escaped, as the API server reads it.
fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
    /// For `resource_attribute`: one of [`ASSOCIATION_ATTRIBUTES`].
    pub name: String,
}

/// The resource attributes an association source may name.
pub const ASSOCIATION_ATTRIBUTES: [&str; 6] = [
    "k8s.pod.ip",
    "k8s.pod.uid",
    "host.name",
    "container.id",
    "k8s.pod.name",
    "k8s.namespace.name",
];

/// Where a resource's pod is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The client address (UDP datagram source, OTLP peer).
    Connection,
    /// The resource attribute `k8s.pod.ip`.
    PodIp,
    /// The resource attribute `k8s.pod.uid`.
    PodUid,
    /// The resource attribute `host.name`, when it holds an IP address (contrib: on Kubernetes
    /// `host.name` is often the pod's IP); a name that is not an IP does not match.
    HostName,
    /// The resource attribute `container.id`: one of the pod's containers.
    ContainerId,
    /// The resource attribute `k8s.pod.name` (in a rule that also has `k8s.namespace.name`).
    PodName,
    /// The resource attribute `k8s.namespace.name` (in a rule that also has `k8s.pod.name`).
    Namespace,
}

impl K8sAttributesConfig {
    /// The association rules, each a list of sources; contrib's default when none is given.
    pub fn association(&self) -> Vec<Vec<Source>> {
        if self.pod_association.is_empty() {
            return vec![
                vec![Source::PodIp],
                vec![Source::PodUid],
                vec![Source::Connection],
                vec![Source::HostName],
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
                        ("resource_attribute", "host.name") => Some(Source::HostName),
                        ("resource_attribute", "container.id") => Some(Source::ContainerId),
                        ("resource_attribute", "k8s.pod.name") => Some(Source::PodName),
                        ("resource_attribute", "k8s.namespace.name") => Some(Source::Namespace),
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

    /// The pod watch's label selector (`filter.labels`), `None` without label filters.
    pub fn label_selector(&self) -> Option<String> {
        let terms: Vec<String> = self
            .filter
            .labels
            .iter()
            .map(|f| match f.op.as_str() {
                "not-equals" => format!("{}!={}", f.key, f.value),
                "exists" => f.key.clone(),
                "does-not-exist" => format!("!{}", f.key),
                _ => format!("{}={}", f.key, f.value),
            })
            .collect();
        (!terms.is_empty()).then(|| terms.join(","))
    }

    /// The pod watch's field selector: `spec.nodeName=<node>` for `node` (see
    /// [`K8sAttributesConfig::node`]), then `filter.fields`; `None` when there is neither.
    pub fn field_selector(&self, node: Option<&str>) -> Option<String> {
        let mut terms: Vec<String> = node
            .map(|n| format!("spec.nodeName={}", escape_field_value(n)))
            .into_iter()
            .collect();
        for f in &self.filter.fields {
            let op = if f.op == "not-equals" { "!=" } else { "=" };
            terms.push(format!("{}{op}{}", f.key, escape_field_value(&f.value)));
        }
        (!terms.is_empty()).then(|| terms.join(","))
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
                check_extract_rule(c, &format!("extract/{list}/{i}"), rule);
            }
        }
        for (i, f) in self.filter.labels.iter().enumerate() {
            check_label_filter(c, &format!("filter/labels/{i}"), f);
        }
        for (i, f) in self.filter.fields.iter().enumerate() {
            check_field_filter(c, &format!("filter/fields/{i}"), f);
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
                match s.from.as_str() {
                    "connection" => {}
                    "resource_attribute" if ASSOCIATION_ATTRIBUTES.contains(&s.name.as_str()) => {}
                    "resource_attribute" => c.error(
                        &format!("{at}/name"),
                        format!(
                            "association by `{}` is not supported; use one of {}",
                            s.name,
                            ASSOCIATION_ATTRIBUTES.join(", ")
                        ),
                    ),
                    other => c.error(
                        &format!("{at}/from"),
                        format!(
                            "from `{other}` is not supported; use `connection` or `resource_attribute`"
                        ),
                    ),
                }
            }
            let names: Vec<&str> = rule
                .sources
                .iter()
                .filter(|s| s.from == "resource_attribute")
                .map(|s| s.name.as_str())
                .collect();
            let has = |n: &str| names.contains(&n);
            let identifies = rule.sources.iter().any(|s| s.from == "connection")
                || names
                    .iter()
                    .any(|n| !matches!(*n, "k8s.pod.name" | "k8s.namespace.name"))
                || (has("k8s.pod.name") && has("k8s.namespace.name"));
            if !rule.sources.is_empty() && !identifies {
                c.error(
                    &format!("pod_association/{i}/sources"),
                    "`k8s.pod.name` and `k8s.namespace.name` identify a pod only together: list both in one rule",
                );
            }
        }
        for (i, pod) in self.exclude.pods.iter().enumerate() {
            let at = format!("exclude/pods/{i}/name");
            if pod.name.is_empty() {
                c.error(
                    &at,
                    "`name` is required (an empty pattern would exclude every pod)",
                );
            } else if let Err(e) = Regex::new(&pod.name) {
                c.error(&at, format!("invalid regular expression: {e}"));
            }
        }
        if self.wait_for_metadata_timeout.is_zero() {
            c.error("wait_for_metadata_timeout", "must be more than 0");
        }
        if self.max_pods == 0 {
            c.error("max_pods", "must be at least 1");
        }
    }
}

/// Checks one `extract.labels` / `extract.annotations` rule at `at`.
fn check_extract_rule(c: &mut Checker<'_, '_>, at: &str, rule: &FieldExtractConfig) {
    match (rule.key.is_empty(), rule.key_regex.is_empty()) {
        (false, false) => c.error(
            &format!("{at}/key_regex"),
            "set `key` or `key_regex`, not both",
        ),
        (true, true) => c.error(&format!("{at}/key"), "`key` or `key_regex` is required"),
        // The pattern as written for the message, then anchored as it runs.
        (true, false) => match Regex::new(&rule.key_regex).and_then(|_| rule.key_pattern()) {
            Err(e) => c.error(
                &format!("{at}/key_regex"),
                format!("invalid regular expression: {e}"),
            ),
            Ok(re) => {
                if !rule.tag_name.is_empty() && re.captures_len() == 1 {
                    c.error(
                        &format!("{at}/tag_name"),
                        "with a `key_regex` without capture groups every matching key would get this one name; add a group and refer to it (`$1`), or leave `tag_name` out for `k8s.<from>.<labels|annotations>.<key>`",
                    );
                }
            }
        },
        (false, true) => {}
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

impl FieldExtractConfig {
    /// `key_regex` anchored as contrib anchors it: the whole key must match.
    pub fn key_pattern(&self) -> Result<Regex, regex::Error> {
        Regex::new(&format!("^(?:{})$", self.key_regex))
    }
}

/// Checks one `filter.labels` entry at `at`.
fn check_label_filter(c: &mut Checker<'_, '_>, at: &str, f: &FieldFilterConfig) {
    if f.key.is_empty() {
        c.error(&format!("{at}/key"), "`key` is required");
    } else if !valid_label_key(&f.key) {
        c.error(
            &format!("{at}/key"),
            format!(
                "`{}` is not a label key ([prefix/]name: a name of up to 63 letters, digits, `-`, `_`, `.`)",
                f.key
            ),
        );
    }
    match f.op.as_str() {
        "" | "equals" | "not-equals" => {
            if !valid_label_value(&f.value) {
                c.error(
                    &format!("{at}/value"),
                    format!(
                        "`{}` is not a label value (up to 63 letters, digits, `-`, `_`, `.`)",
                        f.value
                    ),
                );
            }
        }
        "exists" | "does-not-exist" => {
            if !f.value.is_empty() {
                c.error(
                    &format!("{at}/value"),
                    format!("op `{}` takes no `value`", f.op),
                );
            }
        }
        other => c.error(
            &format!("{at}/op"),
            format!(
                "op `{other}` is not supported; use one of {}",
                LABEL_OPS.join(", ")
            ),
        ),
    }
}

/// Checks one `filter.fields` entry at `at`.
fn check_field_filter(c: &mut Checker<'_, '_>, at: &str, f: &FieldFilterConfig) {
    if f.key.is_empty() {
        c.error(&format!("{at}/key"), "`key` is required");
    } else if f.key.contains([',', '=', '!', ' ']) {
        c.error(
            &format!("{at}/key"),
            format!("`{}` is not a field path (e.g. `status.phase`)", f.key),
        );
    }
    if !matches!(f.op.as_str(), "" | "equals" | "not-equals") {
        c.error(
            &format!("{at}/op"),
            format!(
                "op `{}` is not supported for fields; use `equals` or `not-equals`",
                f.op
            ),
        );
    }
}
