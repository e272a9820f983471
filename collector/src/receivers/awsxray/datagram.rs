//! The X-Ray daemon datagram: `{"format":"json","version":1}\n<segment document>`.
//!
//! [`parse`] splits the header from the body, checks the header the way the daemon does (format
//! `json`, case-insensitive, version 1, any whitespace), and checks the body with a borrowed
//! probe that reads only the top-level fields it needs: no `serde_json::Value` tree is built and the
//! body is passed on as a slice of the received bytes, never re-serialized.

use std::borrow::Cow;
use std::time::Instant;

use bytes::Bytes;
use serde::Deserialize;

use crate::telemetry::ReceiverRefusal;
use crate::traces::{Segment, SegmentIds};

/// Why a datagram was dropped. [`Malformed::reason`] is its metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("missing header line or empty body")]
    MissingHeader,
    #[error("invalid header: expected {{\"format\":\"json\",\"version\":1}}")]
    InvalidHeader,
    #[error("body is not UTF-8")]
    InvalidUtf8,
    #[error("body is not a JSON object: {0}")]
    InvalidJson(String),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("field `{0}` has an invalid value")]
    InvalidField(&'static str),
}

impl Malformed {
    /// The `reason` label of `receiver_refused_items`.
    pub fn reason(&self) -> ReceiverRefusal {
        match self {
            Malformed::MissingHeader => ReceiverRefusal::MissingHeader,
            Malformed::InvalidHeader => ReceiverRefusal::InvalidHeader,
            Malformed::InvalidUtf8 => ReceiverRefusal::InvalidUtf8,
            Malformed::InvalidJson(_) => ReceiverRefusal::InvalidJson,
            Malformed::MissingField(_) => ReceiverRefusal::MissingField,
            Malformed::InvalidField(_) => ReceiverRefusal::InvalidField,
        }
    }
}

/// The header every SDK sends, byte for byte, checked first.
const HEADER: &[u8] = br#"{"format":"json","version":1}"#;

/// Splits a datagram into header and body at the first `\n`, and checks the header.
pub fn split(datagram: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let newline = datagram
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(Malformed::MissingHeader)?;
    let (header, body) = (&datagram[..newline], &datagram[newline + 1..]);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Malformed::MissingHeader);
    }
    if header != HEADER {
        #[derive(Deserialize)]
        struct Header<'a> {
            #[serde(borrow)]
            format: Cow<'a, str>,
            version: i64,
        }
        let h: Header = serde_json::from_slice(header).map_err(|_| Malformed::InvalidHeader)?;
        if !h.format.eq_ignore_ascii_case("json") || h.version != 1 {
            return Err(Malformed::InvalidHeader);
        }
    }
    Ok((header, body))
}

/// The top-level fields the receiver checks; everything else is skipped without allocation.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    trace_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    parent_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    start_time: Option<f64>,
    #[serde(default)]
    end_time: Option<f64>,
    #[serde(default)]
    in_progress: Option<bool>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
}

/// Splits and checks one datagram; the returned segment's body is a slice of `datagram`.
pub fn parse(datagram: &Bytes, received_at: Instant) -> Result<Segment, Malformed> {
    let (header, body) = split(datagram)?;
    let start = header.len() + 1;
    let ids = check_body(body)?;
    Ok(Segment::new(datagram.slice(start..), ids, received_at))
}

/// Minimal validation of a segment document: JSON object; `id` of 16 hex digits; `name`;
/// `start_time`; `end_time` or `in_progress: true`; `trace_id` in X-Ray format; for an independent
/// subsegment (`"type":"subsegment"`) a `parent_id` of 16 hex digits.
pub fn check_body(body: &[u8]) -> Result<SegmentIds, Malformed> {
    std::str::from_utf8(body).map_err(|_| Malformed::InvalidUtf8)?;
    let probe: Probe = serde_json::from_slice(body).map_err(|e| {
        let not_object = body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{');
        if e.classify() == serde_json::error::Category::Data && !not_object {
            Malformed::InvalidField(field_of(&e).unwrap_or("document"))
        } else {
            Malformed::InvalidJson(e.to_string())
        }
    })?;
    let id = probe.id.ok_or(Malformed::MissingField("id"))?;
    if !is_hex(&id, 16) {
        return Err(Malformed::InvalidField("id"));
    }
    match probe.name.as_deref() {
        None => return Err(Malformed::MissingField("name")),
        Some("") => return Err(Malformed::InvalidField("name")),
        Some(_) => {}
    }
    if probe.start_time.is_none() {
        return Err(Malformed::MissingField("start_time"));
    }
    if probe.end_time.is_none() && probe.in_progress != Some(true) {
        return Err(Malformed::MissingField("end_time"));
    }
    let trace_id = probe.trace_id.ok_or(Malformed::MissingField("trace_id"))?;
    if !is_trace_id(&trace_id) {
        return Err(Malformed::InvalidField("trace_id"));
    }
    if probe.kind.as_deref() == Some("subsegment") {
        let parent = probe
            .parent_id
            .ok_or(Malformed::MissingField("parent_id"))?;
        if !is_hex(&parent, 16) {
            return Err(Malformed::InvalidField("parent_id"));
        }
    }
    SegmentIds::new(&id, &trace_id).ok_or(Malformed::InvalidField("id"))
}

/// The field a serde data error is about, when it is one the probe reads.
fn field_of(e: &serde_json::Error) -> Option<&'static str> {
    let text = e.to_string();
    for field in [
        "trace_id",
        "parent_id",
        "id",
        "name",
        "start_time",
        "end_time",
        "in_progress",
        "type",
    ] {
        if text.contains(&format!("`{field}`")) {
            return Some(field);
        }
    }
    None
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `1-` + 8 hex digits + `-` + 24 hex digits.
pub fn is_trace_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 35
        && b[0] == b'1'
        && b[1] == b'-'
        && b[10] == b'-'
        && is_hex(&s[2..10], 8)
        && is_hex(&s[11..], 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"id": "d84b1b1b73797baf", "name": "checkout", "start_time": 1795550527.61, "trace_id": "1-6b05ed3f-8efcea56dcfa1ddf54269231", "end_time": 1795550527.62, "subsegments": [{"id": "1753e625cbc08e3d", "name": "db", "start_time": 1.0, "end_time": 2.0}]}"#;

    fn dgram(header: &str, body: &str) -> Bytes {
        Bytes::from(format!("{header}\n{body}"))
    }

    #[test]
    fn splits_header_and_keeps_body_bytes() {
        let d = dgram(r#"{"format":"json","version":1}"#, BODY);
        let seg = parse(&d, Instant::now()).unwrap();
        assert_eq!(&seg.body[..], BODY.as_bytes());
        assert_eq!(seg.ids.id(), "d84b1b1b73797baf");
        assert_eq!(seg.ids.trace_id(), "1-6b05ed3f-8efcea56dcfa1ddf54269231");
    }

    #[test]
    fn accepts_header_variants() {
        for header in [
            r#"{"format": "json", "version": 1}"#,
            r#"{ "version":1, "format":"JSON" }"#,
        ] {
            assert!(
                parse(&dgram(header, BODY), Instant::now()).is_ok(),
                "{header}"
            );
        }
    }

    #[test]
    fn body_keeps_everything_after_the_first_newline() {
        let body = "{\"id\": \"d84b1b1b73797baf\",\n\"name\": \"a\\nb\", \"start_time\": 1, \"in_progress\": true,\n\"trace_id\": \"1-6b05ed3f-8efcea56dcfa1ddf54269231\"}\n";
        let seg = parse(
            &dgram(r#"{"format":"json","version":1}"#, body),
            Instant::now(),
        )
        .unwrap();
        assert_eq!(&seg.body[..], body.as_bytes());
    }

    #[test]
    fn malformed_table() {
        let h = r#"{"format":"json","version":1}"#;
        let sub_no_parent = r#"{"id":"1753e625cbc08e3d","name":"x","start_time":1,"end_time":2,"type":"subsegment","trace_id":"1-6b05ed3f-8efcea56dcfa1ddf54269231"}"#;
        let cases: Vec<(Bytes, &str)> = vec![
            (Bytes::from_static(b""), "missing_header"),
            (Bytes::from(BODY), "missing_header"),
            (dgram(h, ""), "missing_header"),
            (dgram(h, "  \n"), "missing_header"),
            (
                dgram(r#"{"format":"json","version":2}"#, BODY),
                "invalid_header",
            ),
            (
                dgram(r#"{"format":"xml","version":1}"#, BODY),
                "invalid_header",
            ),
            (dgram("garbage", BODY), "invalid_header"),
            (
                Bytes::from([h.as_bytes(), b"\n\xff\xfe"].concat()),
                "invalid_utf8",
            ),
            (dgram(h, "{\"id\": "), "invalid_json"),
            (dgram(h, "[1, 2]"), "invalid_json"),
            (dgram(h, &format!("{BODY} trailing")), "invalid_json"),
            (dgram(h, r#"{"id": 5}"#), "invalid_field"),
            (dgram(h, r#"{"name":"x"}"#), "missing_field"),
            (
                dgram(h, &BODY.replace("d84b1b1b73797baf", "d84b")),
                "invalid_field",
            ),
            (
                dgram(h, &BODY.replace("\"name\": \"checkout\", ", "")),
                "missing_field",
            ),
            (
                dgram(h, &BODY.replace("\"start_time\": 1795550527.61, ", "")),
                "missing_field",
            ),
            (
                dgram(h, &BODY.replace("\"end_time\": 1795550527.62, ", "")),
                "missing_field",
            ),
            (
                dgram(h, &BODY.replace("1-6b05ed3f-", "2-6b05ed3f-")),
                "invalid_field",
            ),
            (
                dgram(
                    h,
                    &BODY.replace(
                        "\"trace_id\": \"1-6b05ed3f-8efcea56dcfa1ddf54269231\", ",
                        "",
                    ),
                ),
                "missing_field",
            ),
            (dgram(h, sub_no_parent), "missing_field"),
        ];
        for (d, want) in cases {
            let got = parse(&d, Instant::now())
                .map(|_| ())
                .map_err(|e| e.reason().as_str());
            assert_eq!(got, Err(want), "{:?}", String::from_utf8_lossy(&d));
        }
    }

    /// Seeded random mutations of a valid datagram: parsing never panics, and whatever is accepted
    /// has a body that is exactly the bytes after the first newline and checked ids.
    #[test]
    fn mutated_datagrams_never_panic() {
        let valid = dgram(r#"{"format":"json","version":1}"#, BODY).to_vec();
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut d = valid.clone();
            for _ in 0..rng.usize(1..4) {
                match rng.u8(0..4) {
                    0 if !d.is_empty() => {
                        let i = rng.usize(..d.len());
                        d[i] = rng.u8(..);
                    }
                    1 if !d.is_empty() => {
                        d.truncate(rng.usize(..d.len()));
                    }
                    2 => {
                        let i = rng.usize(..=d.len());
                        let alphabet = b"{}[]\":,\n\\ 0aZ";
                        d.insert(i, alphabet[rng.usize(..alphabet.len())]);
                    }
                    _ if !d.is_empty() => {
                        d.remove(rng.usize(..d.len()));
                    }
                    _ => {}
                }
            }
            let bytes = Bytes::from(d.clone());
            if let Ok(seg) = parse(&bytes, Instant::now()) {
                accepted += 1;
                let nl = d.iter().position(|&b| b == b'\n').unwrap();
                assert_eq!(&seg.body[..], &d[nl + 1..]);
                assert!(is_hex(seg.ids.id(), 16));
                assert!(is_trace_id(seg.ids.trace_id()));
            }
        }
        assert!(
            accepted > 0,
            "some mutations (e.g. inside string values) stay valid"
        );
    }

    #[test]
    fn trace_id_shape() {
        assert!(is_trace_id("1-6b05ed3f-8efcea56dcfa1ddf54269231"));
        assert!(!is_trace_id("1-6b05ed3f-8efcea56dcfa1ddf5426923"));
        assert!(!is_trace_id("1-6b05ed3g-8efcea56dcfa1ddf54269231"));
        assert!(!is_trace_id("1x6b05ed3f-8efcea56dcfa1ddf54269231"));
    }
}
