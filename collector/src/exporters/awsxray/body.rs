//! The `PutTraceSegments` request body, written once from the received bytes:
//! `{"TraceSegmentDocuments":["<doc>","<doc>",...]}`, each document escaped into the JSON array in
//! one pass (`crate::json_escape`). The bytes are exactly what the SDK's serializer (`aws-smithy-json`) writes for the
//! same documents as strings (a test compares them), so X-Ray sees the same request; the SDK then
//! signs and sends this body instead of serializing its input again.

use crate::json_escape::escape_into;
use crate::traces::Segment;

const PREFIX: &[u8] = b"{\"TraceSegmentDocuments\":[";
const SUFFIX: &[u8] = b"]}";

/// The body for `documents`, in one buffer sized for the common case (no escapes beyond the
/// quotes a document holds; it grows once if there are more).
pub fn put_body(documents: &[Segment]) -> Vec<u8> {
    let raw: usize = documents.iter().map(|d| d.body.len()).sum();
    // Escaped quotes add a byte each: a quarter of the bytes is generous for JSON documents.
    let mut out =
        Vec::with_capacity(PREFIX.len() + SUFFIX.len() + raw + raw / 4 + 3 * documents.len());
    write_body(documents, &mut out);
    out
}

/// Appends the body for `documents` to `out`.
pub fn write_body(documents: &[Segment], out: &mut Vec<u8>) {
    out.extend_from_slice(PREFIX);
    for (i, d) in documents.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        match std::str::from_utf8(&d.body) {
            Ok(text) => escape_into(text.as_bytes(), out),
            // The receiver only accepts UTF-8; a document from elsewhere (a disk record) is sent
            // the way the SDK would send it after `String::from_utf8_lossy`.
            Err(_) => escape_into(String::from_utf8_lossy(&d.body).as_bytes(), out),
        }
        out.push(b'"');
    }
    out.extend_from_slice(SUFFIX);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::SegmentIds;
    use std::time::Instant;

    fn segment(body: &[u8]) -> Segment {
        Segment::new(
            bytes::Bytes::copy_from_slice(body),
            SegmentIds::new("d84b1b1b73797baf", "").unwrap(),
            Instant::now(),
        )
    }

    /// What the SDK sends for the same documents: its JSON writer over the lossy strings.
    fn sdk_body(documents: &[&[u8]]) -> Vec<u8> {
        let mut out = String::new();
        let mut object = aws_smithy_json::serialize::JsonObjectWriter::new(&mut out);
        let mut array = object.key("TraceSegmentDocuments").start_array();
        for d in documents {
            array.value().string(&String::from_utf8_lossy(d));
        }
        array.finish();
        object.finish();
        out.into_bytes()
    }

    #[test]
    fn the_body_is_byte_identical_to_the_sdks_serialization() {
        let quoted = b"\"a".repeat(300);
        let controls = b"\x1f\n\x00z".repeat(70);
        let mut every_byte: Vec<u8> = (0u8..=0x7f).collect();
        every_byte.extend("é€😀".as_bytes());
        let cases: Vec<Vec<&[u8]>> = vec![
            vec![],
            vec![br#"{"id":"d84b1b1b73797baf","name":"a \"quoted\" \\ name"}"#],
            vec![
                b"{\"n\":\"line\nbreak\ttab\r\x08\x0c\x01\x1f\"}",
                b"{}",
                b"",
            ],
            vec![&every_byte],
            vec![b"\xff\xfe not UTF-8 \xc3", b"ok"],
            // Blocks and words where every byte, or every other one, needs an escape.
            vec![&[0x01; 1000], &[b'"'; 130], &[b'\\'; 64]],
            vec![&quoted, &controls],
        ];
        for docs in cases {
            let segments: Vec<Segment> = docs.iter().map(|d| segment(d)).collect();
            assert_eq!(
                String::from_utf8_lossy(&put_body(&segments)),
                String::from_utf8_lossy(&sdk_body(&docs)),
            );
            assert_eq!(put_body(&segments), sdk_body(&docs));
        }
    }

    /// Seeded random documents of every byte value: the same bytes as the SDK's writer.
    #[test]
    fn random_documents_match_the_sdk() {
        let mut rng = fastrand::Rng::with_seed(0xb0d1);
        for _ in 0..500 {
            let docs: Vec<Vec<u8>> = (0..rng.usize(0..5))
                .map(|_| (0..rng.usize(0..600)).map(|_| rng.u8(..)).collect())
                .collect();
            let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
            let segments: Vec<Segment> = docs.iter().map(|d| segment(d)).collect();
            assert_eq!(put_body(&segments), sdk_body(&refs));
        }
    }
}
