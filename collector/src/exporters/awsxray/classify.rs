//! What to retry after a `PutTraceSegments` call: the X-Ray-specific classification of errors and
//! of `UnprocessedTraceSegments` codes. How long to wait, and when to give up, is the shared policy
//! of `exporters::retry`.

use aws_sdk_xray::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_xray::operation::put_trace_segments::PutTraceSegmentsError;

use crate::telemetry::RetryReason;

/// How a failed `PutTraceSegments` call is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another attempt; the reason labels the retry counter.
    Retryable(RetryReason, String),
    /// Will fail again (bad request, access denied, configuration).
    Permanent(String),
}

/// Classifies an SDK error: throttling (429 or `ThrottledException`), request timeouts (408),
/// server errors (5xx), timeouts and connection errors are retryable; other errors are permanent.
pub fn classify(err: &SdkError<PutTraceSegmentsError>) -> Failure {
    let text = aws_sdk_xray::error::DisplayErrorContext(err).to_string();
    match err {
        SdkError::TimeoutError(_) => Failure::Retryable(RetryReason::Timeout, text),
        SdkError::DispatchFailure(d) => {
            if d.is_timeout() {
                Failure::Retryable(RetryReason::Timeout, text)
            } else if d.is_user() {
                Failure::Permanent(text)
            } else {
                Failure::Retryable(RetryReason::Connection, text)
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
        Failure::Retryable(RetryReason::Throttled, text)
    } else if status == 408 {
        Failure::Retryable(RetryReason::Timeout, text)
    } else if status >= 500 {
        Failure::Retryable(RetryReason::ServerError, text)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert!(matches!(
            status_failure(429, None, String::new()),
            Failure::Retryable(RetryReason::Throttled, _)
        ));
        assert!(matches!(
            status_failure(400, Some("ThrottledException"), String::new()),
            Failure::Retryable(RetryReason::Throttled, _)
        ));
        assert!(matches!(
            status_failure(503, None, String::new()),
            Failure::Retryable(RetryReason::ServerError, _)
        ));
        assert!(matches!(
            status_failure(408, None, String::new()),
            Failure::Retryable(RetryReason::Timeout, _)
        ));
        assert!(matches!(
            status_failure(400, Some("InvalidRequestException"), String::new()),
            Failure::Permanent(_)
        ));
        assert!(retryable_code("ThrottledException"));
        assert!(!retryable_code("InvalidSegment"));
    }
}
