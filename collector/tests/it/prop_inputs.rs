//! Property tests of the collector's input parsers: the X-Ray datagram splitter, the config
//! loader, and the OTLP decoder with the OTLP-to-X-Ray translation behind it. Malformed,
//! oversized, truncated and hostile input must give an error or a result, never a panic, and
//! nothing may allocate without bound (a valid result is never larger than its input allows).
//! Inputs reach 70 000 bytes; valid documents must pass byte for byte and truncated ones be
//! refused. Hostile cases: 100 000-deep JSON nesting, an alias bomb and 50 000-deep YAML, a lying
//! protobuf length prefix.
//!
//! These are also the stable-toolchain form of the fuzz targets in `collector/fuzz/`: the same
//! entry points, driven by proptest's generators for a bounded number of cases, so the test
//! command exercises them on every run.

use std::time::Instant;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use proptest::prelude::*;
use prost::Message;
use xray_collector::receivers::awsxray::datagram;
use xray_collector::translate::{TranslateSettings, to_xray_documents};

const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

fn hex(len: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9a-f]{{{len}}}")).unwrap()
}

/// A valid segment document with arbitrary text in its free fields.
fn document() -> impl Strategy<Value = String> {
    (
        hex(16),
        hex(8),
        hex(24),
        any::<String>(),
        any::<String>(),
        0.0f64..2e9,
        proptest::option::of(0.0f64..1e3),
    )
        .prop_map(|(id, epoch, rand, name, note, start, duration)| {
            let name = if name.is_empty() {
                "n".to_owned()
            } else {
                name
            };
            let end = match duration {
                Some(d) => format!("\"end_time\":{}", start + d),
                None => "\"in_progress\":true".to_owned(),
            };
            serde_json::json!({
                "id": id,
                "trace_id": format!("1-{epoch}-{rand}"),
                "name": name,
                "start_time": start,
                "metadata": {"note": note},
            })
            .to_string()
            .replacen('{', &format!("{{{end},"), 1)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary bytes, some past the largest UDP payload: an error or a segment, never a panic.
    #[test]
    fn datagram_arbitrary_bytes_never_panic(bytes in prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..512),
        1 => proptest::collection::vec(any::<u8>(), 60_000..70_000),
    ]) {
        let d = Bytes::from(bytes);
        if let Ok(seg) = datagram::parse(&d, Instant::now()) {
            // The body is a slice of the datagram after its first newline, never a copy or more.
            let nl = d.iter().position(|&b| b == b'\n').unwrap();
            prop_assert_eq!(&seg.body[..], &d[nl + 1..]);
        }
    }

    /// Arbitrary bytes after a valid header reach the body check, which never panics.
    #[test]
    fn datagram_arbitrary_body_never_panics(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let d = Bytes::from([HEADER.as_bytes(), &body].concat());
        let _ = datagram::parse(&d, Instant::now());
    }

    /// Valid documents pass byte for byte, whatever text their fields hold.
    #[test]
    fn datagram_valid_documents_pass_unchanged(doc in document()) {
        let d = Bytes::from(format!("{HEADER}{doc}"));
        let seg = datagram::parse(&d, Instant::now());
        prop_assert!(seg.is_ok(), "{:?} for {}", seg.err(), doc);
        prop_assert_eq!(&seg.unwrap().body[..], doc.as_bytes());
    }

    /// A valid document cut short anywhere inside its object is refused.
    #[test]
    fn datagram_truncated_documents_are_refused(doc in document(), cut in 0.0f64..1.0) {
        let keep = (doc.len() as f64 * cut) as usize;
        let mut keep = keep.min(doc.len() - 1);
        while !doc.is_char_boundary(keep) {
            keep -= 1;
        }
        let d = Bytes::from(format!("{HEADER}{}", &doc[..keep]));
        prop_assert!(datagram::parse(&d, Instant::now()).is_err());
    }

    /// Arbitrary text as a config: diagnostics or a config, never a panic; diagnostics name the file.
    #[test]
    fn config_arbitrary_text_never_panics(text in any::<String>()) {
        if let Err(e) = xray_collector::config::load_str(&text, "fuzz.yaml", &|_| None) {
            prop_assert!(e.to_string().contains("fuzz.yaml"), "{}", e);
        }
    }

    /// A valid config with characters replaced at random places: never a panic.
    #[test]
    fn config_mutated_never_panics(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<char>()), 1..8)) {
        let mut chars: Vec<char> = VALID_CONFIG.chars().collect();
        for (at, c) in edits {
            let i = at.index(chars.len());
            chars[i] = c;
        }
        let text: String = chars.into_iter().collect();
        let _ = xray_collector::config::load_str(&text, "fuzz.yaml", &|name| Some(format!("${{{name}}}")));
    }

    /// Arbitrary bytes as an OTLP protobuf request: decoded or refused; what decodes translates
    /// without a panic, into at most one document per span plus a bounded number of extra ones.
    #[test]
    fn otlp_arbitrary_protobuf_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(req) = ExportTraceServiceRequest::decode(&bytes[..]) {
            translate_checked(&req.resource_spans)?;
        }
    }

    /// Arbitrary text as an OTLP/JSON request: decoded or refused, never a panic.
    #[test]
    fn otlp_arbitrary_json_never_panics(text in any::<String>()) {
        if let Ok(req) = serde_json::from_str::<ExportTraceServiceRequest>(&text) {
            translate_checked(&req.resource_spans)?;
        }
    }

    /// Structured spans with valid ids and arbitrary names, times, kinds and attributes translate
    /// without a panic; every document is JSON the X-Ray receiver's own check would accept.
    /// (Spans with missing or malformed ids are covered by the arbitrary-protobuf property above:
    /// like contrib's exporter, the translation passes an empty span id on as `"id": null`, which
    /// X-Ray then reports as unprocessed and the exporter counts as failed.)
    #[test]
    fn otlp_arbitrary_spans_translate_to_checked_documents(spans in proptest::collection::vec(span(), 1..8)) {
        let rs = ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", any_value::Value::StringValue("svc".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        };
        let out = translate_checked(&[rs])?;
        for doc in &out {
            let checked = datagram::check_body(doc);
            prop_assert!(checked.is_ok(), "{:?}: {}", checked.err(), String::from_utf8_lossy(doc));
        }
    }
}

fn translate_checked(rs: &[ResourceSpans]) -> Result<Vec<Vec<u8>>, TestCaseError> {
    let spans = xray_collector::translate::span_count(rs);
    let t = to_xray_documents(rs, &TranslateSettings::default());
    // A span becomes one segment, plus at most a few inferred ones (no unbounded growth).
    prop_assert!(
        t.documents.len() <= 4 * spans,
        "{} documents from {spans} spans",
        t.documents.len()
    );
    prop_assert!(t.documents.len() + t.dropped.len() >= spans.min(1).saturating_sub(1));
    for d in &t.documents {
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&d.json).is_ok());
    }
    Ok(t.documents.into_iter().map(|d| d.json).collect())
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn attribute() -> impl Strategy<Value = KeyValue> {
    let key = prop_oneof![
        Just("http.request.method".to_owned()),
        Just("http.response.status_code".to_owned()),
        Just("url.full".to_owned()),
        Just("db.system".to_owned()),
        Just("rpc.system".to_owned()),
        Just("aws.operation".to_owned()),
        Just("exception.stacktrace".to_owned()),
        any::<String>(),
    ];
    let value = prop_oneof![
        any::<String>().prop_map(any_value::Value::StringValue),
        any::<i64>().prop_map(any_value::Value::IntValue),
        any::<f64>().prop_map(any_value::Value::DoubleValue),
        any::<bool>().prop_map(any_value::Value::BoolValue),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(any_value::Value::BytesValue),
    ];
    (key, value).prop_map(|(k, v)| kv(&k, v))
}

/// A `len`-byte id that is not all zeros (what OTLP calls a valid id).
fn nonzero_id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), len).prop_map(|mut id| {
        if id.iter().all(|&b| b == 0) {
            id[0] = 1;
        }
        id
    })
}

fn span() -> impl Strategy<Value = Span> {
    (
        nonzero_id(16),
        nonzero_id(8),
        prop_oneof![Just(Vec::new()), nonzero_id(8)],
        any::<String>(),
        any::<i32>(),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(attribute(), 0..6),
        0i32..3,
    )
        .prop_map(
            |(trace_id, span_id, parent, name, kind, start, end, attributes, code)| Span {
                trace_id,
                span_id,
                parent_span_id: parent,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                status: Some(Status {
                    code,
                    message: String::new(),
                }),
                ..Default::default()
            },
        )
}

const VALID_CONFIG: &str = "receivers:
  awsxray:
    endpoint: 0.0.0.0:2000
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
processors:
  batch:
    timeout: 200ms
exporters:
  awsxray:
    region: ${env:AWS_REGION}
    sending_queue:
      queue_size: 100
service:
  pipelines:
    traces:
      receivers: [awsxray, otlp]
      processors: [batch]
      exporters: [awsxray]
";

/// Hostile inputs that must fail fast instead of exhausting the stack or memory.
#[test]
fn hostile_inputs_fail_fast() {
    let started = Instant::now();
    // A body nested far deeper than serde_json's recursion limit.
    let deep = format!(
        "{HEADER}{{\"id\":\"0123456789abcdef\",\"x\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(datagram::parse(&Bytes::from(deep), Instant::now()).is_err());
    // A config built to explode through aliases (a "billion laughs"): refused, not expanded.
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let err = xray_collector::config::load_str(&bomb, "bomb.yaml", &|_| None)
        .expect_err("an alias bomb is an error");
    assert!(err.to_string().contains("bomb.yaml"), "{err}");
    // A config nested very deeply.
    let nested = format!("{}x{}", "[".repeat(50_000), "]".repeat(50_000));
    assert!(xray_collector::config::load_str(&nested, "nested.yaml", &|_| None).is_err());
    // An OTLP message whose length prefix claims far more than it holds.
    let lying = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a];
    assert!(ExportTraceServiceRequest::decode(&lying[..]).is_err());
    assert!(
        started.elapsed().as_secs() < 10,
        "hostile inputs took {:?}",
        started.elapsed()
    );
}
