//! Which ADOT EKS add-on versions run on which Kubernetes versions.
//!
//! The table is the generator's documented source of truth (`ARCHITECTURE.md`, section Generator).
//! It comes from the ADOT add-on release blogs (`aws-otel/aws-otel.github.io`, the EKS version each
//! release added) and the fallback `versionMap` of CDK EKS Blueprints v1.18.2, as summarised in
//! `shared/reference/eks-adot.md` §2.4. The authoritative answer at deploy time is
//! `aws eks describe-addon-versions --addon-name adot --kubernetes-version <v>`; the generator makes
//! no network calls, so when AWS ships a new add-on version, add a row here.
//!
//! The upper bounds are the newest EKS version each release blog names. The lower bounds are stated
//! only for v0.151.0 ("EKS 1.31-1.36"); for the releases between v0.109.0 and v0.141.0 the lower bound
//! is 1.26, the oldest Kubernetes version in CDK's `versionMap`, and for v0.102.x it is 1.21, the
//! add-on's documented minimum.
//!
//! Only versions from v0.102.0 are listed: earlier add-ons install the `v1alpha1` CRD, while the
//! generator emits an `opentelemetry.io/v1beta1` collector.

/// One add-on release line: every `-eksbuild.N` of `version` supports Kubernetes
/// `min_kubernetes..=max_kubernetes` (minor versions of 1.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdotRelease {
    /// The add-on version without the `-eksbuild.N` suffix, for example `v0.151.0`.
    pub version: &'static str,
    /// The lowest supported Kubernetes minor version (1.x).
    pub min_kubernetes: u32,
    /// The highest supported Kubernetes minor version (1.x).
    pub max_kubernetes: u32,
}

/// The table, newest first.
pub const ADOT_RELEASES: &[AdotRelease] = &[
    // Release blog: "EKS 1.31-1.36"; CDK versionMap: 1.35.
    AdotRelease {
        version: "v0.151.0",
        min_kubernetes: 31,
        max_kubernetes: 36,
    },
    // Release blog: added EKS 1.34; CDK versionMap: 1.32-1.34.
    AdotRelease {
        version: "v0.141.0",
        min_kubernetes: 26,
        max_kubernetes: 34,
    },
    // Release blog: added EKS 1.33.
    AdotRelease {
        version: "v0.131.0",
        min_kubernetes: 26,
        max_kubernetes: 33,
    },
    // Release blog: added EKS 1.32.
    AdotRelease {
        version: "v0.117.0",
        min_kubernetes: 26,
        max_kubernetes: 32,
    },
    // Release blog: added EKS 1.31; CDK versionMap: 1.26-1.31.
    AdotRelease {
        version: "v0.109.0",
        min_kubernetes: 26,
        max_kubernetes: 31,
    },
    // Release blog: switches to the v1beta1 CRD, added EKS 1.30.
    AdotRelease {
        version: "v0.102.1",
        min_kubernetes: 21,
        max_kubernetes: 30,
    },
    AdotRelease {
        version: "v0.102.0",
        min_kubernetes: 21,
        max_kubernetes: 30,
    },
];

/// The oldest add-on version the generator supports.
pub const MIN_ADOT_VERSION: &str = "v0.102.0";

/// Looks an add-on version (`v0.151.0-eksbuild.1`) up in the table.
pub fn release(version: &str) -> Option<&'static AdotRelease> {
    let base = version.split('-').next().unwrap_or(version);
    ADOT_RELEASES.iter().find(|r| r.version == base)
}

/// The Kubernetes minor version of `1.NN`.
pub fn kubernetes_minor(version: &str) -> Option<u32> {
    version.strip_prefix("1.")?.parse().ok()
}

/// The add-on versions that support a Kubernetes version, newest first, for hints.
pub fn supporting(kubernetes_version: &str) -> Vec<&'static str> {
    let Some(minor) = kubernetes_minor(kubernetes_version) else {
        return Vec::new();
    };
    ADOT_RELEASES
        .iter()
        .filter(|r| (r.min_kubernetes..=r.max_kubernetes).contains(&minor))
        .map(|r| r.version)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eksbuild_suffixes_share_a_row() {
        assert_eq!(
            release("v0.151.0-eksbuild.2").map(|r| r.max_kubernetes),
            Some(36)
        );
        assert_eq!(release("v0.88.0-eksbuild.1"), None);
    }

    #[test]
    fn supporting_versions_are_newest_first() {
        assert_eq!(supporting("1.35"), vec!["v0.151.0"]);
        assert_eq!(supporting("1.31")[..2], ["v0.151.0", "v0.141.0"]);
    }
}
