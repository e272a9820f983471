//! The add-on versions: well-formed, a known ADOT release, and one that supports the cluster's
//! Kubernetes version.

use crate::blueprint::adot_versions::{self, MIN_ADOT_VERSION};
use crate::blueprint::model::Spec;
use crate::blueprint::rules::is_addon_version;
use crate::blueprint::validate::checker::Checker;

impl Checker<'_> {
    pub(super) fn check_addons(&mut self, spec: &Spec, k8s: &str, k8s_ok: bool) {
        for (key, version) in [
            ("cert_manager", &spec.addons.cert_manager.version),
            ("adot", &spec.addons.adot.version),
        ] {
            let ptr = format!("/spec/addons/{key}/version");
            if !is_addon_version(version) {
                let hint = version
                    .eq_ignore_ascii_case("latest")
                    .then_some("pin an exact version: `latest` changes under you between applies");
                self.error(
                    &ptr,
                    format!("`{version}` is not a pinned add-on version"),
                    Some("`vX.Y.Z-eksbuild.N`, for example `v0.151.0-eksbuild.1`"),
                    hint,
                );
                continue;
            }
            if key != "adot" {
                let known = adot_versions::known_cert_manager_versions();
                if !known.contains(version) {
                    let nearest = adot_versions::nearest(&known, version, 3);
                    self.error(
                        &ptr,
                        format!("cert-manager add-on `{version}` is not a recorded release"),
                        Some(&format!("one of {}", quoted(&known))),
                        Some(&format!("nearest recorded: {}; the recorded releases and how to add one are in docs/adot-versions.md", quoted(&nearest))),
                    );
                }
                continue;
            }
            match adot_versions::release(version) {
                None => {
                    let known: Vec<&str> = adot_versions::ADOT_RELEASES
                        .iter()
                        .map(|r| r.version)
                        .collect();
                    self.error(
                        &ptr,
                        format!("ADOT add-on `{version}` is not in the generator's compatibility table"),
                        Some(&format!("a version from {MIN_ADOT_VERSION} on: {}", known.join(", "))),
                        Some("the generator emits the opentelemetry.io/v1beta1 collector, which needs add-on v0.102.0 or newer; the table is docs/adot-versions.md"),
                    );
                }
                Some(_) if !adot_versions::known_adot_versions().contains(version) => {
                    let known = adot_versions::known_adot_versions();
                    let nearest = adot_versions::nearest(&known, version, 3);
                    self.error(
                        &ptr,
                        format!("ADOT add-on build `{version}` is not a recorded release"),
                        Some("a released `-eksbuild.N` of this version"),
                        Some(&format!(
                            "nearest recorded: {}; the table is docs/adot-versions.md",
                            quoted(&nearest)
                        )),
                    );
                }
                Some(release) if k8s_ok => {
                    let minor = adot_versions::kubernetes_minor(k8s).unwrap_or_default();
                    if !(release.min_kubernetes..=release.max_kubernetes).contains(&minor) {
                        let supporting = adot_versions::supporting(k8s);
                        let hint = if supporting.is_empty() {
                            format!("no ADOT add-on in the table supports Kubernetes {k8s} yet")
                        } else {
                            format!("for Kubernetes {k8s} use {}", supporting.join(" or "))
                        };
                        self.error(
                            &ptr,
                            format!(
                                "ADOT add-on {} does not support Kubernetes {k8s}",
                                release.version
                            ),
                            Some(&format!(
                                "Kubernetes 1.{} to 1.{} for this add-on",
                                release.min_kubernetes, release.max_kubernetes
                            )),
                            Some(&hint),
                        );
                    }
                }
                Some(_) => {}
            }
        }
    }
}

/// Versions as a list of code spans: `a`, `b`, `c`.
fn quoted(versions: &[String]) -> String {
    versions
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
