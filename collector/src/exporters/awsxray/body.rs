//! The `PutTraceSegments` request body, written once from the received bytes:
//! `{"TraceSegmentDocuments":["<doc>","<doc>",...]}`, each document escaped into the JSON array in
//! one pass. The bytes are exactly what the SDK's serializer (`aws-smithy-json`) writes for the
//! same documents as strings (a test compares them), so X-Ray sees the same request; the SDK then
//! signs and sends this body instead of serializing its input again.

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

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// A high bit in each byte of `w` that may need an escape: control characters, `"` and `\`.
/// Borrows can flag bytes above a flagged one, but the lowest flag is always exact, and only the
/// lowest is used.
fn escape_mask(w: u64) -> u64 {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    control | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\')))
}

/// Appends the escape of one byte that needs one.
fn push_escape(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0C => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => 0,
    };
    if short != 0 {
        out.extend_from_slice(&[b'\\', short]);
    } else {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 15)],
        ]);
    }
}

/// Appends `text` (valid UTF-8) escaped as the inside of a JSON string, the way `aws-smithy-json`
/// escapes: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx`, every
/// other byte as it is. Eight bytes at a time: a word without an escape is stored whole; a word
/// with one is stored up to it, then the escape, and the scan goes on after it.
fn escape_into(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(chunk) = text.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        out.extend_from_slice(&word);
        let mask = escape_mask(u64::from_le_bytes(word));
        if mask == 0 {
            i += 8;
            continue;
        }
        let k = (mask.trailing_zeros() / 8) as usize;
        out.truncate(out.len() - 8 + k);
        push_escape(word[k], out);
        i += k + 1;
    }
    for &b in &text[i..] {
        if b < 0x20 || b == b'"' || b == b'\\' {
            push_escape(b, out);
        } else {
            out.push(b);
        }
    }
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
                .map(|_| (0..rng.usize(0..200)).map(|_| rng.u8(..)).collect())
                .collect();
            let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
            let segments: Vec<Segment> = docs.iter().map(|d| segment(d)).collect();
            assert_eq!(put_body(&segments), sdk_body(&refs));
        }
    }
}
