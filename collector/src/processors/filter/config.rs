//! `processors.filter`: contrib's keys for span conditions (`traces.span`, `error_mode`).

use serde::Deserialize;
use serde_json::Value;

use super::ottl;
use crate::config::component::{Checker, Component};

/// `processors.filter`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// `ignore`, `silent` or `propagate` (default). The supported conditions cannot fail at run
    /// time, so it is checked but never applies.
    pub error_mode: String,
    pub traces: TracesConditions,
    /// Refused: conditions on other signals, and the legacy `spans` include/exclude form.
    pub metrics: Option<Value>,
    pub logs: Option<Value>,
    pub spans: Option<Value>,
}

/// `traces`: a span is dropped when any condition of `span` is true.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConditions {
    pub span: Vec<String>,
    /// Refused: span event conditions.
    pub spanevent: Option<Value>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            error_mode: "propagate".to_owned(),
            traces: TracesConditions::default(),
            metrics: None,
            logs: None,
            spans: None,
        }
    }
}

impl Component for FilterConfig {
    const TYPE: &'static str = "filter";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if !matches!(self.error_mode.as_str(), "ignore" | "silent" | "propagate") {
            c.error(
                "error_mode",
                format!(
                    "unknown error_mode `{}`; expected ignore, silent or propagate",
                    self.error_mode
                ),
            );
        }
        if self.spans.is_some() {
            c.error(
                "spans",
                "the legacy `spans` include/exclude form is not supported; write OTTL conditions under `traces.span`",
            );
        }
        for (key, set) in [
            ("metrics", self.metrics.is_some()),
            ("logs", self.logs.is_some()),
        ] {
            if set {
                c.error(
                    key,
                    format!("`{key}` conditions are not supported: this collector runs traces pipelines only"),
                );
            }
        }
        if self.traces.spanevent.is_some() {
            c.error(
                "traces/spanevent",
                "span event conditions (`spanevent`) are not supported; only `span` conditions are",
            );
        }
        if self.traces.span.is_empty() && self.traces.spanevent.is_none() {
            c.error("traces", "`traces.span` must list at least one condition");
        }
        for (i, cond) in self.traces.span.iter().enumerate() {
            if let Err(e) = ottl::parse(cond) {
                c.error(
                    &format!("traces/span/{i}"),
                    format!("condition `{cond}`: {e} (the supported OTTL subset is in docs/collector.md)"),
                );
            }
        }
    }
}
