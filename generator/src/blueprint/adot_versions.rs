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
//!
//! The released `-eksbuild.N` builds of each version are recorded too (`builds`), from the same
//! summary (recorded 2026-12-04): EKS numbers the builds of a version from 1, so the highest build
//! a source names implies the lower ones. Blueprint validation and the Terraform output's variable
//! validation both accept exactly `known_versions()`, the cert-manager builds of
//! `CERT_MANAGER_RELEASES` likewise. `docs/adot-versions.md` is generated from this module
//! (the integration test `golden::the_adot_version_doc_is_current` checks it; `XRB_BLESS=1` rewrites it).
//!
//! The Kubernetes versions EKS creates clusters at are here too (`EKS_CREATABLE_KUBERNETES`), with
//! the versions checkov's CKV_AWS_339 knows (`CHECKOV_SUPPORTED_KUBERNETES`).

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
    /// The released builds: `-eksbuild.1` to `-eksbuild.<builds>`.
    pub builds: u32,
}

/// The table, newest first.
pub const ADOT_RELEASES: &[AdotRelease] = &[
    // Release blog: "EKS 1.31-1.36"; CDK versionMap: 1.35.
    AdotRelease {
        version: "v0.151.0",
        min_kubernetes: 31,
        max_kubernetes: 36,
        builds: 2,
    },
    // Release blog: added EKS 1.34; CDK versionMap: 1.32-1.34.
    AdotRelease {
        version: "v0.141.0",
        min_kubernetes: 26,
        max_kubernetes: 34,
        builds: 1,
    },
    // Release blog: added EKS 1.33.
    AdotRelease {
        version: "v0.131.0",
        min_kubernetes: 26,
        max_kubernetes: 33,
        builds: 1,
    },
    // Release blog: added EKS 1.32.
    AdotRelease {
        version: "v0.117.0",
        min_kubernetes: 26,
        max_kubernetes: 32,
        builds: 1,
    },
    // Release blog: added EKS 1.31; CDK versionMap: 1.26-1.31.
    AdotRelease {
        version: "v0.109.0",
        min_kubernetes: 26,
        max_kubernetes: 31,
        builds: 2,
    },
    // Release blog: switches to the v1beta1 CRD, added EKS 1.30.
    AdotRelease {
        version: "v0.102.1",
        min_kubernetes: 21,
        max_kubernetes: 30,
        builds: 2,
    },
    AdotRelease {
        version: "v0.102.0",
        min_kubernetes: 21,
        max_kubernetes: 30,
        builds: 1,
    },
];

/// One release of another add-on: its version and how many `-eksbuild.N` builds are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddonRelease {
    /// The version without the build suffix, for example `v1.18.2`.
    pub version: &'static str,
    /// The released builds: `-eksbuild.1` to `-eksbuild.<builds>`.
    pub builds: u32,
}

/// The recorded releases of the cert-manager EKS community add-on, newest first. Source: the
/// version the project's blueprints pin and its checks deploy (`shared/reference/eks-adot.md` §3,
/// recorded 2026-12-04); `aws eks describe-addon-versions --addon-name cert-manager` lists the
/// current ones.
pub const CERT_MANAGER_RELEASES: &[AddonRelease] = &[AddonRelease {
    version: "v1.18.2",
    builds: 2,
}];

/// Every `vX.Y.Z-eksbuild.N` of a list of (version, builds), newest version first, newest build
/// first.
fn expand(releases: impl Iterator<Item = (&'static str, u32)>) -> Vec<String> {
    releases
        .flat_map(|(version, builds)| {
            (1..=builds)
                .rev()
                .map(move |n| format!("{version}-eksbuild.{n}"))
        })
        .collect()
}

/// Every ADOT add-on version (with its build) the generator accepts.
pub fn known_adot_versions() -> Vec<String> {
    expand(ADOT_RELEASES.iter().map(|r| (r.version, r.builds)))
}

/// Every cert-manager add-on version (with its build) the generator accepts.
pub fn known_cert_manager_versions() -> Vec<String> {
    expand(CERT_MANAGER_RELEASES.iter().map(|r| (r.version, r.builds)))
}

/// The known versions closest to `version`, at most `n`: the builds of the same `vX.Y.Z` first,
/// then the versions whose numbers are nearest.
pub fn nearest(known: &[String], version: &str, n: usize) -> Vec<String> {
    let key = |v: &str| -> (u64, u64, u64, u64) {
        let v = v.trim_start_matches('v');
        let (semver, build) = v.split_once("-eksbuild.").unwrap_or((v, "0"));
        let mut it = semver.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
        (
            it.next().unwrap_or(0),
            it.next().unwrap_or(0),
            it.next().unwrap_or(0),
            build.parse().unwrap_or(0),
        )
    };
    let target = key(version);
    let distance = |v: &str| {
        let k = key(v);
        (
            k.0.abs_diff(target.0),
            k.1.abs_diff(target.1),
            k.2.abs_diff(target.2),
            k.3.abs_diff(target.3),
        )
    };
    let mut sorted: Vec<&String> = known.iter().collect();
    sorted.sort_by_key(|v| distance(v));
    sorted.into_iter().take(n).cloned().collect()
}

/// The Kubernetes minor versions (1.x) EKS creates clusters at, in standard or extended support:
/// 1.32 to 1.36. Source: the EKS Kubernetes version calendar
/// (<https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html>, recorded
/// 2026-12-04): 1.31's extended support ended on 2026-11-26, 1.32's ends on 2027-03-23.
pub const EKS_CREATABLE_KUBERNETES: (u32, u32) = (32, 36);

/// The Kubernetes versions checkov's CKV_AWS_339 ("EKS clusters run on a supported Kubernetes
/// version") accepts, as checkov 3 hard-codes them (`EKSPlatformVersion.py`): 1.29 to 1.35. A created
/// cluster at a version EKS supports but this list lacks gets an in-file skip saying so.
pub const CHECKOV_SUPPORTED_KUBERNETES: (u32, u32) = (29, 35);

/// `docs/adot-versions.md`: the tables above for users, generated so that the doc and the
/// validator cannot disagree.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Add-on versions the generator accepts\n\n\
         Generated from `generator/src/blueprint/adot_versions.rs`, the table blueprint validation and the Terraform output's variable validation read; do not edit (the test `golden::generated_docs_are_current` checks it, `XRB_BLESS=1` rewrites it).\n\
         The generator makes no network calls: `aws eks describe-addon-versions --addon-name adot --kubernetes-version <1.NN>` lists what EKS offers today, and a release missing here is added to that file, with its source, and accepted from then on.\n\n\
         ## ADOT (`spec.addons.adot.version`)\n\n\
         Sources: the ADOT add-on release blogs and CDK EKS Blueprints v1.18.2's `versionMap`, as summarised in `shared/reference/eks-adot.md` §2.4 (recorded 2026-12-04). EKS numbers the builds of a version from 1, so the highest recorded build implies the lower ones. Only versions from v0.102.0 are accepted: older add-ons install the `v1alpha1` collector CRD, and the generator emits `opentelemetry.io/v1beta1`.\n\n\
         | add-on version | builds accepted | Kubernetes |\n|---|---|---|\n",
    );
    for r in ADOT_RELEASES {
        let builds: Vec<String> = (1..=r.builds)
            .map(|n| format!("`{}-eksbuild.{n}`", r.version))
            .collect();
        out.push_str(&format!(
            "| {} | {} | 1.{} to 1.{} |\n",
            r.version,
            builds.join(", "),
            r.min_kubernetes,
            r.max_kubernetes
        ));
    }
    out.push_str(
        "\n## cert-manager (`spec.addons.cert_manager.version`)\n\n\
         Source: the build the project's blueprints pin and its checks deploy (`shared/reference/eks-adot.md` §3, recorded 2026-12-04).\n\n\
         | add-on version | builds accepted |\n|---|---|\n",
    );
    for r in CERT_MANAGER_RELEASES {
        let builds: Vec<String> = (1..=r.builds)
            .map(|n| format!("`{}-eksbuild.{n}`", r.version))
            .collect();
        out.push_str(&format!("| {} | {} |\n", r.version, builds.join(", ")));
    }
    let (min, max) = EKS_CREATABLE_KUBERNETES;
    let (_, checkov_max) = CHECKOV_SUPPORTED_KUBERNETES;
    out.push_str(&format!(
        "\n## Kubernetes versions of a created cluster\n\n\
         A cluster the blueprint creates (`spec.cluster.create.kubernetes_version`) runs Kubernetes 1.{min} to 1.{max}, the versions in EKS standard or extended support (the EKS Kubernetes version calendar, <https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html>, recorded 2026-12-04). \
         checkov's CKV_AWS_339 lists versions only up to 1.{checkov_max}; for a newer version the Terraform output skips that check in the cluster resource and says why. An existing cluster may run any version the ADOT table above supports.\n"
    ));
    out
}

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
    fn known_versions_expand_the_builds() {
        let adot = known_adot_versions();
        assert_eq!(
            adot[..3],
            [
                "v0.151.0-eksbuild.2",
                "v0.151.0-eksbuild.1",
                "v0.141.0-eksbuild.1"
            ]
        );
        assert!(adot.contains(&"v0.109.0-eksbuild.2".to_owned()));
        assert_eq!(
            known_cert_manager_versions(),
            ["v1.18.2-eksbuild.2", "v1.18.2-eksbuild.1"]
        );
        assert_eq!(
            nearest(&adot, "v0.151.0-eksbuild.9", 2),
            ["v0.151.0-eksbuild.2", "v0.151.0-eksbuild.1"]
        );
        assert_eq!(
            nearest(&adot, "v0.140.0-eksbuild.1", 1),
            ["v0.141.0-eksbuild.1"]
        );
    }

    #[test]
    fn supporting_versions_are_newest_first() {
        assert_eq!(supporting("1.35"), vec!["v0.151.0"]);
        assert_eq!(supporting("1.31")[..2], ["v0.151.0", "v0.141.0"]);
    }
}
