//! Loading a blueprint file: YAML text to a JSON value plus the source position of every node.
//!
//! The YAML is read with saphyr-parser's event API, which reports a span for every event. Each node
//! is recorded under its JSON pointer (`/spec/collector/replicas`), so that schema and semantic errors,
//! which name JSON pointers, can be shown at a file, line and column. Plain scalars are resolved with
//! the YAML 1.2 core schema (so `yes` is a string and `1.30` is the number 1.3, which the schema then
//! rejects where a version string is expected). Loading never panics: every problem found, including
//! every duplicate key, becomes a diagnostic.

use std::collections::{BTreeMap, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

use crate::diagnostic::{Diagnostic, Phase};

/// A blueprint file's name (as the user gave it) and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as given on the command line; it appears verbatim in diagnostics.
    pub name: String,
    /// The file's contents.
    pub text: String,
}

/// A position in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Byte offset of the first character.
    pub offset: usize,
    /// Length in bytes (may be zero).
    pub len: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// Where a node is: its value, and its key when it is a mapping entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeSpans {
    /// The key of the mapping entry holding the node, if any.
    pub key: Option<Span>,
    /// The node itself (for a collection, its first character).
    pub value: Span,
}

/// A loaded YAML document.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document as a JSON value.
    pub value: Value,
    /// The position of every node, by JSON pointer (`""` is the root).
    pub spans: BTreeMap<String, NodeSpans>,
}

impl Document {
    /// The best position for a problem at `pointer`: the node's key if it has one (so that an
    /// error about a whole section points at the section's name), otherwise its value. Falls back
    /// to the nearest ancestor that exists (a missing field is reported at its parent).
    pub fn locate(&self, pointer: &str, prefer_value: bool) -> Span {
        let mut it = pointer.to_owned();
        loop {
            if let Some(spans) = self.spans.get(&it) {
                return match (prefer_value, spans.key) {
                    (false, Some(key)) => key,
                    _ => spans.value,
                };
            }
            match it.rfind('/') {
                Some(idx) => it.truncate(idx),
                None => {
                    return Span {
                        offset: 0,
                        len: 0,
                        line: 1,
                        column: 1,
                    };
                }
            }
        }
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

enum Frame {
    Map {
        map: Map<String, Value>,
        pointer: String,
        pending_key: Option<(String, Span)>,
        anchor: usize,
    },
    Seq {
        items: Vec<Value>,
        pointer: String,
        anchor: usize,
    },
}

/// Loads a YAML text. Returns every problem found when the text is not a single, well-formed
/// YAML document.
pub fn load(source: &Source) -> Result<Document, Vec<Diagnostic>> {
    let text = &source.text;
    // saphyr reports character indices; miette and the diagnostics need byte offsets.
    let byte_of: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let to_span = |s: saphyr_parser::Span| -> Span {
        let start = byte_of.get(s.start.index()).copied().unwrap_or(text.len());
        let end = byte_of
            .get(s.end.index())
            .copied()
            .unwrap_or(text.len())
            .max(start);
        Span {
            offset: start,
            len: end - start,
            line: s.start.line(),
            column: s.start.col() + 1,
        }
    };
    let diag = |span: Span, pointer: &str, message: String, hint: Option<&str>| Diagnostic {
        file: source.name.clone(),
        span,
        pointer: pointer.to_owned(),
        phase: Phase::Yaml,
        message,
        expected: None,
        hint: hint.map(str::to_owned),
    };

    let mut problems = Vec::new();
    let mut spans: BTreeMap<String, NodeSpans> = BTreeMap::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    let mut documents = 0usize;

    for event in Parser::new_from_str(text) {
        let (event, raw_span) = match event {
            Ok(it) => it,
            Err(err) => {
                let m = err.marker();
                let offset = byte_of.get(m.index()).copied().unwrap_or(text.len());
                problems.push(diag(
                    Span {
                        offset,
                        len: 0,
                        line: m.line(),
                        column: m.col() + 1,
                    },
                    "",
                    format!("YAML syntax error: {}", err.info()),
                    Some("check the indentation and quoting around this position"),
                ));
                return Err(problems);
            }
        };
        let span = to_span(raw_span);
        // A completed node: a scalar, an alias, or a collection that just ended.
        let completed: Option<(Value, Span, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    problems.push(diag(
                        span,
                        "",
                        "a blueprint file holds exactly one YAML document".to_owned(),
                        Some("put each blueprint in its own file"),
                    ));
                    return Err(problems);
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(value) => Some((value.clone(), span, 0)),
                None => {
                    problems.push(diag(span, "", "unknown YAML alias".to_owned(), None));
                    Some((Value::Null, span, 0))
                }
            },
            Event::Scalar(value, style, anchor, tag) => {
                let resolved = match tag.as_deref() {
                    Some(tag) if tag.is_yaml_core_schema() && tag.suffix == "str" => {
                        Value::String(value.into_owned())
                    }
                    Some(tag) if !tag.is_yaml_core_schema() => {
                        problems.push(diag(
                            span,
                            "",
                            format!("unsupported YAML tag `{}{}`", tag.handle, tag.suffix),
                            Some("remove the tag; blueprints use plain YAML values"),
                        ));
                        Value::String(value.into_owned())
                    }
                    _ if style == ScalarStyle::Plain => resolve_plain(&value),
                    _ => Value::String(value.into_owned()),
                };
                Some((resolved, span, anchor))
            }
            Event::MappingStart(anchor, _) => {
                let pointer = child_pointer(&stack);
                spans.entry(pointer.clone()).or_default().value = Span { len: 0, ..span };
                stack.push(Frame::Map {
                    map: Map::new(),
                    pointer,
                    pending_key: None,
                    anchor,
                });
                None
            }
            Event::SequenceStart(anchor, _) => {
                let pointer = child_pointer(&stack);
                spans.entry(pointer.clone()).or_default().value = Span { len: 0, ..span };
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    pointer,
                    anchor,
                });
                None
            }
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { map, anchor, .. }) => Some((Value::Object(map), span, anchor)),
                _ => None,
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, anchor, .. }) => Some((Value::Array(items), span, anchor)),
                _ => None,
            },
        };
        let Some((value, span, anchor)) = completed else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, value.clone());
        }
        let is_scalar = !value.is_object() && !value.is_array();
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Seq { items, pointer, .. }) => {
                let ptr = format!("{pointer}/{}", items.len());
                if is_scalar {
                    spans.entry(ptr).or_default().value = span;
                }
                items.push(value);
            }
            Some(Frame::Map {
                map,
                pointer,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    // This node is a key.
                    let key = match value {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        Value::Bool(_) | Value::Number(_) => value.to_string(),
                        _ => {
                            problems.push(diag(
                                span,
                                pointer,
                                "mapping keys must be plain strings".to_owned(),
                                None,
                            ));
                            String::new()
                        }
                    };
                    let ptr = format!("{pointer}/{}", escape_pointer(&key));
                    if map.contains_key(&key) {
                        problems.push(diag(
                            span,
                            &ptr,
                            format!("duplicate key `{key}`"),
                            Some("each key may appear once in a mapping; remove one of them"),
                        ));
                    }
                    *pending_key = Some((key, span));
                }
                Some((key, key_span)) => {
                    let ptr = format!("{pointer}/{}", escape_pointer(&key));
                    let entry = spans.entry(ptr).or_default();
                    entry.key = Some(key_span);
                    if is_scalar {
                        entry.value = span;
                    }
                    map.insert(key, value);
                }
            },
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Document {
        value: root.unwrap_or(Value::Null),
        spans,
    })
}

/// The JSON pointer of the node about to start, from the frames above it.
fn child_pointer(stack: &[Frame]) -> String {
    match stack.last() {
        None => String::new(),
        Some(Frame::Seq { items, pointer, .. }) => format!("{pointer}/{}", items.len()),
        Some(Frame::Map {
            pointer,
            pending_key,
            ..
        }) => match pending_key {
            Some((key, _)) => format!("{pointer}/{}", escape_pointer(key)),
            // A collection used as a key; it is reported when it completes.
            None => format!("{pointer}/?"),
        },
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits(unsigned, 10) {
        if let Ok(n) = s.parse::<i64>() {
            return Value::Number(n.into());
        }
        if let Ok(n) = s.parse::<u64>() {
            return Value::Number(n.into());
        }
    }
    if let Some(hex) = s.strip_prefix("0x").filter(|t| digits(t, 16)) {
        if let Ok(n) = i64::from_str_radix(hex, 16) {
            return Value::Number(n.into());
        }
    }
    if let Some(oct) = s.strip_prefix("0o").filter(|t| digits(t, 8)) {
        if let Ok(n) = i64::from_str_radix(oct, 8) {
            return Value::Number(n.into());
        }
    }
    let float_chars = unsigned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
    if float_chars
        && unsigned.chars().any(|c| c.is_ascii_digit())
        && !unsigned.starts_with(['e', 'E'])
    {
        if let Ok(f) = s.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        load(&Source {
            name: "t.yaml".into(),
            text: text.into(),
        })
        .expect("loads")
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        assert_eq!(resolve_plain("yes"), Value::String("yes".into()));
        assert_eq!(resolve_plain("1.30"), serde_json::json!(1.3));
        assert_eq!(resolve_plain("2000"), serde_json::json!(2000));
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(
            resolve_plain("10.0.0.0/16"),
            Value::String("10.0.0.0/16".into())
        );
        assert_eq!(resolve_plain("v1.2.3"), Value::String("v1.2.3".into()));
    }

    #[test]
    fn every_node_has_a_position() {
        let d = doc("a:\n  b: [1, x]\n  c:\n    - d: é\n      e: 2\n");
        assert_eq!(d.spans["/a/b/1"].value.line, 2);
        assert_eq!(d.spans["/a/b/1"].value.column, 10);
        assert_eq!(
            d.spans["/a/c/0/e"].key.map(|k| (k.line, k.column)),
            Some((5, 7))
        );
        assert_eq!(
            d.spans["/a/c/0/e"].value.offset,
            "a:\n  b: [1, x]\n  c:\n    - d: é\n      e: ".len()
        );
    }

    #[test]
    fn duplicate_keys_are_all_reported() {
        let err = load(&Source {
            name: "t.yaml".into(),
            text: "a: 1\na: 2\nb: 1\nb: 3\n".into(),
        })
        .unwrap_err();
        assert_eq!(err.len(), 2);
    }
}
