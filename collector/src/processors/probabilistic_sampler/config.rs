//! `processors.probabilistic_sampler`: contrib's keys for traces in its `hash_seed` mode.

use serde::Deserialize;
use serde_json::Value;

use crate::config::component::{Checker, Component};

/// `processors.probabilistic_sampler`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProbabilisticSamplerConfig {
    /// Percentage of traces kept, 0 to 100.
    pub sampling_percentage: f64,
    /// Seed of the trace-id hash; collectors that must agree use the same seed.
    pub hash_seed: u32,
    /// Only `hash_seed` (or empty, its default here) is supported.
    pub mode: String,
    /// Drop items whose trace id cannot be read (default true, as contrib).
    pub fail_closed: bool,
    /// Refused: `proportional` / `equalizing` modes and logs-only settings.
    pub sampling_precision: Option<Value>,
    pub attribute_source: Option<Value>,
    pub from_attribute: Option<Value>,
    pub sampling_priority: Option<Value>,
}

impl Default for ProbabilisticSamplerConfig {
    fn default() -> Self {
        ProbabilisticSamplerConfig {
            sampling_percentage: 0.0,
            hash_seed: 0,
            mode: String::new(),
            fail_closed: true,
            sampling_precision: None,
            attribute_source: None,
            from_attribute: None,
            sampling_priority: None,
        }
    }
}

impl Component for ProbabilisticSamplerConfig {
    const TYPE: &'static str = "probabilistic_sampler";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if !(0.0..=100.0).contains(&self.sampling_percentage) {
            c.error(
                "sampling_percentage",
                format!(
                    "`sampling_percentage` must be between 0 and 100, not {}",
                    self.sampling_percentage
                ),
            );
        }
        match self.mode.as_str() {
            "" | "hash_seed" => {}
            "proportional" | "equalizing" => c.error(
                "mode",
                format!("mode `{}` is not supported (it needs W3C tracestate randomness); use `hash_seed`", self.mode),
            ),
            other => c.error(
                "mode",
                format!("unknown mode `{other}`; expected hash_seed"),
            ),
        }
        if self.sampling_precision.is_some() {
            c.error(
                "sampling_precision",
                "`sampling_precision` applies to the proportional and equalizing modes, which are not supported",
            );
        }
        for key in ["attribute_source", "from_attribute", "sampling_priority"] {
            let set = match key {
                "attribute_source" => self.attribute_source.is_some(),
                "from_attribute" => self.from_attribute.is_some(),
                _ => self.sampling_priority.is_some(),
            };
            if set {
                c.error(
                    key,
                    format!("`{key}` applies to logs pipelines; this collector runs traces only"),
                );
            }
        }
    }
}
