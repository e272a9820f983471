//! The template engine every target renders with: the minijinja environment (templates embedded at
//! build time, strict undefined values, no auto-escaping, the `toyaml` and `yamlstr` filters), one
//! template rendered with a context, and the error a failed render reports.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

/// A target could not be rendered: what was being rendered, and why.
#[derive(Debug, thiserror::Error)]
#[error("rendering {what} failed: {cause}")]
pub struct RenderError {
    /// What was being rendered, for example `kubernetes/namespace.yaml`.
    pub what: String,
    /// Why it failed.
    pub cause: RenderCause,
}

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderCause {
    /// A template failed: minijinja's `{:#}` detail (with the template location) and every
    /// `source()` of the error.
    #[error("{0}")]
    Template(String),
    /// A typed JSON builder's value failed to serialize.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A value from the blueprint holds the marker the HCL emitter reserves for raw expressions.
    #[error("the collector specification contains the control character U+0001")]
    RawMarker,
}

impl RenderError {
    /// Wraps a minijinja error, keeping its `{:#}` detail and every `source()`.
    pub fn template(what: impl Into<String>, err: &minijinja::Error) -> Self {
        let mut message = format!("{err:#}");
        let mut source = std::error::Error::source(err);
        while let Some(inner) = source {
            message.push_str(&format!("\ncaused by: {inner}"));
            source = inner.source();
        }
        RenderError {
            what: what.into(),
            cause: RenderCause::Template(message),
        }
    }
}

/// The template environment, with every template under `generator/templates/` embedded.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_debug(true);
    env.add_filter("toyaml", filter_toyaml);
    env.add_filter("yamlstr", filter_yamlstr);
    minijinja_embed::load_templates!(&mut env);
    env
}

/// Renders one embedded template with a context.
pub fn render_template<S: Serialize>(
    env: &Environment<'static>,
    name: &str,
    ctx: S,
) -> Result<String, RenderError> {
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|err| RenderError::template(name, &err))
}

/// `value|toyaml(indent)`: a value as YAML under a `key:` at `indent` spaces (see
/// `yaml::to_yaml_nested`).
fn filter_toyaml(value: minijinja::Value, indent: usize) -> Result<String, minijinja::Error> {
    let json = serde_json::to_value(&value).map_err(|err| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, err.to_string())
    })?;
    Ok(crate::yaml::to_yaml_nested(&json, indent))
}

/// `value|yamlstr`: a string as a YAML scalar, quoted when needed.
fn filter_yamlstr(value: String) -> String {
    crate::yaml::string(&value)
}
