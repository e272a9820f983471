//! The event loop: saphyr-parser events to values and position trees, with every limit checked
//! before the memory it guards is allocated.

use std::collections::{BTreeMap, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Value};

use crate::positions::{Children, Node, NodeSpans, Positions};
use crate::{Error, ErrorKind, Loaded, Options, Span, resolve_plain};

/// Loading stopped (a limit, a syntax error, or too many problems); the errors say why.
struct Stop;

/// Character index to byte offset, for saphyr's character-based markers, without a table entry
/// per character: ASCII text maps directly, other text through a checkpoint every 64 characters.
struct Offsets<'t> {
    text: &'t str,
    checkpoints: Option<Vec<usize>>,
}

const STRIDE: usize = 64;

impl<'t> Offsets<'t> {
    fn new(text: &'t str) -> Self {
        let checkpoints = (!text.is_ascii()).then(|| {
            text.char_indices()
                .step_by(STRIDE)
                .map(|(i, _)| i)
                .collect()
        });
        Offsets { text, checkpoints }
    }

    fn byte(&self, char_index: usize) -> usize {
        let Some(checkpoints) = &self.checkpoints else {
            return char_index.min(self.text.len());
        };
        let Some(&start) = checkpoints.get(char_index / STRIDE) else {
            return self.text.len();
        };
        let skip = char_index % STRIDE;
        self.text[start..]
            .char_indices()
            .nth(skip)
            .map_or(self.text.len(), |(i, _)| start + i)
    }

    fn span(&self, s: saphyr_parser::Span) -> Span {
        let start = self.byte(s.start.index());
        let end = self.byte(s.end.index()).max(start);
        Span {
            offset: start,
            len: end - start,
            line: s.start.line(),
            column: s.start.col() + 1,
        }
    }

    fn marker(&self, m: saphyr_parser::Marker) -> Span {
        Span {
            offset: self.byte(m.index()),
            len: 0,
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

/// The span of the character at byte `offset` (rounded down to a character boundary).
fn span_at_byte(text: &str, offset: usize) -> Span {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Span {
        offset,
        len: 0,
        line: before.bytes().filter(|b| *b == b'\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

/// A copy of an anchored node, and what an alias to it costs.
struct Anchored {
    value: Value,
    values: usize,
    bytes: usize,
}

/// A mapping key waiting for its value. `text` is `None` for a refused (non-scalar) key, whose
/// entry is dropped.
struct PendingKey {
    text: Option<String>,
    span: Span,
}

enum Body {
    Map {
        map: Map<String, Value>,
        children: BTreeMap<String, Node>,
        pending: Option<PendingKey>,
    },
    Seq {
        items: Vec<Value>,
        children: Vec<Node>,
    },
}

struct Frame {
    body: Body,
    start: Span,
    anchor: usize,
    values_at_start: usize,
    bytes_at_start: usize,
}

struct Builder<'o, 'h> {
    options: &'o Options<'h>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    values: usize,
    bytes: usize,
    documents: Vec<Loaded>,
    errors: Vec<Error>,
}

pub(crate) fn run(
    text: &str,
    options: &Options<'_>,
    single: bool,
) -> Result<Vec<Loaded>, Vec<Error>> {
    let limits = &options.limits;
    if text.len() > limits.max_input_bytes {
        return Err(vec![Error {
            span: span_at_byte(text, limits.max_input_bytes),
            pointer: String::new(),
            kind: ErrorKind::InputTooLarge {
                size: text.len(),
                limit: limits.max_input_bytes,
            },
        }]);
    }
    let offsets = Offsets::new(text);
    let mut builder = Builder {
        options,
        stack: Vec::new(),
        anchors: HashMap::new(),
        values: 0,
        bytes: 0,
        documents: Vec::new(),
        errors: Vec::new(),
    };
    let mut started = 0usize;
    for event in Parser::new_from_str(text) {
        let step = match event {
            Ok((event, span)) => {
                let span = offsets.span(span);
                match event {
                    Event::DocumentStart(_) => {
                        started += 1;
                        if single && started > 1 {
                            builder.fatal(ErrorKind::MultipleDocuments, span, String::new())
                        } else if started > limits.max_documents {
                            builder.fatal(
                                ErrorKind::TooManyDocuments {
                                    limit: limits.max_documents,
                                },
                                span,
                                String::new(),
                            )
                        } else {
                            Ok(())
                        }
                    }
                    event => builder.event(event, span),
                }
            }
            Err(err) => {
                let span = offsets.marker(*err.marker());
                builder.fatal(
                    ErrorKind::Syntax(err.info().to_owned()),
                    span,
                    String::new(),
                )
            }
        };
        if step.is_err() {
            break;
        }
    }
    if builder.errors.is_empty() {
        Ok(builder.documents)
    } else {
        Err(builder.errors)
    }
}

fn tag_text(tag: &Tag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

impl Builder<'_, '_> {
    /// Records a problem; stops when there are too many.
    fn problem(&mut self, kind: ErrorKind, span: Span, pointer: String) -> Result<(), Stop> {
        let limit = self.options.limits.max_errors;
        if self.errors.len() >= limit {
            return self.fatal(ErrorKind::TooManyErrors { limit }, span, pointer);
        }
        self.errors.push(Error {
            span,
            pointer,
            kind,
        });
        Ok(())
    }

    /// Records a problem that stops loading.
    fn fatal(&mut self, kind: ErrorKind, span: Span, pointer: String) -> Result<(), Stop> {
        self.errors.push(Error {
            span,
            pointer,
            kind,
        });
        Err(Stop)
    }

    /// Charges `values` and `bytes` against the limits, before the caller allocates them.
    fn charge(&mut self, values: usize, bytes: usize, span: Span) -> Result<(), Stop> {
        let limits = self.options.limits;
        self.values = self.values.saturating_add(values);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.values > limits.max_values {
            let pointer = self.pointer_here();
            return self.fatal(
                ErrorKind::TooManyValues {
                    limit: limits.max_values,
                },
                span,
                pointer,
            );
        }
        if self.bytes > limits.max_bytes {
            let pointer = self.pointer_here();
            return self.fatal(
                ErrorKind::TooManyBytes {
                    limit: limits.max_bytes,
                },
                span,
                pointer,
            );
        }
        Ok(())
    }

    /// Whether the next node is a mapping key.
    fn in_key_position(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                body: Body::Map { pending: None, .. },
                ..
            })
        )
    }

    /// The JSON pointer of the node about to complete in the innermost collection (in key
    /// position: of the collection itself). Built only for errors.
    fn pointer_here(&self) -> String {
        let mut pointer = String::new();
        for frame in &self.stack {
            push_segment(&mut pointer, frame);
        }
        pointer
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Stop> {
        match event {
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => Ok(()),
            Event::Scalar(text, style, anchor, tag) => {
                self.charge(1, text.len(), span)?;
                let mut as_string = style != ScalarStyle::Plain;
                if let Some(tag) = tag.as_deref() {
                    if !tag.is_yaml_core_schema() {
                        let pointer = self.pointer_here();
                        self.problem(ErrorKind::UnsupportedTag(tag_text(tag)), span, pointer)?;
                        as_string = true;
                    } else if tag.suffix == "str" {
                        as_string = true;
                    }
                }
                if self.in_key_position() {
                    let text = text.into_owned();
                    if anchor != 0 {
                        self.anchor(anchor, Value::String(text.clone()), 1, text.len(), span)?;
                    }
                    return self.key(Some(text), span);
                }
                let mut text = text.into_owned();
                if let Some(hook) = self.options.scalar_hook {
                    match hook(&text) {
                        Ok(None) => {}
                        Ok(Some(rewrite)) => {
                            if rewrite.text.len() > text.len() {
                                self.charge(0, rewrite.text.len() - text.len(), span)?;
                            }
                            as_string |= !rewrite.plain;
                            text = rewrite.text;
                        }
                        Err(message) => {
                            let pointer = self.pointer_here();
                            self.problem(ErrorKind::Scalar(message), span, pointer)?;
                        }
                    }
                }
                let bytes = text.len();
                let value = if as_string {
                    Value::String(text)
                } else {
                    resolve_plain(&text)
                };
                self.complete(value, leaf(span), anchor, 1, bytes)
            }
            Event::Alias(id) => {
                let Some(anchored) = self.anchors.get(&id) else {
                    let pointer = self.pointer_here();
                    self.problem(ErrorKind::UnknownAlias, span, pointer)?;
                    return self.complete(Value::Null, leaf(span), 0, 1, 0);
                };
                let (values, bytes) = (anchored.values, anchored.bytes);
                self.charge(values, bytes, span)?;
                let value = self
                    .anchors
                    .get(&id)
                    .map_or(Value::Null, |a| a.value.clone());
                self.complete(value, leaf(span), 0, values, bytes)
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                let limit = self.options.limits.max_depth;
                if self.stack.len() >= limit {
                    let pointer = self.pointer_here();
                    return self.fatal(ErrorKind::TooDeep { limit }, span, pointer);
                }
                self.charge(1, 0, span)?;
                let body = if matches!(event, Event::MappingStart(..)) {
                    Body::Map {
                        map: Map::new(),
                        children: BTreeMap::new(),
                        pending: None,
                    }
                } else {
                    Body::Seq {
                        items: Vec::new(),
                        children: Vec::new(),
                    }
                };
                self.stack.push(Frame {
                    body,
                    start: Span { len: 0, ..span },
                    anchor,
                    values_at_start: self.values,
                    bytes_at_start: self.bytes,
                });
                Ok(())
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let (value, children) = match frame.body {
                    Body::Map { map, children, .. } => {
                        (Value::Object(map), Children::Map(children))
                    }
                    Body::Seq { items, children } => (Value::Array(items), Children::Seq(children)),
                };
                let node = Node {
                    spans: NodeSpans {
                        key: None,
                        value: frame.start,
                    },
                    children,
                };
                let values = self.values - frame.values_at_start + 1;
                let bytes = self.bytes - frame.bytes_at_start;
                self.complete(value, node, frame.anchor, values, bytes)
            }
        }
    }

    /// Keeps a copy of an anchored node for its aliases, charging the copy against the limits.
    fn anchor(
        &mut self,
        id: usize,
        value: Value,
        values: usize,
        bytes: usize,
        span: Span,
    ) -> Result<(), Stop> {
        self.charge(values, bytes, span)?;
        self.anchors.insert(
            id,
            Anchored {
                value,
                values,
                bytes,
            },
        );
        Ok(())
    }

    /// A key (or a refused key, `None`) for the innermost mapping.
    fn key(&mut self, text: Option<String>, span: Span) -> Result<(), Stop> {
        let duplicate = match (&text, self.stack.last()) {
            (
                Some(text),
                Some(Frame {
                    body: Body::Map { map, .. },
                    ..
                }),
            ) => map.contains_key(text),
            _ => false,
        };
        if let Some(text) = text.as_ref().filter(|_| duplicate) {
            // In key position the innermost mapping adds no segment: this is the mapping's pointer.
            let mut pointer = self.pointer_here();
            pointer.push('/');
            pointer.push_str(&crate::escape_token(text));
            self.problem(ErrorKind::DuplicateKey(text.clone()), span, pointer)?;
        }
        if let Some(Frame {
            body: Body::Map { pending, .. },
            ..
        }) = self.stack.last_mut()
        {
            *pending = Some(PendingKey { text, span });
        }
        Ok(())
    }

    /// A node is complete: record its anchor and put it in its parent (or make it a document).
    fn complete(
        &mut self,
        value: Value,
        mut node: Node,
        anchor: usize,
        values: usize,
        bytes: usize,
    ) -> Result<(), Stop> {
        if anchor != 0 {
            self.anchor(anchor, value.clone(), values, bytes, node.spans.value)?;
        }
        if self.in_key_position() {
            let text = match value {
                Value::String(s) => Some(s),
                Value::Null => Some("null".to_owned()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                Value::Array(_) | Value::Object(_) => {
                    let pointer = self.pointer_here();
                    self.problem(ErrorKind::NonScalarKey, node.spans.value, pointer)?;
                    None
                }
            };
            return self.key(text, node.spans.value);
        }
        match self.stack.last_mut().map(|f| &mut f.body) {
            None => self.documents.push(Loaded {
                value,
                positions: Positions { root: Some(node) },
            }),
            Some(Body::Seq { items, children }) => {
                items.push(value);
                children.push(node);
            }
            Some(Body::Map {
                map,
                children,
                pending,
            }) => {
                if let Some(PendingKey {
                    text: Some(key),
                    span,
                }) = pending.take()
                {
                    node.spans.key = Some(span);
                    children.insert(key.clone(), node);
                    map.insert(key, value);
                }
            }
        }
        Ok(())
    }
}

/// Appends the segment that leads from `frame` to the child it is building.
fn push_segment(pointer: &mut String, frame: &Frame) {
    match &frame.body {
        Body::Seq { items, .. } => {
            pointer.push('/');
            pointer.push_str(&items.len().to_string());
        }
        Body::Map {
            pending: Some(PendingKey {
                text: Some(key), ..
            }),
            ..
        } => {
            pointer.push('/');
            pointer.push_str(&crate::escape_token(key));
        }
        Body::Map { .. } => {}
    }
}

fn leaf(span: Span) -> Node {
    Node {
        spans: NodeSpans {
            key: None,
            value: span,
        },
        children: Children::Leaf,
    }
}
