//! What an OTLP/HTTP answer means (the specification's "Failures" and "Throttling" sections):
//! success with an optional partial success, retryable (`429`, `502`, `503`, `504`, with an
//! optional `Retry-After`), or permanent (every other status).

use std::time::{Duration, SystemTime};

use hyper::HeaderMap;
use hyper::header::{CONTENT_TYPE, RETRY_AFTER};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use crate::telemetry::RetryReason;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// 2xx: `rejected` spans refused by a partial success (with the server's message).
    Success { rejected: usize, message: String },
    /// Worth another attempt: the reason labels the retry counter; the delay the server asked for.
    Retryable(RetryReason, String, Option<Duration>),
    /// Will fail again.
    Permanent(String),
}

/// `google.rpc.Status` without `details`: the error body OTLP/HTTP specifies.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// Classifies an answer received at `now`.
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Outcome {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (200..300).contains(&status) {
        let (rejected, message) = partial_success(body, json);
        return Outcome::Success { rejected, message };
    }
    let message = status_message(body, json);
    let detail = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {message}")
    };
    match status {
        429 => Outcome::Retryable(RetryReason::Throttled, detail, retry_after(headers, now)),
        502..=504 => {
            Outcome::Retryable(RetryReason::ServerError, detail, retry_after(headers, now))
        }
        _ => Outcome::Permanent(detail),
    }
}

/// The partial success of a 2xx body: rejected spans and the message (zero and empty for an
/// empty or unreadable body, which the specification says to treat as full success).
fn partial_success(body: &[u8], json: bool) -> (usize, String) {
    if body.is_empty() {
        return (0, String::new());
    }
    if json {
        // OTLP/JSON: lowerCamelCase keys (snake_case accepted too), int64 as a string or number.
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return (0, String::new());
        };
        let field = |v: &serde_json::Value, camel: &str, snake: &str| {
            v.get(camel).or_else(|| v.get(snake)).cloned()
        };
        let Some(partial) = field(&v, "partialSuccess", "partial_success") else {
            return (0, String::new());
        };
        let rejected = match field(&partial, "rejectedSpans", "rejected_spans") {
            Some(serde_json::Value::String(s)) => s.parse::<u64>().unwrap_or(0),
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
            _ => 0,
        };
        let message = field(&partial, "errorMessage", "error_message")
            .and_then(|m| m.as_str().map(str::to_owned))
            .unwrap_or_default();
        return (usize::try_from(rejected).unwrap_or(usize::MAX), message);
    }
    let Some(partial) = ExportTraceServiceResponse::decode(body)
        .ok()
        .and_then(|r| r.partial_success)
    else {
        return (0, String::new());
    };
    (
        usize::try_from(partial.rejected_spans.max(0)).unwrap_or(usize::MAX),
        partial.error_message,
    )
}

/// The `message` of a `google.rpc.Status` body, or the body's text when it is not one.
fn status_message(body: &[u8], json: bool) -> String {
    let decoded = if json {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
    } else {
        RpcStatus::decode(body).ok().map(|s| s.message)
    };
    let text = decoded
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    text.chars().take(512).collect()
}

/// `Retry-After` as a delay: delta seconds, or an HTTP date (a date in the past is no delay).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &later)]), now),
            Some(Duration::from_secs(42))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &earlier)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[]), now), None);
    }

    #[test]
    fn statuses_by_the_specification() {
        let now = SystemTime::now();
        let h = headers(&[("retry-after", "3")]);
        assert_eq!(
            classify(429, &h, b"", now),
            Outcome::Retryable(
                RetryReason::Throttled,
                "HTTP 429".into(),
                Some(Duration::from_secs(3))
            )
        );
        for status in [502, 503, 504] {
            assert!(matches!(
                classify(status, &headers(&[]), b"", now),
                Outcome::Retryable(RetryReason::ServerError, _, None)
            ));
        }
        for status in [400, 401, 403, 404, 413, 500, 501] {
            assert!(
                matches!(
                    classify(status, &headers(&[]), b"", now),
                    Outcome::Permanent(_)
                ),
                "{status}"
            );
        }
        let status = RpcStatus {
            code: 3,
            message: "bad span".into(),
        }
        .encode_to_vec();
        assert_eq!(
            classify(
                400,
                &headers(&[("content-type", "application/x-protobuf")]),
                &status,
                now
            ),
            Outcome::Permanent("HTTP 400: bad span".into())
        );
        assert_eq!(
            classify(
                403,
                &headers(&[("content-type", "application/json")]),
                br#"{"code":7,"message":"denied"}"#,
                now
            ),
            Outcome::Permanent("HTTP 403: denied".into())
        );
    }

    #[test]
    fn partial_success_in_protobuf_and_json() {
        let now = SystemTime::now();
        let body = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 4,
                error_message: "too old".into(),
            }),
        }
        .encode_to_vec();
        assert_eq!(
            classify(
                200,
                &headers(&[("content-type", "application/x-protobuf")]),
                &body,
                now
            ),
            Outcome::Success {
                rejected: 4,
                message: "too old".into()
            }
        );
        assert_eq!(
            classify(
                200,
                &headers(&[("content-type", "application/json")]),
                br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"x"}}"#,
                now
            ),
            Outcome::Success {
                rejected: 2,
                message: "x".into()
            }
        );
        assert_eq!(
            classify(200, &headers(&[]), b"", now),
            Outcome::Success {
                rejected: 0,
                message: String::new()
            }
        );
    }
}
