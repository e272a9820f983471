//! The `resourcedetection` processor: detects the host's resource attributes once at start-up
//! (the `env`, `system`, `ec2` and `eks` detectors, in the configured order, together bounded by
//! `timeout`) and sets them on every resource passing through: replacing what a resource has
//! (`override: true`, the default) or only adding what it lacks. X-Ray documents without a
//! resource all get one shared `Arc` of the detected attributes, built at start-up.
//!
//! A detector that fails or runs out of time is a warning and is counted
//! (`processor_resourcedetection_failures_total{detector}`); spans then pass without its
//! attributes. `ec2` and `eks` read instance metadata through IMDSv2 (`imds.rs`); `eks` asks the
//! Kubernetes API's `/version` whether the cluster is EKS, as contrib does.
//!
//! Instance tags: `ec2`'s `tags` come from EC2 `DescribeTags` (`crate::aws::ec2`, the instance
//! id and region from the identity document), or from instance metadata with `tags_from_imds`.
//! `eks`'s `k8s.cluster.name` comes from `K8S_CLUSTER_NAME`, else the instance's tags in instance
//! metadata (when the instance exposes them), else `DescribeTags` filtered to the instance and
//! the keys `eks:cluster-name` and `kubernetes.io/cluster/*`; when every source fails the
//! detector fails with an error that names `ec2:DescribeTags`.

pub mod config;
pub mod imds;

use std::sync::Arc;
use std::time::Duration;

use self::config::{
    EC2_ATTRIBUTES, EKS_ATTRIBUTES, Ec2Config, EksConfig, ResourceDetectionConfig,
    SYSTEM_ATTRIBUTES, SystemConfig, enabled,
};
use self::imds::{IdentityDocument, Imds, ImdsError};
use super::resource_edit::{for_each_resource, set_str};
use super::{BuildContext, BuildError, InlineProcessor, Processor, ProcessorConfig};
use crate::telemetry::Telemetry;
use crate::telemetry::logs::error_chain;
use crate::traces::{Refused, Traces};

impl ProcessorConfig for ResourceDetectionConfig {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Processor, BuildError> {
        // Detected once per processor id, at start-up, whatever the number of pipelines.
        let detected = self
            .detected
            .0
            .get_or_init(|| Arc::new(detect_blocking(self, &ctx.processor, &ctx.telemetry)))
            .clone();
        let mut alone = Vec::new();
        for (key, value) in detected.iter() {
            set_str(&mut alone, key, value, self.override_existing);
        }
        Ok(Processor::Inline(Arc::new(ResourceDetection {
            alone: Arc::new(alone),
            detected,
            override_existing: self.override_existing,
        })))
    }
}

/// Runs [`detect`] to completion from the synchronous build, on a thread of its own (with its
/// own runtime, so it works whatever runtime the build runs in); bounded by `timeout`.
fn detect_blocking(
    cfg: &ResourceDetectionConfig,
    processor: &str,
    telemetry: &Telemetry,
) -> Attributes {
    let run = || {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime.block_on(detect(cfg, processor, telemetry)),
                        Err(error) => {
                            telemetry.detection_failed(processor, "runtime");
                            tracing::warn!(processor, error = %error, "Resource detection could not run.");
                            Vec::new()
                        }
                    }
                })
                .join()
                .unwrap_or_default()
        })
    };
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
        _ => run(),
    }
}

/// One pipeline's instance: sets the detected attributes on every resource.
struct ResourceDetection {
    detected: Arc<Attributes>,
    /// The detected attributes set on an empty resource, shared by the X-Ray documents that
    /// come without one (all of them, unless a processor before this one set some).
    alone: super::resource_edit::SharedResource,
    override_existing: bool,
}

impl InlineProcessor for ResourceDetection {
    fn process(&self, mut traces: Traces) -> Result<Option<Traces>, Refused> {
        if self.detected.is_empty() {
            return Ok(Some(traces));
        }
        if let Traces::XRay(segments) = &mut traces {
            for segment in segments.iter_mut() {
                match &mut segment.resource {
                    Some(resource) if !resource.is_empty() => {
                        let attributes = Arc::make_mut(resource);
                        for (key, value) in self.detected.iter() {
                            set_str(attributes, key, value, self.override_existing);
                        }
                    }
                    other => *other = Some(self.alone.clone()),
                }
            }
        } else {
            for_each_resource(&mut traces, |attributes, _| {
                for (key, value) in self.detected.iter() {
                    set_str(attributes, key, value, self.override_existing);
                }
            });
        }
        Ok(Some(traces))
    }

    fn changes_resource(&self) -> bool {
        !self.detected.is_empty()
    }
}

/// Detected attributes, in order: key and string value.
pub type Attributes = Vec<(String, String)>;

/// The environment variable the `eks` detector reads the cluster name from first (an extension
/// of contrib, which only reads the instance's tags through EC2 DescribeInstances).
pub const CLUSTER_NAME_ENV: &str = "K8S_CLUSTER_NAME";

/// Why a detector failed.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// `OTEL_RESOURCE_ATTRIBUTES` is not `key=value,...`.
    #[error("OTEL_RESOURCE_ATTRIBUTES: `{0}` is not a key=value pair")]
    EnvFormat(String),
    /// Instance metadata could not be read.
    #[error(transparent)]
    Imds(#[from] ImdsError),
    /// The Kubernetes API could not be asked for its version.
    #[error("asking the Kubernetes API for its version")]
    KubeConfig(#[from] kube::config::InferConfigError),
    /// The Kubernetes client failed.
    #[error("the Kubernetes API")]
    Kube(#[from] kube::Error),
    /// `k8s.cluster.name` is enabled but found nowhere; the source is the last lookup's error.
    #[error(
        "no cluster name: set {CLUSTER_NAME_ENV}, or tag the instance `eks:cluster-name` (or `kubernetes.io/cluster/<name>`) and allow the collector's role ec2:DescribeTags"
    )]
    ClusterName(#[source] Option<Box<dyn std::error::Error + Send + Sync + 'static>>),
    /// EC2 `DescribeTags` failed.
    #[error(transparent)]
    Ec2(#[from] Box<crate::aws::ec2::Ec2Error>),
    /// The system's host name could not be read.
    #[error("reading the host name")]
    HostName(#[source] std::io::Error),
}

/// Runs the configured detectors once, within `timeout`; failures are logged and counted.
pub async fn detect(
    cfg: &ResourceDetectionConfig,
    processor: &str,
    telemetry: &Telemetry,
) -> Attributes {
    let deadline = tokio::time::Instant::now() + cfg.timeout;
    let mut merged: Attributes = Vec::new();
    for detector in &cfg.detectors {
        let result = tokio::time::timeout_at(deadline, run(detector, cfg)).await;
        let attributes = match result {
            Ok(Ok(attributes)) => attributes,
            Ok(Err(error)) => {
                telemetry.detection_failed(processor, detector);
                tracing::warn!(processor, detector = %detector, error = %error_chain(&error),
                    "Resource detector failed: spans pass without its attributes.");
                continue;
            }
            Err(_) => {
                telemetry.detection_failed(processor, detector);
                tracing::warn!(processor, detector = %detector, timeout_secs = cfg.timeout.as_secs_f64(),
                    "Resource detector did not finish within the timeout: spans pass without its attributes.");
                continue;
            }
        };
        // The first detector to set an attribute wins, as in contrib.
        for (key, value) in attributes {
            if !merged.iter().any(|(k, _)| *k == key) {
                merged.push((key, value));
            }
        }
    }
    tracing::info!(
        processor,
        attributes = %merged.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Resource detected."
    );
    merged
}

async fn run(detector: &str, cfg: &ResourceDetectionConfig) -> Result<Attributes, DetectError> {
    match detector {
        "env" => env_detector(std::env::var("OTEL_RESOURCE_ATTRIBUTES").ok().as_deref()),
        "system" => system_detector(&cfg.system),
        "ec2" => ec2_detector(&cfg.ec2).await,
        "eks" => eks_detector(&cfg.eks).await,
        _ => Ok(Vec::new()),
    }
}

/// `env`: `OTEL_RESOURCE_ATTRIBUTES`, `key=value` pairs separated by commas, values
/// percent-decoded.
pub fn env_detector(text: Option<&str>) -> Result<Attributes, DetectError> {
    let mut out = Vec::new();
    for pair in text.unwrap_or_default().split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let Some((key, value)) = pair.split_once('=') else {
            return Err(DetectError::EnvFormat(pair.to_owned()));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(DetectError::EnvFormat(pair.to_owned()));
        }
        out.push((key.to_owned(), percent_decode(value.trim())));
    }
    Ok(out)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `system`: `host.name` (the OS host name), `os.type`, and optionally `host.id` (the machine
/// id) and `host.arch`.
pub fn system_detector(cfg: &SystemConfig) -> Result<Attributes, DetectError> {
    let on = |name| enabled(&cfg.resource_attributes, &SYSTEM_ATTRIBUTES, name);
    let mut out = Vec::new();
    if on("host.name") {
        let name = match std::fs::read_to_string("/proc/sys/kernel/hostname") {
            Ok(name) => name.trim().to_owned(),
            Err(error) => std::env::var("HOSTNAME").map_err(|_| DetectError::HostName(error))?,
        };
        out.push(("host.name".to_owned(), name));
    }
    if on("os.type") {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        out.push(("os.type".to_owned(), os.to_owned()));
    }
    if on("host.id") {
        if let Ok(id) = std::fs::read_to_string("/etc/machine-id") {
            out.push(("host.id".to_owned(), id.trim().to_owned()));
        }
    }
    if on("host.arch") {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        out.push(("host.arch".to_owned(), arch.to_owned()));
    }
    Ok(out)
}

/// Retries `attempt` up to `attempts` times, waiting 100 ms doubling up to `max_backoff`.
async fn with_retries<T, F, Fut>(
    attempts: u32,
    max_backoff: Duration,
    mut attempt: F,
) -> Result<T, ImdsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ImdsError>>,
{
    let mut wait = Duration::from_millis(100);
    let mut left = attempts.max(1);
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(ImdsError::Disabled) => return Err(ImdsError::Disabled),
            Err(e) if left <= 1 => return Err(e),
            Err(_) => {
                left -= 1;
                tokio::time::sleep(wait.min(max_backoff)).await;
                wait = wait.saturating_mul(2);
            }
        }
    }
}

async fn instance(
    attempts: u32,
    max_backoff: Duration,
) -> Result<(Imds, IdentityDocument), ImdsError> {
    with_retries(attempts, max_backoff, || async {
        let imds = Imds::connect().await?;
        let document = imds.identity().await?;
        Ok((imds, document))
    })
    .await
}

fn identity_attributes(
    document: &IdentityDocument,
    on: impl Fn(&str) -> bool,
    out: &mut Attributes,
) {
    for (key, value) in [
        ("cloud.region", &document.region),
        ("cloud.availability_zone", &document.availability_zone),
        ("cloud.account.id", &document.account_id),
        ("host.id", &document.instance_id),
        ("host.type", &document.instance_type),
        ("host.image.id", &document.image_id),
    ] {
        if on(key) && !value.is_empty() {
            out.push((key.to_owned(), value.clone()));
        }
    }
}

/// `ec2`: the instance identity document and host name through IMDSv2, and the tags matching
/// `tags` (from instance metadata) as `ec2.tag.<key>`.
pub async fn ec2_detector(cfg: &Ec2Config) -> Result<Attributes, DetectError> {
    let on = |name: &str| enabled(&cfg.resource_attributes, &EC2_ATTRIBUTES, name);
    let (imds, document) = instance(cfg.max_attempts, cfg.max_backoff).await?;
    let mut out = Vec::new();
    if on("cloud.provider") {
        out.push(("cloud.provider".to_owned(), "aws".to_owned()));
    }
    if on("cloud.platform") {
        out.push(("cloud.platform".to_owned(), "aws_ec2".to_owned()));
    }
    identity_attributes(&document, on, &mut out);
    if on("host.name") {
        let name = imds.get("/latest/meta-data/hostname").await?;
        out.push(("host.name".to_owned(), name.trim().to_owned()));
    }
    if !cfg.tags.is_empty() {
        let patterns: Vec<regex::Regex> = cfg
            .tags
            .iter()
            .filter_map(|p| regex::Regex::new(p).ok())
            .collect();
        let tags = if cfg.tags_from_imds {
            imds.tags().await?
        } else {
            instance_tags(&document, &[]).await.map_err(Box::new)?
        };
        for (key, value) in tags {
            if patterns.iter().any(|p| p.is_match(&key)) {
                out.push((format!("ec2.tag.{key}"), value));
            }
        }
    }
    Ok(out)
}

/// The tag keys that name an instance's EKS cluster, as `DescribeTags` key filters.
pub const CLUSTER_TAG_KEYS: [&str; 2] = ["eks:cluster-name", "kubernetes.io/cluster/*"];

/// The tags of the instance `document` describes, through EC2 `DescribeTags` in its region
/// (only the keys matching `keys`, EC2 wildcards, when not empty).
pub async fn instance_tags(
    document: &IdentityDocument,
    keys: &[&str],
) -> Result<Vec<(String, String)>, crate::aws::ec2::Ec2Error> {
    let ec2 = crate::aws::ec2::Ec2::new(&document.region).await?;
    ec2.describe_tags(&document.instance_id, keys).await
}

/// The cluster name in an instance's tags: `eks:cluster-name`, else the `<name>` of a
/// `kubernetes.io/cluster/<name>` key.
pub fn cluster_name_from_tags(tags: &[(String, String)]) -> Option<String> {
    tags.iter()
        .find(|(k, _)| k == "eks:cluster-name")
        .map(|(_, v)| v.clone())
        .or_else(|| {
            tags.iter()
                .find_map(|(k, _)| k.strip_prefix("kubernetes.io/cluster/"))
                .map(str::to_owned)
        })
        .filter(|name| !name.is_empty())
}

/// `eks`: only on Kubernetes (`KUBERNETES_SERVICE_HOST`) whose API reports an EKS version;
/// `cloud.provider` and `cloud.platform: aws_eks`, the instance's identity through IMDSv2 when
/// enabled, and `k8s.cluster.name` (when enabled) from `K8S_CLUSTER_NAME`, else the instance's
/// tags in instance metadata, else EC2 `DescribeTags`.
pub async fn eks_detector(cfg: &EksConfig) -> Result<Attributes, DetectError> {
    if std::env::var("KUBERNETES_SERVICE_HOST").map_or(true, |v| v.is_empty()) {
        tracing::info!("eks detector: not on Kubernetes (KUBERNETES_SERVICE_HOST is not set).");
        return Ok(Vec::new());
    }
    let client = kube::Client::try_from(kube::Config::infer().await?)?;
    let version = client.apiserver_version().await?;
    if !version.git_version.contains("-eks-") {
        tracing::info!(version = %version.git_version, "eks detector: the cluster is not EKS.");
        return Ok(Vec::new());
    }
    let on = |name: &str| enabled(&cfg.resource_attributes, &EKS_ATTRIBUTES, name);
    let mut out = Vec::new();
    if on("cloud.provider") {
        out.push(("cloud.provider".to_owned(), "aws".to_owned()));
    }
    if on("cloud.platform") {
        out.push(("cloud.platform".to_owned(), "aws_eks".to_owned()));
    }
    let from_env = std::env::var(CLUSTER_NAME_ENV)
        .ok()
        .filter(|v| !v.is_empty());
    let identity_wanted = [
        "cloud.region",
        "cloud.availability_zone",
        "cloud.account.id",
        "host.id",
        "host.type",
        "host.image.id",
        "host.name",
    ]
    .iter()
    .any(|a| on(a));
    let name_wanted = on("k8s.cluster.name");
    let mut lookup_error: Option<Box<dyn std::error::Error + Send + Sync>> = None;
    let mut tags_name = None;
    if identity_wanted || (name_wanted && from_env.is_none()) {
        match instance(cfg.max_attempts, cfg.max_backoff).await {
            Ok((imds, document)) => {
                identity_attributes(&document, on, &mut out);
                if on("host.name") {
                    let name = imds.get("/latest/meta-data/hostname").await?;
                    out.push(("host.name".to_owned(), name.trim().to_owned()));
                }
                if name_wanted && from_env.is_none() {
                    // Instance metadata tags first (no IAM permission needed), when the
                    // instance exposes them; then the EC2 API.
                    if let Ok(tags) = imds.tags().await {
                        tags_name = cluster_name_from_tags(&tags);
                    }
                    if tags_name.is_none() {
                        match instance_tags(&document, &CLUSTER_TAG_KEYS).await {
                            Ok(tags) => tags_name = cluster_name_from_tags(&tags),
                            Err(e) => lookup_error = Some(Box::new(e)),
                        }
                    }
                }
            }
            Err(e) if identity_wanted => return Err(e.into()),
            Err(e) => lookup_error = Some(Box::new(e)),
        }
    }
    if name_wanted {
        match from_env.or(tags_name) {
            Some(name) => out.push(("k8s.cluster.name".to_owned(), name)),
            None => return Err(DetectError::ClusterName(lookup_error)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_pairs_are_split_trimmed_and_percent_decoded() {
        let attrs = env_detector(Some(
            " service.name = checkout ,k8s.cluster.name=shop%20cluster,,a=b=c",
        ))
        .unwrap();
        assert_eq!(
            attrs,
            vec![
                ("service.name".to_owned(), "checkout".to_owned()),
                ("k8s.cluster.name".to_owned(), "shop cluster".to_owned()),
                ("a".to_owned(), "b=c".to_owned()),
            ]
        );
        assert!(env_detector(None).unwrap().is_empty());
        assert!(matches!(
            env_detector(Some("novalue")),
            Err(DetectError::EnvFormat(p)) if p == "novalue"
        ));
        assert!(env_detector(Some("=x")).is_err());
    }

    #[test]
    fn the_cluster_name_comes_from_the_eks_tag_or_the_kubernetes_tag_key() {
        let tags = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            cluster_name_from_tags(&tags(&[
                ("kubernetes.io/cluster/old", "owned"),
                ("eks:cluster-name", "shop")
            ])),
            Some("shop".to_owned())
        );
        assert_eq!(
            cluster_name_from_tags(&tags(&[
                ("Name", "x"),
                ("kubernetes.io/cluster/shop", "owned")
            ])),
            Some("shop".to_owned())
        );
        assert_eq!(cluster_name_from_tags(&tags(&[("Name", "x")])), None);
    }

    #[test]
    fn system_defaults_are_host_name_and_os_type() {
        let attrs = system_detector(&SystemConfig::default()).unwrap();
        let keys: Vec<&str> = attrs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["host.name", "os.type"]);
        assert_eq!(attrs[1].1, "linux");
        assert!(!attrs[0].1.is_empty());
    }
}
