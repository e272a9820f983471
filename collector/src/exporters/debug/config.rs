//! `exporters.debug`: the collector's keys.

use serde::Deserialize;

use crate::config::component::Component;

/// How much the debug exporter logs.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    /// One line per batch with its item count.
    #[default]
    Basic,
    /// One line per item with its ids.
    Normal,
    /// Every item in full.
    Detailed,
}

/// `exporters.debug`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DebugExporterConfig {
    /// How much to log.
    pub verbosity: Verbosity,
}

impl Component for DebugExporterConfig {
    const TYPE: &'static str = "debug";
}
