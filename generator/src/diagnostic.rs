//! Diagnostics: one problem in a blueprint, located at file, line, column and JSON pointer.
//!
//! Rendering goes through miette's graphical handler with the colourless Unicode theme and a fixed
//! width, so the text is stable enough to snapshot. The first line always reads
//! `<file>:<line>:<column> <pointer>: <message>`, which editors and CI logs turn into links.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use spanned_yaml::Span;

/// Which check found the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// The file is not well-formed YAML.
    Yaml,
    /// The document does not match the blueprint JSON schema.
    Schema,
    /// The document matches the schema but breaks a rule the schema cannot express.
    Semantic,
}

impl Phase {
    /// The diagnostic code shown in the output.
    pub fn code(self) -> &'static str {
        match self {
            Phase::Yaml => "blueprint::yaml",
            Phase::Schema => "blueprint::schema",
            Phase::Semantic => "blueprint::semantic",
        }
    }
}

/// One problem in a blueprint file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as given on the command line.
    pub file: String,
    /// Where in the file.
    pub span: Span,
    /// The JSON pointer of the field (`""` for the whole document).
    pub pointer: String,
    /// Which check found it.
    pub phase: Phase,
    /// What is wrong.
    pub message: String,
    /// What was expected instead, when that can be said.
    pub expected: Option<String>,
    /// How to fix it, when that can be said.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// The pointer as shown to users: `/` for the document root.
    pub fn field(&self) -> &str {
        if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        }
    }

    /// The one-line summary: `<file>:<line>:<column> <pointer>: <message>`.
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{} {}: {}",
            self.file,
            self.span.line,
            self.span.column,
            self.field(),
            self.message
        )
    }

    /// The full text: the headline, the source excerpt with the field marked, what was expected
    /// and a hint. `source` is the text of `self.file`.
    pub fn render(&self, source: &str) -> String {
        // miette needs an owned copy of the text; copy only the prefix the excerpt shows (through
        // a few lines after the span), so that a huge rejected file is not copied whole.
        let end = excerpt_end(source, self.span.offset.saturating_add(self.span.len));
        let report = MietteReport {
            diagnostic: self,
            source: NamedSource::new(&self.file, source[..end].to_owned()),
        };
        let mut out = String::new();
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false)
            .with_wrap_lines(false);
        if handler.render_report(&mut out, &report).is_err() {
            out = self.headline();
        }
        let trimmed: Vec<&str> = out.lines().map(str::trim_end).collect();
        let mut text = trimmed.join("\n");
        text.push('\n');
        text
    }
}

/// The end of the prefix of `source` that holds `at` and the three lines after it.
fn excerpt_end(source: &str, at: usize) -> usize {
    let mut end = at.min(source.len());
    while !source.is_char_boundary(end) {
        end -= 1;
    }
    match source[end..].match_indices('\n').nth(3) {
        Some((i, _)) => end + i + 1,
        None => source.len(),
    }
}

struct MietteReport<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
}

impl fmt::Debug for MietteReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for MietteReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.headline())
    }
}

impl std::error::Error for MietteReport<'_> {}

impl miette::Diagnostic for MietteReport<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.phase.code()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        let d = self.diagnostic;
        let text = match (&d.expected, &d.hint) {
            (Some(e), Some(h)) => format!("expected {e}\n{h}"),
            (Some(e), None) => format!("expected {e}"),
            (None, Some(h)) => h.clone(),
            (None, None) => return None,
        };
        Some(Box::new(text))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let d = self.diagnostic;
        let span = SourceSpan::new(d.span.offset.into(), d.span.len);
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(d.field().to_owned()),
            span,
        ))))
    }
}
