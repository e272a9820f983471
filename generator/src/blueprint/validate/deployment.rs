//! What the collector's deployment derives from the blueprint: the persistent queue against the
//! mode and the node disks, the image's architectures against the node groups the blueprint
//! creates, the memory limit the sizing needs; and the warnings (`warnings`): an image that points
//! at nothing the blueprint creates and is not pinned by digest.

use crate::blueprint::load::{self, Source};
use crate::blueprint::model::{Blueprint, Cluster, Collector, CollectorMode, Spec};
use crate::blueprint::rules::{mem_bytes, queue_headroom_bytes};
use crate::blueprint::validate::checker::Checker;
use crate::diagnostic::{Diagnostic, Phase};

/// Where the collector's fields are.
const BASE: &str = "/spec/collector";

/// The smallest memory limit the sizing is made for (`plan/collector/sizing.rs`).
pub const MIN_MEMORY_LIMIT_BYTES: u64 = 256 << 20;

/// The smallest persistent-queue volume.
pub const MIN_QUEUE_VOLUME_BYTES: u64 = 128 << 20;

impl Checker<'_> {
    /// The persistent queue, the architectures and the memory limit.
    pub(super) fn check_deployment(&mut self, spec: &Spec) {
        let c = &spec.collector;
        if let Some(limit) = mem_bytes(&c.resources.limits.memory) {
            if limit < MIN_MEMORY_LIMIT_BYTES {
                self.error(
                    &format!("{BASE}/resources/limits/memory"),
                    format!("the memory limit {} is below 256Mi", c.resources.limits.memory),
                    Some("at least `256Mi`"),
                    Some("the sending queue, the OTLP receivers' budget and memory_limiter's headroom are fractions of the limit (docs/generator.md, \"Sizing\"); below 256Mi they leave the collector no room"),
                );
            }
        }
        self.check_persistent_queue(spec);
        self.check_architectures(spec);
    }

    fn check_persistent_queue(&mut self, spec: &Spec) {
        let c: &Collector = &spec.collector;
        let Some(q) = &c.persistent_queue else {
            return;
        };
        let base = format!("{BASE}/persistent_queue");
        let mode = match c.mode {
            CollectorMode::Deployment => "deployment",
            CollectorMode::Daemonset => "daemonset",
            CollectorMode::Statefulset => "statefulset",
        };
        if q.storage_class.is_some() && c.mode != CollectorMode::Statefulset {
            self.error(
                &format!("{base}/storage_class"),
                format!("`storage_class` does not apply to a {mode}"),
                None,
                Some("only a statefulset's queue lives on PersistentVolumeClaims; remove it, or use `mode: statefulset`"),
            );
        }
        if let Some(class) = &q.storage_class {
            if !crate::blueprint::rules::is_dns_subdomain(class) {
                self.error(
                    &format!("{base}/storage_class"),
                    format!("invalid StorageClass name `{class}`"),
                    Some("a DNS-1123 subdomain"),
                    None,
                );
            }
        }
        if let Some(path) = &q.host_path {
            if c.mode != CollectorMode::Daemonset {
                self.error(
                    &format!("{base}/host_path"),
                    format!("`host_path` does not apply to a {mode}"),
                    None,
                    Some("only a daemonset's queue lives in a node directory; remove it, or use `mode: daemonset`"),
                );
            }
            let clean = path.starts_with('/')
                && path.len() > 1
                && !path.split('/').any(|p| p == ".." || p == ".")
                && path
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "/._-".contains(ch));
            if !clean {
                self.error(
                    &format!("{base}/host_path"),
                    format!("invalid node directory `{path}`"),
                    Some("an absolute path of `A-Za-z0-9/._-`, without `.` or `..` parts, such as `/var/lib/xray-collector`"),
                    None,
                );
            } else if [
                "/etc",
                "/proc",
                "/sys",
                "/dev",
                "/boot",
                "/var/run",
                "/run",
                "/var/lib/kubelet",
            ]
            .iter()
            .any(|p| path.trim_end_matches('/') == *p || path.starts_with(&format!("{p}/")))
            {
                self.error(
                    &format!("{base}/host_path"),
                    format!("`{path}` is a system directory of the node"),
                    Some("a directory of its own, such as `/var/lib/xray-collector`"),
                    None,
                );
            }
        }
        let Some(volume) = mem_bytes(&q.volume_size) else {
            return;
        };
        if volume < MIN_QUEUE_VOLUME_BYTES {
            self.error(
                &format!("{base}/volume_size"),
                format!("the volume size {} is below 128Mi", q.volume_size),
                Some("at least `128Mi`"),
                None,
            );
            return;
        }
        let limit = volume - queue_headroom_bytes(volume);
        if let Some(max) = q.max_size.as_deref().and_then(mem_bytes) {
            if max > limit {
                self.error(
                    &format!("{base}/max_size"),
                    format!(
                        "the queue's disk bound {} leaves less than the headroom below the volume's {}",
                        q.max_size.as_deref().unwrap_or_default(),
                        q.volume_size
                    ),
                    Some(&format!("at most {} MiB (the volume less a tenth of it, at least 16 MiB)", limit >> 20)),
                    Some(match c.mode {
                        CollectorMode::Deployment => "an emptyDir that outgrows its sizeLimit gets the pod evicted, and the queue with it",
                        _ => "a full volume fails the queue's appends; the bound must be reached first",
                    }),
                );
            }
        }
        if c.mode == CollectorMode::Daemonset {
            if let Cluster::Create(create) = &spec.cluster {
                if let Some((idx, g)) = create
                    .node_groups
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, g)| g.disk_size_gib)
                {
                    let disk = u64::from(g.disk_size_gib) << 30;
                    if volume > disk / 4 {
                        self.error(
                            &format!("{base}/volume_size"),
                            format!(
                                "the queue may take {} of each node's disk, more than a quarter of node group `{}`'s {} GiB",
                                q.volume_size, g.name, g.disk_size_gib
                            ),
                            Some(&format!("at most {}Mi, or larger disks (`/spec/cluster/create/node_groups/{idx}/disk_size_gib`)", (disk / 4) >> 20)),
                            Some("a daemonset's queue shares the node's root volume with images, logs and every other pod's emptyDir"),
                        );
                    }
                }
            }
        }
    }

    /// The image's architectures against the node groups the blueprint creates.
    fn check_architectures(&mut self, spec: &Spec) {
        let img = &spec.collector.image;
        let ptr = format!("{BASE}/image/architectures");
        if img.architectures.is_empty() {
            self.error(
                &ptr,
                "the image lists no architecture".to_owned(),
                Some("`[amd64]`, `[arm64]` or both"),
                None,
            );
            return;
        }
        let Cluster::Create(create) = &spec.cluster else {
            return;
        };
        let runnable = create
            .node_groups
            .iter()
            .any(|g| img.architectures.contains(&g.ami_type.architecture()));
        if !runnable && !create.node_groups.is_empty() {
            let nodes: Vec<String> = create
                .node_groups
                .iter()
                .map(|g| format!("`{}` ({})", g.name, g.ami_type.architecture().as_str()))
                .collect();
            let have: Vec<String> = img
                .architectures
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect();
            self.error(
                &ptr,
                format!(
                    "no node group the blueprint creates can run the image ({}): node groups {}",
                    have.join(", "),
                    nodes.join(", ")
                ),
                Some("an architecture of the node groups, with an image built for it"),
                Some("`xray-collector-image build` packages the build host's architecture; build on (or cross-compile for) the nodes' architecture and list it here, or add a node group of the image's architecture"),
            );
        }
    }
}

/// The warnings of a valid blueprint: located problems that do not stop the render.
pub fn warnings(source: &Source, bp: &Blueprint) -> Vec<Diagnostic> {
    let img = &bp.spec.collector.image;
    let mut out = Vec::new();
    if let (Some(repository), None) = (&img.repository, &img.digest) {
        let span = load::load(source)
            .map(|doc| doc.locate(&format!("{BASE}/image/repository"), true))
            .unwrap_or_default();
        out.push(Diagnostic {
            file: source.name.clone(),
            span,
            pointer: format!("{BASE}/image/repository"),
            phase: Phase::Semantic,
            message: format!(
                "the image `{repository}:{}` is in a repository this blueprint does not create, and no digest pins it",
                img.tag
            ),
            expected: None,
            hint: Some("nothing checks that this tag exists or stays the same; pin `image.digest`, or drop `image.repository` to use the ECR repository the blueprint creates".to_owned()),
        });
    }
    out
}
