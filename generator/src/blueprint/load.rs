//! Loading a blueprint file: YAML text to a JSON value plus the source position of every node.
//!
//! A thin adapter over the workspace's `spanned-yaml` crate, which parses with saphyr-parser,
//! resolves plain scalars with the YAML 1.2 core schema (so `yes` is a string and `1.30` is the
//! number 1.3, which the schema then rejects where a version string is expected), refuses
//! duplicate keys, tags outside the core schema and hostile input beyond [`limits`], and keeps the
//! position of every node so that schema and semantic errors, which name JSON pointers
//! (`/spec/collector/replicas`), can be shown at a file, line and column. This module picks the
//! blueprint's limits and turns every problem into a [`Diagnostic`]; loading never panics.

use serde_json::Value;
use spanned_yaml::{ErrorKind, Limits, Options, Positions};

pub use spanned_yaml::{NodeSpans, Span};

use crate::diagnostic::{Diagnostic, Phase};

/// A blueprint file's name (as the user gave it) and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as given on the command line; it appears verbatim in diagnostics.
    pub name: String,
    /// The file's contents.
    pub text: String,
}

/// A loaded YAML document.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document as a JSON value.
    pub value: Value,
    /// The position of every node, by JSON pointer (`""` is the root; `spans["/a/b"]` or
    /// `spans.get("/a/b")`).
    pub spans: Positions,
}

impl Document {
    /// The best position for a problem at `pointer`: the node's key if it has one (so that an
    /// error about a whole section points at the section's name), otherwise its value. Falls back
    /// to the nearest ancestor that exists (a missing field is reported at its parent).
    pub fn locate(&self, pointer: &str, prefer_value: bool) -> Span {
        match self.spans.nearest(pointer) {
            Some(found) => match (prefer_value, found.spans.key) {
                (false, Some(key)) => key,
                _ => found.spans.value,
            },
            None => Span::START,
        }
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    spanned_yaml::escape_token(segment)
}

/// The bounds a blueprint must stay within. Blueprints are 1–5 KB of YAML nested about six levels
/// deep; 2 MiB of input, the crate's defaults for depth (64) and expanded size (100,000 values,
/// 16 MiB of text), and a single document leave room for any real blueprint while keeping
/// `blueprint validate` on hostile input well under 100 MB.
pub fn limits() -> Limits {
    Limits {
        max_input_bytes: 2 << 20,
        max_documents: 1,
        ..Limits::default()
    }
}

/// Loads a YAML text. Returns every problem found when the text is not a single, well-formed
/// YAML document within [`limits`]. An empty text is the document `null`.
pub fn load(source: &Source) -> Result<Document, Vec<Diagnostic>> {
    let options = Options {
        limits: limits(),
        scalar_hook: None,
    };
    match spanned_yaml::load(&source.text, &options) {
        Ok(Some(loaded)) => Ok(Document {
            value: loaded.value,
            spans: loaded.positions,
        }),
        Ok(None) => Ok(Document {
            value: Value::Null,
            spans: Positions::default(),
        }),
        Err(errors) => Err(errors
            .into_iter()
            .map(|err| diagnostic(source, err))
            .collect()),
    }
}

fn diagnostic(source: &Source, err: spanned_yaml::Error) -> Diagnostic {
    let (message, hint) = match &err.kind {
        ErrorKind::Syntax(info) => (
            format!("YAML syntax error: {info}"),
            Some("check the indentation and quoting around this position"),
        ),
        ErrorKind::MultipleDocuments | ErrorKind::TooManyDocuments { .. } => (
            "a blueprint file holds exactly one YAML document".to_owned(),
            Some("put each blueprint in its own file"),
        ),
        ErrorKind::DuplicateKey(key) => (
            format!("duplicate key `{key}`"),
            Some("each key may appear once in a mapping; remove one of them"),
        ),
        ErrorKind::NonScalarKey => ("mapping keys must be plain strings".to_owned(), None),
        ErrorKind::UnsupportedTag(tag) => (
            format!("unsupported YAML tag `{tag}`"),
            Some("remove the tag; blueprints use plain YAML values"),
        ),
        ErrorKind::UnknownAlias => ("unknown YAML alias".to_owned(), None),
        ErrorKind::InputTooLarge { .. } => (
            err.kind.to_string(),
            Some("a blueprint is a few KB of YAML; check that this is the right file"),
        ),
        ErrorKind::TooDeep { .. } => (
            err.kind.to_string(),
            Some("a blueprint nests a few levels deep; check the indentation and brackets"),
        ),
        ErrorKind::TooManyValues { .. } | ErrorKind::TooManyBytes { .. } => (
            err.kind.to_string(),
            Some("every alias copies its anchor; write the values out or use fewer aliases"),
        ),
        ErrorKind::TooManyErrors { .. } => (
            err.kind.to_string(),
            Some("fix the problems above and run again"),
        ),
        ErrorKind::Scalar(message) => (message.clone(), None),
    };
    Diagnostic {
        file: source.name.clone(),
        span: err.span,
        pointer: err.pointer,
        phase: Phase::Yaml,
        message,
        expected: None,
        hint: hint.map(str::to_owned),
    }
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
        assert_eq!(
            spanned_yaml::resolve_plain("yes"),
            Value::String("yes".into())
        );
        assert_eq!(spanned_yaml::resolve_plain("1.30"), serde_json::json!(1.3));
        assert_eq!(spanned_yaml::resolve_plain("2000"), serde_json::json!(2000));
        assert_eq!(spanned_yaml::resolve_plain("~"), Value::Null);
        assert_eq!(
            spanned_yaml::resolve_plain("10.0.0.0/16"),
            Value::String("10.0.0.0/16".into())
        );
        assert_eq!(
            spanned_yaml::resolve_plain("v1.2.3"),
            Value::String("v1.2.3".into())
        );
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

    #[test]
    fn limits_and_extra_documents_are_located_diagnostics_with_hints() {
        let err = load(&Source {
            name: "t.yaml".into(),
            text: "a: 1\n---\nb: 2\n".into(),
        })
        .unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(
            err[0].headline(),
            "t.yaml:2:1 /: a blueprint file holds exactly one YAML document"
        );
        let deep = format!("{}x{}", "[".repeat(100), "]".repeat(100));
        let err = load(&Source {
            name: "t.yaml".into(),
            text: deep,
        })
        .unwrap_err();
        assert_eq!(err[0].message, "nesting deeper than 64 levels");
        assert_eq!((err[0].span.line, err[0].span.column), (1, 65));
        assert!(err[0].hint.is_some());
    }

    #[test]
    fn an_empty_file_is_null_located_at_the_start() {
        let d = doc("");
        assert_eq!(d.value, Value::Null);
        assert_eq!(d.locate("/spec", false), Span::START);
    }
}
