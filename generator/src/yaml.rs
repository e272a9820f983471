//! A deterministic YAML emitter for JSON values.
//!
//! Output is block style with two-space indentation, keys in the map's (sorted) order, and strings
//! quoted whenever a YAML 1.1 or 1.2 reader could take them for anything but a string (numbers,
//! booleans, null, `0.0.0.0:2000` sexagesimals, leading indicators). Quoted strings use JSON escaping,
//! which is valid YAML double-quoted style, so the output round-trips through any YAML parser.

use serde_json::Value;

/// Emits a value as a YAML document body (no `---`), ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => emit_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => emit_seq(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

/// Emits a value as YAML nested under a key at `indent` spaces: for a non-empty map or sequence,
/// a newline then the block indented by `indent`; for a scalar or empty collection, ` value`.
/// Used by the `toyaml` template filter after `key:`.
pub fn to_yaml_nested(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            emit_map(&mut out, map, indent);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            emit_seq(&mut out, items, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    // The template supplies the line break after the filter call.
    out.pop();
    out
}

fn emit_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        push_indent(out, indent);
        out.push_str(&string(key));
        out.push(':');
        emit_value_after_key(out, value, indent);
    }
}

fn emit_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            emit_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            emit_seq(out, items, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn emit_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        push_indent(out, indent);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key goes on the dash line; the rest align under it.
                let mut first = true;
                for (key, value) in map {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        push_indent(out, indent + 2);
                    }
                    out.push_str(&string(key));
                    out.push(':');
                    emit_value_after_key(out, value, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                emit_seq(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// A string as a YAML scalar: plain when that is unambiguous, otherwise double-quoted.
pub fn string(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '/' || first == '_') {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | '@' | '+'))
    {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    let reserved = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf",
    ];
    !reserved.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ambiguous_strings_are_quoted() {
        assert_eq!(string("0.0.0.0:2000"), "\"0.0.0.0:2000\"");
        assert_eq!(string("1.33"), "\"1.33\"");
        assert_eq!(string("yes"), "\"yes\"");
        assert_eq!(string(""), "\"\"");
        assert_eq!(string("*"), "\"*\"");
        assert_eq!(string("aws-otel-eks"), "aws-otel-eks");
        assert_eq!(string("app.kubernetes.io/name"), "app.kubernetes.io/name");
    }

    #[test]
    fn nested_values_emit_in_block_style() {
        let value = json!({"b": [1, {"x": "w", "z": []}], "a": {"k": null}});
        assert_eq!(
            to_yaml(&value),
            "a:\n  k: null\nb:\n  - 1\n  - x: w\n    z: []\n"
        );
    }

    #[test]
    fn output_parses_back_to_the_same_value() {
        use crate::blueprint::load::{Source, load};
        let value = json!({
            "strings": ["", "y", "No", "1.30", "0x1F", "a: b", "#x", "- x", "tab\there", "é", "line\nbreak", "*", "&a", "!t", "%p", "@at", "`b", "{f}", "[s]", "~"],
            "numbers": [0, -1, 2.5, 1e30],
            "nested": [[1, [2]], {"k": {"l": [{"m": null}]}}],
            "empty": {"map": {}, "seq": []},
            "bools": [true, false],
        });
        let text = to_yaml(&value);
        let doc = load(&Source {
            name: "t.yaml".into(),
            text: text.clone(),
        })
        .expect("parses");
        assert_eq!(doc.value, value, "{text}");
    }
}
