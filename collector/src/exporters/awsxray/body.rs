//! The `PutTraceSegments` request body, written once from the received bytes:
//! `{"TraceSegmentDocuments":["<doc>","<doc>",...]}`, each document escaped into the JSON array in
//! one pass, eight bytes at a time, through a stack buffer appended a block at a time. The bytes are exactly what the SDK's serializer (`aws-smithy-json`) writes for the
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
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of each byte of `w` that needs an escape (control characters, `"` and `\`), and
/// of each control character alone. Exact for every byte (the sums stay within each byte), so
/// every flag is used.
#[inline(always)]
fn escape_mask(w: u64) -> (u64, u64) {
    // The high bit set where a byte differs from `c`.
    let differs = |c: u8| {
        let x = w ^ (ONES * u64::from(c));
        ((x & LOW7) + LOW7) | x
    };
    // The high bit set where a byte is 0x20 or more: its own high bit, or its low seven bits
    // plus 0x60 reaching 0x80.
    let printable = ((w & LOW7) + ONES * 0x60) | w;
    (
        !(differs(b'"') & differs(b'\\') & printable) & HIGH,
        !printable & HIGH,
    )
}

/// Writes the escape of `b` (a byte that needs one) at the start of `dst`; its length.
fn write_escape(b: u8, dst: &mut [u8]) -> usize {
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
        dst[..2].copy_from_slice(&[b'\\', short]);
        2
    } else {
        dst[..6].copy_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 15)],
        ]);
        6
    }
}

/// Input bytes escaped per block into a stack buffer, which holds a block's worst case (every
/// byte a six-byte `\u00xx`) plus the slack of one whole-word store; each block is then appended
/// to the body with one copy.
const BLOCK: usize = 64;
const BLOCK_OUT: usize = BLOCK * 6 + 8;

/// Appends `text` (valid UTF-8) escaped as the inside of a JSON string, the way `aws-smithy-json`
/// escapes: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx`, every
/// other byte as it is.
fn escape_into(text: &[u8], out: &mut Vec<u8>) {
    let mut buf = [0u8; BLOCK_OUT];
    let mut blocks = text.chunks_exact(BLOCK);
    for block in &mut blocks {
        let n = escape_block(block, &mut buf);
        out.extend_from_slice(&buf[..n]);
    }
    let n = escape_block(blocks.remainder(), &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// Escapes at most [`BLOCK`] bytes into `buf`; the length written. Eight bytes at a time: each
/// word is stored whole; for each byte in it that needs an escape, the escape is written in its
/// place and the rest of the word stored again after it.
fn escape_block(block: &[u8], buf: &mut [u8; BLOCK_OUT]) -> usize {
    let mut n = 0;
    let mut words = block.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        buf[n..n + 8].copy_from_slice(&word);
        let w = u64::from_le_bytes(word);
        let (mut mask, control) = escape_mask(w);
        if mask == 0 {
            n += 8;
            continue;
        }
        if control == 0 {
            // Only `"` and `\`, the common case: a backslash goes before each, and the rest of
            // the word, from that byte on, is stored again after it.
            let mut done = 0;
            while mask != 0 {
                let k = (mask.trailing_zeros() / 8) as usize;
                n += k - done;
                buf[n] = b'\\';
                n += 1;
                buf[n..n + 8].copy_from_slice(&(w >> (8 * k)).to_le_bytes());
                done = k;
                mask &= mask - 1;
            }
            n += 8 - done;
            continue;
        }
        // Bytes of the word written so far.
        let mut done = 0;
        while mask != 0 {
            let k = (mask.trailing_zeros() / 8) as usize;
            n += k - done;
            n += write_escape(word[k], &mut buf[n..]);
            done = k + 1;
            mask &= mask - 1;
            if done < 8 {
                buf[n..n + 8].copy_from_slice(&(w >> (8 * done)).to_le_bytes());
            }
        }
        n += 8 - done;
    }
    for &b in words.remainder() {
        if b < 0x20 || b == b'"' || b == b'\\' {
            n += write_escape(b, &mut buf[n..]);
        } else {
            buf[n] = b;
            n += 1;
        }
    }
    n
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
