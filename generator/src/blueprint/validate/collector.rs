//! The collector: names, mode and scaling, image, resources, tolerations, ports, batching and the
//! exporter's options. What the deployment derives from them (the persistent queue against the
//! mode and the nodes, the image's architectures, the memory the sizing needs) is `deployment.rs`.

use std::collections::BTreeMap;

use crate::blueprint::model::{
    Collector, CollectorMode, DEFAULT_REPLICAS, ExporterType, Spec, TolerationOperator,
};
use crate::blueprint::rules::{
    HEALTH_CHECK_PORT, METRICS_PORT, cpu_millis, is_digest, is_dns_subdomain, is_image_repository,
    is_label_key, is_label_value, mem_bytes,
};
use crate::blueprint::validate::checker::Checker;

/// Where the collector's fields are.
const BASE: &str = "/spec/collector";

/// How a label (or taint) key must look, as the API server checks it.
const LABEL_KEY_RULE: &str = "an optional DNS subdomain prefix and `/`, then at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit";

/// How a label (or taint) value must look, as the API server checks it.
const LABEL_VALUE_RULE: &str = "empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit";

/// The namespaces the add-ons the blueprint installs run in, reserved for them: the cert-manager
/// community add-on's `cert-manager` and the ADOT add-on's `opentelemetry-operator-system`
/// (`shared/reference/eks-adot.md` §1 and §3). The Pod Identity agent runs in `kube-system`, which
/// is refused for the collector anyway.
const ADDON_NAMESPACES: [(&str, &str); 2] = [
    ("cert-manager", "cert-manager add-on"),
    (
        "opentelemetry-operator-system",
        "ADOT add-on (the OpenTelemetry Operator)",
    ),
];

impl Checker<'_> {
    /// `spec.collector`.
    pub(super) fn check_collector(&mut self, spec: &Spec) {
        let c = &spec.collector;
        self.check_workload(c);
        self.check_image_and_pod(c);
        self.check_ports(c);
        self.check_batch_and_exporter(c);
        self.check_deployment(spec);
    }

    /// Names, namespace, service account, mode, replicas, autoscaling, disruption budget.
    fn check_workload(&mut self, c: &Collector) {
        let base = BASE;
        self.dns_label(&format!("{base}/name"), &c.name, 42);
        self.dns_label(&format!("{base}/namespace"), &c.namespace, 63);
        if let Some(addon) = ADDON_NAMESPACES
            .iter()
            .find(|(ns, _)| *ns == c.namespace)
            .map(|(_, addon)| addon)
        {
            self.error(
                &format!("{base}/namespace"),
                format!("the namespace `{}` belongs to the {addon}", c.namespace),
                Some("a namespace of its own, such as `aws-otel-eks`"),
                Some("the rendered manifests create and own the collector's namespace, so deleting the collector's objects would delete the add-on's namespace and the add-on with it"),
            );
        }
        if ["kube-system", "kube-public", "kube-node-lease", "default"]
            .contains(&c.namespace.as_str())
        {
            self.error(
                &format!("{base}/namespace"),
                format!("the collector should not run in `{}`", c.namespace),
                Some("a namespace of its own, such as `aws-otel-eks`"),
                Some("the rendered manifests create and label the namespace"),
            );
        }
        if !is_dns_subdomain(&c.service_account) {
            self.error(&format!("{base}/service_account"), format!("invalid ServiceAccount name `{}`", c.service_account), Some("a DNS-1123 subdomain: lower-case letters, digits, `-` and `.`, at most 253 characters"), None);
        }
        if c.service_account == "default" {
            self.error(&format!("{base}/service_account"), "the collector must not use the namespace's `default` ServiceAccount".to_owned(), Some("a dedicated ServiceAccount name"), Some("the IAM role trusts exactly this ServiceAccount; sharing `default` gives every pod in the namespace X-Ray write access"));
        }
        let daemonset = c.mode == CollectorMode::Daemonset;
        if daemonset {
            let set = [
                ("replicas", c.replicas.is_some()),
                ("autoscaling", c.autoscaling.is_some()),
                ("pod_disruption_budget", c.pod_disruption_budget.is_some()),
            ];
            for (field, is_set) in set {
                if is_set {
                    self.error(
                        &format!("{base}/{field}"),
                        format!("`{field}` does not apply to a daemonset"),
                        None,
                        Some("a daemonset runs one pod per matching node; remove this field or use `mode: deployment`"),
                    );
                }
            }
        }
        if let Some(a) = &c.autoscaling {
            if a.min_replicas > a.max_replicas {
                self.error(
                    &format!("{base}/autoscaling/min_replicas"),
                    format!(
                        "min_replicas {} is larger than max_replicas {}",
                        a.min_replicas, a.max_replicas
                    ),
                    Some("min_replicas <= max_replicas"),
                    None,
                );
            }
        }
        if let Some(p) = &c.pod_disruption_budget {
            let ptr = format!("{base}/pod_disruption_budget");
            match (p.min_available, p.max_unavailable) {
                (Some(_), Some(_)) | (None, None) => self.error(&ptr, "a pod disruption budget takes exactly one of `min_available` and `max_unavailable`".to_owned(), None, None),
                (Some(n), None) if !daemonset => {
                    let floor = c
                        .autoscaling
                        .as_ref()
                        .map_or(c.replicas.unwrap_or(DEFAULT_REPLICAS), |a| a.min_replicas);
                    if n >= floor {
                        self.error(&format!("{ptr}/min_available"), format!("min_available {n} is not below the replica count {floor}"), Some(&format!("at most {}", floor.saturating_sub(1))), Some("otherwise no pod may ever be evicted and node drains hang"));
                    }
                }
                (None, Some(0)) => self.error(&format!("{ptr}/max_unavailable"), "max_unavailable 0 blocks every node drain".to_owned(), Some("at least 1"), None),
                _ => {}
            }
        }
    }

    /// The image reference, requests and limits, tolerations.
    fn check_image_and_pod(&mut self, c: &Collector) {
        let base = BASE;
        let img = &c.image;
        if let Some(repository) = img
            .repository
            .as_deref()
            .filter(|r| !is_image_repository(r))
        {
            self.error(&format!("{base}/image/repository"), format!("invalid image repository `{repository}`"), Some("a lower-case repository such as `ghcr.io/xray-blueprints/xray-collector`, without tag or digest"), None);
        }
        let tag_ok = !img.tag.is_empty()
            && img.tag.len() <= 128
            && img
                .tag
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
            && !img.tag.starts_with(['.', '-']);
        if !tag_ok {
            self.error(
                &format!("{base}/image/tag"),
                format!("invalid image tag `{}`", img.tag),
                Some("1 to 128 characters of `A-Za-z0-9_.-`"),
                None,
            );
        } else if img.tag == "latest" && !img.digest.as_deref().is_some_and(is_digest) {
            self.error(
                &format!("{base}/image/tag"),
                "the image tag `latest` is not pinned".to_owned(),
                Some("a version tag, or a `digest`"),
                Some("with `latest`, two applies of the same output can run different collectors"),
            );
        }
        if let Some(d) = &img.digest {
            if !is_digest(d) {
                self.error(
                    &format!("{base}/image/digest"),
                    format!("invalid image digest `{d}`"),
                    Some("`sha256:` and 64 lower-case hex digits"),
                    None,
                );
            }
        }
        let r = &c.resources;
        for (what, req, lim) in [
            (
                "cpu",
                cpu_millis(&r.requests.cpu),
                cpu_millis(&r.limits.cpu),
            ),
            (
                "memory",
                mem_bytes(&r.requests.memory),
                mem_bytes(&r.limits.memory),
            ),
        ] {
            if let (Some(req), Some(lim)) = (req, lim) {
                if req > lim {
                    self.error(
                        &format!("{base}/resources/requests/{what}"),
                        format!("the {what} request is larger than its limit"),
                        Some("requests <= limits"),
                        None,
                    );
                }
            }
        }
        for (key, value) in &c.node_selector {
            let ptr = format!(
                "{base}/node_selector/{}",
                crate::blueprint::load::escape_pointer(key)
            );
            if !is_label_key(key) {
                self.error(&ptr, format!("`{key}` is not a Kubernetes label key"), Some(LABEL_KEY_RULE), Some("the API server refuses a pod whose nodeSelector has such a key, so no collector pod would start"));
            }
            if !is_label_value(value) {
                self.error(&ptr, format!("`{value}` is not a Kubernetes label value"), Some(LABEL_VALUE_RULE), Some("the API server refuses a pod whose nodeSelector has such a value, so no collector pod would start"));
            }
        }
        for (idx, t) in c.tolerations.iter().enumerate() {
            let ptr = format!("{base}/tolerations/{idx}");
            if let Some(key) = t.key.as_deref().filter(|k| !k.is_empty()) {
                if !is_label_key(key) {
                    self.error(&format!("{ptr}/key"), format!("`{key}` is not a Kubernetes taint key"), Some(LABEL_KEY_RULE), Some("the API server refuses a pod with such a toleration, so no collector pod would start"));
                }
            }
            if let Some(value) = &t.value {
                if !is_label_value(value) {
                    self.error(&format!("{ptr}/value"), format!("`{value}` is not a Kubernetes taint value"), Some(LABEL_VALUE_RULE), Some("the API server refuses a pod with such a toleration, so no collector pod would start"));
                }
            }
            if t.operator == TolerationOperator::Exists && t.value.is_some() {
                self.error(
                    &format!("{ptr}/value"),
                    "a toleration with `operator: Exists` takes no value".to_owned(),
                    None,
                    None,
                );
            }
            if t.operator == TolerationOperator::Equal
                && t.key.as_deref().unwrap_or_default().is_empty()
            {
                self.error(
                    &ptr,
                    "a toleration with `operator: Equal` needs a key".to_owned(),
                    None,
                    Some("use `operator: Exists` without a key to tolerate every taint"),
                );
            }
        }
    }

    /// The receivers' ports against each other and the collector's own.
    fn check_ports(&mut self, c: &Collector) {
        let base = BASE;
        // Ports: UDP and TCP are separate spaces; 13133 and 8888 are taken by the health check and
        // the collector's own metrics; the restricted security context cannot bind below 1024.
        let rx = &c.receivers;
        let mut tcp: Vec<(String, u16)> = vec![
            ("the health_check extension".to_owned(), HEALTH_CHECK_PORT),
            ("the collector's metrics".to_owned(), METRICS_PORT),
        ];
        let mut ports: Vec<(String, u16, bool)> = vec![(
            format!("{base}/receivers/xray/udp_port"),
            rx.xray.udp_port,
            false,
        )];
        if let Some(p) = &rx.xray.sampling_proxy {
            ports.push((
                format!("{base}/receivers/xray/sampling_proxy/tcp_port"),
                p.tcp_port,
                true,
            ));
        }
        if let Some(o) = &rx.otlp {
            if o.grpc.is_none() && o.http.is_none() {
                self.error(
                    &format!("{base}/receivers/otlp"),
                    "the OTLP receiver has no protocol".to_owned(),
                    Some("`grpc:` or `http:` (or both)"),
                    None,
                );
            }
            if let Some(g) = &o.grpc {
                ports.push((format!("{base}/receivers/otlp/grpc/port"), g.port, true));
            }
            if let Some(h) = &o.http {
                ports.push((format!("{base}/receivers/otlp/http/port"), h.port, true));
            }
        }
        for (ptr, port, is_tcp) in ports {
            if port < 1024 {
                self.error(&ptr, format!("port {port} is privileged"), Some("a port from 1024 to 65535"), Some("the collector runs as non-root without capabilities and cannot bind ports below 1024"));
                continue;
            }
            if is_tcp {
                if let Some((other, _)) = tcp.iter().find(|(_, p)| *p == port) {
                    self.error(
                        &ptr,
                        format!("TCP port {port} is already used by {other}"),
                        Some("a TCP port no other receiver uses"),
                        None,
                    );
                }
                tcp.push((format!("`{ptr}`"), port));
            }
        }
    }

    /// The batch limits and the `xray-api` exporter's options.
    fn check_batch_and_exporter(&mut self, c: &Collector) {
        let base = BASE;
        let b = &c.batch;
        if b.send_batch_size > 50 {
            self.error(
                &format!("{base}/batch/send_batch_size"),
                format!("send_batch_size {} exceeds 50", b.send_batch_size),
                Some("at most 50"),
                Some("PutTraceSegments accepts at most 50 segments per call"),
            );
        }
        if b.send_batch_max_size > 50 {
            self.error(
                &format!("{base}/batch/send_batch_max_size"),
                format!("send_batch_max_size {} exceeds 50", b.send_batch_max_size),
                Some("at most 50"),
                Some("PutTraceSegments accepts at most 50 segments per call"),
            );
        } else if b.send_batch_max_size < b.send_batch_size && b.send_batch_size <= 50 {
            self.error(
                &format!("{base}/batch/send_batch_max_size"),
                format!(
                    "send_batch_max_size {} is below send_batch_size {}",
                    b.send_batch_max_size, b.send_batch_size
                ),
                Some("send_batch_size <= send_batch_max_size"),
                None,
            );
        }
        let e = &c.exporter;
        if let Some(region) = &e.region {
            self.known_region(&format!("{base}/exporter/region"), region);
        }
        if e.index_all_attributes
            && !e.indexed_attributes.is_empty()
            && e.kind == ExporterType::XrayApi
        {
            self.error(
                &format!("{base}/exporter/indexed_attributes"),
                "indexed_attributes has no effect with index_all_attributes".to_owned(),
                None,
                Some("remove one of the two"),
            );
        }
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        for (idx, attr) in e.indexed_attributes.iter().enumerate() {
            if attr.trim().is_empty() {
                self.error(
                    &format!("{base}/exporter/indexed_attributes/{idx}"),
                    "empty attribute name".to_owned(),
                    None,
                    None,
                );
            } else if seen.insert(attr, ()).is_some() {
                self.error(
                    &format!("{base}/exporter/indexed_attributes/{idx}"),
                    format!("attribute `{attr}` is listed twice"),
                    None,
                    None,
                );
            }
        }
    }
}
