//! Add-on `configuration_values`, checked against the add-on's configuration JSON schema, recorded
//! as data in `generator/addon-schemas/<add-on>.json` (each file says which versions it covers and
//! where it came from). A value the schema refuses is reported at its own line and column in the
//! blueprint, with the schema's reason.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::blueprint::validate::checker::Checker;

/// One recorded add-on configuration schema.
struct AddonSchema {
    /// The schema file, for messages.
    file: &'static str,
    /// Which versions it covers, for messages.
    applies_to: String,
    validator: Option<jsonschema::Validator>,
}

fn load(file: &'static str, text: &str) -> AddonSchema {
    let data: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    AddonSchema {
        file,
        applies_to: data["applies_to"].as_str().unwrap_or_default().to_owned(),
        validator: jsonschema::options().build(&data["schema"]).ok(),
    }
}

/// The recorded schema of an EKS add-on, by name.
fn schema_of(addon: &str) -> Option<&'static AddonSchema> {
    static SCHEMAS: OnceLock<BTreeMap<&'static str, AddonSchema>> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        BTreeMap::from([
            (
                "adot",
                load(
                    "generator/addon-schemas/adot.json",
                    include_str!("../../../addon-schemas/adot.json"),
                ),
            ),
            (
                "cert-manager",
                load(
                    "generator/addon-schemas/cert-manager.json",
                    include_str!("../../../addon-schemas/cert-manager.json"),
                ),
            ),
            (
                "eks-pod-identity-agent",
                load(
                    "generator/addon-schemas/eks-pod-identity-agent.json",
                    include_str!("../../../addon-schemas/eks-pod-identity-agent.json"),
                ),
            ),
        ])
    });
    schemas.get(addon)
}

impl Checker<'_> {
    /// Checks `values` (at `pointer`, the blueprint's `configuration_values`) against the schema of
    /// EKS add-on `addon`.
    pub(super) fn check_configuration_values(
        &mut self,
        pointer: &str,
        addon: &str,
        values: &BTreeMap<String, Value>,
    ) {
        let Some(schema) = schema_of(addon) else {
            return;
        };
        let Some(validator) = &schema.validator else {
            self.error(
                pointer,
                format!("the recorded configuration schema of `{addon}` does not compile"),
                None,
                Some(&format!("fix {}", schema.file)),
            );
            return;
        };
        let instance = Value::Object(values.clone().into_iter().collect());
        let mut found: Vec<(String, String)> = validator
            .iter_errors(&instance)
            .map(|err| {
                (
                    format!("{pointer}{}", err.instance_path().as_str()),
                    err.to_string(),
                )
            })
            .collect();
        found.sort();
        found.dedup();
        for (ptr, reason) in found {
            self.error(
                &ptr,
                format!("`{addon}` add-on configuration value refused by its schema: {reason}"),
                None,
                Some(&format!(
                    "the schema ({}, versions {}) lists what the add-on accepts",
                    schema.file, schema.applies_to
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_schema_compiles_and_names_its_source() {
        for addon in ["adot", "cert-manager", "eks-pod-identity-agent"] {
            let schema = schema_of(addon).expect("recorded");
            assert!(schema.validator.is_some(), "{addon}");
            assert!(!schema.applies_to.is_empty(), "{addon}");
        }
    }
}
