//! The `k8sattributes` processor: sets pod metadata (`k8s.pod.name`, `k8s.pod.uid`,
//! `k8s.namespace.name`, `k8s.node.name`, `k8s.deployment.name`, ..., labels and annotations as
//! `extract` says) on each resource, found by pod IP (the connection's address, or the resource's
//! `k8s.pod.ip`) or pod UID, in a bounded cache that a watch on the Kubernetes API fills
//! (`watch.rs`, `cache.rs`). Existing attributes are kept, as in contrib. Without API access, or
//! for a pod not (yet) in the cache, spans pass unchanged.

pub mod cache;
pub mod config;
pub mod watch;

use std::net::IpAddr;
use std::sync::Arc;

use self::cache::{Cache, DELETE_GRACE, PodMeta};
use self::config::{FieldExtractConfig, K8sAttributesConfig, Source};
use self::watch::Shared;
use super::resource_edit::{for_each_resource, get_str, set_str};
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
        Ok(Processor::Inline(Arc::new(K8sAttributes {
            cfg: self.clone(),
            rules: self.association(),
            shared,
        })))
    }
}

/// One pipeline's instance.
struct K8sAttributes {
    cfg: K8sAttributesConfig,
    rules: Vec<Vec<Source>>,
    /// The watch's state; `None` in passthrough mode.
    shared: Option<Arc<Shared>>,
}

impl InlineProcessor for K8sAttributes {
    fn process(&self, mut traces: Traces) -> Result<Option<Traces>, Refused> {
        let cache = self.shared.as_ref().map(|s| match s.cache.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        });
        for_each_resource(&mut traces, |attributes, connection| {
            let connection_ip = connection_ip(&self.rules, connection);
            let Some(cache) = cache.as_deref() else {
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
            // Without a pod the resource is left as it came (contrib would still add the
            // connection's `k8s.pod.ip`; here an unknown sender's documents keep their bytes).
            if let Some(pod) = pod {
                if let Some(ip) = connection_ip {
                    set_str(attributes, "k8s.pod.ip", &ip.to_string(), false);
                }
                for (key, value) in pod_attributes(&self.cfg, cache, &pod) {
                    set_str(attributes, &key, &value, false);
                }
            }
        });
        Ok(Some(traces))
    }

    fn changes_resource(&self) -> bool {
        true
    }
}

/// A resource attribute to set: key and string value.
pub type Attribute = (String, String);

/// The attributes `cfg` extracts for `pod`, from `cache` (for deployments and namespaces).
pub fn pod_attributes(cfg: &K8sAttributesConfig, cache: &Cache, pod: &PodMeta) -> Vec<Attribute> {
    let mut out = Vec::new();
    for key in &cfg.extract.metadata {
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
    for (rules, kind) in [
        (&cfg.extract.labels, "labels"),
        (&cfg.extract.annotations, "annotations"),
    ] {
        for rule in rules {
            let from_namespace = rule.from == "namespace";
            let map = match (from_namespace, kind) {
                (false, "labels") => Some(&pod.labels),
                (false, _) => Some(&pod.annotations),
                (true, "labels") => namespace.map(|n| &n.labels),
                (true, _) => namespace.map(|n| &n.annotations),
            };
            if let Some(value) = map.and_then(|m| m.get(&rule.key)) {
                out.push((tag_name(rule, kind), value.clone()));
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
/// `get` reads a string resource attribute; `connection` is the client address.
pub fn find_pod(
    rules: &[Vec<Source>],
    cache: &Cache,
    get: impl Fn(&str) -> Option<String>,
    connection: Option<IpAddr>,
) -> Option<std::sync::Arc<PodMeta>> {
    'rules: for rule in rules {
        let mut found: Option<std::sync::Arc<PodMeta>> = None;
        for source in rule {
            let pod = match source {
                Source::Connection => connection.and_then(|ip| cache.by_ip(&ip)),
                Source::PodIp => get("k8s.pod.ip")
                    .and_then(|ip| ip.parse().ok())
                    .and_then(|ip| cache.by_ip(&ip)),
                Source::PodUid => get("k8s.pod.uid").and_then(|uid| cache.by_uid(&uid)),
            };
            match (pod, &found) {
                (None, _) => continue 'rules,
                (Some(p), Some(f)) if p.uid != f.uid => continue 'rules,
                (Some(p), _) => found = Some(p),
            }
        }
        if found.is_some() {
            return found;
        }
    }
    None
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
