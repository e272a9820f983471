//! `processors.batch`: contrib's keys, and their checks.

use std::time::Duration;

use serde::Deserialize;

use crate::config::component::{Checker, Component};

/// `processors.batch`, contrib's keys.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Items (X-Ray documents or OTLP spans) that trigger a send; default 50, the most one
    /// `PutTraceSegments` call takes. Larger batches are split by the X-Ray exporter.
    pub send_batch_size: usize,
    /// How long the first item of a batch may wait; default 200ms. `0` sends at once.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub timeout: Duration,
    /// Upper bound of one batch; `0` means no bound beyond `send_batch_size` accumulation.
    pub send_batch_max_size: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            send_batch_size: 50,
            timeout: Duration::from_millis(200),
            send_batch_max_size: 0,
        }
    }
}

impl Component for BatchConfig {
    const TYPE: &'static str = "batch";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.send_batch_max_size != 0 && self.send_batch_max_size < self.send_batch_size {
            c.error(
                "send_batch_max_size",
                format!(
                    "send_batch_max_size ({}) must be 0 or at least send_batch_size ({})",
                    self.send_batch_max_size, self.send_batch_size
                ),
            );
        }
    }
}
