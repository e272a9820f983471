//! `error`, `fault`, `throttle` and `cause` (`makeCause`).

use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};

use super::attributes::{AttrMap, as_string, attr_map, get_str, int_of, str_of};
use super::stack::{self, Exception};
use super::write::Obj;

/// The error flags and the optional `cause` object of one span.
pub(crate) struct Cause {
    pub(crate) error: bool,
    pub(crate) fault: bool,
    pub(crate) throttle: bool,
    /// `cause.exceptions`; the `cause` object is omitted when there is none.
    pub(crate) exceptions: Vec<Exception>,
}

impl Cause {
    /// Writes `{"exceptions":[...]}`.
    pub(crate) fn write_cause(&self, out: &mut Vec<u8>) {
        let mut cause = Obj::begin(out);
        let out = cause.key("exceptions");
        out.push(b'[');
        for (i, exception) in self.exceptions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            exception.write(out);
        }
        out.push(b']');
        cause.end();
    }
}

/// Builds the flags and `cause`; `http.status_text` is consumed from `filtered` when it supplies
/// the message.
pub(crate) fn make_cause(
    span: &Span,
    attrs: &AttrMap<'_>,
    resource: &AttrMap<'_>,
    filtered: &mut AttrMap<'_>,
    new_id: &mut dyn FnMut() -> String,
) -> Cause {
    let is_error_status = span
        .status
        .as_ref()
        .is_some_and(|s| s.code() == StatusCode::Error);
    let aws_sdk = get_str(attrs, "rpc.system") == "aws-api";
    let is_exception_event =
        |name: &str| name == "exception" || (aws_sdk && name == "HTTP request failure");

    let mut exceptions: Vec<Exception> = Vec::new();
    if span.events.iter().any(|e| is_exception_event(&e.name)) {
        let language = get_str(resource, "telemetry.sdk.language");
        let remote = matches!(span.kind(), SpanKind::Client | SpanKind::Producer);
        for event in &span.events {
            let event_attrs = attr_map(&event.attributes);
            if event.name == "exception" {
                let mut parsed = vec![Exception {
                    id: new_id(),
                    kind: non_empty(get_str(&event_attrs, "exception.type")),
                    message: non_empty(get_str(&event_attrs, "exception.message")),
                    remote: Some(remote),
                    ..Exception::default()
                }];
                let trace = get_str(&event_attrs, "exception.stacktrace");
                stack::fill(language, trace, &mut parsed, new_id);
                exceptions.extend(parsed);
            } else if is_exception_event(&event.name) {
                let code = event_attrs.get("http.response.status_code");
                let message = event_attrs.get("aws.http.error_message");
                if let (Some(code), Some(message)) = (code, message) {
                    let micros = event.time_unix_nano / 1_000;
                    let text = format!(
                        "{}@{}.{:06}@{}",
                        as_string(code),
                        micros / 1_000_000,
                        micros % 1_000_000,
                        str_of(message)
                    );
                    exceptions.push(Exception {
                        id: new_id(),
                        kind: Some("aws.http.error.event".into()),
                        message: Some(text),
                        remote: Some(true),
                        ..Exception::default()
                    });
                }
            }
        }
    } else if is_error_status {
        let mut message = span
            .status
            .as_ref()
            .map(|s| s.message.clone())
            .unwrap_or_default();
        let status_text = message
            .is_empty()
            .then(|| filtered.remove("http.status_text"))
            .flatten();
        if let Some(text) = status_text {
            message = str_of(text).to_string();
        }
        if !message.is_empty() {
            exceptions.push(Exception {
                id: new_id(),
                kind: Some(String::new()),
                message: Some(message),
                ..Exception::default()
            });
        }
    }

    let code = ["http.status_code", "http.response.status_code"]
        .iter()
        .find_map(|k| attrs.get(k).and_then(|v| int_of(v)));
    let (error, fault, throttle) = match code {
        Some(c @ 400..=499) => (true, false, c == 429),
        Some(500..=599) => (false, true, false),
        _ => (false, is_error_status, false),
    };

    Cause {
        error,
        fault,
        throttle,
        exceptions,
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}
