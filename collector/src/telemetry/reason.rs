//! The closed lists of `reason` label values, one enum per counter. Each has `as_str()` (the label
//! value) and `ALL` (every value, in this order), so tests and docs can compare against the code.
//!
//! `receiver_refused_requests` (OTLP requests) uses the values of `receiver_refused_items`.
//!
//! The documented lists (a unit test checks they match `ALL`, value for value and in order):
//!
//! * `receiver_refused_items` ([`ReceiverRefusal`]): `missing_header`, `invalid_header`,
//!   `invalid_utf8`, `invalid_json`, `missing_field`, `invalid_field`, `pipeline_full`,
//!   `pipeline_timeout`, `shutdown`, `malformed`, `too_large`, `unsupported_content_type`,
//!   `unsupported_content_encoding`, `too_many_requests`, `too_many_connections`, `client_timeout`,
//!   `memory_limit`.
//! * `processor_refused_items` ([`ProcessorRefusal`]): `full`, `closed`, `memory_limit`.
//! * `processor_dropped_items` ([`ProcessorDrop`]): `filtered`, `sampled`.
//! * `exporter_failed_items` ([`FailReason`]): `unprocessed`, `partial_success`,
//!   `permanent_error`, `retries_exhausted`, `retry_disabled`, `untranslatable`, `encode`,
//!   `io_error`.
//! * `exporter_dropped_items` ([`DropReason`]): `queue_full`, `larger_than_queue`,
//!   `storage_full`, `storage_error`, `shutdown`, `shutdown_deadline`.
//! * `exporter_retries` ([`RetryReason`]): `throttled`, `server_error`, `timeout`, `connection`,
//!   `unprocessed`, `credentials`.
//! * `exporter_storage_ack_resets` ([`AckResetReason`]): `missing`, `invalid`.

use std::fmt;

macro_rules! reasons {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $label:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in the documented order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

reasons! {
    /// Why a receiver refused items (`receiver_refused_items`).
    ReceiverRefusal {
        /// A datagram without the `{"format":"json","version":1}` header line.
        MissingHeader => "missing_header",
        /// A datagram header that is not the X-Ray one.
        InvalidHeader => "invalid_header",
        /// A datagram body that is not UTF-8.
        InvalidUtf8 => "invalid_utf8",
        /// A datagram body that is not JSON.
        InvalidJson => "invalid_json",
        /// A document without `id` (or `trace_id` where required).
        MissingField => "missing_field",
        /// A document whose ids are malformed.
        InvalidField => "invalid_field",
        /// The pipeline's first stage was full.
        PipelineFull => "pipeline_full",
        /// The pipeline did not take an OTLP request's spans in time.
        PipelineTimeout => "pipeline_timeout",
        /// The pipeline had shut down.
        Shutdown => "shutdown",
        /// An OTLP request that does not decode.
        Malformed => "malformed",
        /// An OTLP request over `max_request_body_size` / `max_recv_msg_size_mib`, or whose
        /// decoded size alone is over the receiver's `memory_limit_mib` (not retryable).
        TooLarge => "too_large",
        /// An OTLP/HTTP content type other than protobuf or JSON.
        UnsupportedContentType => "unsupported_content_type",
        /// An OTLP/HTTP content encoding other than gzip or identity.
        UnsupportedContentEncoding => "unsupported_content_encoding",
        /// Too many OTLP requests in flight.
        TooManyRequests => "too_many_requests",
        /// A connection beyond the server's connection limit.
        TooManyConnections => "too_many_connections",
        /// A client that did not send its body in time.
        ClientTimeout => "client_timeout",
        /// Refused because the receiver's in-flight memory budget (`memory_limit_mib`) was held
        /// by other requests, or because a `memory_limiter` processor found the process above its
        /// soft limit (retryable for OTLP clients).
        MemoryLimit => "memory_limit",
    }
}

reasons! {
    /// Why a processor refused items (`processor_refused_items`).
    ProcessorRefusal {
        /// Its input channel was full.
        Full => "full",
        /// It had shut down.
        Closed => "closed",
        /// A `memory_limiter` found the process above its soft limit.
        MemoryLimit => "memory_limit",
    }
}

reasons! {
    /// Why an inline processor removed items on purpose (`processor_dropped_items`).
    ProcessorDrop {
        /// A `filter` condition matched them.
        Filtered => "filtered",
        /// `probabilistic_sampler` did not sample them.
        Sampled => "sampled",
    }
}

reasons! {
    /// Why an exporter could not deliver items (`exporter_failed_items`).
    FailReason {
        /// X-Ray returned them in `UnprocessedTraceSegments` with a permanent code.
        Unprocessed => "unprocessed",
        /// An OTLP endpoint rejected them in a partial success.
        PartialSuccess => "partial_success",
        /// The request failed in a way a retry cannot fix.
        PermanentError => "permanent_error",
        /// `retry_on_failure` gave up (`max_elapsed_time`, or awsxray's `max_retries`).
        RetriesExhausted => "retries_exhausted",
        /// A retryable failure with `retry_on_failure.enabled: false`.
        RetryDisabled => "retry_disabled",
        /// They could not be translated to the exporter's format.
        Untranslatable => "untranslatable",
        /// The file exporter could not encode them.
        Encode => "encode",
        /// The file exporter could not write them.
        IoError => "io_error",
    }
}

reasons! {
    /// Why an exporter dropped items without trying (`exporter_dropped_items`).
    DropReason {
        /// The sending queue was full.
        QueueFull => "queue_full",
        /// The batch alone is larger than the queue.
        LargerThanQueue => "larger_than_queue",
        /// The persistent queue reached `max_size_bytes`.
        StorageFull => "storage_full",
        /// The persistent queue's disk failed.
        StorageError => "storage_error",
        /// The queue had closed.
        Shutdown => "shutdown",
        /// The shutdown deadline passed before they were sent.
        ShutdownDeadline => "shutdown_deadline",
    }
}

reasons! {
    /// Why an export request is retried (`exporter_retries`; also `exporter_requests` outcomes).
    RetryReason {
        /// HTTP 429 or a throttling error code.
        Throttled => "throttled",
        /// HTTP 5xx (502, 503, 504 for OTLP).
        ServerError => "server_error",
        /// No answer in time (or HTTP 408).
        Timeout => "timeout",
        /// The connection failed.
        Connection => "connection",
        /// X-Ray returned segments in `UnprocessedTraceSegments` with a retryable code.
        Unprocessed => "unprocessed",
        /// No credentials to sign with yet.
        Credentials => "credentials",
    }
}

reasons! {
    /// Why a persistent queue's `ack` file was not trusted at start-up, so that every batch on
    /// disk is sent again (`exporter_storage_ack_resets`).
    AckResetReason {
        /// Segments exist but the `ack` file does not.
        Missing => "missing",
        /// The `ack` file has the wrong length or fails its checksum.
        Invalid => "invalid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Telemetry;

    /// The label list documented for `counter` in this module's doc comment.
    fn documented(counter: &str) -> Vec<String> {
        let source = include_str!("reason.rs");
        let doc: String = source
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| l.trim_start_matches("//!").trim())
            .collect::<Vec<_>>()
            .join(" ");
        let start = doc
            .find(&format!("* `{counter}`"))
            .unwrap_or_else(|| panic!("{counter} is not documented"));
        let rest = &doc[start + 2..];
        let end = rest.find(" * `").unwrap_or(rest.len());
        let list = &rest[rest.find("):").expect("a `(Enum):` before the list") + 2..end];
        list.split(',')
            .map(|s| s.trim().trim_end_matches('.').trim_matches('`').to_owned())
            .collect()
    }

    fn labels<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<String> {
        all.iter().map(|r| as_str(*r).to_owned()).collect()
    }

    #[test]
    fn documented_lists_are_the_code_lists() {
        assert_eq!(
            documented("receiver_refused_items"),
            labels(ReceiverRefusal::ALL, ReceiverRefusal::as_str)
        );
        assert_eq!(
            documented("processor_refused_items"),
            labels(ProcessorRefusal::ALL, ProcessorRefusal::as_str)
        );
        assert_eq!(
            documented("processor_dropped_items"),
            labels(ProcessorDrop::ALL, ProcessorDrop::as_str)
        );
        assert_eq!(
            documented("exporter_failed_items"),
            labels(FailReason::ALL, FailReason::as_str)
        );
        assert_eq!(
            documented("exporter_dropped_items"),
            labels(DropReason::ALL, DropReason::as_str)
        );
        assert_eq!(
            documented("exporter_retries"),
            labels(RetryReason::ALL, RetryReason::as_str)
        );
        assert_eq!(
            documented("exporter_storage_ack_resets"),
            labels(AckResetReason::ALL, AckResetReason::as_str)
        );
    }

    #[test]
    fn every_reason_appears_on_metrics() {
        let t = Telemetry::new();
        for r in ReceiverRefusal::ALL {
            t.receiver_refused("r", *r, 1);
        }
        for r in ProcessorRefusal::ALL {
            t.processor_refused("p", "traces", *r, 1);
        }
        for r in ProcessorDrop::ALL {
            t.processor_dropped("p", "traces", *r, 1);
        }
        for r in FailReason::ALL {
            t.exporter_failed("e", *r, 1);
        }
        for r in DropReason::ALL {
            t.exporter_dropped("e", *r, 1);
        }
        for r in RetryReason::ALL {
            t.exporter_retry("e", *r);
        }
        for r in AckResetReason::ALL {
            t.exporter_storage_ack_reset("e", *r);
        }
        let text = t.encode();
        let expect = |metric: &str, label: &str| {
            let needle = format!("reason=\"{label}\"");
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("xray_collector_{metric}"))
                        && l.contains(&needle)),
                "{metric} has no {needle} line"
            );
        };
        ReceiverRefusal::ALL
            .iter()
            .for_each(|r| expect("receiver_refused_items_total", r.as_str()));
        ProcessorRefusal::ALL
            .iter()
            .for_each(|r| expect("processor_refused_items_total", r.as_str()));
        ProcessorDrop::ALL
            .iter()
            .for_each(|r| expect("processor_dropped_items_total", r.as_str()));
        FailReason::ALL
            .iter()
            .for_each(|r| expect("exporter_failed_items_total", r.as_str()));
        DropReason::ALL
            .iter()
            .for_each(|r| expect("exporter_dropped_items_total", r.as_str()));
        RetryReason::ALL
            .iter()
            .for_each(|r| expect("exporter_retries_total", r.as_str()));
        AckResetReason::ALL
            .iter()
            .for_each(|r| expect("exporter_storage_ack_resets_total", r.as_str()));
    }
}
