//! YAML text to a `serde_json::Value` plus a map from JSON Pointer to source position, so that
//! errors found after parsing (unknown keys, bad types, semantic checks) can point at a line and
//! column. Environment references in string scalars are expanded while converting.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::Yaml;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::expand;

/// A 1-based line and column in the config text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl From<Marker> for Position {
    fn from(m: Marker) -> Self {
        Position {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

/// Positions of every mapping key and sequence item, by JSON Pointer (`/service/pipelines`).
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    positions: BTreeMap<String, Position>,
}

impl SourceMap {
    /// The position of `pointer`, or of its nearest ancestor that has one.
    pub fn locate(&self, pointer: &str) -> Option<Position> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some(*pos);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }
}

/// A problem found while reading the YAML text.
#[derive(Clone, Debug)]
pub struct YamlError {
    pub position: Position,
    pub pointer: String,
    pub message: String,
}

/// Looks an environment variable up by name.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses one YAML document. An empty document is an empty mapping.
pub fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Value, SourceMap), Vec<YamlError>> {
    parse_with(text, Some(env))
}

/// Parses every document of a YAML stream as written, without `${...}` expansion (for reading
/// Kubernetes manifests that embed a collector config).
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: BTreeMap::new(),
        nodes: 0,
        frame_nodes: Vec::new(),
        skip: 0,
        documents: Vec::new(),
        map: SourceMap::default(),
        errors: Vec::new(),
        env: None,
    };
    Parser::new_from_str(text)
        .load(&mut builder, true)
        .map_err(|e| YamlError {
            position: (*e.marker()).into(),
            pointer: String::new(),
            message: format!("invalid YAML: {}", e.info()),
        })?;
    match builder.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(builder.documents),
    }
}

fn parse_with(text: &str, env: Option<EnvLookup>) -> Result<(Value, SourceMap), Vec<YamlError>> {
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: BTreeMap::new(),
        nodes: 0,
        frame_nodes: Vec::new(),
        skip: 0,
        documents: Vec::new(),
        map: SourceMap::default(),
        errors: Vec::new(),
        env,
    };
    if let Err(e) = Parser::new_from_str(text).load(&mut builder, true) {
        return Err(vec![YamlError {
            position: (*e.marker()).into(),
            pointer: String::new(),
            message: format!("invalid YAML: {}", e.info()),
        }]);
    }
    if !builder.errors.is_empty() {
        return Err(builder.errors);
    }
    match builder.documents.len() {
        0 => Ok((Value::Object(Map::new()), builder.map)),
        1 => Ok((builder.documents.pop().unwrap_or_default(), builder.map)),
        n => Err(vec![YamlError {
            position: Position { line: 1, column: 1 },
            pointer: String::new(),
            message: format!("expected one YAML document, found {n}"),
        }]),
    }
}

/// Escapes one JSON Pointer reference token.
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

enum Frame {
    Map {
        value: Map<String, Value>,
        pending_key: Option<(String, Marker)>,
        pointer: String,
        anchor: usize,
    },
    Seq {
        value: Vec<Value>,
        pointer: String,
        anchor: usize,
    },
}

/// Deepest nesting a config may have; deeper input is an error, not a stack overflow.
const MAX_DEPTH: usize = 64;
/// Most values a config may expand to, aliases included ("billion laughs" protection).
const MAX_NODES: usize = 100_000;

struct Builder<'e> {
    stack: Vec<Frame>,
    /// Anchored values and their size in nodes.
    anchors: BTreeMap<usize, (Value, usize)>,
    /// Values built so far, aliases counted at their expanded size.
    nodes: usize,
    /// Node counts at the start of each open frame, to size anchored collections.
    frame_nodes: Vec<usize>,
    /// Depth of the collection being skipped because it is too deep (0: not skipping).
    skip: usize,
    documents: Vec<Value>,
    map: SourceMap,
    errors: Vec<YamlError>,
    env: Option<EnvLookup<'e>>,
}

impl Builder<'_> {
    /// The pointer the next value will have, and records its position.
    fn next_pointer(&mut self, mark: Marker) -> String {
        match self.stack.last() {
            Some(Frame::Map {
                pending_key: Some((key, key_mark)),
                pointer,
                ..
            }) => {
                let p = format!("{pointer}/{}", escape_token(key));
                self.map.positions.insert(p.clone(), (*key_mark).into());
                p
            }
            Some(Frame::Seq { value, pointer, .. }) => {
                let p = format!("{pointer}/{}", value.len());
                self.map.positions.insert(p.clone(), mark.into());
                p
            }
            _ => String::new(),
        }
    }

    fn in_key_position(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }

    fn push_value(&mut self, value: Value, anchor: usize, size: usize, mark: Marker) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
        match self.stack.last_mut() {
            Some(Frame::Map {
                value: map,
                pending_key,
                pointer,
                ..
            }) => match pending_key.take() {
                Some((key, key_mark)) => {
                    if map.contains_key(&key) {
                        self.errors.push(YamlError {
                            position: key_mark.into(),
                            pointer: format!("{pointer}/{}", escape_token(&key)),
                            message: format!("duplicate key `{key}`"),
                        });
                    }
                    map.insert(key, value);
                }
                None => {
                    let key = match value {
                        Value::String(s) => s,
                        Value::Null => "null".to_owned(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => {
                            self.errors.push(YamlError {
                                position: mark.into(),
                                pointer: pointer.clone(),
                                message: "mapping keys must be scalars".to_owned(),
                            });
                            String::new()
                        }
                    };
                    *pending_key = Some((key, mark));
                }
            },
            Some(Frame::Seq { value: items, .. }) => items.push(value),
            None => self.documents.push(value),
        }
    }

    fn scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        tag_is_str: bool,
        mark: Marker,
    ) -> Value {
        let pointer = if self.in_key_position() {
            None
        } else {
            Some(self.next_pointer(mark))
        };
        // Keys are taken literally; values get `${env:VAR}` expansion, as the collector does.
        let Some(pointer) = pointer else {
            return Value::String(text);
        };
        let Some(env) = self.env else {
            if style != TScalarStyle::Plain || tag_is_str {
                return Value::String(text);
            }
            return typed(&text);
        };
        let expanded = match expand::expand(&text, env) {
            Ok(e) => e,
            Err(message) => {
                self.errors.push(YamlError {
                    position: mark.into(),
                    pointer,
                    message,
                });
                return Value::String(text);
            }
        };
        if style != TScalarStyle::Plain || tag_is_str {
            return Value::String(expanded.text);
        }
        // A plain scalar, or one made entirely of a single `${...}` reference, gets a YAML type.
        if expanded.substituted && !expanded.whole {
            return Value::String(expanded.text);
        }
        typed(&expanded.text)
    }
}

/// Resolves a plain scalar with the YAML core schema.
fn typed(text: &str) -> Value {
    match Yaml::from_str(text) {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Number(i.into()),
        Yaml::Real(r) => match r.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::String(text.to_owned()),
        },
        _ => Value::String(text.to_owned()),
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.skip > 0 {
            match ev {
                Event::MappingStart(..) | Event::SequenceStart(..) => self.skip += 1,
                Event::MappingEnd | Event::SequenceEnd => {
                    self.skip -= 1;
                    if self.skip == 0 {
                        self.push_value(Value::Null, 0, 1, mark);
                    }
                }
                _ => {}
            }
            return;
        }
        if matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..))
            && self.stack.len() >= MAX_DEPTH
        {
            self.errors.push(YamlError {
                position: mark.into(),
                pointer: String::new(),
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
            self.skip = 1;
            return;
        }
        self.nodes += 1;
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let tag_is_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = self.scalar(text, style, tag_is_str, mark);
                self.push_value(value, anchor, 1, mark);
            }
            Event::MappingStart(anchor, _) => {
                self.frame_nodes.push(self.nodes);
                let pointer = self.next_pointer(mark);
                self.stack.push(Frame::Map {
                    value: Map::new(),
                    pending_key: None,
                    pointer,
                    anchor,
                });
            }
            Event::SequenceStart(anchor, _) => {
                self.frame_nodes.push(self.nodes);
                let pointer = self.next_pointer(mark);
                self.stack.push(Frame::Seq {
                    value: Vec::new(),
                    pointer,
                    anchor,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Map { value, anchor, .. }) => (Value::Object(value), anchor),
                    Some(Frame::Seq { value, anchor, .. }) => (Value::Array(value), anchor),
                    None => return,
                };
                let size = self.nodes - self.frame_nodes.pop().unwrap_or(self.nodes) + 1;
                self.push_value(value, anchor, size, mark);
            }
            Event::Alias(anchor) => {
                if !self.in_key_position() {
                    self.next_pointer(mark);
                }
                let size = self.anchors.get(&anchor).map_or(1, |(_, n)| *n);
                self.nodes += size;
                let value = if self.nodes > MAX_NODES {
                    if !self
                        .errors
                        .iter()
                        .any(|e| e.message.starts_with("aliases expand"))
                    {
                        self.errors.push(YamlError {
                            position: mark.into(),
                            pointer: String::new(),
                            message: format!("aliases expand the config beyond {MAX_NODES} values"),
                        });
                    }
                    Value::Null
                } else {
                    self.anchors
                        .get(&anchor)
                        .map(|(v, _)| v.clone())
                        .unwrap_or(Value::Null)
                };
                self.push_value(value, 0, size, mark);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn converts_and_locates() {
        let text = "a:\n  b: 1\n  c: [x, 'y']\n  d:\n  e: 1.5\n  f: true\n";
        let (value, map) = parse(text, &no_env).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"a": {"b": 1, "c": ["x", "y"], "d": null, "e": 1.5, "f": true}})
        );
        assert_eq!(map.locate("/a/b"), Some(Position { line: 2, column: 3 }));
        assert_eq!(
            map.locate("/a/c/1"),
            Some(Position {
                line: 3,
                column: 10
            })
        );
        assert_eq!(map.locate("/a/b/zz"), Some(Position { line: 2, column: 3 }));
    }

    #[test]
    fn reports_duplicates_and_syntax_errors() {
        let errs = parse("a: 1\na: 2\n", &no_env).unwrap_err();
        assert_eq!(errs[0].message, "duplicate key `a`");
        assert_eq!(errs[0].position.line, 2);
        let errs = parse("a: [1, 2\n", &no_env).unwrap_err();
        assert!(
            errs[0].message.starts_with("invalid YAML"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn hostile_nesting_and_aliases_are_errors() {
        let nested = format!("{}x{}", "[".repeat(100), "]".repeat(100));
        let errs = parse(&nested, &no_env).unwrap_err();
        assert_eq!(errs[0].message, "nesting deeper than 64 levels");
        let nested = format!("{}x{}", "[".repeat(50_000), "]".repeat(50_000));
        let errs = parse(&nested, &no_env).unwrap_err();
        assert_eq!(errs[0].message, "invalid YAML: recursion limit exceeded");
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let errs = parse(&bomb, &no_env).unwrap_err();
        assert_eq!(
            errs[0].message,
            "aliases expand the config beyond 100000 values"
        );
        let (value, _) = parse("base: &b {x: 1}\nother: *b\n", &no_env).unwrap();
        assert_eq!(value["other"], serde_json::json!({"x": 1}));
    }

    #[test]
    fn expands_env_with_types() {
        let env = |name: &str| match name {
            "N" => Some("50".to_owned()),
            "R" => Some("us-east-1".to_owned()),
            _ => None,
        };
        let (value, _) =
            parse("n: ${env:N}\nr: x-${env:R}\nq: '${env:N}'\nd: $$1\n", &env).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"n": 50, "r": "x-us-east-1", "q": "50", "d": "$1"})
        );
    }
}
