//! YAML text to a [`serde_json::Value`] plus the source position of every node, with limits that
//! make hostile input a located error instead of an allocation blow-up.
//!
//! Both programs of the workspace read YAML through this crate: the generator's blueprint loader
//! (`blueprint::load`) and the collector's config reader (`config::yaml`). Each is a thin adapter
//! that picks its [`Limits`], plugs in an optional [`ScalarHook`] (the collector's `${env:...}`
//! expansion) and turns [`Error`]s into its own diagnostics.
//!
//! * Parsing is saphyr-parser's event API; every event carries a span. Spans become [`Span`]s with
//!   a byte offset and length, a 1-based line and a 1-based column counted in characters.
//! * Positions are kept in a tree parallel to the value ([`Positions`]), looked up by JSON pointer
//!   with a fallback to the nearest existing ancestor. No pointer string is built per node, so the
//!   memory for positions is linear in the input; a pointer is only materialised for an error.
//! * Plain scalars are resolved with the YAML 1.2 core schema ([`resolve_plain`]): `~`, `null`,
//!   `Null`, `NULL` and the empty scalar are null; `true`/`True`/`TRUE` (and `false` likewise) are
//!   booleans; decimal, `0o` octal and `0x` hexadecimal integers are numbers; decimal floats are
//!   numbers; `yes`, `on`, `.inf` and `.nan` stay strings (JSON has no infinities). Quoted and
//!   block scalars and scalars tagged `!!str` are strings. Tags outside the core schema are refused.
//!   Mapping keys are always the key's literal text (`1.50: x` has the key `"1.50"`).
//! * Duplicate keys and non-scalar keys are refused; every one is reported (up to
//!   [`Limits::max_errors`] problems, so that the error list itself stays bounded).
//! * Limits ([`Limits`]) are checked while events arrive, before the memory they guard is
//!   allocated: input size, nesting depth, values and bytes after alias expansion (an alias is
//!   charged the full size of what it copies before the copy is made; an anchor is charged again for
//!   the copy kept to serve its aliases), and the number of documents. A limit stops loading at once.

mod build;
mod positions;
mod resolve;

use serde_json::Value;

pub use positions::{Found, NodeSpans, Positions};
pub use resolve::resolve_plain;

/// A position in the source text.
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

impl Span {
    /// The start of the text: offset 0, line 1, column 1.
    pub const START: Span = Span {
        offset: 0,
        len: 0,
        line: 1,
        column: 1,
    };
}

/// Bounds on what a load may consume. Every bound is checked before the memory it guards is
/// allocated, and crossing one stops loading with a located [`Error`].
///
/// The defaults suit hand-written configuration files, which are a few KB (blueprints are about
/// 100 lines, ADOT collector configs 2–10 KB, the Kubernetes manifests the generator writes
/// 10–30 KB): 4 MiB of input is several hundred times the largest real file, yet small enough that
/// the text, the value and its positions stay far below 100 MB; 64 levels of nesting is four
/// times the deepest real config; 100,000 values and 16 MiB of strings after alias expansion
/// allow generous anchors and aliases while bounding the value tree to a few tens of MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input, in bytes.
    pub max_input_bytes: usize,
    /// Deepest nesting of mappings and sequences (the root collection is level 1).
    pub max_depth: usize,
    /// Most values (scalars, keys, collections) after alias expansion.
    pub max_values: usize,
    /// Most bytes of scalars and keys after alias expansion.
    pub max_bytes: usize,
    /// Most documents in a stream.
    pub max_documents: usize,
    /// Most problems reported before loading stops.
    pub max_errors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 4 << 20,
            max_depth: 64,
            max_values: 100_000,
            max_bytes: 16 << 20,
            max_documents: 1_000,
            max_errors: 100,
        }
    }
}

/// A scalar's text as rewritten by a [`ScalarHook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// The new text.
    pub text: String,
    /// Whether the new text is typed like a plain scalar (`50` a number, `true` a boolean) when
    /// the original scalar was plain; `false` makes it a string.
    pub plain: bool,
}

/// Called for every scalar in value position (never for keys). `Ok(None)` keeps the text;
/// `Err(message)` reports a problem located at the scalar.
pub type ScalarHook<'a> = &'a dyn Fn(&str) -> Result<Option<Rewrite>, String>;

/// How to load: limits and an optional scalar hook.
#[derive(Clone, Copy, Default)]
pub struct Options<'a> {
    /// Bounds on the input and on what it expands to.
    pub limits: Limits,
    /// Rewrites value scalars before they are typed.
    pub scalar_hook: Option<ScalarHook<'a>>,
}

/// One loaded document.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The document as a JSON value.
    pub value: Value,
    /// The position of every node and mapping key.
    pub positions: Positions,
}

/// A problem in the YAML text, located at a span and a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{} {}: {kind}", span.line, span.column, if pointer.is_empty() { "/" } else { pointer })]
pub struct Error {
    /// Where in the text.
    pub span: Span,
    /// The JSON pointer of the node concerned (`""` for the root).
    pub pointer: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What is wrong with the YAML text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The text is not well-formed YAML.
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    /// A stream given to a single-document load holds a second document.
    #[error("expected one YAML document, found a second one")]
    MultipleDocuments,
    /// A key appears twice in one mapping.
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    /// A mapping key is a mapping or a sequence.
    #[error("mapping keys must be scalars")]
    NonScalarKey,
    /// A tag outside the YAML core schema.
    #[error("unsupported YAML tag `{0}`")]
    UnsupportedTag(String),
    /// An alias names no anchor seen before it.
    #[error("unknown YAML alias")]
    UnknownAlias,
    /// The scalar hook refused a scalar.
    #[error("{0}")]
    Scalar(String),
    /// The input is larger than [`Limits::max_input_bytes`].
    #[error("the input is {size} bytes, more than the limit of {limit} bytes")]
    InputTooLarge {
        /// The input's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nesting deeper than [`Limits::max_depth`].
    #[error("nesting deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More than [`Limits::max_values`] values after alias expansion.
    #[error(
        "the document expands to more than {limit} values (aliases count at their expanded size)"
    )]
    TooManyValues {
        /// The limit.
        limit: usize,
    },
    /// More than [`Limits::max_bytes`] bytes of scalars and keys after alias expansion.
    #[error(
        "the document expands to more than {limit} bytes of text (aliases count at their expanded size)"
    )]
    TooManyBytes {
        /// The limit.
        limit: usize,
    },
    /// More than [`Limits::max_documents`] documents.
    #[error("the stream holds more than {limit} documents")]
    TooManyDocuments {
        /// The limit.
        limit: usize,
    },
    /// More than [`Limits::max_errors`] problems; the rest are not reported.
    #[error("more than {limit} problems; loading stopped here")]
    TooManyErrors {
        /// The limit.
        limit: usize,
    },
}

impl ErrorKind {
    /// Whether this is one of the [`Limits`] (which stop loading at once).
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            ErrorKind::InputTooLarge { .. }
                | ErrorKind::TooDeep { .. }
                | ErrorKind::TooManyValues { .. }
                | ErrorKind::TooManyBytes { .. }
                | ErrorKind::TooManyDocuments { .. }
                | ErrorKind::TooManyErrors { .. }
        )
    }
}

/// Loads a text holding at most one document. `Ok(None)`: the text holds no document at all
/// (empty, or only comments); the caller decides what that means. A second document is an
/// [`ErrorKind::MultipleDocuments`] error at its start.
pub fn load(text: &str, options: &Options<'_>) -> Result<Option<Loaded>, Vec<Error>> {
    build::run(text, options, true).map(|mut docs| docs.pop())
}

/// Loads every document of a stream, in order.
pub fn load_all(text: &str, options: &Options<'_>) -> Result<Vec<Loaded>, Vec<Error>> {
    build::run(text, options, false)
}

/// Escapes one JSON pointer reference token (RFC 6901): `~` becomes `~0`, `/` becomes `~1`.
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests;
