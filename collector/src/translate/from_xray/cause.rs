//! `cause` to exception events (contrib `cause.go`).

use std::fmt::Write as _;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::span::Event;

use super::attributes::{Attrs, array, boolean, integer, string};
use super::json::{Json, Object};

/// What a `cause` field contributes to a span.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Cause {
    /// Whether the document has a `cause` (an object or an exception id), which makes the span
    /// status an error.
    pub(super) present: bool,
    /// The status message: the exception id of a `cause` that is only an id.
    pub(super) message: String,
    /// One `exception` event per entry of `cause.exceptions`.
    pub(super) events: Vec<Event>,
}

/// Converts the `cause` of a document. Exception events get `event_time`: contrib leaves their
/// time at zero, which OTLP backends show at 1970; the span's end is when the exception was
/// recorded at the latest.
pub(super) fn convert(cause: Option<&Json<'_>>, event_time: u64) -> Cause {
    match cause {
        Some(Json::String(id)) => Cause {
            present: true,
            message: id.to_string(),
            events: Vec::new(),
        },
        Some(Json::Object(cause)) => Cause {
            present: true,
            message: String::new(),
            events: array(cause, "exceptions")
                .iter()
                .filter_map(Json::as_object)
                .map(|exception| exception_event(exception, event_time))
                .collect(),
        },
        _ => Cause::default(),
    }
}

fn exception_event(exception: &Object<'_>, time_unix_nano: u64) -> Event {
    let mut attrs = Attrs::with_capacity(8);
    attrs.put_opt_str("aws.xray.exception.id", string(exception, "id"));
    attrs.put_opt_str("exception.message", string(exception, "message"));
    attrs.put_opt_str("exception.type", string(exception, "type"));
    attrs.put_opt_bool("aws.xray.exception.remote", boolean(exception, "remote"));
    attrs.put_opt_int(
        "aws.xray.exception.truncated",
        integer(exception, "truncated"),
    );
    attrs.put_opt_int("aws.xray.exception.skipped", integer(exception, "skipped"));
    attrs.put_opt_str("aws.xray.exception.cause", string(exception, "cause"));
    let stack = array(exception, "stack");
    if !stack.is_empty() {
        attrs.put(
            "exception.stacktrace",
            Any::StringValue(stack_trace(exception, stack)),
        );
    }
    Event {
        time_unix_nano,
        name: "exception".into(),
        attributes: attrs.into_vec(),
        dropped_attributes_count: 0,
    }
}

/// The stack as text in contrib's layout: `<type>: <message>` and then one
/// `\tat <label>(<path>: <line>)` line per frame, `<unknown>` standing for a missing line.
fn stack_trace(exception: &Object<'_>, stack: &[Json<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}",
        string(exception, "type").unwrap_or(""),
        string(exception, "message").unwrap_or("")
    );
    for frame in stack.iter().filter_map(Json::as_object) {
        let line =
            integer(frame, "line").map_or_else(|| "<unknown>".to_string(), |n| n.to_string());
        let _ = writeln!(
            out,
            "\tat {}({}: {})",
            string(frame, "label").unwrap_or(""),
            string(frame, "path").unwrap_or(""),
            line
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exception_id_becomes_the_status_message() {
        let cause = convert(Some(&Json::parse(br#""0123456789abcdef""#).unwrap()), 5);
        assert!(cause.present);
        assert_eq!(cause.message, "0123456789abcdef");
        assert!(cause.events.is_empty());
    }

    #[test]
    fn other_values_are_no_cause() {
        assert_eq!(
            convert(Some(&Json::parse(b"3").unwrap()), 5),
            Cause::default()
        );
        assert_eq!(convert(None, 5), Cause::default());
    }

    #[test]
    fn stack_frames_are_rendered_like_contrib() {
        let exception = Json::parse(
            br#"{"type": "KeyError", "message": "'x'",
            "stack": [{"path": "app.py", "line": 7, "label": "handler"}, {"label": "main"}]}"#,
        )
        .unwrap();
        let exception = exception.as_object().unwrap();
        assert_eq!(
            stack_trace(exception, array(exception, "stack")),
            "KeyError: 'x'\n\tat handler(app.py: 7)\n\tat main(: <unknown>)\n"
        );
    }
}
