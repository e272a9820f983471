//! The EKS add-ons, in install order: the Pod Identity agent (Pod Identity only), cert-manager,
//! ADOT. Each is either installed by the blueprint (an EKS add-on, pinned, with its configuration
//! values, conflict resolution and timeouts) or `existing` on the cluster: then the targets create
//! nothing for it, and the READMEs list `checks` (what must be present and the command that shows
//! it). The dependency order holds either way: a later add-on waits only for the earlier ones the
//! blueprint installs.

use serde::Serialize;

use crate::blueprint::model::{
    Addon, AddonMode, AddonTimeouts, ConflictOnCreate, ConflictOnUpdate, IdentityMode, Spec,
};

/// The EKS add-ons, in install order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddonsPlan {
    /// `eks-pod-identity-agent` (only in Pod Identity mode). Without a pinned version EKS installs
    /// its default for the cluster's Kubernetes version.
    pub pod_identity_agent: Option<AddonPlan>,
    /// The cert-manager community add-on; before ADOT.
    pub cert_manager: AddonPlan,
    /// The ADOT add-on; after cert-manager, only for the operator (the collector is ours).
    pub adot: AddonPlan,
    /// Whether any add-on is installed by the blueprint (the Terraform and CDK outputs have add-on
    /// resources at all).
    pub any_installed: bool,
}

/// One EKS add-on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddonPlan {
    /// The EKS add-on name (`cert-manager`, `adot`, `eks-pod-identity-agent`).
    pub name: String,
    /// Whether the blueprint creates the add-on (`false`: the cluster has it, nothing is created).
    pub install: bool,
    /// Why the add-on is already present, for the READMEs (`None` when installed).
    pub existing_reason: Option<String>,
    /// The pinned version (with `existing`: the version the blueprint states the cluster runs).
    pub version: Option<String>,
    /// The add-on configuration values, a JSON string with sorted keys (`{}` when none).
    pub configuration_values: String,
    /// Whether the blueprint set configuration values (the CDK agent add-on omits `{}`).
    pub has_configuration_values: bool,
    /// EKS `resolveConflicts` on create: `NONE` (default) or `OVERWRITE`. CloudFormation's single
    /// `ResolveConflicts` property takes this value.
    pub resolve_conflicts: String,
    /// EKS `resolveConflicts` on update: `PRESERVE` (default), `NONE` or `OVERWRITE`.
    pub resolve_conflicts_on_update: String,
    /// Keep the software on the cluster when the add-on is deleted.
    pub preserve_on_delete: bool,
    /// Terraform's timeouts, as `"<n>m"` (`None` leaves the provider's default).
    pub timeouts: Option<TimeoutsPlan>,
    /// What must be present on the cluster for this add-on, each with the command that shows it.
    pub checks: Vec<CheckPlan>,
}

/// Terraform `timeouts` of an add-on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeoutsPlan {
    /// `create`, e.g. `30m`.
    pub create: Option<String>,
    /// `update`.
    pub update: Option<String>,
    /// `delete`.
    pub delete: Option<String>,
}

/// Something that must be on the cluster, and how to see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckPlan {
    /// What must be present.
    pub what: String,
    /// The command that shows it.
    pub command: String,
}

/// The settings every installed add-on shares.
struct Common<'a> {
    on_create: ConflictOnCreate,
    on_update: ConflictOnUpdate,
    timeouts: Option<&'a AddonTimeouts>,
}

fn check(what: &str, command: &str) -> CheckPlan {
    CheckPlan {
        what: what.to_owned(),
        command: command.to_owned(),
    }
}

/// The JSON string EKS takes as `configurationValues`: sorted keys, compact.
pub fn configuration_json(
    values: Option<&std::collections::BTreeMap<String, serde_json::Value>>,
) -> String {
    values
        .map(|v| serde_json::to_string(v).unwrap_or_else(|_| "{}".to_owned()))
        .unwrap_or_else(|| "{}".to_owned())
}

impl AddonPlan {
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: &str,
        install: bool,
        version: Option<&String>,
        values: Option<&std::collections::BTreeMap<String, serde_json::Value>>,
        preserve_on_delete: bool,
        common: &Common<'_>,
        checks: Vec<CheckPlan>,
        existing_reason: &str,
    ) -> AddonPlan {
        let minutes = |m: Option<u32>| m.map(|m| format!("{m}m"));
        AddonPlan {
            name: name.to_owned(),
            install,
            existing_reason: (!install).then(|| existing_reason.to_owned()),
            version: version.cloned(),
            configuration_values: configuration_json(values),
            has_configuration_values: values.is_some(),
            resolve_conflicts: match common.on_create {
                ConflictOnCreate::None => "NONE",
                ConflictOnCreate::Overwrite => "OVERWRITE",
            }
            .to_owned(),
            resolve_conflicts_on_update: match common.on_update {
                ConflictOnUpdate::None => "NONE",
                ConflictOnUpdate::Overwrite => "OVERWRITE",
                ConflictOnUpdate::Preserve => "PRESERVE",
            }
            .to_owned(),
            preserve_on_delete,
            timeouts: common
                .timeouts
                .filter(|t| t.create_mins.or(t.update_mins).or(t.delete_mins).is_some())
                .map(|t| TimeoutsPlan {
                    create: minutes(t.create_mins),
                    update: minutes(t.update_mins),
                    delete: minutes(t.delete_mins),
                }),
            checks,
        }
    }

    fn of(addon: &Addon, name: &str, common: &Common<'_>, checks: Vec<CheckPlan>) -> AddonPlan {
        AddonPlan::new(
            name,
            addon.mode == AddonMode::Install,
            addon.version.as_ref(),
            addon.configuration_values.as_ref(),
            addon.preserve_on_delete,
            common,
            checks,
            "the blueprint says the cluster has it already (`mode: existing`)",
        )
    }
}

impl AddonsPlan {
    /// The add-ons the blueprint pins, plus the Pod Identity agent when the identity needs it.
    pub fn new(spec: &Spec) -> AddonsPlan {
        let addons = &spec.addons;
        let common = Common {
            on_create: addons.resolve_conflicts.on_create,
            on_update: addons.resolve_conflicts.on_update,
            timeouts: addons.timeouts.as_ref(),
        };
        let auto_mode = match &spec.cluster {
            crate::blueprint::model::Cluster::Existing(c) => c.auto_mode,
            crate::blueprint::model::Cluster::Create(_) => false,
        };
        let pod_identity_agent = (spec.identity.mode == IdentityMode::PodIdentity).then(|| {
            let agent = addons.pod_identity_agent.clone().unwrap_or(
                crate::blueprint::model::PodIdentityAgent {
                    mode: None,
                    version: None,
                    configuration_values: None,
                    preserve_on_delete: false,
                },
            );
            let mode = agent.mode.unwrap_or(if auto_mode {
                AddonMode::Existing
            } else {
                AddonMode::Install
            });
            let checks = if auto_mode {
                vec![check(
                    "EKS Auto Mode, whose nodes run the Pod Identity agent themselves",
                    "aws eks describe-cluster --name <cluster> --query cluster.computeConfig.enabled   # true",
                )]
            } else {
                vec![check(
                    "the `eks-pod-identity-agent` DaemonSet, ready on every node",
                    "kubectl get daemonset eks-pod-identity-agent -n kube-system",
                )]
            };
            AddonPlan::new(
                "eks-pod-identity-agent",
                mode == AddonMode::Install,
                agent.version.as_ref(),
                agent.configuration_values.as_ref(),
                agent.preserve_on_delete,
                &common,
                checks,
                if auto_mode {
                    "EKS Auto Mode has the Pod Identity agent built in"
                } else {
                    "the blueprint says the cluster has it already (`mode: existing`)"
                },
            )
        });
        let cert_manager = AddonPlan::of(
            &addons.cert_manager,
            "cert-manager",
            &common,
            vec![
                check(
                    "cert-manager's controller, webhook and CA injector, available",
                    "kubectl get deployment -n cert-manager cert-manager cert-manager-webhook cert-manager-cainjector",
                ),
                check(
                    "cert-manager's CRDs (the operator's webhook certificate is a `Certificate`)",
                    "kubectl get crd certificates.cert-manager.io issuers.cert-manager.io",
                ),
            ],
        );
        let adot = AddonPlan::of(
            &addons.adot,
            "adot",
            &common,
            vec![
                check(
                    "the OpenTelemetry Operator, available",
                    "kubectl get deployment -n opentelemetry-operator-system opentelemetry-operator",
                ),
                check(
                    "the `OpenTelemetryCollector` CRD serving `v1beta1`",
                    "kubectl get crd opentelemetrycollectors.opentelemetry.io -o jsonpath='{.spec.versions[*].name}'",
                ),
            ],
        );
        let any_installed = cert_manager.install
            || adot.install
            || pod_identity_agent.as_ref().is_some_and(|a| a.install);
        AddonsPlan {
            pod_identity_agent,
            cert_manager,
            adot,
            any_installed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(cluster_extra: &str, addons_extra: &str, identity: &str) -> AddonsPlan {
        let text = format!(
            "apiVersion: xray-blueprints.io/v1alpha1\nkind: Blueprint\nmetadata:\n  name: t\nspec:\n  cluster:\n    existing:\n      name: c\n      region: us-east-1\n      account_id: \"123456789012\"\n      kubernetes_version: \"1.33\"\n{cluster_extra}  addons:\n    cert_manager:\n      version: v1.18.2-eksbuild.2\n    adot:\n      version: v0.151.0-eksbuild.1\n{addons_extra}  identity:\n    mode: {identity}\n  collector:\n    namespace: tracing\n    service_account: collector\n"
        );
        let source = crate::blueprint::load::Source {
            name: "t.yaml".into(),
            text,
        };
        let blueprint = crate::blueprint::validate::validate(&source).expect("valid");
        AddonsPlan::new(&blueprint.spec)
    }

    #[test]
    fn the_default_never_overwrites_and_installs_every_add_on() {
        let addons = plan("", "", "pod_identity");
        for addon in [
            addons.pod_identity_agent.as_ref().expect("agent"),
            &addons.cert_manager,
            &addons.adot,
        ] {
            assert!(addon.install, "{}", addon.name);
            assert_eq!(addon.resolve_conflicts, "NONE");
            assert_eq!(addon.resolve_conflicts_on_update, "PRESERVE");
            assert_eq!(addon.configuration_values, "{}");
            assert!(addon.timeouts.is_none());
        }
    }

    #[test]
    fn auto_mode_has_the_agent_and_irsa_has_none() {
        let addons = plan("      auto_mode: true\n", "", "pod_identity");
        let agent = addons.pod_identity_agent.expect("agent");
        assert!(!agent.install);
        assert!(agent.existing_reason.expect("reason").contains("Auto Mode"));
        assert!(plan("", "", "irsa").pod_identity_agent.is_none());
    }

    #[test]
    fn existing_add_ons_are_not_installed_and_settings_reach_the_others() {
        let addons = plan(
            "",
            "    resolve_conflicts: {on_create: overwrite, on_update: none}\n    timeouts: {create_mins: 30}\n    pod_identity_agent: {mode: existing}\n",
            "pod_identity",
        );
        assert!(!addons.pod_identity_agent.expect("agent").install);
        assert!(addons.cert_manager.install && addons.adot.install);
        assert_eq!(addons.adot.resolve_conflicts, "OVERWRITE");
        assert_eq!(addons.adot.resolve_conflicts_on_update, "NONE");
        assert_eq!(
            addons.adot.timeouts,
            Some(TimeoutsPlan {
                create: Some("30m".into()),
                update: None,
                delete: None
            })
        );
        assert_eq!(
            configuration_json(Some(&std::collections::BTreeMap::from([(
                "replicaCount".to_owned(),
                serde_json::json!(2)
            )]))),
            r#"{"replicaCount":2}"#
        );
    }
}
