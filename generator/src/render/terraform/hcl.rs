//! HCL expressions for JSON values, laid out exactly as `terraform fmt` writes them.
//!
//! The templates hold the fixed HCL, already formatted; only values whose shape comes from the
//! blueprint (tags, node groups, the collector configuration, Kubernetes manifests) go through here.
//! `terraform fmt` aligns the `=` of consecutive single-line attributes of an object to the longest
//! key of the run; an attribute whose value spans several lines ends the run and keeps a single
//! space before its `=`. Lists of scalars stay on one line; lists holding objects or lists put one
//! element per line, each followed by a comma.

use serde_json::Value;

/// A string as an HCL quoted template: JSON-style escapes, plus `$${` and `%%{` so that nothing in
/// the value is read as an interpolation or a template directive.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The prefix that marks a string as a raw HCL expression (a reference such as
/// `kubernetes_namespace_v1.collector.metadata[0].name`) rather than a string literal. The renderer
/// refuses values from the blueprint that contain it (`contains_raw`), so only the renderer's own
/// references are ever written raw.
const RAW: char = '\u{1}';

/// A value that `expression` writes as the raw HCL expression `expr`.
pub fn raw(expr: &str) -> Value {
    Value::String(format!("{RAW}{expr}"))
}

/// Whether any string in `value` (keys included) contains the raw-expression marker.
pub fn contains_raw(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(RAW),
        Value::Array(items) => items.iter().any(contains_raw),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains(RAW) || contains_raw(v)),
        _ => false,
    }
}

/// An object key: bare when it is an HCL identifier (and not a keyword that would read as a value),
/// quoted otherwise.
pub fn key(k: &str) -> String {
    let mut chars = k.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if identifier && !matches!(k, "true" | "false" | "null") {
        k.to_owned()
    } else {
        string(k)
    }
}

/// A value as an HCL expression whose first line follows `key = ` and whose continuation lines are
/// indented for an attribute at `indent` spaces.
pub fn expression(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    write_value(&mut out, value, indent);
    out
}

fn is_multiline(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => items.iter().any(|v| v.is_object() || v.is_array()),
        _ => false,
    }
}

fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => match s.strip_prefix(RAW) {
            Some(expr) => out.push_str(expr),
            None => out.push_str(&string(s)),
        },
        Value::Array(items) if !is_multiline(value) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, indent);
            }
            out.push(']');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for item in items {
                pad(out, indent + 2);
                write_value(out, item, indent + 2);
                out.push_str(",\n");
            }
            pad(out, indent);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            let entries: Vec<(String, &Value)> = map.iter().map(|(k, v)| (key(k), v)).collect();
            let mut i = 0;
            while i < entries.len() {
                if is_multiline(entries[i].1) {
                    let (k, v) = &entries[i];
                    pad(out, indent + 2);
                    out.push_str(k);
                    out.push_str(" = ");
                    write_value(out, v, indent + 2);
                    out.push('\n');
                    i += 1;
                    continue;
                }
                // A run of single-line attributes, aligned on the longest key.
                let end = (i..entries.len())
                    .find(|&j| is_multiline(entries[j].1))
                    .unwrap_or(entries.len());
                let width = entries[i..end]
                    .iter()
                    .map(|(k, _)| k.chars().count())
                    .max()
                    .unwrap_or(0);
                for (k, v) in &entries[i..end] {
                    pad(out, indent + 2);
                    out.push_str(k);
                    pad(out, width - k.chars().count());
                    out.push_str(" = ");
                    write_value(out, v, indent + 2);
                    out.push('\n');
                }
                i = end;
            }
            pad(out, indent);
            out.push('}');
        }
    }
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_escape_quotes_and_interpolation() {
        assert_eq!(string(r#"a "b" \ c"#), r#""a \"b\" \\ c""#);
        assert_eq!(string("${x} %{y} $z"), r#""$${x} %%{y} $z""#);
        assert_eq!(string("line\nnext"), r#""line\nnext""#);
    }

    #[test]
    fn raw_expressions_are_written_unquoted() {
        let value = json!({"namespace": raw("kubernetes_namespace_v1.this.metadata[0].name")});
        assert_eq!(
            expression(&value, 0),
            "{\n  namespace = kubernetes_namespace_v1.this.metadata[0].name\n}"
        );
    }

    #[test]
    fn keys_are_quoted_unless_identifiers() {
        assert_eq!(key("team"), "team");
        assert_eq!(key("app.kubernetes.io/name"), r#""app.kubernetes.io/name""#);
        assert_eq!(key("1st"), r#""1st""#);
        assert_eq!(key("null"), r#""null""#);
    }

    #[test]
    fn objects_align_runs_of_single_line_attributes() {
        let value = json!({
            "a": 1,
            "long_key": "x",
            "nested": {"k": true},
            "z": ["p", "q"],
        });
        assert_eq!(
            expression(&value, 2),
            "{\n    a        = 1\n    long_key = \"x\"\n    nested = {\n      k = true\n    }\n    z = [\"p\", \"q\"]\n  }"
        );
    }

    #[test]
    fn lists_of_objects_put_one_element_per_line() {
        let value = json!([{"name": "xray", "port": 2000}]);
        assert_eq!(
            expression(&value, 0),
            "[\n  {\n    name = \"xray\"\n    port = 2000\n  },\n]"
        );
    }
}
