//! The format rules of blueprint values that validation checks and the plan relies on: names,
//! regions, CIDRs, quantities, image references. Pure functions of strings; nothing here reports or
//! derives anything, so both `validate` and `plan` use them without depending on each other.

/// The port of the collector's `health_check` extension (liveness and readiness probes); no
/// receiver may use it.
pub const HEALTH_CHECK_PORT: u16 = 13133;

/// The port of the collector's own Prometheus metrics, where the operator expects them; no receiver
/// may use it.
pub const METRICS_PORT: u16 = 8888;

/// An OIDC issuer without its `https://` scheme and trailing slash.
pub fn strip_scheme(issuer: &str) -> String {
    issuer
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned()
}

/// An image digest: `sha256:` and 64 lowercase hex digits.
pub fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// A DNS label (RFC 1123) of at most `max` characters: lowercase alphanumerics and `-`, alphanumeric at both ends.
pub fn is_dns_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS subdomain (RFC 1123) as the Kubernetes API server checks it (`IsDNS1123Subdomain`):
/// at most 253 characters, dot-separated parts of lower-case alphanumerics and `-`, each starting
/// and ending alphanumeric. Unlike DNS, Kubernetes sets no 63-character limit per part.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(|part| is_dns_label(part, 253))
}

/// A Kubernetes qualified name (`IsQualifiedName`), the name part of a label key: at most 63
/// characters of alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric.
pub fn is_qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A Kubernetes label key (`IsQualifiedName`): an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 characters of alphanumerics, `-`, `_` and `.`, alphanumeric at both ends.
/// Node-selector keys and toleration keys are checked the same way by the API server.
pub fn is_label_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty() && is_dns_subdomain(prefix) && is_qualified_name_part(name)
        }
        None => is_qualified_name_part(s),
    }
}

/// A Kubernetes label value (`IsValidLabelValue`): empty, or a qualified-name part (at most 63
/// characters of alphanumerics, `-`, `_` and `.`, alphanumeric at both ends).
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_qualified_name_part(s)
}

/// A CPU architecture of EC2 instances and node AMIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// x86-64 (Intel and AMD).
    X86_64,
    /// arm64 (AWS Graviton).
    Arm64,
}

impl Architecture {
    /// The name AWS gives the architecture.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// The architecture of an EC2 instance type, from its name, when the name follows EC2's naming
/// convention (<https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html>):
/// a family (letters), a generation (digits), then attribute letters, where `g` marks AWS Graviton
/// (arm64): `m6g`, `m7gd`, `c7gn`, `t4g`, `x2gd`, `im4gn`, `is4gen`, `g5g`, `hpc7g`. `a1`, the first
/// Graviton family, has no attribute letter. GPU families such as `g5`, `g6e` or `gr6` carry their
/// `g` before the generation and are x86_64. `None` for names of another shape (`u-6tb1`).
pub fn instance_architecture(instance_type: &str) -> Option<Architecture> {
    let family = instance_type.split('.').next()?;
    if family == "a1" {
        return Some(Architecture::Arm64);
    }
    let letters = family.find(|c: char| c.is_ascii_digit())?;
    let rest = &family[letters..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let attributes = &rest[digits..];
    if letters == 0 || !family[..letters].chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let attribute_letters = attributes.split('-').next().unwrap_or_default();
    if !attribute_letters.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    Some(if attribute_letters.contains('g') {
        Architecture::Arm64
    } else {
        Architecture::X86_64
    })
}

/// The longest IAM role name.
pub const IAM_ROLE_NAME_MAX: usize = 64;

/// `name` if it has at most `max` characters; otherwise its first characters, without a trailing
/// `-`, `_` or `.`, and `-` plus 8 hex digits of a hash of the whole name, `max` characters in all.
/// Deterministic, and two different long names get different suffixes (a 32-bit FNV-1a hash), so
/// derived names stay stable across renders and distinct from each other.
pub fn fit_name(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let suffix = format!("-{hash:08x}");
    let head: String = name
        .chars()
        .take(max.saturating_sub(suffix.len()))
        .collect();
    format!("{}{suffix}", head.trim_end_matches(['-', '_', '.']))
}

/// The default IAM role names a created cluster derives from its name: the control plane's, the
/// nodes', and the VPC flow log's.
pub fn cluster_role_names(cluster: &str) -> [String; 3] {
    [
        fit_name(&format!("{cluster}-cluster"), IAM_ROLE_NAME_MAX),
        fit_name(&format!("{cluster}-node"), IAM_ROLE_NAME_MAX),
        fit_name(&format!("{cluster}-flow-logs"), IAM_ROLE_NAME_MAX),
    ]
}

/// The default IAM role name of a collector: `<cluster>-<collector>-xray`, fitted to 64
/// characters, so two collectors on one cluster get two roles.
pub fn collector_role_name(cluster: &str, collector: &str) -> String {
    fit_name(&format!("{cluster}-{collector}-xray"), IAM_ROLE_NAME_MAX)
}

/// The tag key, put on every AWS resource, that names the blueprint it came from.
pub const BLUEPRINT_TAG: &str = "xray-blueprints.io/blueprint";

/// The most tags one AWS resource takes (IAM, EKS, EC2, KMS, CloudWatch Logs, CloudFormation
/// stacks alike).
pub const MAX_TAGS: usize = 50;

/// The longest tag key every resource type the outputs tag accepts: 127, because the
/// CloudFormation schema of `AWS::EKS::Addon` (and `AWS::EKS::Nodegroup`'s map) stops there,
/// where IAM, EC2 and KMS take 128.
pub const MAX_TAG_KEY_CHARS: usize = 127;

/// The longest tag value every tagged resource type accepts: 255 (`AWS::EKS::Addon`), where
/// IAM, EC2 and KMS take 256.
pub const MAX_TAG_VALUE_CHARS: usize = 255;

/// Whether a character may appear in a tag key or value on every tagged resource type: IAM's
/// pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, the strictest of them.
pub fn is_tag_char(c: char) -> bool {
    tag_char_class().is_match(c.encode_utf8(&mut [0; 4]))
}

fn tag_char_class() -> &'static regex::Regex {
    static CLASS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    CLASS.get_or_init(|| {
        regex::Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]$").unwrap_or_else(|_| unreachable!())
    })
}

/// An EKS cluster name: 1-100 alphanumerics, `-` and `_`, starting alphanumeric.
pub fn is_cluster_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An AWS region name, `us-east-1` or `us-gov-west-1` in shape.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let (geo, rest) = match parts.as_slice() {
        [geo, "gov", area, n] => (*geo == "us", [*area, *n]),
        [geo, area, n] => (
            geo.len() == 2 && geo.chars().all(|c| c.is_ascii_lowercase()),
            [*area, *n],
        ),
        _ => return false,
    };
    geo && !rest[0].is_empty()
        && rest[0].chars().all(|c| c.is_ascii_lowercase())
        && !rest[1].is_empty()
        && rest[1].len() <= 2
        && rest[1].chars().all(|c| c.is_ascii_digit())
}

/// A subnet id: `subnet-` and 8 or 17 lowercase hex digits.
pub fn is_subnet_id(s: &str) -> bool {
    s.strip_prefix("subnet-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17)
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// An EC2 instance type, `<family>.<size>` in shape.
pub fn is_instance_type(s: &str) -> bool {
    match s.split_once('.') {
        Some((family, size)) => {
            family
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
                && family
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !size.is_empty()
                && size
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }
        None => false,
    }
}

/// An EKS add-on version: `v<major>.<minor>.<patch>-eksbuild.<n>`, the form EKS lists (the
/// Terraform variable's validation checks the same form).
pub fn is_addon_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let (semver, build) = match rest.split_once('-') {
        Some((semver, build)) => (semver, Some(build)),
        None => (rest, None),
    };
    let semver_ok = semver.split('.').count() == 3
        && semver
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    let build_ok = build.is_some_and(|b| {
        b.strip_prefix("eksbuild.")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    semver_ok && build_ok
}

/// An OCI image repository without tag or digest, lowercase, optionally with a registry port.
pub fn is_image_repository(s: &str) -> bool {
    !s.is_empty()
        && !s.contains('@')
        && s.split('/').enumerate().all(|(idx, part)| {
            let part = if idx == 0 {
                part.split(':').next().unwrap_or(part)
            } else {
                part
            };
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && part
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
        })
        && s.split('/').skip(1).all(|p| !p.contains(':'))
}

/// Parses an IPv4 CIDR: (address, prefix, whether the host bits are zero).
pub fn parse_cidr(s: &str) -> Option<(u32, u32, bool)> {
    let (addr, prefix) = s.split_once('/')?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
    let octets: Vec<u32> = addr
        .split('.')
        .map(|o| o.parse::<u32>().ok().filter(|v| *v <= 255))
        .collect::<Option<_>>()?;
    if octets.len() != 4 || addr.split('.').any(|o| o.len() > 1 && o.starts_with('0')) {
        return None;
    }
    let value = octets.iter().fold(0u32, |acc, o| (acc << 8) | o);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    Some((value, prefix, value & !mask == 0))
}

/// A Kubernetes CPU quantity (`250m`, `1`, `0.5`) in millicores.
pub fn cpu_millis(s: &str) -> Option<u64> {
    match s.strip_suffix('m') {
        Some(m) => m.parse().ok(),
        None => s.parse::<f64>().ok().map(|c| (c * 1000.0).round() as u64),
    }
}

/// The smallest headroom between a persistent queue's disk bound and its volume.
pub const MIN_QUEUE_HEADROOM_BYTES: u64 = 16 << 20;

/// The headroom a persistent-queue volume of `volume` bytes keeps above the queue's disk bound: a
/// tenth of it, at least `MIN_QUEUE_HEADROOM_BYTES`. It holds the log's `ack` file and its
/// replacement and the file system's overhead, and keeps an `emptyDir` below its `sizeLimit`.
pub fn queue_headroom_bytes(volume: u64) -> u64 {
    (volume / 10).max(MIN_QUEUE_HEADROOM_BYTES)
}

/// A Kubernetes memory quantity with a binary suffix (`Ki`, `Mi`, `Gi`) in bytes.
pub fn mem_bytes(s: &str) -> Option<u64> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let factor = match unit {
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return None,
    };
    Some(n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_region("us-east-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(is_region("ap-southeast-2"));
        assert!(!is_region("useast1"));
        assert!(!is_region("us-east"));
        assert!(is_addon_version("v0.151.0-eksbuild.1"));
        assert!(!is_addon_version("v0.151.0"));
        assert!(!is_addon_version("latest"));
        assert!(is_subnet_id("subnet-0123456789abcdef0"));
        assert!(!is_subnet_id("subnet-xyz"));
        assert_eq!(parse_cidr("10.0.0.0/16"), Some((0x0a00_0000, 16, true)));
        assert_eq!(parse_cidr("10.0.0.1/16").map(|c| c.2), Some(false));
        assert_eq!(parse_cidr("10.0.0/16"), None);
        assert!(is_image_repository(
            "ghcr.io/xray-blueprints/xray-collector"
        ));
        assert!(is_image_repository("localhost:5000/collector"));
        assert!(!is_image_repository("ghcr.io/Org/collector"));
        assert_eq!(mem_bytes("128Mi"), Some(128 << 20));
        assert_eq!(cpu_millis("1"), Some(1000));
        assert_eq!(cpu_millis("250m"), Some(250));
    }

    #[test]
    fn kubernetes_names_follow_the_api_server() {
        assert!(is_dns_subdomain(&"a".repeat(253)));
        assert!(!is_dns_subdomain(&"a".repeat(254)));
        assert!(is_label_key("nvidia.com/gpu.product"));
        assert!(is_label_key("GPU_Type"));
        assert!(!is_label_key("GPU Type"));
        assert!(!is_label_key("/gpu"));
        assert!(!is_label_key(&"a".repeat(64)));
        assert!(is_label_value(""));
        assert!(is_label_value("A100-80GB"));
        assert!(!is_label_value("A100 80GB"));
        assert!(!is_label_value("-a"));
    }

    #[test]
    fn long_names_fit_with_a_stable_distinct_suffix() {
        assert_eq!(fit_name("short", 64), "short");
        let a = fit_name(&format!("{}-flow-logs", "c".repeat(61)), 64);
        let b = fit_name(&format!("{}-cluster", "c".repeat(61)), 64);
        assert_eq!(a.len(), 64);
        assert_eq!(b.len(), 64);
        assert_ne!(a, b);
        assert_eq!(a, fit_name(&format!("{}-flow-logs", "c".repeat(61)), 64));
        assert!(fit_name(&format!("{}-x", "a-".repeat(40)), 20).len() <= 20);
    }

    #[test]
    fn graviton_families_are_arm64() {
        for t in [
            "m6g.large",
            "m7gd.xlarge",
            "c7gn.2xlarge",
            "t4g.small",
            "x2gd.large",
            "im4gn.large",
            "is4gen.large",
            "g5g.xlarge",
            "hpc7g.4xlarge",
            "a1.large",
            "r8g.large",
        ] {
            assert_eq!(instance_architecture(t), Some(Architecture::Arm64), "{t}");
        }
        for t in [
            "m6i.large",
            "g5.xlarge",
            "g6e.xlarge",
            "gr6.4xlarge",
            "c7i-flex.large",
            "inf2.xlarge",
            "t3.medium",
            "m6a.large",
            "p5.48xlarge",
        ] {
            assert_eq!(instance_architecture(t), Some(Architecture::X86_64), "{t}");
        }
        assert_eq!(instance_architecture("u-6tb1.metal"), None);
    }

    #[test]
    fn tag_characters_are_iams() {
        for c in [
            'a', 'Ü', '語', '7', ' ', '_', '.', ':', '/', '=', '+', '-', '@',
        ] {
            assert!(is_tag_char(c), "{c}");
        }
        for c in ['$', '%', '!', '*', '\t', '#', '\u{0301}'] {
            assert!(!is_tag_char(c), "{c:?}");
        }
    }
}
