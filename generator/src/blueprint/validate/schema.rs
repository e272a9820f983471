//! The JSON schema of the blueprint format, generated from the model types, and its compiled
//! validator.

use std::sync::OnceLock;

use serde_json::Value;

use crate::blueprint::model::Blueprint;

/// The JSON schema of the blueprint format, generated from the model types.
pub fn schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<Blueprint>();
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

/// The schema as committed to `schemas/blueprint.schema.json`: pretty JSON with a trailing newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

pub(super) fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::options()
            .build(&schema())
            .expect("the generated blueprint schema compiles")
    })
}
