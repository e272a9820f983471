//! The add-ons: each installed one pinned (a well-formed version, a known ADOT release that
//! supports the cluster's Kubernetes version), `existing` ones without install-only settings, the
//! Pod Identity agent only in Pod Identity mode and never installed on EKS Auto Mode, and every
//! `configuration_values` valid for its add-on (`addon_config`).

use crate::blueprint::adot_versions::{self, MIN_ADOT_VERSION};
use crate::blueprint::model::{AddonMode, Cluster, IdentityMode, Spec};
use crate::blueprint::rules::is_addon_version;
use crate::blueprint::validate::checker::Checker;

impl Checker<'_> {
    pub(super) fn check_addons(&mut self, spec: &Spec, k8s: &str, k8s_ok: bool) {
        for (key, name, addon) in [
            ("cert_manager", "cert-manager", &spec.addons.cert_manager),
            ("adot", "adot", &spec.addons.adot),
        ] {
            let base = format!("/spec/addons/{key}");
            let install = addon.mode == AddonMode::Install;
            if addon.mode == AddonMode::Existing && addon.configuration_values.is_some() {
                self.error(
                    &format!("{base}/configuration_values"),
                    format!(
                        "`{key}` is `existing`: the blueprint does not manage its configuration"
                    ),
                    None,
                    Some("configure the add-on where it was installed, or set `mode: install`"),
                );
            }
            if addon.mode == AddonMode::Existing && addon.preserve_on_delete {
                self.error(
                    &format!("{base}/preserve_on_delete"),
                    format!("`{key}` is `existing`: the blueprint never deletes it"),
                    None,
                    None,
                );
            }
            if let (true, Some(values)) = (install, &addon.configuration_values) {
                self.check_configuration_values(
                    &format!("{base}/configuration_values"),
                    name,
                    values,
                );
            }
            let Some(version) = &addon.version else {
                if install || key == "adot" {
                    let why = if key == "adot" && !install {
                        "the ADOT version decides the OpenTelemetryCollector API the manifests use: state the version the cluster runs"
                    } else {
                        "an installed add-on is pinned: there is no `latest`"
                    };
                    self.error(
                        &base,
                        format!("`{key}` has no `version`"),
                        Some("`version: vX.Y.Z-eksbuild.N`"),
                        Some(why),
                    );
                }
                continue;
            };
            let ptr = format!("{base}/version");
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
            self.check_adot_release(&ptr, version, k8s, k8s_ok);
        }
        self.check_pod_identity_agent(spec);
    }

    fn check_adot_release(&mut self, ptr: &str, version: &str, k8s: &str, k8s_ok: bool) {
        match adot_versions::release(version) {
            None => {
                let known: Vec<&str> = adot_versions::ADOT_RELEASES
                    .iter()
                    .map(|r| r.version)
                    .collect();
                self.error(
                    ptr,
                    format!("ADOT add-on `{version}` is not in the generator's compatibility table"),
                    Some(&format!("a version from {MIN_ADOT_VERSION} on: {}", known.join(", "))),
                    Some("the generator emits the opentelemetry.io/v1beta1 collector, which needs add-on v0.102.0 or newer; the table is docs/adot-versions.md"),
                );
            }
            Some(_) if !adot_versions::known_adot_versions().contains(&version.to_owned()) => {
                let known = adot_versions::known_adot_versions();
                let nearest = adot_versions::nearest(&known, version, 3);
                self.error(
                    ptr,
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
                        ptr,
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

    /// `addons.pod_identity_agent`: only with Pod Identity; never `install` on EKS Auto Mode.
    fn check_pod_identity_agent(&mut self, spec: &Spec) {
        let Some(agent) = &spec.addons.pod_identity_agent else {
            return;
        };
        let base = "/spec/addons/pod_identity_agent";
        if spec.identity.mode != IdentityMode::PodIdentity {
            self.error(
                base,
                "the Pod Identity agent is set, but `identity.mode` is `irsa`".to_owned(),
                None,
                Some("remove `pod_identity_agent`, or set `identity.mode: pod_identity`"),
            );
            return;
        }
        let auto_mode = matches!(&spec.cluster, Cluster::Existing(c) if c.auto_mode);
        if auto_mode && agent.mode == Some(AddonMode::Install) {
            self.error(
                &format!("{base}/mode"),
                "EKS Auto Mode has the Pod Identity agent built in: the add-on cannot be installed on it".to_owned(),
                Some("`existing`, or omit `mode`"),
                None,
            );
        }
        let install = agent.mode.unwrap_or(if auto_mode {
            AddonMode::Existing
        } else {
            AddonMode::Install
        }) == AddonMode::Install;
        if let Some(version) = &agent.version {
            if !is_addon_version(version) {
                self.error(
                    &format!("{base}/version"),
                    format!("`{version}` is not a pinned add-on version"),
                    Some("`vX.Y.Z-eksbuild.N`, for example `v1.3.8-eksbuild.2`"),
                    None,
                );
            }
        }
        match (&agent.configuration_values, install) {
            (Some(_), false) => self.error(
                &format!("{base}/configuration_values"),
                "the Pod Identity agent is `existing`: the blueprint does not manage its configuration".to_owned(),
                None,
                None,
            ),
            (Some(values), true) => self.check_configuration_values(
                &format!("{base}/configuration_values"),
                "eks-pod-identity-agent",
                values,
            ),
            (None, _) => {}
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
