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

/// A DNS subdomain (RFC 1123): dot-separated DNS labels, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(|part| is_dns_label(part, 63))
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

/// An EKS add-on version: `v<major>.<minor>.<patch>`, optionally `-eksbuild.<n>`.
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
    let build_ok = build.is_none_or(|b| {
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
}
