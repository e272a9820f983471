//! Protobuf request bodies, encoded once and gzipped with reused deflate states.
//!
//! `Message::encode_to_vec` of an `ExportTraceServiceRequest` computes the length of every nested
//! message once per level above it (the request's, each resource's, each scope's), so a span's
//! attributes were measured four times before being written. [`encode_request`] measures each
//! span once, writes the request, resource and scope framing from those lengths, and then each
//! span: the same bytes as `encode_to_vec`, in one pass over the spans.
//!
//! A new deflate state (hash tables and buffers of `miniz_oxide`) for every request cost more than
//! compressing a small request; [`Bodies`] keeps the states of finished requests and resets one for
//! the next, so there are at most as many as requests built at the same time (one per sender).
//! The gzip framing is written here, byte for byte as `flate2::write::GzEncoder` writes it at
//! `Compression::fast()` (no name, no time, `XFL` 4, OS unknown).

use std::sync::{Mutex, PoisonError};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

/// The gzip header `GzEncoder` writes at `Compression::fast()`: magic, deflate, no flags, no
/// modification time, `XFL` 4 (fastest), OS 255 (unknown).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// Scratch state of one request body being built.
struct Scratch {
    deflate: Compress,
    encoded: Vec<u8>,
    span_lens: Vec<usize>,
}

/// Builds request bodies, reusing encoding buffers and deflate states between requests.
pub(crate) struct Bodies {
    free: Mutex<Vec<Scratch>>,
}

impl Bodies {
    pub(crate) fn new() -> Self {
        Bodies {
            free: Mutex::new(Vec::new()),
        }
    }

    /// The protobuf body of `resource_spans`, gzipped when `gzip`.
    pub(crate) fn protobuf(
        &self,
        resource_spans: &[ResourceSpans],
        gzip: bool,
    ) -> Result<Vec<u8>, std::io::Error> {
        if !gzip {
            let mut out = Vec::new();
            encode_request(resource_spans, &mut Vec::new(), &mut out);
            return Ok(out);
        }
        let mut scratch = self.take();
        encode_request(resource_spans, &mut scratch.span_lens, &mut scratch.encoded);
        let body = gzip_with(&mut scratch.deflate, &scratch.encoded);
        self.give_back(scratch);
        body
    }

    /// `data` gzipped (the JSON encoding).
    pub(crate) fn gzip(&self, data: &[u8]) -> Result<Vec<u8>, std::io::Error> {
        let mut scratch = self.take();
        let body = gzip_with(&mut scratch.deflate, data);
        self.give_back(scratch);
        body
    }

    /// A free scratch state, reset, or a new one.
    fn take(&self) -> Scratch {
        let taken = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match taken {
            Some(mut scratch) => {
                scratch.deflate.reset();
                scratch.encoded.clear();
                scratch
            }
            None => Scratch {
                deflate: Compress::new(Compression::fast(), false),
                encoded: Vec::new(),
                span_lens: Vec::new(),
            },
        }
    }

    /// Keeps `scratch` for the next request, unless its buffer grew large: memory goes back after
    /// a burst of large requests.
    fn give_back(&self, scratch: Scratch) {
        if scratch.encoded.capacity() <= KEEP_BYTES {
            self.free
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(scratch);
        }
    }
}

/// Encoding buffers up to this size are kept for the next request.
const KEEP_BYTES: usize = 1024 * 1024;

/// `data` as a gzip member, compressed with `deflate` (a fresh or reset raw-deflate state).
fn gzip_with(deflate: &mut Compress, data: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::with_capacity(data.len() / 4 + GZIP_HEADER.len() + 64);
    out.extend_from_slice(&GZIP_HEADER);
    let start_in = deflate.total_in();
    loop {
        let consumed = usize::try_from(deflate.total_in() - start_in).unwrap_or(data.len());
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let status = deflate
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Finish)
            .map_err(std::io::Error::other)?;
        if status == Status::StreamEnd {
            break;
        }
    }
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    Ok(out)
}

/// Appends the protobuf encoding of `ExportTraceServiceRequest { resource_spans }` to `out`,
/// measuring each span once (`span_lens` is scratch space).
pub(crate) fn encode_request(
    resource_spans: &[ResourceSpans],
    span_lens: &mut Vec<usize>,
    out: &mut Vec<u8>,
) {
    span_lens.clear();
    span_lens.extend(
        resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(Message::encoded_len),
    );
    let field = |len: usize| key_len(1) + encoded_len_varint(len as u64) + len;
    // Lengths, computed from the spans' once.
    let mut lens = span_lens.iter().copied();
    let mut sizes: Vec<(usize, Vec<usize>)> = Vec::with_capacity(resource_spans.len());
    let mut total = 0;
    for rs in resource_spans {
        let mut rs_len = rs.resource.as_ref().map_or(0, |r| field(r.encoded_len()));
        let mut scope_lens = Vec::with_capacity(rs.scope_spans.len());
        for ss in &rs.scope_spans {
            let mut ss_len = ss.scope.as_ref().map_or(0, |s| field(s.encoded_len()));
            for _ in &ss.spans {
                ss_len += field(lens.next().unwrap_or(0));
            }
            ss_len += string_field_len(&ss.schema_url);
            rs_len += field(ss_len);
            scope_lens.push(ss_len);
        }
        rs_len += string_field_len(&rs.schema_url);
        total += field(rs_len);
        sizes.push((rs_len, scope_lens));
    }
    out.reserve(total);

    let mut lens = span_lens.iter().copied();
    for (rs, (rs_len, scope_lens)) in resource_spans.iter().zip(&sizes) {
        message_header(1, *rs_len, out);
        if let Some(resource) = &rs.resource {
            message_header(1, resource.encoded_len(), out);
            resource.encode_raw(out);
        }
        for (ss, ss_len) in rs.scope_spans.iter().zip(scope_lens) {
            message_header(2, *ss_len, out);
            if let Some(scope) = &ss.scope {
                message_header(1, scope.encoded_len(), out);
                scope.encode_raw(out);
            }
            for span in &ss.spans {
                message_header(2, lens.next().unwrap_or(0), out);
                span.encode_raw(out);
            }
            string_field(3, &ss.schema_url, out);
        }
        string_field(3, &rs.schema_url, out);
    }
}

/// The key and length of a length-delimited field.
fn message_header(tag: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// A proto3 string field: nothing when empty.
fn string_field(tag: u32, value: &str, out: &mut Vec<u8>) {
    if !value.is_empty() {
        message_header(tag, value.len(), out);
        out.extend_from_slice(value.as_bytes());
    }
}

fn string_field_len(value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        key_len(3) + encoded_len_varint(value.len() as u64) + value.len()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, InstrumentationScope, KeyValue, any_value,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};
    use proptest::prelude::*;

    use super::*;

    fn span(name: String, attrs: Vec<(String, String)>) -> Span {
        Span {
            trace_id: vec![7; 16],
            span_id: vec![3; 8],
            name,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            attributes: attrs
                .into_iter()
                .map(|(key, value)| KeyValue {
                    key,
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(value)),
                    }),
                })
                .collect(),
            ..Span::default()
        }
    }

    fn resource_spans() -> impl Strategy<Value = Vec<ResourceSpans>> {
        let text = "[a-z]{0,300}";
        let one_span = (text, prop::collection::vec((text, text), 0..6))
            .prop_map(|(name, attrs)| span(name, attrs));
        let scope = (
            prop::option::of(text.prop_map(|name| InstrumentationScope {
                name,
                ..InstrumentationScope::default()
            })),
            prop::collection::vec(one_span, 0..30),
            text,
        )
            .prop_map(|(scope, spans, schema_url)| ScopeSpans {
                scope,
                spans,
                schema_url,
            });
        let rs = (
            prop::option::of(prop::collection::vec((text, text), 0..5).prop_map(|attrs| {
                Resource {
                    attributes: span(String::new(), attrs).attributes,
                    ..Resource::default()
                }
            })),
            prop::collection::vec(scope, 0..3),
            text,
        )
            .prop_map(|(resource, scope_spans, schema_url)| ResourceSpans {
                resource,
                scope_spans,
                schema_url,
            });
        prop::collection::vec(rs, 0..3)
    }

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("a valid gzip member");
        out
    }

    fn gz_encoder(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(data).expect("in memory");
        gz.finish().expect("in memory")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The single-pass encoding is `encode_to_vec`'s, byte for byte, and the gzipped body
        /// (from fresh and from reused deflate states) decompresses to it.
        #[test]
        fn bodies_are_encode_to_vec_and_gzip_of_it(batches in prop::collection::vec(resource_spans(), 1..4)) {
            let bodies = Bodies::new();
            for resource_spans in batches {
                let expected = ExportTraceServiceRequest { resource_spans: resource_spans.clone() }
                    .encode_to_vec();
                let plain = bodies.protobuf(&resource_spans, false).unwrap();
                prop_assert_eq!(&plain, &expected);
                let gzipped = bodies.protobuf(&resource_spans, true).unwrap();
                prop_assert_eq!(gunzip(&gzipped), expected.clone());
                // The same bytes as `GzEncoder` at the same level.
                prop_assert_eq!(gzipped, gz_encoder(&expected));
            }
        }
    }

    #[test]
    fn deflate_states_are_reused_and_large_buffers_are_not_kept() {
        let bodies = Bodies::new();
        let small = vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span("a".into(), Vec::new())],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }];
        for _ in 0..3 {
            let body = bodies.protobuf(&small, true).unwrap();
            assert_eq!(
                gunzip(&body),
                ExportTraceServiceRequest {
                    resource_spans: small.clone()
                }
                .encode_to_vec()
            );
        }
        assert_eq!(bodies.free.lock().unwrap().len(), 1, "one state, reused");
        let big = vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..300)
                    .map(|i| span(format!("{i}"), vec![("k".into(), "v".repeat(4000))]))
                    .collect(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }];
        let body = bodies.protobuf(&big, true).unwrap();
        assert!(gunzip(&body).len() > KEEP_BYTES);
        assert_eq!(
            bodies.free.lock().unwrap().len(),
            0,
            "a large buffer is dropped"
        );
    }
}
