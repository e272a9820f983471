//! Attribute actions, shared by `resource` (on resources) and `attributes` (on spans): contrib's
//! `actions` list with its keys (`key`, `action`, `value`, `from_attribute`, `default_value`,
//! `pattern`, `converted_type`) and semantics:
//!
//! * `insert` / `update` / `upsert`: sets `key` from `value` or from another attribute
//!   (`from_attribute`, falling back to `default_value`); insert only when absent, update only
//!   when present;
//! * `delete` / `hash`: on `key` and/or every key matching the regular expression `pattern`;
//!   `hash` replaces the value by the lowercase hex SHA-1 of its bytes (strings as UTF-8, ints and
//!   doubles as 8 little-endian bytes, booleans as one byte), contrib's default;
//! * `extract`: the named groups of `pattern` matched on `key`'s string value become attributes
//!   (every group must be named);
//! * `convert`: `key` to `converted_type` `int`, `double` or `string`; a value that does not
//!   convert is left as it is.
//!
//! Refused (located errors): `from_context` (client metadata is not kept by this collector's
//! receivers), unknown actions and types, a setting an action does not use, a bad pattern.
//! Actions run in the order listed.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::config::component::Checker;

/// One entry of `actions`, as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ActionConfig {
    pub key: String,
    pub action: String,
    pub value: Option<Value>,
    pub from_attribute: Option<String>,
    pub from_context: Option<String>,
    pub default_value: Option<Value>,
    pub pattern: Option<String>,
    pub converted_type: Option<String>,
}

/// A checked action.
#[derive(Clone, Debug)]
pub struct Action {
    key: String,
    op: Op,
}

#[derive(Clone, Debug)]
enum Op {
    Insert(Source),
    Update(Source),
    Upsert(Source),
    Delete(Option<Regex>),
    Hash(Option<Regex>),
    Extract(Regex),
    Convert(Conversion),
}

#[derive(Clone, Debug)]
enum Source {
    Value(AnyValue),
    Attribute {
        from: String,
        default: Option<AnyValue>,
    },
}

#[derive(Clone, Copy, Debug)]
enum Conversion {
    Int,
    Double,
    String,
}

/// A config value (a YAML scalar, list or map) as an attribute value.
pub fn any_value(v: &Value) -> Option<AnyValue> {
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    let value = match v {
        Value::Null => return None,
        Value::Bool(b) => Any::BoolValue(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Any::IntValue(i),
            None => Any::DoubleValue(n.as_f64()?),
        },
        Value::String(s) => Any::StringValue(s.clone()),
        Value::Array(items) => Any::ArrayValue(ArrayValue {
            values: items.iter().filter_map(any_value).collect(),
        }),
        Value::Object(map) => Any::KvlistValue(KeyValueList {
            values: map
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: any_value(v),
                })
                .collect(),
        }),
    };
    Some(AnyValue { value: Some(value) })
}

/// A string attribute value.
pub fn string_value(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(Any::StringValue(s.into())),
    }
}

/// Checks `actions` (at `key`, e.g. `actions`), reporting each problem; `None` if any.
pub fn compile(configs: &[ActionConfig], at: &str, c: &mut Checker<'_, '_>) -> Option<Vec<Action>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (i, a) in configs.iter().enumerate() {
        match compile_one(a) {
            Ok(action) => out.push(action),
            Err((field, message)) => {
                ok = false;
                let pointer = if field.is_empty() {
                    format!("{at}/{i}")
                } else {
                    format!("{at}/{i}/{field}")
                };
                c.error(&pointer, message);
            }
        }
    }
    ok.then_some(out)
}

/// Compiles actions that were checked when the config was loaded; the first problem otherwise.
pub fn compile_unchecked(configs: &[ActionConfig]) -> Result<Vec<Action>, String> {
    configs
        .iter()
        .enumerate()
        .map(|(i, a)| compile_one(a).map_err(|(f, m)| format!("actions[{i}].{f}: {m}")))
        .collect()
}

fn compile_one(a: &ActionConfig) -> Result<Action, (&'static str, String)> {
    if a.from_context.is_some() {
        return Err((
            "from_context",
            "`from_context` is not supported: this collector's receivers do not keep client metadata; use `value` or `from_attribute`".into(),
        ));
    }
    let action = a.action.to_ascii_lowercase();
    let unused = |field: &'static str, set: bool| -> Result<(), (&'static str, String)> {
        if set {
            Err((field, format!("`{field}` is not used by action `{action}`")))
        } else {
            Ok(())
        }
    };
    let pattern = |required: bool| -> Result<Option<Regex>, (&'static str, String)> {
        match &a.pattern {
            None if required => Err(("pattern", format!("action `{action}` needs `pattern`"))),
            None => Ok(None),
            Some(p) => Regex::new(p)
                .map(Some)
                .map_err(|e| ("pattern", format!("invalid regular expression: {e}"))),
        }
    };
    let source = || -> Result<Source, (&'static str, String)> {
        match (&a.value, &a.from_attribute) {
            (Some(_), Some(_)) => Err((
                "from_attribute",
                "set only one of `value` and `from_attribute`".into(),
            )),
            (Some(v), None) => {
                unused("default_value", a.default_value.is_some())?;
                any_value(v)
                    .map(Source::Value)
                    .ok_or(("value", "`value` must not be null".into()))
            }
            (None, Some(from)) => Ok(Source::Attribute {
                from: from.clone(),
                default: a.default_value.as_ref().and_then(any_value),
            }),
            (None, None) => match a.default_value.as_ref().and_then(any_value) {
                Some(v) => Ok(Source::Value(v)),
                None => Err((
                    "",
                    format!("action `{action}` needs `value` or `from_attribute`"),
                )),
            },
        }
    };
    let op = match action.as_str() {
        "insert" | "update" | "upsert" => {
            unused("pattern", a.pattern.is_some())?;
            unused("converted_type", a.converted_type.is_some())?;
            let s = source()?;
            match action.as_str() {
                "insert" => Op::Insert(s),
                "update" => Op::Update(s),
                _ => Op::Upsert(s),
            }
        }
        "delete" | "hash" => {
            for (f, set) in [
                ("value", a.value.is_some()),
                ("from_attribute", a.from_attribute.is_some()),
                ("default_value", a.default_value.is_some()),
                ("converted_type", a.converted_type.is_some()),
            ] {
                unused(f, set)?;
            }
            let p = pattern(false)?;
            if a.key.is_empty() && p.is_none() {
                return Err(("key", format!("action `{action}` needs `key` or `pattern`")));
            }
            if action == "delete" {
                Op::Delete(p)
            } else {
                Op::Hash(p)
            }
        }
        "extract" => {
            for (f, set) in [
                ("value", a.value.is_some()),
                ("from_attribute", a.from_attribute.is_some()),
                ("default_value", a.default_value.is_some()),
                ("converted_type", a.converted_type.is_some()),
            ] {
                unused(f, set)?;
            }
            let p = pattern(true)?.expect("required");
            let names = p.capture_names().skip(1);
            let count = p.captures_len() - 1;
            if count == 0 || names.clone().any(|n| n.is_none()) {
                return Err((
                    "pattern",
                    "every group of an `extract` pattern must be named, e.g. (?P<name>...)".into(),
                ));
            }
            Op::Extract(p)
        }
        "convert" => {
            for (f, set) in [
                ("value", a.value.is_some()),
                ("from_attribute", a.from_attribute.is_some()),
                ("default_value", a.default_value.is_some()),
                ("pattern", a.pattern.is_some()),
            ] {
                unused(f, set)?;
            }
            Op::Convert(match a.converted_type.as_deref() {
                Some("int") => Conversion::Int,
                Some("double") => Conversion::Double,
                Some("string") => Conversion::String,
                Some(other) => {
                    return Err((
                        "converted_type",
                        format!("unknown type `{other}`; expected int, double or string"),
                    ));
                }
                None => {
                    return Err((
                        "converted_type",
                        "action `convert` needs `converted_type`".into(),
                    ));
                }
            })
        }
        "" => return Err(("action", "missing `action`".into())),
        other => {
            return Err((
                "action",
                format!(
                    "unknown action `{other}`; expected insert, update, upsert, delete, hash, extract or convert"
                ),
            ));
        }
    };
    if a.key.is_empty() && !matches!(op, Op::Delete(Some(_)) | Op::Hash(Some(_))) {
        return Err(("key", "missing `key`".into()));
    }
    Ok(Action {
        key: a.key.clone(),
        op,
    })
}

fn position(attrs: &[KeyValue], key: &str) -> Option<usize> {
    attrs.iter().position(|kv| kv.key == key)
}

fn set(attrs: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match position(attrs, key) {
        Some(i) => attrs[i].value = Some(value),
        None => attrs.push(KeyValue {
            key: key.to_owned(),
            value: Some(value),
        }),
    }
}

/// Applies `actions` in order; returns whether anything changed.
pub fn apply(actions: &[Action], attrs: &mut Vec<KeyValue>) -> bool {
    let mut changed = false;
    for a in actions {
        changed |= apply_one(a, attrs);
    }
    changed
}

fn resolve(source: &Source, attrs: &[KeyValue]) -> Option<AnyValue> {
    match source {
        Source::Value(v) => Some(v.clone()),
        Source::Attribute { from, default } => attrs
            .iter()
            .find(|kv| kv.key == *from)
            .and_then(|kv| kv.value.clone())
            .or_else(|| default.clone()),
    }
}

fn apply_one(a: &Action, attrs: &mut Vec<KeyValue>) -> bool {
    let present = position(attrs, &a.key);
    match &a.op {
        Op::Insert(s) => match (present, resolve(s, attrs)) {
            (None, Some(v)) => {
                set(attrs, &a.key, v);
                true
            }
            _ => false,
        },
        Op::Update(s) => match (present, resolve(s, attrs)) {
            (Some(_), Some(v)) => {
                set(attrs, &a.key, v);
                true
            }
            _ => false,
        },
        Op::Upsert(s) => match resolve(s, attrs) {
            Some(v) => {
                set(attrs, &a.key, v);
                true
            }
            None => false,
        },
        Op::Delete(pattern) => {
            let before = attrs.len();
            attrs.retain(|kv| {
                !(kv.key == a.key && !a.key.is_empty()
                    || pattern.as_ref().is_some_and(|p| p.is_match(&kv.key)))
            });
            attrs.len() != before
        }
        Op::Hash(pattern) => {
            let mut changed = false;
            for kv in attrs.iter_mut() {
                if kv.key == a.key && !a.key.is_empty()
                    || pattern.as_ref().is_some_and(|p| p.is_match(&kv.key))
                {
                    if let Some(v) = &mut kv.value {
                        *v = string_value(sha1_hex(v));
                        changed = true;
                    }
                }
            }
            changed
        }
        Op::Extract(p) => {
            let Some(Any::StringValue(text)) = present
                .and_then(|i| attrs[i].value.as_ref())
                .and_then(|v| v.value.clone())
            else {
                return false;
            };
            let Some(caps) = p.captures(&text) else {
                return false;
            };
            let mut changed = false;
            for name in p.capture_names().flatten() {
                if let Some(m) = caps.name(name) {
                    set(attrs, name, string_value(m.as_str()));
                    changed = true;
                }
            }
            changed
        }
        Op::Convert(to) => {
            let Some(i) = present else { return false };
            let Some(v) = attrs[i].value.as_ref().and_then(|v| v.value.clone()) else {
                return false;
            };
            let converted = match (to, v) {
                (Conversion::Int, Any::IntValue(_))
                | (Conversion::Double, Any::DoubleValue(_))
                | (Conversion::String, Any::StringValue(_)) => None,
                (Conversion::Int, Any::StringValue(s)) => s.trim().parse().ok().map(Any::IntValue),
                (Conversion::Int, Any::DoubleValue(d)) => Some(Any::IntValue(d as i64)),
                (Conversion::Int, Any::BoolValue(b)) => Some(Any::IntValue(i64::from(b))),
                (Conversion::Double, Any::StringValue(s)) => {
                    s.trim().parse().ok().map(Any::DoubleValue)
                }
                (Conversion::Double, Any::IntValue(n)) => Some(Any::DoubleValue(n as f64)),
                (Conversion::Double, Any::BoolValue(b)) => {
                    Some(Any::DoubleValue(if b { 1.0 } else { 0.0 }))
                }
                (Conversion::String, other) => Some(Any::StringValue(scalar_text(&other))),
                _ => None,
            };
            match converted {
                Some(c) => {
                    attrs[i].value = Some(AnyValue { value: Some(c) });
                    true
                }
                None => false,
            }
        }
    }
}

/// A scalar's text, as `pcommon.Value.AsString()` writes it (maps and arrays as JSON).
pub fn scalar_text(v: &Any) -> String {
    match v {
        Any::StringValue(s) => s.clone(),
        Any::IntValue(n) => n.to_string(),
        Any::DoubleValue(d) => d.to_string(),
        Any::BoolValue(b) => b.to_string(),
        other => crate::translate::any_to_json(&AnyValue {
            value: Some(other.clone()),
        })
        .map(|v| v.to_string())
        .unwrap_or_default(),
    }
}

/// The lowercase hex SHA-1 of a value's bytes (see the module doc); `""` for other types.
fn sha1_hex(v: &AnyValue) -> String {
    let bytes: Vec<u8> = match &v.value {
        Some(Any::StringValue(s)) => s.as_bytes().to_vec(),
        Some(Any::BoolValue(b)) => vec![u8::from(*b)],
        Some(Any::IntValue(n)) => n.to_le_bytes().to_vec(),
        Some(Any::DoubleValue(d)) => d.to_bits().to_le_bytes().to_vec(),
        _ => return String::new(),
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: Any) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
        }
    }

    fn s(v: &str) -> Any {
        Any::StringValue(v.into())
    }

    fn action(yaml: Value) -> Action {
        let cfg: ActionConfig = serde_json::from_value(yaml).unwrap();
        compile_one(&cfg).unwrap()
    }

    fn get<'a>(attrs: &'a [KeyValue], k: &str) -> Option<&'a Any> {
        attrs
            .iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
    }

    #[test]
    fn insert_update_upsert_follow_presence() {
        let mut attrs = vec![kv("a", s("1"))];
        let acts = [
            action(serde_json::json!({"key": "a", "action": "insert", "value": "x"})),
            action(serde_json::json!({"key": "b", "action": "INSERT", "value": 2})),
            action(serde_json::json!({"key": "c", "action": "update", "value": "y"})),
            action(serde_json::json!({"key": "a", "action": "upsert", "from_attribute": "b"})),
            action(
                serde_json::json!({"key": "d", "action": "upsert", "from_attribute": "zz", "default_value": "dflt"}),
            ),
            action(serde_json::json!({"key": "e", "action": "upsert", "from_attribute": "zz"})),
        ];
        assert!(apply(&acts, &mut attrs));
        assert_eq!(get(&attrs, "a"), Some(&Any::IntValue(2)));
        assert_eq!(get(&attrs, "b"), Some(&Any::IntValue(2)));
        assert_eq!(get(&attrs, "c"), None);
        assert_eq!(get(&attrs, "d"), Some(&s("dflt")));
        assert_eq!(get(&attrs, "e"), None);
    }

    #[test]
    fn delete_hash_extract_convert() {
        let mut attrs = vec![
            kv("user.email", s("a@b")),
            kv("secret.1", s("x")),
            kv("secret.2", s("y")),
            kv("http.url", s("http://h/api/v1/orders/42")),
            kv("n", s("17")),
            kv("flag", Any::BoolValue(true)),
        ];
        let acts = [
            action(serde_json::json!({"key": "user.email", "action": "hash"})),
            action(serde_json::json!({"action": "delete", "pattern": "^secret\\."})),
            action(
                serde_json::json!({"key": "http.url", "action": "extract", "pattern": "/api/(?P<version>v\\d+)/(?P<resource>\\w+)/"}),
            ),
            action(serde_json::json!({"key": "n", "action": "convert", "converted_type": "int"})),
            action(
                serde_json::json!({"key": "flag", "action": "convert", "converted_type": "string"}),
            ),
        ];
        apply(&acts, &mut attrs);
        let Some(Any::StringValue(h)) = get(&attrs, "user.email") else {
            panic!("hashed")
        };
        assert_eq!(h.len(), 40);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(get(&attrs, "secret.1"), None);
        assert_eq!(get(&attrs, "secret.2"), None);
        assert_eq!(get(&attrs, "version"), Some(&s("v1")));
        assert_eq!(get(&attrs, "resource"), Some(&s("orders")));
        assert_eq!(get(&attrs, "n"), Some(&Any::IntValue(17)));
        assert_eq!(get(&attrs, "flag"), Some(&s("true")));
    }

    #[test]
    fn sha1_matches_the_reference_digest() {
        // SHA-1("abc") from FIPS 180.
        assert_eq!(
            sha1_hex(&string_value("abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(sha1_hex(&AnyValue { value: None }), "");
    }

    #[test]
    fn bad_actions_name_their_field() {
        let bad = |yaml: Value| {
            let cfg: ActionConfig = serde_json::from_value(yaml).unwrap();
            compile_one(&cfg).unwrap_err()
        };
        assert_eq!(
            bad(serde_json::json!({"key": "a", "action": "insert"})).0,
            ""
        );
        assert_eq!(
            bad(serde_json::json!({"key": "a", "action": "merge"})).0,
            "action"
        );
        assert_eq!(bad(serde_json::json!({"key": "a", "action": "insert", "value": 1, "from_attribute": "b"})).0, "from_attribute");
        assert_eq!(
            bad(serde_json::json!({"key": "a", "action": "upsert", "from_context": "x"})).0,
            "from_context"
        );
        assert_eq!(
            bad(serde_json::json!({"key": "a", "action": "extract", "pattern": "(\\d+)"})).0,
            "pattern"
        );
        assert_eq!(
            bad(serde_json::json!({"key": "a", "action": "extract", "pattern": "("})).0,
            "pattern"
        );
        assert_eq!(
            bad(serde_json::json!({"key": "a", "action": "convert", "converted_type": "bool"})).0,
            "converted_type"
        );
        assert_eq!(
            bad(serde_json::json!({"key": "a", "action": "delete", "value": 1})).0,
            "value"
        );
        assert_eq!(
            bad(serde_json::json!({"action": "insert", "value": 1})).0,
            "key"
        );
    }
}
