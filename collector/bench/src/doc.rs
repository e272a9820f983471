//! The benchmark's X-Ray document: about 1 kB, a segment with an HTTP block, AWS metadata,
//! annotations and two subsegments (a DynamoDB call and an SQL query), shaped
//! like what the X-Ray SDKs send for a web request.
//!
//! The datagram is built once as a template; each send overwrites three fixed-width fields in
//! place (segment id, the random part of the trace id, and the send time in nanoseconds), so the
//! load generator spends its time in `send`, not in formatting.

/// The daemon protocol header.
const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

/// Marker of the send-time annotation; the sink finds it in each exported document.
pub const SENT_MARKER: &[u8] = b"bench_sent_ns";

/// The most bytes between [`SENT_MARKER`] and the digits of its value.
const MAX_GAP: usize = 8;

/// A datagram template and the offsets of its variable fields.
pub struct Template {
    bytes: Vec<u8>,
    id_at: usize,
    trace_at: usize,
    sent_at: usize,
}

impl Template {
    /// Builds the template for a run that started at `epoch` (Unix seconds).
    pub fn new(epoch: u64) -> Template {
        let body = format!(
            concat!(
                "{{\"name\":\"checkout-api\",\"id\":\"IIIIIIIIIIIIIIII\",",
                "\"trace_id\":\"1-{epoch:08x}-TTTTTTTTTTTTTTTTTTTTTTTT\",",
                "\"start_time\":{epoch}.125,\"end_time\":{epoch}.311,\"origin\":\"AWS::EKS::Container\",",
                "\"http\":{{\"request\":{{\"method\":\"POST\",\"url\":\"https://shop.example.com/api/v1/checkout\",",
                "\"client_ip\":\"10.0.12.34\"}},",
                "\"response\":{{\"status\":200,\"content_length\":2381}}}},",
                "\"aws\":{{\"xray\":{{\"sdk\":\"X-Ray for Java\",\"sdk_version\":\"2.18.2\"}},",
                "\"eks\":{{\"cluster_name\":\"shop-prod\",\"pod\":\"checkout-7d9f8c6b5-x2x7q\"}}}},",
                "\"annotations\":{{\"bench_sent_ns\":\"SSSSSSSSSSSSSSSSSSSS\",\"tenant\":\"acme\"}},",
                "\"subsegments\":[",
                "{{\"id\":\"a1b2c3d4e5f60718\",\"name\":\"DynamoDB\",\"start_time\":{epoch}.130,\"end_time\":{epoch}.142,",
                "\"namespace\":\"aws\",",
                "\"aws\":{{\"operation\":\"GetItem\",\"region\":\"eu-west-1\",\"request_id\":\"V4QJ0CF0RK9M2OPB4A5TSLFQB7\",",
                "\"table_name\":\"orders\"}}}},",
                "{{\"id\":\"b2c3d4e5f6071829\",\"name\":\"orders@db.internal\",\"start_time\":{epoch}.150,\"end_time\":{epoch}.201,",
                "\"namespace\":\"remote\",\"sql\":{{\"url\":\"jdbc:postgresql://db.internal:5432/orders\",",
                "\"database_type\":\"PostgreSQL\",\"sanitized_query\":\"SELECT * FROM items WHERE order_id = ?\"}}}}",
                "]}}"
            ),
            epoch = epoch
        );
        let bytes = format!("{HEADER}{body}").into_bytes();
        let find = |pat: &[u8]| {
            memchr::memmem::find(&bytes, pat).expect("the template holds every placeholder")
        };
        let id_at = find(b"IIIIIIIIIIIIIIII");
        let trace_at = find(b"TTTTTTTTTTTTTTTTTTTTTTTT");
        let sent_at = find(b"SSSSSSSSSSSSSSSSSSSS");
        Template {
            bytes,
            id_at,
            trace_at,
            sent_at,
        }
    }

    /// The datagram size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// A working copy of the datagram, to be filled by [`Template::fill`].
    pub fn buffer(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// Writes document number `seq` sent at `sent_ns` into `buf` (a copy of the template).
    pub fn fill(&self, buf: &mut [u8], seq: u64, sent_ns: u64) {
        write_hex(&mut buf[self.id_at..self.id_at + 16], seq + 1);
        // One trace per four documents: the random part is the sequence number divided by four.
        write_hex(&mut buf[self.trace_at..self.trace_at + 24], seq / 4 + 1);
        write_dec(&mut buf[self.sent_at..self.sent_at + 20], sent_ns);
    }
}

/// Writes `v` as zero-padded lower-case hex filling `out`.
fn write_hex(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b"0123456789abcdef"[(v & 15) as usize];
        v >>= 4;
    }
}

/// Writes `v` as zero-padded decimal filling `out`.
fn write_dec(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Reads the send time that follows a [`SENT_MARKER`] occurrence in an exported document: in the
/// escaped form of the PutTraceSegments body (`bench_sent_ns\":\"000…\"`) or in an OTLP protobuf
/// attribute (the key, then four bytes of field tags and lengths, then the digits). At most
/// [`MAX_GAP`] bytes may separate the marker from its 20 digits.
pub fn sent_ns_after(rest: &[u8]) -> Option<u64> {
    let gap = rest.iter().take_while(|b| !b.is_ascii_digit()).count();
    if gap > MAX_GAP {
        return None;
    }
    let digits = rest[gap..].iter().take_while(|b| b.is_ascii_digit());
    let mut v = 0u64;
    let mut n = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        n += 1;
    }
    (n == 20).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_about_one_kilobyte_and_fills_in_place() {
        let t = Template::new(1_795_550_527);
        assert!((900..1300).contains(&t.len()), "{}", t.len());
        let mut buf = t.buffer();
        t.fill(&mut buf, 41, 1_795_550_527_123_456_789);
        let text = std::str::from_utf8(&buf).unwrap();
        assert!(text.contains("\"id\":\"000000000000002a\""), "{text}");
        assert!(text.contains("-00000000000000000000000b\""), "{text}");
        let at = memchr::memmem::find(&buf, SENT_MARKER).unwrap();
        assert_eq!(
            sent_ns_after(&buf[at + SENT_MARKER.len()..]),
            Some(1_795_550_527_123_456_789)
        );
    }

    #[test]
    fn send_time_is_read_from_json_and_protobuf_but_not_from_a_bare_key() {
        let digits = b"01795550527123456789";
        let json = [&b"\\\":\\\""[..], digits].concat();
        assert_eq!(sent_ns_after(&json), Some(1_795_550_527_123_456_789));
        // KeyValue.value (tag 2, 22 bytes) holding AnyValue.string_value (tag 1, 20 bytes).
        let proto = [&[0x12, 0x16, 0x0a, 0x14][..], digits].concat();
        assert_eq!(sent_ns_after(&proto), Some(1_795_550_527_123_456_789));
        let far = [&[b'x'; 40][..], digits].concat();
        assert_eq!(sent_ns_after(&far), None);
    }
}
