//! What to retry, and how long to wait: exponential backoff with jitter (the collector's
//! `retry_on_failure` semantics).

use std::time::Duration;

use aws_sdk_xray::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_xray::operation::put_trace_segments::PutTraceSegmentsError;

use crate::config::exporters::RetryConfig;

/// How a failed `PutTraceSegments` call is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another attempt; the reason labels the retry counter.
    Retryable(&'static str, String),
    /// Will fail again (bad request, access denied, configuration).
    Permanent(String),
}

/// Classifies an SDK error: throttling (429 or `ThrottledException`), request timeouts (408),
/// server errors (5xx), timeouts and connection errors are retryable; other errors are permanent.
pub fn classify(err: &SdkError<PutTraceSegmentsError>) -> Failure {
    let text = aws_sdk_xray::error::DisplayErrorContext(err).to_string();
    match err {
        SdkError::TimeoutError(_) => Failure::Retryable("timeout", text),
        SdkError::DispatchFailure(d) => {
            if d.is_timeout() {
                Failure::Retryable("timeout", text)
            } else if d.is_user() {
                Failure::Permanent(text)
            } else {
                Failure::Retryable("connection", text)
            }
        }
        SdkError::ResponseError(r) => status_failure(r.raw().status().as_u16(), None, text),
        SdkError::ServiceError(s) => {
            status_failure(s.raw().status().as_u16(), s.err().code(), text)
        }
        _ => Failure::Permanent(text),
    }
}

fn status_failure(status: u16, code: Option<&str>, text: String) -> Failure {
    let throttled = code.is_some_and(|c| c.contains("Throttl") || c == "TooManyRequestsException");
    if status == 429 || throttled {
        Failure::Retryable("throttled", text)
    } else if status == 408 {
        Failure::Retryable("timeout", text)
    } else if status >= 500 {
        Failure::Retryable("server_error", text)
    } else {
        Failure::Permanent(text)
    }
}

/// Whether an `UnprocessedTraceSegments` error code is worth retrying. X-Ray reports throttling
/// and internal errors per segment; everything else (`InvalidSegment`, `MissingId`, ...) will fail
/// again and is counted as failed.
pub fn retryable_code(code: &str) -> bool {
    code.contains("Throttl")
        || matches!(
            code,
            "ServiceUnavailable"
                | "InternalFailure"
                | "InternalError"
                | "InternalServerError"
                | "RequestTimeout"
        )
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

    #[test]
    fn status_classes() {
        assert!(matches!(
            status_failure(429, None, String::new()),
            Failure::Retryable("throttled", _)
        ));
        assert!(matches!(
            status_failure(400, Some("ThrottledException"), String::new()),
            Failure::Retryable("throttled", _)
        ));
        assert!(matches!(
            status_failure(503, None, String::new()),
            Failure::Retryable("server_error", _)
        ));
        assert!(matches!(
            status_failure(408, None, String::new()),
            Failure::Retryable("timeout", _)
        ));
        assert!(matches!(
            status_failure(400, Some("InvalidRequestException"), String::new()),
            Failure::Permanent(_)
        ));
        assert!(retryable_code("ThrottledException"));
        assert!(!retryable_code("InvalidSegment"));
    }
}
