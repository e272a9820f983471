//! The one retry policy of the network exporters (`awsxray`, `otlphttp`), in the role of the
//! OpenTelemetry collector's exporter-helper retry sender: `retry_on_failure` (`enabled`,
//! `initial_interval`, `randomization_factor`, `multiplier`, `max_interval`, `max_elapsed_time`).
//!
//! An exporter classifies each attempt itself (what is retryable is protocol-specific) and hands
//! retryable failures to [`Retries::wait`], which decides: give up (retries off, out of time, or
//! past awsxray's `max_retries`), or count the retry, wait the next backoff (at least the
//! server's `Retry-After` / throttle delay) and return, unless the exporter's stop token (the
//! shutdown deadline) fires first. [`or_stop`] is the same stop check around an attempt.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::config::component::Checker;
use crate::telemetry::{FailReason, RetryReason, Telemetry};

/// `retry_on_failure` (the collector's `configretry` keys).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Retry throttling, 5xx, timeouts and connection errors.
    pub enabled: bool,
    /// First backoff; default 5s.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub initial_interval: Duration,
    /// Largest backoff; default 30s.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub max_interval: Duration,
    /// Give up on a request after this long; default 300s; `0` means never.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub max_elapsed_time: Duration,
    /// Backoff growth factor; default 1.5.
    pub multiplier: f64,
    /// Jitter: each backoff is drawn from `interval × [1 - f, 1 + f]`; default 0.5.
    pub randomization_factor: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

impl RetryConfig {
    /// Checks `retry_on_failure` (located under the exporter).
    pub fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.multiplier < 1.0 {
            c.error("retry_on_failure/multiplier", "must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            c.error(
                "retry_on_failure/randomization_factor",
                "must be between 0 and 1",
            );
        }
        if self.enabled && self.initial_interval > self.max_interval {
            c.error(
                "retry_on_failure/initial_interval",
                "must not exceed max_interval",
            );
        }
    }
}

/// The backoff sequence of one request.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cfg: RetryConfig,
}

impl Backoff {
    /// Starts at `initial_interval`.
    pub fn new(cfg: &RetryConfig) -> Backoff {
        Backoff {
            next: cfg.initial_interval,
            cfg: cfg.clone(),
        }
    }

    /// The next wait: the current interval with jitter, then grows the interval.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next.as_secs_f64();
        let f = self.cfg.randomization_factor;
        let jittered = base * (1.0 - f + 2.0 * f * fastrand::f64());
        let grown = (base * self.cfg.multiplier).min(self.cfg.max_interval.as_secs_f64());
        self.next = Duration::from_secs_f64(grown.max(0.0));
        Duration::from_secs_f64(jittered.max(0.0))
    }
}

/// An exporter's retry policy: `retry_on_failure`, plus an optional cap on the number of retries
/// (awsxray's `max_retries`; `None` bounds retries by `max_elapsed_time` only).
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub config: RetryConfig,
    pub max_retries: Option<u32>,
}

impl RetryPolicy {
    /// The retries of one request of exporter `exporter`, starting now.
    pub fn start<'a>(&'a self, exporter: &'a str, telemetry: &'a Telemetry) -> Retries<'a> {
        Retries {
            policy: self,
            exporter,
            telemetry,
            started: Instant::now(),
            backoff: Backoff::new(&self.config),
            retries: 0,
        }
    }
}

/// Why the retries of a request ended without success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUp {
    /// `retry_on_failure.enabled` is false.
    Disabled,
    /// `max_elapsed_time` (or `max_retries`) would be exceeded.
    Exhausted,
    /// The stop token fired (the shutdown deadline): the items are dropped, not failed.
    Stopped,
}

impl GiveUp {
    /// The `exporter_failed_items` reason, or `None` for [`GiveUp::Stopped`] (counted as dropped).
    pub fn fail_reason(self) -> Option<FailReason> {
        match self {
            GiveUp::Disabled => Some(FailReason::RetryDisabled),
            GiveUp::Exhausted => Some(FailReason::RetriesExhausted),
            GiveUp::Stopped => None,
        }
    }
}

/// The retry state of one request.
pub struct Retries<'a> {
    policy: &'a RetryPolicy,
    exporter: &'a str,
    telemetry: &'a Telemetry,
    started: Instant,
    backoff: Backoff,
    retries: u32,
}

impl Retries<'_> {
    /// After a retryable failure: gives up, or counts the retry (`exporter_retries{reason}`) and
    /// waits the next backoff, at least `retry_after`, returning when it is time to try again.
    pub async fn wait(
        &mut self,
        reason: RetryReason,
        retry_after: Option<Duration>,
        detail: &str,
        stop: &CancellationToken,
    ) -> Result<(), GiveUp> {
        let cfg = &self.policy.config;
        if !cfg.enabled {
            return Err(GiveUp::Disabled);
        }
        self.retries += 1;
        let delay = self
            .backoff
            .next_delay()
            .max(retry_after.unwrap_or_default());
        let out_of_time = !cfg.max_elapsed_time.is_zero()
            && self.started.elapsed() + delay > cfg.max_elapsed_time;
        let too_many = self.policy.max_retries.is_some_and(|m| self.retries > m);
        if out_of_time || too_many {
            return Err(GiveUp::Exhausted);
        }
        self.telemetry.exporter_retry(self.exporter, reason);
        tracing::debug!(exporter = %self.exporter, reason = reason.as_str(), delay_ms = delay.as_millis() as u64, error = %detail, "Retrying an export request.");
        or_stop(stop, tokio::time::sleep(delay))
            .await
            .ok_or(GiveUp::Stopped)
    }
}

/// Runs `attempt` unless `stop` fires first (checked first); `None` when stopped.
pub async fn or_stop<T>(stop: &CancellationToken, attempt: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        _ = stop.cancelled() => None,
        out = attempt => Some(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_bounded_jitter() {
        let cfg = RetryConfig {
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_millis(300),
            multiplier: 2.0,
            randomization_factor: 0.5,
            ..RetryConfig::default()
        };
        let mut b = Backoff::new(&cfg);
        let bounds = [(50, 150), (100, 300), (150, 450), (150, 450)];
        for (lo, hi) in bounds {
            let d = b.next_delay().as_millis() as u64;
            assert!((lo..=hi).contains(&d), "{d} not in {lo}..={hi}");
        }
    }

    fn quick(max_retries: Option<u32>, enabled: bool) -> RetryPolicy {
        RetryPolicy {
            config: RetryConfig {
                enabled,
                initial_interval: Duration::from_millis(1),
                max_interval: Duration::from_millis(1),
                max_elapsed_time: Duration::from_secs(60),
                multiplier: 1.0,
                randomization_factor: 0.0,
            },
            max_retries,
        }
    }

    #[tokio::test]
    async fn max_retries_caps_the_retries_and_each_is_counted() {
        let telemetry = Telemetry::new();
        let policy = quick(Some(2), true);
        let stop = CancellationToken::new();
        let mut r = policy.start("e", &telemetry);
        assert_eq!(
            r.wait(RetryReason::Throttled, None, "", &stop).await,
            Ok(())
        );
        assert_eq!(
            r.wait(RetryReason::Throttled, None, "", &stop).await,
            Ok(())
        );
        assert_eq!(
            r.wait(RetryReason::Throttled, None, "", &stop).await,
            Err(GiveUp::Exhausted)
        );
        assert!(telemetry.encode().contains(
            "xray_collector_exporter_retries_total{exporter=\"e\",reason=\"throttled\"} 2"
        ));
    }

    #[tokio::test]
    async fn disabled_gives_up_at_once_and_stop_ends_the_wait() {
        let telemetry = Telemetry::new();
        let stop = CancellationToken::new();
        let off = quick(None, false);
        let mut r = off.start("e", &telemetry);
        assert_eq!(
            r.wait(RetryReason::Timeout, None, "", &stop).await,
            Err(GiveUp::Disabled)
        );
        let on = quick(None, true);
        let mut r = on.start("e", &telemetry);
        stop.cancel();
        // A server-given delay far beyond the test's patience: the stop token ends it.
        let waited = r
            .wait(
                RetryReason::Throttled,
                Some(Duration::from_secs(30)),
                "",
                &stop,
            )
            .await;
        assert_eq!(waited, Err(GiveUp::Stopped));
    }

    #[tokio::test]
    async fn retry_after_beyond_max_elapsed_time_gives_up() {
        let telemetry = Telemetry::new();
        let stop = CancellationToken::new();
        let policy = quick(None, true);
        let mut r = policy.start("e", &telemetry);
        let waited = r
            .wait(
                RetryReason::Throttled,
                Some(Duration::from_secs(120)),
                "",
                &stop,
            )
            .await;
        assert_eq!(waited, Err(GiveUp::Exhausted));
    }
}
