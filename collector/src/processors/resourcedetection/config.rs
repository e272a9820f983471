//! `processors.resourcedetection`: contrib's keys (the detectors `env`, `system`, `ec2`, `eks`),
//! and their checks. Every contrib key outside that part is a located error.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::component::{Checker, Component};

/// The detectors this collector runs.
pub const DETECTORS: [&str; 4] = ["env", "system", "ec2", "eks"];

/// Attributes each detector can set: (name, enabled by default in contrib).
pub const SYSTEM_ATTRIBUTES: [(&str, bool); 4] = [
    ("host.name", true),
    ("os.type", true),
    ("host.id", false),
    ("host.arch", false),
];
/// See [`SYSTEM_ATTRIBUTES`].
pub const EC2_ATTRIBUTES: [(&str, bool); 9] = [
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.region", true),
    ("cloud.availability_zone", true),
    ("cloud.account.id", true),
    ("host.id", true),
    ("host.type", true),
    ("host.image.id", true),
    ("host.name", true),
];
/// See [`SYSTEM_ATTRIBUTES`].
pub const EKS_ATTRIBUTES: [(&str, bool); 10] = [
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.account.id", false),
    ("cloud.region", false),
    ("cloud.availability_zone", false),
    ("host.name", false),
    ("host.id", false),
    ("host.image.id", false),
    ("host.type", false),
    ("k8s.cluster.name", false),
];

/// contrib's attributes of these detectors that this collector does not produce.
const UNSUPPORTED_SYSTEM: [&str; 9] = [
    "host.ip",
    "host.mac",
    "host.cpu.vendor.id",
    "host.cpu.family",
    "host.cpu.model.id",
    "host.cpu.model.name",
    "host.cpu.stepping",
    "host.cpu.cache.l2.size",
    "os.description",
];

/// `processors.resourcedetection`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceDetectionConfig {
    /// Detectors, in order; the first to set an attribute wins. Default `[env]`.
    pub detectors: Vec<String>,
    /// Replace attributes the resource already has (default `true`), or only add missing ones.
    #[serde(rename = "override")]
    pub override_existing: bool,
    /// Time all detectors together may take at start-up; default 5s.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub timeout: Duration,
    /// contrib's periodic re-detection; only `0` (detect once) is supported.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub refresh_interval: Duration,
    /// contrib's hard failure on missing metadata; only `false` is supported.
    pub fail_on_missing_metadata: bool,
    /// The `env` detector (no settings).
    pub env: EnvConfig,
    /// The `system` detector.
    pub system: SystemConfig,
    /// The `ec2` detector.
    pub ec2: Ec2Config,
    /// The `eks` detector.
    pub eks: EksConfig,
    /// The attributes detected at start-up, shared by every pipeline (not a key).
    #[serde(skip)]
    pub detected: DetectedSlot,
}

/// What detection found, once per processor id; configs compare equal whatever it holds.
#[derive(Clone, Debug, Default)]
pub struct DetectedSlot(pub std::sync::OnceLock<std::sync::Arc<super::Attributes>>);

impl PartialEq for DetectedSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Default for ResourceDetectionConfig {
    fn default() -> Self {
        ResourceDetectionConfig {
            detectors: vec!["env".to_owned()],
            override_existing: true,
            timeout: Duration::from_secs(5),
            refresh_interval: Duration::ZERO,
            fail_on_missing_metadata: false,
            env: EnvConfig::default(),
            system: SystemConfig::default(),
            ec2: Ec2Config::default(),
            eks: EksConfig::default(),
            detected: DetectedSlot::default(),
        }
    }
}

/// `env`: reads `OTEL_RESOURCE_ATTRIBUTES`; no settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {}

/// `resource_attributes.<name>`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    /// Whether the detector sets the attribute.
    pub enabled: bool,
}

/// `system`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SystemConfig {
    /// Where the host name comes from; only `os` is supported (also when unset).
    pub hostname_sources: Vec<String>,
    /// Which attributes to set.
    pub resource_attributes: BTreeMap<String, Toggle>,
}

/// `ec2`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Ec2Config {
    /// Regular expressions of instance tag keys to add as `ec2.tag.<key>`: read through EC2
    /// `DescribeTags` (the role needs `ec2:DescribeTags`), or from instance metadata with
    /// `tags_from_imds: true`.
    pub tags: Vec<String>,
    /// Read tags from instance metadata.
    pub tags_from_imds: bool,
    /// Which attributes to set.
    pub resource_attributes: BTreeMap<String, Toggle>,
    /// Attempts per instance metadata request; default 3.
    pub max_attempts: u32,
    /// Longest wait between attempts; default 20s.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub max_backoff: Duration,
    /// contrib's hard failure; only `false` is supported.
    pub fail_on_missing_metadata: bool,
}

impl Default for Ec2Config {
    fn default() -> Self {
        Ec2Config {
            tags: Vec::new(),
            tags_from_imds: false,
            resource_attributes: BTreeMap::new(),
            max_attempts: 3,
            max_backoff: Duration::from_secs(20),
            fail_on_missing_metadata: false,
        }
    }
}

/// `eks`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EksConfig {
    /// Which attributes to set (`k8s.cluster.name` is off by default, as in contrib).
    pub resource_attributes: BTreeMap<String, Toggle>,
    /// contrib's node name for its Kubernetes API fallback; not supported.
    pub node_from_env_var: String,
    /// Attempts per instance metadata request; default 3.
    pub max_attempts: u32,
    /// Longest wait between attempts; default 20s.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub max_backoff: Duration,
}

impl Default for EksConfig {
    fn default() -> Self {
        EksConfig {
            resource_attributes: BTreeMap::new(),
            node_from_env_var: String::new(),
            max_attempts: 3,
            max_backoff: Duration::from_secs(20),
        }
    }
}

/// Whether `name` is enabled: the config's toggle, else the default of `known`.
pub fn enabled(
    toggles: &BTreeMap<String, Toggle>,
    known: &[(&'static str, bool)],
    name: &str,
) -> bool {
    toggles.get(name).map_or_else(
        || known.iter().any(|(n, on)| *n == name && *on),
        |t| t.enabled,
    )
}

fn check_toggles(
    c: &mut Checker<'_, '_>,
    at: &str,
    toggles: &BTreeMap<String, Toggle>,
    known: &[(&'static str, bool)],
    unsupported: &[&str],
) {
    for (name, toggle) in toggles {
        let key = format!(
            "{at}/resource_attributes/{}",
            name.replace('~', "~0").replace('/', "~1")
        );
        if known.iter().any(|(n, _)| n == name) {
            continue;
        }
        if unsupported.contains(&name.as_str()) {
            if toggle.enabled {
                c.error(
                    &key,
                    format!("attribute `{name}` is not supported by this collector"),
                );
            }
            continue;
        }
        let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
        c.error(
            &key,
            format!("unknown attribute `{name}`; known: {}", names.join(", ")),
        );
    }
}

impl Component for ResourceDetectionConfig {
    const TYPE: &'static str = "resourcedetection";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        for (i, d) in self.detectors.iter().enumerate() {
            if !DETECTORS.contains(&d.as_str()) {
                c.error(
                    &format!("detectors/{i}"),
                    format!(
                        "detector `{d}` is not supported; supported: {}",
                        DETECTORS.join(", ")
                    ),
                );
            }
        }
        if self.timeout.is_zero() {
            c.error("timeout", "must be more than 0");
        }
        if !self.refresh_interval.is_zero() {
            c.error(
                "refresh_interval",
                "periodic re-detection is not supported: detection runs once at start-up",
            );
        }
        if self.fail_on_missing_metadata {
            c.error(
                "fail_on_missing_metadata",
                "not supported: a failed detector is a warning and spans pass without its attributes",
            );
        }
        for (i, source) in self.system.hostname_sources.iter().enumerate() {
            if source != "os" {
                c.error(
                    &format!("system/hostname_sources/{i}"),
                    format!("hostname source `{source}` is not supported; only `os` is"),
                );
            }
        }
        check_toggles(
            c,
            "system",
            &self.system.resource_attributes,
            &SYSTEM_ATTRIBUTES,
            &UNSUPPORTED_SYSTEM,
        );
        check_toggles(
            c,
            "ec2",
            &self.ec2.resource_attributes,
            &EC2_ATTRIBUTES,
            &[],
        );
        check_toggles(
            c,
            "eks",
            &self.eks.resource_attributes,
            &EKS_ATTRIBUTES,
            &[],
        );
        for (i, pattern) in self.ec2.tags.iter().enumerate() {
            if let Err(e) = regex::Regex::new(pattern) {
                c.error(
                    &format!("ec2/tags/{i}"),
                    format!("not a regular expression: {e}"),
                );
            }
        }
        if self.ec2.fail_on_missing_metadata {
            c.error("ec2/fail_on_missing_metadata", "only `false` is supported");
        }
        if !self.eks.node_from_env_var.is_empty() {
            c.error(
                "eks/node_from_env_var",
                "the eks detector's Kubernetes-node fallback is not supported; it reads instance metadata",
            );
        }
        for (at, attempts) in [
            ("ec2/max_attempts", self.ec2.max_attempts),
            ("eks/max_attempts", self.eks.max_attempts),
        ] {
            if attempts == 0 {
                c.error(at, "must be at least 1");
            }
        }
    }
}
