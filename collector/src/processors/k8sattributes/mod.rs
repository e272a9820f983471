//! The `k8sattributes` processor: sets pod metadata (`k8s.pod.name`, `k8s.pod.uid`,
//! `k8s.namespace.name`, `k8s.node.name`, `k8s.deployment.name`, ..., labels and annotations as
//! `extract` says) on each resource, found as `pod_association` says (the connection's address,
//! or the resource's `k8s.pod.ip`, `k8s.pod.uid`, `host.name` holding an IP, `container.id`, or
//! `k8s.pod.name` with `k8s.namespace.name`), in a bounded cache that a watch on the Kubernetes
//! API fills (`watch.rs`, `cache.rs`; `filter.*` narrow the watch). Existing attributes are kept,
//! as in contrib. Without API access, or for a pod not (yet) in the cache, spans pass unchanged;
//! with `wait_for_metadata` the first build blocks start-up until the watches have listed, or
//! fails it after `wait_for_metadata_timeout`.
//!
//! Labels and annotations (`extract.labels` / `extract.annotations`, compiled into
//! [`Extraction`]): a `key` rule copies that one key; a `key_regex` rule copies every key the
//! anchored pattern matches (with a non-empty value), named `k8s.<pod|namespace>.<labels|
//! annotations>.<key>`, or, when the pattern has capture groups and `tag_name` is set, `tag_name`
//! with `$1` / `${name}` / `$0` replaced from the key, as contrib names them.
//!
//! X-Ray documents: the resource made for a document is remembered by incoming resource and
//! datagram source (`resource_edit::ResourceMemo`, started over whenever the cache changes,
//! `Cache::generation`), so all documents of one pod share one resource `Arc` and stamping
//! finds its prepared stamp by identity.

pub mod cache;
pub mod config;
pub mod watch;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::common::v1::KeyValue;

use regex::Regex;

use self::cache::{Cache, DELETE_GRACE, PodMeta};
use self::config::{FieldExtractConfig, IGNORE_ANNOTATION, K8sAttributesConfig, Source};
use self::watch::Shared;
use super::resource_edit::{ResourceMemo, for_each_resource, get_str, set_str};
use super::{BuildContext, BuildError, InlineProcessor, Processor, ProcessorConfig};
use crate::traces::{Refused, Traces};

impl ProcessorConfig for K8sAttributesConfig {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Processor, BuildError> {
        // One watch and cache per processor id, shared by every pipeline that lists it.
        let shared = if self.passthrough {
            None
        } else {
            Some(
                self.watch
                    .0
                    .get_or_init(|| {
                        let shared = Arc::new(Shared::new(
                            ctx.processor.to_string(),
                            Cache::new(self.max_pods, DELETE_GRACE),
                            ctx.telemetry.clone(),
                        ));
                        watch::start(self, shared.clone(), ctx.stop.clone());
                        shared
                    })
                    .clone(),
            )
        };
        if let (true, Some(shared)) = (self.wait_for_metadata, &shared) {
            let wait = || shared.wait_synced(self, self.wait_for_metadata_timeout);
            let waited = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
                Ok(_) => Err(watch::NotSynced {
                    timeout: self.wait_for_metadata_timeout,
                    last_error: "cannot wait on a single-threaded runtime".to_owned(),
                }),
                Err(_) => wait(),
            };
            waited.map_err(|e| ctx.error(e))?;
        }
        let extraction = Extraction::new(self).map_err(|e| ctx.error(e))?;
        let exclude = self.exclude.patterns().map_err(|e| ctx.error(e))?;
        Ok(Processor::Inline(Arc::new(K8sAttributes {
            extraction,
            exclude,
            rules: self.association(),
            shared,
            memo: Mutex::new(ResourceMemo::default()),
        })))
    }
}

/// One pipeline's instance.
struct K8sAttributes {
    extraction: Extraction,
    rules: Vec<Vec<Source>>,
    /// `exclude.pods`, compiled.
    exclude: Vec<Regex>,
    /// The watch's state; `None` in passthrough mode.
    shared: Option<Arc<Shared>>,
    /// The resources given to X-Ray documents, shared by every document of one sender.
    memo: Mutex<ResourceMemo>,
}

impl InlineProcessor for K8sAttributes {
    fn process(&self, mut traces: Traces) -> Result<Option<Traces>, Refused> {
        let cache = self.shared.as_ref().map(|s| match s.cache.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        });
        let cache = cache.as_deref();
        match &mut traces {
            Traces::XRay(segments) => {
                let mut memo = match self.memo.lock() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
                let generation = cache.map_or(0, Cache::generation);
                for segment in segments.iter_mut() {
                    let input = segment.resource.take();
                    segment.resource = Some(memo.get(generation, input, segment.source, |a, c| {
                        self.edit(cache, a, c)
                    }));
                }
            }
            Traces::Otlp(_) => {
                for_each_resource(&mut traces, |attributes, connection| {
                    self.edit(cache, attributes, connection)
                });
            }
        }
        Ok(Some(traces))
    }

    fn changes_resource(&self) -> bool {
        true
    }
}

impl K8sAttributes {
    /// Sets the attributes of the pod `attributes` (with data from `connection`) belongs to.
    fn edit(
        &self,
        cache: Option<&Cache>,
        attributes: &mut Vec<KeyValue>,
        connection: Option<IpAddr>,
    ) {
        let connection_ip = connection_ip(&self.rules, connection);
        let Some(cache) = cache else {
            // Passthrough: only the address, for a later k8sattributes to use.
            if let Some(ip) = connection_ip {
                set_str(attributes, "k8s.pod.ip", &ip.to_string(), false);
            }
            return;
        };
        let pod = find_pod(
            &self.rules,
            cache,
            |key| get_str(attributes, key),
            connection,
        );
        // Without a pod, or with an excluded one, the resource is left as it came (contrib would
        // still add the connection's `k8s.pod.ip`; here such a sender's documents keep their
        // bytes).
        if let Some(pod) = pod.filter(|pod| !excluded(&self.exclude, pod)) {
            if let Some(ip) = connection_ip {
                set_str(attributes, "k8s.pod.ip", &ip.to_string(), false);
            }
            for (key, value) in pod_attributes(&self.extraction, cache, &pod) {
                set_str(attributes, &key, &value, false);
            }
        }
    }
}

/// Whether `pod` is excluded: a pattern of `exclude.pods` matches its name, or it carries
/// [`IGNORE_ANNOTATION`] set to `true`.
pub fn excluded(patterns: &[Regex], pod: &PodMeta) -> bool {
    pod.annotations
        .get(IGNORE_ANNOTATION)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || patterns.iter().any(|p| p.is_match(&pod.name))
}

/// The pattern and name template `extract.otel_annotations` stands for (contrib's).
const OTEL_ANNOTATIONS: (&str, &str) = (r"^resource\.opentelemetry\.io/(.+)$", "$1");

/// A resource attribute to set: key and string value.
pub type Attribute = (String, String);

/// What `extract` asks for, compiled once per processor instance.
pub struct Extraction {
    metadata: Vec<String>,
    rules: Vec<ExtractRule>,
}

/// One compiled label or annotation rule.
struct ExtractRule {
    /// `labels` or `annotations`.
    kind: &'static str,
    from_namespace: bool,
    key: KeyRule,
}

enum KeyRule {
    /// `key`: that key, as attribute `name`.
    Exact { key: String, name: String },
    /// `key_regex`: every matching key; named by `template` (capture groups and `tag_name`
    /// set), else by contrib's default name.
    Pattern {
        pattern: Regex,
        template: Option<String>,
    },
}

impl Extraction {
    /// Compiles the `extract` of a checked config.
    pub fn new(cfg: &K8sAttributesConfig) -> Result<Extraction, regex::Error> {
        let mut rules = Vec::new();
        for (kind, list) in [
            ("labels", &cfg.extract.labels),
            ("annotations", &cfg.extract.annotations),
        ] {
            for rule in list {
                let from_namespace = rule.from == "namespace";
                let key = if rule.key_regex.is_empty() {
                    KeyRule::Exact {
                        key: rule.key.clone(),
                        name: tag_name(rule, kind),
                    }
                } else {
                    let pattern = rule.key_pattern()?;
                    let template = (pattern.captures_len() > 1 && !rule.tag_name.is_empty())
                        .then(|| rule.tag_name.clone());
                    KeyRule::Pattern { pattern, template }
                };
                rules.push(ExtractRule {
                    kind,
                    from_namespace,
                    key,
                });
            }
        }
        if cfg.extract.otel_annotations {
            rules.push(ExtractRule {
                kind: "annotations",
                from_namespace: false,
                key: KeyRule::Pattern {
                    pattern: Regex::new(OTEL_ANNOTATIONS.0)?,
                    template: Some(OTEL_ANNOTATIONS.1.to_owned()),
                },
            });
        }
        Ok(Extraction {
            metadata: cfg.extract.metadata.clone(),
            rules,
        })
    }
}

/// The attributes `extraction` takes from `pod`, with `cache` for deployments and namespaces.
pub fn pod_attributes(extraction: &Extraction, cache: &Cache, pod: &PodMeta) -> Vec<Attribute> {
    let mut out = Vec::new();
    for key in &extraction.metadata {
        let value = match key.as_str() {
            "k8s.pod.name" => pod.name.clone(),
            "k8s.pod.uid" => pod.uid.clone(),
            "k8s.pod.start_time" => pod.start_time.clone(),
            "k8s.pod.ip" => pod.ips.first().map(IpAddr::to_string).unwrap_or_default(),
            "k8s.namespace.name" => pod.namespace.clone(),
            "k8s.node.name" => pod.node.clone(),
            "k8s.replicaset.name" => pod
                .replicaset
                .as_ref()
                .map(|(n, _)| n.clone())
                .unwrap_or_default(),
            "k8s.replicaset.uid" => pod
                .replicaset
                .as_ref()
                .map(|(_, u)| u.clone())
                .unwrap_or_default(),
            "k8s.deployment.name" => pod
                .replicaset
                .as_ref()
                .and_then(|(rs, _)| cache.deployment(&pod.namespace, rs))
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        if !value.is_empty() {
            out.push((key.clone(), value));
        }
    }
    let namespace = cache.namespace(&pod.namespace);
    for rule in &extraction.rules {
        let map = match (rule.from_namespace, rule.kind) {
            (false, "labels") => Some(&pod.labels),
            (false, _) => Some(&pod.annotations),
            (true, "labels") => namespace.map(|n| &n.labels),
            (true, _) => namespace.map(|n| &n.annotations),
        };
        let Some(map) = map else { continue };
        match &rule.key {
            KeyRule::Exact { key, name } => {
                if let Some(value) = map.get(key) {
                    out.push((name.clone(), value.clone()));
                }
            }
            KeyRule::Pattern { pattern, template } => {
                let from = if rule.from_namespace {
                    "namespace"
                } else {
                    "pod"
                };
                for (key, value) in map {
                    if value.is_empty() {
                        continue;
                    }
                    let Some(groups) = pattern.captures(key) else {
                        continue;
                    };
                    let name = match template {
                        Some(template) => {
                            let mut name = String::new();
                            groups.expand(template, &mut name);
                            name
                        }
                        None => format!("k8s.{from}.{}.{key}", rule.kind),
                    };
                    out.push((name, value.clone()));
                }
            }
        }
    }
    out
}

/// A label or annotation rule's attribute name: `tag_name`, else contrib's default.
fn tag_name(rule: &FieldExtractConfig, kind: &str) -> String {
    if !rule.tag_name.is_empty() {
        return rule.tag_name.clone();
    }
    let from = if rule.from == "namespace" {
        "namespace"
    } else {
        "pod"
    };
    format!("k8s.{from}.{kind}.{}", rule.key)
}

/// The pod of a resource: the first association rule whose sources all find the same pod.
/// `get` reads a string resource attribute; `connection` is the client address. A rule's pod is
/// looked up by its first source that can find one (IP, UID, container ID, or namespace and
/// name); every source of the rule must then agree with that pod.
pub fn find_pod(
    rules: &[Vec<Source>],
    cache: &Cache,
    get: impl Fn(&str) -> Option<String>,
    connection: Option<IpAddr>,
) -> Option<std::sync::Arc<PodMeta>> {
    let ip_of = |source: &Source| -> Option<IpAddr> {
        match source {
            Source::Connection => connection,
            Source::PodIp => get("k8s.pod.ip")?.parse().ok(),
            Source::HostName => get("host.name")?.parse().ok(),
            _ => None,
        }
    };
    let lookup = |source: &Source| -> Option<std::sync::Arc<PodMeta>> {
        match source {
            Source::Connection | Source::PodIp | Source::HostName => cache.by_ip(&ip_of(source)?),
            Source::PodUid => cache.by_uid(&get("k8s.pod.uid")?),
            Source::ContainerId => cache.by_container(&get("container.id")?),
            Source::PodName | Source::Namespace => {
                cache.by_name(&get("k8s.namespace.name")?, &get("k8s.pod.name")?)
            }
        }
    };
    let agrees = |source: &Source, pod: &PodMeta| -> bool {
        match source {
            Source::Connection | Source::PodIp | Source::HostName => {
                ip_of(source).is_some_and(|ip| pod.ips.contains(&ip))
            }
            Source::PodUid => get("k8s.pod.uid").is_some_and(|v| v == pod.uid),
            Source::ContainerId => get("container.id").is_some_and(|v| pod.containers.contains(&v)),
            Source::PodName => get("k8s.pod.name").is_some_and(|v| v == pod.name),
            Source::Namespace => get("k8s.namespace.name").is_some_and(|v| v == pod.namespace),
        }
    };
    rules.iter().find_map(|rule| {
        let pod = rule.iter().find_map(lookup)?;
        rule.iter().all(|s| agrees(s, &pod)).then_some(pod)
    })
}

/// The IP a resource is associated with through the connection (contrib sets it as
/// `k8s.pod.ip` whenever the connection is a source, passthrough or not).
pub fn connection_ip(rules: &[Vec<Source>], connection: Option<IpAddr>) -> Option<IpAddr> {
    rules
        .iter()
        .flatten()
        .any(|s| *s == Source::Connection)
        .then_some(connection)
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use super::cache::NamespaceMeta;
    use super::*;

    fn config(yaml: &str) -> K8sAttributesConfig {
        serde_json::from_str(yaml).unwrap()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn pod() -> PodMeta {
        PodMeta {
            uid: "uid-1".into(),
            name: "checkout-1".into(),
            namespace: "shop".into(),
            ips: vec!["10.0.0.7".parse().unwrap()],
            labels: map(&[
                ("app.kubernetes.io/component", "api"),
                ("app.kubernetes.io/version", "1.2"),
                ("app.kubernetes.io/empty", ""),
                ("team", "payments"),
            ]),
            annotations: map(&[("sha", "abc123")]),
            containers: vec!["c0ffee".into()],
            ..PodMeta::default()
        }
    }

    fn attributes(yaml: &str) -> Vec<Attribute> {
        let cfg = config(yaml);
        let mut cache = Cache::new(10, DELETE_GRACE);
        cache.apply_namespace(
            "shop",
            NamespaceMeta {
                labels: map(&[("env.tier", "prod"), ("owner", "ops")]),
                annotations: BTreeMap::new(),
            },
        );
        pod_attributes(&Extraction::new(&cfg).unwrap(), &cache, &pod())
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<Attribute> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn key_regex_copies_every_matching_key_with_contribs_default_name() {
        assert_eq!(
            attributes(
                r#"{"extract":{"metadata":[],"labels":[{"key_regex":"app\\.kubernetes\\.io/.*"}]}}"#
            ),
            owned(&[
                // Sorted by key; the empty value is left out, as contrib does.
                ("k8s.pod.labels.app.kubernetes.io/component", "api"),
                ("k8s.pod.labels.app.kubernetes.io/version", "1.2"),
            ])
        );
        // Anchored: `team` does not match `tea`.
        assert!(
            attributes(r#"{"extract":{"metadata":[],"labels":[{"key_regex":"tea"}]}}"#).is_empty()
        );
    }

    #[test]
    fn tag_name_takes_the_capture_groups_of_the_key() {
        assert_eq!(
            attributes(
                r#"{"extract":{"metadata":[],"labels":[
                    {"key_regex":"app\\.kubernetes\\.io/(.*)","tag_name":"app.$1"},
                    {"key_regex":"(?P<k>env)\\.(tier)","tag_name":"${k}-$2 ($0)","from":"namespace"}],
                  "annotations":[{"key_regex":"(s)ha"}]}}"#
            ),
            owned(&[
                ("app.component", "api"),
                ("app.version", "1.2"),
                ("env-tier (env.tier)", "prod"),
                // Groups but no tag_name: contrib's default name.
                ("k8s.pod.annotations.sha", "abc123"),
            ])
        );
    }

    #[test]
    fn exact_keys_and_namespace_rules_keep_their_names() {
        assert_eq!(
            attributes(
                r#"{"extract":{"metadata":["k8s.pod.name"],"labels":[{"key":"team","tag_name":"team"},{"key":"owner","from":"namespace"},{"key":"absent"}]}}"#
            ),
            owned(&[
                ("k8s.pod.name", "checkout-1"),
                ("team", "payments"),
                ("k8s.namespace.labels.owner", "ops"),
            ])
        );
    }

    #[test]
    fn otel_annotations_copy_the_operators_resource_annotations() {
        let cfg = config(r#"{"extract":{"metadata":[],"otel_annotations":true}}"#);
        let mut pod = pod();
        pod.annotations = map(&[
            ("resource.opentelemetry.io/service.name", "cart"),
            (
                "resource.opentelemetry.io/deployment.environment.name",
                "prod",
            ),
            // No key after the prefix, an empty value, another prefix: not copied.
            ("resource.opentelemetry.io/", "x"),
            ("resource.opentelemetry.io/empty", ""),
            ("resource.opentelemetry.io.evil/k", "x"),
            ("sha", "abc123"),
        ]);
        let cache = Cache::new(10, DELETE_GRACE);
        assert_eq!(
            pod_attributes(&Extraction::new(&cfg).unwrap(), &cache, &pod),
            owned(&[
                ("deployment.environment.name", "prod"),
                ("service.name", "cart")
            ])
        );
        // Off by default.
        let cfg = config(r#"{"extract":{"metadata":[]}}"#);
        assert!(pod_attributes(&Extraction::new(&cfg).unwrap(), &cache, &pod).is_empty());
    }

    #[test]
    fn excluded_pods_keep_their_spans_as_they_came() {
        let processor = |yaml: &str| {
            let cfg = config(yaml);
            K8sAttributes {
                extraction: Extraction::new(&cfg).unwrap(),
                exclude: cfg.exclude.patterns().unwrap(),
                rules: cfg.association(),
                shared: None,
                memo: Mutex::new(ResourceMemo::default()),
            }
        };
        let with = |name: &str, annotations: &[(&str, &str)]| {
            let mut cache = Cache::new(10, DELETE_GRACE);
            let mut p = pod();
            p.name = name.into();
            p.annotations = map(annotations);
            cache.apply_pod(p, std::time::Instant::now());
            cache
        };
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let names = |processor: &K8sAttributes, cache: &Cache| {
            let mut attributes = Vec::new();
            processor.edit(Some(cache), &mut attributes, Some(ip));
            attributes.into_iter().map(|kv| kv.key).collect::<Vec<_>>()
        };
        let defaults = processor("{}");
        // contrib's default patterns match anywhere in the name.
        for name in [
            "jaeger-agent",
            "jaeger-agent-5d8f7",
            "my-jaeger-collector-0",
        ] {
            assert!(names(&defaults, &with(name, &[])).is_empty(), "{name}");
        }
        assert!(names(&defaults, &with("checkout-1", &[])).contains(&"k8s.pod.name".to_owned()));
        // The opt-out annotation, in any case and with space around it.
        let ignored = with("checkout-1", &[(IGNORE_ANNOTATION, " TRUE ")]);
        assert!(names(&defaults, &ignored).is_empty());
        let kept = with("checkout-1", &[(IGNORE_ANNOTATION, "false")]);
        assert!(!names(&defaults, &kept).is_empty());
        // Configured patterns replace the defaults; `pods: []` excludes none by name.
        let custom = processor(r#"{"exclude":{"pods":[{"name":"^checkout-"}]}}"#);
        assert!(names(&custom, &with("checkout-1", &[])).is_empty());
        assert!(!names(&custom, &with("jaeger-agent", &[])).is_empty());
        let none = processor(r#"{"exclude":{"pods":[]}}"#);
        assert!(!names(&none, &with("jaeger-agent", &[])).is_empty());
        // `exclude: {}` keeps contrib's defaults.
        let empty = processor(r#"{"exclude":{}}"#);
        assert!(names(&empty, &with("jaeger-agent", &[])).is_empty());
    }

    #[test]
    fn association_sources_find_the_pod_and_must_all_agree() {
        let mut cache = Cache::new(10, DELETE_GRACE);
        cache.apply_pod(pod(), Instant::now());
        let mut other = pod();
        other.uid = "uid-2".into();
        other.name = "other".into();
        other.ips = vec!["10.0.0.8".parse().unwrap()];
        other.containers = vec!["beef".into()];
        cache.apply_pod(other, Instant::now());
        let find = |yaml: &str, attrs: &[(&str, &str)], conn: Option<&str>| {
            let rules = config(yaml).association();
            find_pod(
                &rules,
                &cache,
                |k| {
                    attrs
                        .iter()
                        .find(|(n, _)| *n == k)
                        .map(|(_, v)| (*v).to_owned())
                },
                conn.map(|c| c.parse().unwrap()),
            )
            .map(|p| p.uid.clone())
        };
        let by = |names: &[&str]| {
            let sources: Vec<String> = names
                .iter()
                .map(|n| format!(r#"{{"from":"resource_attribute","name":"{n}"}}"#))
                .collect();
            format!(
                r#"{{"pod_association":[{{"sources":[{}]}}]}}"#,
                sources.join(",")
            )
        };
        let uid1 = Some("uid-1".to_owned());
        // contrib's default order ends with `host.name` holding an IP.
        assert_eq!(find("{}", &[("host.name", "10.0.0.7")], None), uid1);
        assert_eq!(
            find("{}", &[("host.name", "10.0.0.7")], Some("10.0.0.8")),
            Some("uid-2".to_owned()),
            "the connection comes before host.name"
        );
        assert_eq!(
            find(&by(&["host.name"]), &[("host.name", "10.0.0.7")], None),
            uid1
        );
        assert_eq!(
            find(&by(&["host.name"]), &[("host.name", "ip-10-0-0-7")], None),
            None
        );
        assert_eq!(
            find(&by(&["container.id"]), &[("container.id", "c0ffee")], None),
            uid1
        );
        assert_eq!(
            find(
                &by(&["k8s.pod.name", "k8s.namespace.name"]),
                &[("k8s.pod.name", "other"), ("k8s.namespace.name", "shop")],
                None
            ),
            Some("uid-2".to_owned())
        );
        assert_eq!(
            find(
                &by(&["k8s.pod.name", "k8s.namespace.name"]),
                &[
                    ("k8s.pod.name", "other"),
                    ("k8s.namespace.name", "elsewhere")
                ],
                None
            ),
            None
        );
        // Sources that name different pods: no pod from this rule.
        assert_eq!(
            find(
                &by(&["container.id", "k8s.pod.uid"]),
                &[("container.id", "c0ffee"), ("k8s.pod.uid", "uid-2")],
                None
            ),
            None
        );
        // Connection plus namespace: the connection finds it, the namespace agrees.
        let both = r#"{"pod_association":[{"sources":[{"from":"connection"},{"from":"resource_attribute","name":"k8s.namespace.name"}]}]}"#;
        assert_eq!(
            find(both, &[("k8s.namespace.name", "shop")], Some("10.0.0.7")),
            uid1
        );
        assert_eq!(
            find(both, &[("k8s.namespace.name", "x")], Some("10.0.0.7")),
            None
        );
        assert_eq!(find(both, &[], Some("10.0.0.7")), None);
    }

    #[test]
    fn filters_become_the_pod_watchs_selectors() {
        let cfg = config(
            r#"{"filter":{"labels":[{"key":"app","value":"web"},{"key":"tier","value":"db","op":"not-equals"},{"key":"canary","op":"exists"},{"key":"legacy","op":"does-not-exist"}],
                          "fields":[{"key":"status.phase","value":"Running"},{"key":"metadata.name","value":"a,b=c","op":"not-equals"}]}}"#,
        );
        assert_eq!(
            cfg.label_selector().as_deref(),
            Some("app=web,tier!=db,canary,!legacy")
        );
        assert_eq!(
            cfg.field_selector(Some("node-1")).as_deref(),
            Some("spec.nodeName=node-1,status.phase=Running,metadata.name!=a\\,b\\=c")
        );
        let none = config("{}");
        assert_eq!(none.label_selector(), None);
        assert_eq!(none.field_selector(None), None);
        assert_eq!(
            none.field_selector(Some("n")).as_deref(),
            Some("spec.nodeName=n")
        );
    }

    #[test]
    fn waiting_for_metadata_fails_after_the_timeout_naming_the_last_error() {
        let cfg = config(r#"{"wait_for_metadata":true}"#);
        let shared = Shared::new(
            "k8sattributes".into(),
            Cache::new(10, DELETE_GRACE),
            crate::telemetry::Telemetry::new(),
        );
        let started = Instant::now();
        let err = shared
            .wait_synced(&cfg, Duration::from_millis(100))
            .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(100));
        let text = err.to_string();
        assert!(
            text.contains("did not sync") && text.contains("no answer yet"),
            "{text}"
        );
    }
}
