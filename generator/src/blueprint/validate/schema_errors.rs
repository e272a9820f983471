//! The wording of JSON schema errors: each jsonschema error becomes a located diagnostic that
//! names the field, what was expected (the allowed values, the known fields, the `oneOf` choices)
//! and, where it helps, a hint.

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::blueprint::load::{Document, Source, escape_pointer};
use crate::blueprint::validate::schema::{schema, validator};
use crate::diagnostic::{Diagnostic, Phase};

pub(super) fn schema_diagnostics(source: &Source, doc: &Document) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for err in validator().iter_errors(&doc.value) {
        let pointer = err.instance_path().as_str().to_owned();
        schema_error(
            source,
            doc,
            &pointer,
            err.kind(),
            &err.to_string(),
            &mut out,
        );
    }
    out.dedup();
    out
}

/// Turns one jsonschema error into diagnostics, descending into `oneOf` alternatives when the
/// document clearly chose one (an externally tagged enum such as `cluster: {existing: ...}`).
fn schema_error(
    source: &Source,
    doc: &Document,
    pointer: &str,
    kind: &ValidationErrorKind,
    text: &str,
    out: &mut Vec<Diagnostic>,
) {
    let mk = |pointer: String,
              prefer_value: bool,
              message: String,
              expected: Option<String>,
              hint: Option<String>| {
        Diagnostic {
            file: source.name.clone(),
            span: doc.locate(&pointer, prefer_value),
            pointer,
            phase: Phase::Schema,
            message,
            expected,
            hint,
        }
    };
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                let ptr = format!("{pointer}/{}", escape_pointer(key));
                out.push(mk(
                    ptr,
                    false,
                    format!("unknown field `{key}`"),
                    Some(format!("one of the fields {}", known_fields(pointer))),
                    Some("check the spelling; the schema lists every field".to_owned()),
                ));
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            out.push(mk(
                pointer.to_owned(),
                false,
                format!("missing required field `{name}`"),
                None,
                Some(format!("add `{name}:` here")),
            ));
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            // Pick the alternative that failed only below the chosen key, if there is one.
            let chosen = context.iter().find(|errs| {
                !errs.is_empty()
                    && errs.iter().all(|e| {
                        let p = e.instance_path().as_str();
                        p.len() > pointer.len() + 1 && p.starts_with(pointer)
                    })
            });
            match chosen {
                Some(errs) => {
                    for e in errs {
                        schema_error(
                            source,
                            doc,
                            e.instance_path().as_str(),
                            e.kind(),
                            &e.to_string(),
                            out,
                        );
                    }
                }
                None => match allowed_values(pointer) {
                    Some(expected) => {
                        let value =
                            lookup(&doc.value, pointer).map_or_else(String::new, |v| v.to_string());
                        out.push(mk(
                            pointer.to_owned(),
                            true,
                            format!("{value} is not an allowed value"),
                            Some(expected),
                            sidecar_hint(doc, pointer),
                        ));
                    }
                    None => out.push(mk(
                        pointer.to_owned(),
                        false,
                        "matches none of the allowed forms".to_owned(),
                        Some(one_of_expectation(pointer)),
                        None,
                    )),
                },
            }
        }
        ValidationErrorKind::Type { .. } => {
            let value = lookup(&doc.value, pointer);
            let hint = match value {
                Some(Value::Number(_)) => Some(
                    "quote the value: YAML reads unquoted digits as a number (`1.30` is 1.3)"
                        .to_owned(),
                ),
                Some(Value::Null) if pointer.is_empty() => Some(
                    "the file is empty; a blueprint has apiVersion, kind, metadata and spec"
                        .to_owned(),
                ),
                Some(Value::Null) => {
                    Some("give a value after the colon, or remove the key".to_owned())
                }
                _ => None,
            };
            out.push(mk(pointer.to_owned(), true, text.to_owned(), None, hint));
        }
        ValidationErrorKind::Enum { options } => {
            let hint = sidecar_hint(doc, pointer);
            out.push(mk(
                pointer.to_owned(),
                true,
                text.to_owned(),
                Some(format!("one of {}", options_list(options))),
                hint,
            ));
        }
        ValidationErrorKind::Constant { expected_value } => {
            let actual = lookup(&doc.value, pointer).map_or_else(String::new, |v| v.to_string());
            out.push(mk(
                pointer.to_owned(),
                true,
                format!("unsupported value {actual}"),
                Some(expected_value.to_string()),
                None,
            ));
        }
        _ => out.push(mk(pointer.to_owned(), true, text.to_owned(), None, None)),
    }
}

fn sidecar_hint(doc: &Document, pointer: &str) -> Option<String> {
    (pointer.ends_with("/collector/mode")
        && lookup(&doc.value, pointer) == Some(&Value::String("sidecar".into())))
    .then(|| {
        "a sidecar runs under the application's service account, so the collector's IAM role \
         would not apply; use daemonset for a collector on every node"
            .to_owned()
    })
}

fn options_list(options: &Value) -> String {
    match options {
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map_or_else(|| i.to_string(), |s| format!("`{s}`"))
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn one_of_expectation(pointer: &str) -> String {
    if pointer.ends_with("/cluster") {
        "exactly one of `existing:` or `create:`".to_owned()
    } else if pointer.ends_with("/network") {
        "exactly one of `vpc:` or `existing_subnets:`".to_owned()
    } else {
        "exactly one of the alternatives the schema lists".to_owned()
    }
}

/// The schema node that describes the value at a JSON pointer (following `$ref`s, optional-field
/// `anyOf [X, null]` wrappers and externally tagged `oneOf` alternatives).
fn schema_node(pointer: &str) -> Option<Value> {
    let schema = schema();
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let resolve = |mut node: Value| -> Value {
        for _ in 0..8 {
            if let Some(name) = node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
            {
                node = defs.get(name).cloned().unwrap_or(Value::Null);
            } else if let Some(first) = node.get("anyOf").and_then(|a| a.get(0)) {
                node = first.clone();
            } else {
                break;
            }
        }
        node
    };
    let mut node = resolve(schema.clone());
    for segment in pointer.split('/').skip(1) {
        let next = node
            .get("properties")
            .and_then(|p| p.get(segment))
            .or_else(|| node.get("items"))
            .or_else(|| {
                node.get("oneOf").and_then(|alts| {
                    alts.as_array()?
                        .iter()
                        .find_map(|a| a.get("properties").and_then(|p| p.get(segment)))
                })
            })
            .cloned()?;
        node = resolve(next);
    }
    Some(node)
}

/// The field names the schema allows at a pointer, for "unknown field" messages.
fn known_fields(pointer: &str) -> String {
    match schema_node(pointer)
        .as_ref()
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
    {
        Some(props) => props
            .keys()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        None => "listed in the schema".to_owned(),
    }
}

/// The allowed values at a pointer when the schema lists them (`enum`, or a `oneOf` of `const`s,
/// which schemars emits for enums whose variants carry doc comments).
fn allowed_values(pointer: &str) -> Option<String> {
    let node = schema_node(pointer)?;
    let mut values = Vec::new();
    if let Some(items) = node.get("enum").and_then(Value::as_array) {
        values.extend(items.iter().cloned());
    }
    for alt in node
        .get("oneOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(c) = alt.get("const") {
            values.push(c.clone());
        }
        if let Some(items) = alt.get("enum").and_then(Value::as_array) {
            values.extend(items.iter().cloned());
        }
    }
    (!values.is_empty()).then(|| format!("one of {}", options_list(&Value::Array(values))))
}

fn lookup<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    value.pointer(pointer)
}
