//! The `memory_limiter` processor: refuses data while the process is above its soft limit, so
//! receivers push back (OTLP clients get a retryable error, the UDP receiver counts the refusal)
//! instead of the collector being killed for memory.
//!
//! Measuring: a task reads the process's resident memory (`VmRSS` of `/proc/self/status`) every
//! `check_interval` and stores it in atomics; `process` only loads an atomic flag, so the check
//! costs nothing per batch. A first reading is taken when the processor is built.
//!
//! Limits: hard = `limit_mib`, or `limit_percentage` of the container's cgroup memory limit
//! (`receivers::otlp::budget::container_memory_limit`, the same reading the OTLP receiver's
//! budget uses), else of the machine's memory (`MemTotal`); soft = hard - spike.
//!
//! At or above the soft limit every batch is refused (`processor_refused_items{reason=
//! "memory_limit"}`) until a reading falls below it. At or above the hard limit contrib forces a
//! Go garbage collection; this collector has no garbage collector: memory the pipeline frees goes
//! back to the allocator at once, and what stays resident is data the queues still hold. So the
//! "release" here is the refusal itself (nothing new is taken while the exporters drain their
//! queues); each reading at or above the hard limit is counted
//! (`processor_memory_limiter_over_hard_limit_checks`) and logged at WARN (at most once a
//! minute). The last reading is the gauge `processor_memory_limiter_rss_bytes`.

pub mod config;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use self::config::MemoryLimiterConfig;
use super::{BuildContext, BuildError, InlineProcessor, Processor, ProcessorConfig};
use crate::telemetry::Telemetry;
use crate::traces::{Refused, Traces};

impl ProcessorConfig for MemoryLimiterConfig {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Processor, BuildError> {
        let available =
            crate::receivers::otlp::budget::container_memory_limit().or_else(machine_memory);
        let (hard, soft) = self.limits(available).ok_or_else(|| {
            ctx.error("`limit_percentage` needs the memory available to the process, and neither the cgroup limit nor /proc/meminfo could be read; set `limit_mib`")
        })?;
        let limiter = Arc::new(Limiter {
            hard,
            soft,
            limited: AtomicBool::new(false),
            rss: AtomicU64::new(0),
        });
        let name = ctx.processor.to_string();
        limiter.check(&name, &ctx.telemetry, &mut None);
        tracing::info!(processor = %name, pipeline = %ctx.pipeline, hard_limit_bytes = hard, soft_limit_bytes = soft, check_interval = ?self.check_interval, "Memory limiter started.");
        tokio::spawn(watch(
            limiter.clone(),
            self.check_interval,
            name,
            ctx.telemetry.clone(),
            ctx.stop.clone(),
        ));
        Ok(Processor::Inline(limiter))
    }
}

/// The shared state: limits, the last reading and whether data is refused.
pub struct Limiter {
    hard: u64,
    soft: u64,
    limited: AtomicBool,
    rss: AtomicU64,
}

impl Limiter {
    /// Takes one reading and updates the state.
    fn check(&self, name: &str, telemetry: &Telemetry, last_warning: &mut Option<Instant>) {
        let Some(rss) = resident_bytes() else {
            return;
        };
        self.update(rss, name, telemetry, last_warning);
    }

    fn update(
        &self,
        rss: u64,
        name: &str,
        telemetry: &Telemetry,
        last_warning: &mut Option<Instant>,
    ) {
        self.rss.store(rss, Ordering::Relaxed);
        telemetry.memory_limiter_rss(name, rss);
        let was = self.limited.swap(rss >= self.soft, Ordering::Relaxed);
        if rss >= self.hard {
            telemetry.memory_limiter_over_hard_limit(name);
        }
        if rss >= self.soft && !was {
            let now = Instant::now();
            if last_warning.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60)) {
                *last_warning = Some(now);
                tracing::warn!(
                    processor = name,
                    rss_bytes = rss,
                    soft_limit_bytes = self.soft,
                    hard_limit_bytes = self.hard,
                    "Memory usage is above the soft limit; data is refused until it falls below."
                );
            }
        } else if rss < self.soft && was {
            tracing::info!(
                processor = name,
                rss_bytes = rss,
                "Memory usage is below the soft limit again; data is accepted."
            );
        }
    }
}

impl InlineProcessor for Limiter {
    fn process(&self, traces: Traces) -> Result<Option<Traces>, Refused> {
        if self.limited.load(Ordering::Relaxed) {
            Err(Refused::MemoryLimited)
        } else {
            Ok(Some(traces))
        }
    }
}

async fn watch(
    limiter: Arc<Limiter>,
    every: Duration,
    name: String,
    telemetry: Telemetry,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_warning = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => limiter.check(&name, &telemetry, &mut last_warning),
        }
    }
}

/// The process's resident memory in bytes (`VmRSS` of `/proc/self/status`).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmRSS:")
}

/// The machine's memory in bytes (`MemTotal` of `/proc/meminfo`).
fn machine_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&meminfo, "MemTotal:")
}

fn kib_field(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_at_the_soft_limit_and_accepts_again_below() {
        let t = Telemetry::new();
        let l = Limiter {
            hard: 100,
            soft: 80,
            limited: AtomicBool::new(false),
            rss: AtomicU64::new(0),
        };
        let batch = || Traces::Otlp(Vec::new());
        let mut w = None;
        l.update(79, "m", &t, &mut w);
        assert!(l.process(batch()).is_ok());
        l.update(80, "m", &t, &mut w);
        assert_eq!(l.process(batch()).unwrap_err(), Refused::MemoryLimited);
        l.update(120, "m", &t, &mut w);
        assert!(l.process(batch()).is_err());
        l.update(10, "m", &t, &mut w);
        assert!(l.process(batch()).is_ok());
        let text = t.encode();
        assert!(text.contains(r#"xray_collector_processor_memory_limiter_over_hard_limit_checks_total{processor="m"} 1"#), "{text}");
        assert!(
            text.contains(r#"xray_collector_processor_memory_limiter_rss_bytes{processor="m"} 10"#),
            "{text}"
        );
    }

    #[test]
    fn reads_its_own_resident_memory() {
        let rss = resident_bytes().expect("/proc/self/status");
        assert!(rss > 1024 * 1024, "{rss}");
        assert_eq!(
            kib_field("VmRSS:\t  2048 kB\n", "VmRSS:"),
            Some(2048 * 1024)
        );
    }

    #[test]
    fn limits_from_mib_and_percentages() {
        let mib = MemoryLimiterConfig {
            limit_mib: 100,
            ..MemoryLimiterConfig::default()
        };
        assert_eq!(mib.limits(None), Some((100 << 20, 80 << 20)));
        let pct = MemoryLimiterConfig {
            limit_percentage: 80,
            spike_limit_percentage: 20,
            ..MemoryLimiterConfig::default()
        };
        assert_eq!(pct.limits(Some(1000)), Some((800, 600)));
        assert_eq!(pct.limits(None), None);
    }
}
