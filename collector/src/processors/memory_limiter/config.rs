//! `processors.memory_limiter`: contrib's keys, and their checks.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::config::component::{Checker, Component};

/// `processors.memory_limiter`. Either `limit_mib` (absolute) or `limit_percentage` (of the
/// container's cgroup memory limit, else of the machine's memory) sets the hard limit; the spike
/// limit below it sets the soft limit (`hard - spike`), above which data is refused.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLimiterConfig {
    /// Time between two readings of the process's memory; required, above zero.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub check_interval: Duration,
    /// Hard limit in MiB.
    pub limit_mib: u64,
    /// Spike allowance in MiB; default 20% of `limit_mib`.
    pub spike_limit_mib: Option<u64>,
    /// Hard limit as a percentage of the available memory (1..=100).
    pub limit_percentage: u64,
    /// Spike allowance as a percentage of the available memory.
    pub spike_limit_percentage: u64,
    /// Go garbage-collector settings: refused (this collector has no garbage collector).
    pub min_gc_interval_when_soft_limited: Option<Value>,
    pub min_gc_interval_when_hard_limited: Option<Value>,
    /// Removed from contrib: refused.
    pub ballast_size_mib: Option<Value>,
}

impl Default for MemoryLimiterConfig {
    fn default() -> Self {
        MemoryLimiterConfig {
            check_interval: Duration::ZERO,
            limit_mib: 0,
            spike_limit_mib: None,
            limit_percentage: 0,
            spike_limit_percentage: 0,
            min_gc_interval_when_soft_limited: None,
            min_gc_interval_when_hard_limited: None,
            ballast_size_mib: None,
        }
    }
}

impl Component for MemoryLimiterConfig {
    const TYPE: &'static str = "memory_limiter";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.check_interval.is_zero() {
            c.error(
                "check_interval",
                "`check_interval` must be greater than zero (for example 1s)",
            );
        }
        for (key, set) in [
            (
                "min_gc_interval_when_soft_limited",
                self.min_gc_interval_when_soft_limited.is_some(),
            ),
            (
                "min_gc_interval_when_hard_limited",
                self.min_gc_interval_when_hard_limited.is_some(),
            ),
        ] {
            if set {
                c.error(
                    key,
                    format!("`{key}` is not supported: it tunes Go's garbage collector, which this collector does not have; remove it"),
                );
            }
        }
        if self.ballast_size_mib.is_some() {
            c.error(
                "ballast_size_mib",
                "`ballast_size_mib` is not supported (contrib removed it); remove it",
            );
        }
        match (self.limit_mib, self.limit_percentage) {
            (0, 0) => c.error(
                "",
                "set `limit_mib` or `limit_percentage` (one of them must be greater than zero)",
            ),
            (mib, pct) if mib > 0 && pct > 0 => c.error(
                "limit_percentage",
                "set either `limit_mib` or `limit_percentage`, not both",
            ),
            (mib, 0) => {
                if self.spike_limit_percentage > 0 {
                    c.error(
                        "spike_limit_percentage",
                        "`spike_limit_percentage` goes with `limit_percentage`; with `limit_mib` use `spike_limit_mib`",
                    );
                }
                if let Some(spike) = self.spike_limit_mib {
                    if spike >= mib {
                        c.error(
                            "spike_limit_mib",
                            format!("`spike_limit_mib` ({spike}) must be smaller than `limit_mib` ({mib})"),
                        );
                    }
                }
            }
            (_, pct) => {
                if self.spike_limit_mib.is_some() {
                    c.error(
                        "spike_limit_mib",
                        "`spike_limit_mib` goes with `limit_mib`; with `limit_percentage` use `spike_limit_percentage`",
                    );
                }
                if pct > 100 {
                    c.error("limit_percentage", "`limit_percentage` must be at most 100");
                }
                if self.spike_limit_percentage >= pct {
                    c.error(
                        "spike_limit_percentage",
                        format!(
                            "`spike_limit_percentage` ({}) must be smaller than `limit_percentage` ({pct})",
                            self.spike_limit_percentage
                        ),
                    );
                }
            }
        }
    }
}

impl MemoryLimiterConfig {
    /// The hard and soft limits in bytes, given the memory available to the process (the
    /// container's limit, else the machine's) for the percentage settings.
    pub fn limits(&self, available: Option<u64>) -> Option<(u64, u64)> {
        const MIB: u64 = 1024 * 1024;
        if self.limit_mib > 0 {
            let spike = self.spike_limit_mib.unwrap_or(self.limit_mib / 5);
            let hard = self.limit_mib.saturating_mul(MIB);
            Some((hard, hard - spike.min(self.limit_mib).saturating_mul(MIB)))
        } else {
            let total = available?;
            let hard = total / 100 * self.limit_percentage;
            let spike = total / 100 * self.spike_limit_percentage;
            Some((hard, hard.saturating_sub(spike)))
        }
    }
}
