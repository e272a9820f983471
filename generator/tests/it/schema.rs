//! The committed JSON schema (`schemas/blueprint.schema.json`) is generated from the model types.
//!
//! The test fails when the committed file is stale; `XRB_BLESS=1 cargo nextest run -p blueprint -E
//! 'test(/^schema::/)'` rewrites it. The `blueprint schema` command prints the same text.

use std::process::Command;

use blueprint::blueprint::validate::schema_text;

#[test]
fn committed_schema_is_fresh() {
    let path = harness::project_root().join("schemas/blueprint.schema.json");
    let fresh = schema_text();
    if harness::bless() {
        std::fs::write(&path, &fresh).expect("schema written");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schemas/blueprint.schema.json is stale; run XRB_BLESS=1 cargo nextest run -p blueprint -E 'test(/^schema::/)'"
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = Command::new(env!("CARGO_BIN_EXE_blueprint"))
        .arg("schema")
        .output()
        .expect("blueprint runs");
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), schema_text());
}

#[test]
fn schema_documents_every_field() {
    let schema: serde_json::Value = serde_json::from_str(&schema_text()).unwrap();
    let mut missing = Vec::new();
    let defs = schema["$defs"].clone();
    // A field documents itself, or refers to a type that does (editors show the type's text).
    let documented = |prop: &serde_json::Value| {
        let own = prop.get("description").and_then(|d| d.as_str());
        let referenced = prop
            .get("$ref")
            .and_then(|r| r.as_str())
            .and_then(|r| r.rsplit('/').next())
            .and_then(|name| defs[name].get("description"))
            .and_then(|d| d.as_str());
        own.or(referenced).is_some_and(|d| !d.is_empty())
    };
    fn walk(
        path: &str,
        node: &serde_json::Value,
        missing: &mut Vec<String>,
        documented: &dyn Fn(&serde_json::Value) -> bool,
    ) {
        if let Some(props) = node.get("properties").and_then(|p| p.as_object()) {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                if !documented(prop) {
                    missing.push(here.clone());
                }
                walk(&here, prop, missing, documented);
            }
        }
        for key in ["$defs", "oneOf", "anyOf", "items"] {
            match node.get(key) {
                Some(serde_json::Value::Object(map)) if key == "$defs" => {
                    for (name, def) in map {
                        walk(name, def, missing, documented);
                    }
                }
                Some(serde_json::Value::Array(items)) => {
                    for item in items {
                        walk(path, item, missing, documented);
                    }
                }
                Some(item @ serde_json::Value::Object(_)) => walk(path, item, missing, documented),
                _ => {}
            }
        }
    }
    walk("", &schema, &mut missing, &documented);
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
    // Remote references are never needed: everything is in $defs.
    assert!(!schema_text().contains("\"$ref\": \"http"));
}
