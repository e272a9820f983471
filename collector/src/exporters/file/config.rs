//! `exporters.file`: the collector's keys, and their checks.

use serde::Deserialize;

use crate::config::component::{Checker, Component};

/// `exporters.file`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FileExporterConfig {
    /// File to append JSON lines to (required).
    pub path: String,
    /// Only `json` is supported.
    pub format: Option<String>,
}

impl Component for FileExporterConfig {
    const TYPE: &'static str = "file";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.path.is_empty() {
            c.error("", "`path` is required");
        }
        if self.format.as_deref().is_some_and(|f| f != "json") {
            c.error("format", "only `json` is supported");
        }
    }
}
