//! The X-Ray daemon datagram: `{"format":"json","version":1}\n<segment document>`.
//!
//! [`parse`] splits the header from the body, checks the header the way the daemon does (format
//! `json`, case-insensitive, version 1, any whitespace), and checks the body in one pass with the
//! scanner of `scan.rs`, which reads only the top-level fields it needs: no tree is built and the
//! body is passed on as a slice of the received bytes, never re-serialized. The `serde_json`
//! probe the scanner replaced is kept in the tests as the oracle of a differential test.

use std::borrow::Cow;
use std::time::Instant;

use bytes::Bytes;
use serde::Deserialize;

use super::scan::{Fields, ScanError, line_column, scan};
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
    let text = std::str::from_utf8(body).map_err(|_| Malformed::InvalidUtf8)?;
    let fields = scan(text).map_err(|e| match e {
        ScanError::Field(field) => Malformed::InvalidField(field),
        ScanError::Syntax { what, at } => {
            let (line, column) = line_column(text, at);
            Malformed::InvalidJson(format!("{what} at line {line} column {column}"))
        }
    })?;
    check_fields(fields)
}

/// The checks on the fields read, in the order their refusals are reported.
fn check_fields(fields: Fields<'_>) -> Result<SegmentIds, Malformed> {
    let id = fields.id.ok_or(Malformed::MissingField("id"))?;
    if !is_hex(&id, 16) {
        return Err(Malformed::InvalidField("id"));
    }
    match fields.name.as_deref() {
        None => return Err(Malformed::MissingField("name")),
        Some("") => return Err(Malformed::InvalidField("name")),
        Some(_) => {}
    }
    if !fields.start_time {
        return Err(Malformed::MissingField("start_time"));
    }
    if !fields.end_time && fields.in_progress != Some(true) {
        return Err(Malformed::MissingField("end_time"));
    }
    let trace_id = fields.trace_id.ok_or(Malformed::MissingField("trace_id"))?;
    if !is_trace_id(&trace_id) {
        return Err(Malformed::InvalidField("trace_id"));
    }
    if fields.kind.as_deref() == Some("subsegment") {
        let parent = fields
            .parent_id
            .ok_or(Malformed::MissingField("parent_id"))?;
        if !is_hex(&parent, 16) {
            return Err(Malformed::InvalidField("parent_id"));
        }
    }
    SegmentIds::new(&id, &trace_id).ok_or(Malformed::InvalidField("id"))
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

/// The serde probe the scanner replaced, kept as the oracle of the differential tests below.
#[cfg(test)]
mod oracle {
    use super::*;

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

    /// `check_body` as it was, with `serde_json`.
    pub fn check_body(body: &[u8]) -> Result<SegmentIds, Malformed> {
        std::str::from_utf8(body).map_err(|_| Malformed::InvalidUtf8)?;
        // serde would take a struct's sequence form; X-Ray takes only objects.
        let first = body
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        if first == Some(&b'[') {
            return Err(Malformed::InvalidJson("expected a JSON object".into()));
        }
        let probe: Probe = serde_json::from_slice(body).map_err(|e| {
            let not_object = body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{');
            if e.classify() == serde_json::error::Category::Data && !not_object {
                Malformed::InvalidField(field_of(&e).unwrap_or("document"))
            } else {
                Malformed::InvalidJson(e.to_string())
            }
        })?;
        check_fields(Fields {
            id: probe.id,
            trace_id: probe.trace_id,
            parent_id: probe.parent_id,
            name: probe.name,
            start_time: probe.start_time.is_some(),
            end_time: probe.end_time.is_some(),
            in_progress: probe.in_progress,
            kind: probe.kind,
        })
    }

    /// The field a serde data error is about, when it is one the probe reads.
    fn field_of(e: &serde_json::Error) -> Option<&'static str> {
        let text = e.to_string();
        [
            "trace_id",
            "parent_id",
            "id",
            "name",
            "start_time",
            "end_time",
            "in_progress",
            "type",
        ]
        .into_iter()
        .find(|field| text.contains(&format!("`{field}`")))
    }
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
            // A whole segment in the array form serde takes for a struct: X-Ray takes objects.
            (
                dgram(
                    h,
                    r#"["d84b1b1b73797baf","1-6b05ed3f-8efcea56dcfa1ddf54269231",null,"checkout",1,2]"#,
                ),
                "invalid_json",
            ),
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

    /// A result with the text of a JSON error left out (the scanner words its own).
    fn outcome(r: Result<SegmentIds, Malformed>) -> Result<String, Malformed> {
        r.map(|ids| format!("{ids:?}")).map_err(|e| match e {
            Malformed::InvalidJson(_) => Malformed::InvalidJson(String::new()),
            e => e,
        })
    }

    /// Random documents for the differential test: mostly segment documents with the fields the
    /// receiver reads (given once, twice, escaped, null, or of the wrong kind) among values of
    /// every kind, escapes (valid, invalid, lone surrogates), numbers (leading zeros, exponents,
    /// overflow), deep nesting and whitespace; some in the array form or not objects at all.
    struct Docs {
        rng: fastrand::Rng,
    }

    impl Docs {
        fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
            options[self.rng.usize(..options.len())]
        }

        fn ws(&mut self, out: &mut String) {
            if self.rng.u8(..4) == 0 {
                out.push_str(self.pick(&[" ", "\n", "\t", "\r", "  \r\n", "\u{c}"]));
            }
        }

        fn text(&mut self, out: &mut String) {
            out.push('"');
            for _ in 0..self.rng.usize(0..5) {
                let piece = self.pick(&[
                    "abc",
                    "d84b1b1b73797baf",
                    "é€😀",
                    "\\\"",
                    "\\\\",
                    "\\/",
                    "\\b\\f\\n\\r\\t",
                    "\\u0041",
                    "\\u00e9",
                    "\\ud83d\\ude00",
                    "\\uD83D\\uDE00",
                    "\\ud800",
                    "\\udc00",
                    "\\ud800\\u0041",
                    "\\ud800\\ud800",
                    "\\ud800x",
                    "\\x",
                    "\\u12g4",
                    "\\u12",
                    "\u{1}",
                    "\n",
                    "\u{7f}",
                    "`id`",
                    "`name` `trace_id`",
                    "`type`",
                    "`in_progress`",
                    "`start_time`",
                    "`other`",
                    "`",
                    "subsegment",
                ]);
                out.push_str(piece);
            }
            if self.rng.u8(..40) != 0 {
                out.push('"');
            }
        }

        fn number(&mut self, out: &mut String) {
            let n = self.pick(&[
                "0",
                "-0",
                "7",
                "1.5",
                "1795550527.61",
                "-12.25",
                "1e5",
                "1E+5",
                "-1e-5",
                "0.0e0",
                "01",
                "-01",
                "1.",
                "-",
                ".5",
                "1e",
                "1e+",
                "+1",
                "1e400",
                "-1e400",
                "1e308",
                "1.7976931348623157e308",
                "1.7976931348623159e308",
                "0e999999999999",
                "1e-99999999999",
                "2.5e-400",
                "123456789012345678901234567890",
                "18446744073709551616",
                "-9223372036854775809",
                "BIG",
                "BIGFRACTION",
            ]);
            match n {
                "BIG" => out.push_str(&"9".repeat(self.rng.usize(300..320))),
                "BIGFRACTION" => {
                    out.push_str(&"1".repeat(self.rng.usize(290..320)));
                    out.push_str(".5");
                }
                n => out.push_str(n),
            }
        }

        fn key(&mut self, out: &mut String) {
            let k = self.pick(&[
                "id",
                "trace_id",
                "parent_id",
                "name",
                "start_time",
                "end_time",
                "in_progress",
                "type",
                "i\\u0064",
                "\\u0074ype",
                "name\\u0000",
                "http",
                "aws",
                "subsegments",
                "ID",
                "x",
                "\\ud800",
                "é",
            ]);
            out.push('"');
            out.push_str(k);
            out.push('"');
        }

        fn value(&mut self, out: &mut String, depth: usize) {
            self.ws(out);
            let choice = if depth > 6 {
                self.rng.u8(..5)
            } else {
                self.rng.u8(..8)
            };
            match choice {
                0 | 1 => self.text(out),
                2 => self.number(out),
                3 => out
                    .push_str(self.pick(&["null", "true", "false", "nul", "tru", "fals", "nullx"])),
                4 => {
                    let deep = self.rng.usize(1..200);
                    let open = self.pick(&["[", "{\"a\":", "[{\"b\":"]);
                    for _ in 0..deep {
                        out.push_str(open);
                    }
                    self.number(out);
                    for _ in 0..deep {
                        out.push_str(match open {
                            "[" => "]",
                            "{\"a\":" => "}",
                            _ => "}]",
                        });
                    }
                }
                5 | 6 => {
                    out.push('[');
                    for i in 0..self.rng.usize(0..4) {
                        if i > 0 {
                            out.push_str(self.pick(&[",", ",", ",", ", ", ",,", ""]));
                        }
                        self.value(out, depth + 1);
                    }
                    if self.rng.u8(..20) == 0 {
                        out.push(',');
                    }
                    out.push(']');
                }
                _ => {
                    out.push('{');
                    for i in 0..self.rng.usize(0..4) {
                        if i > 0 {
                            out.push(',');
                        }
                        self.ws(out);
                        if self.rng.u8(..30) == 0 {
                            self.number(out);
                        } else {
                            self.key(out);
                        }
                        self.ws(out);
                        out.push_str(if self.rng.u8(..30) == 0 { "" } else { ":" });
                        self.value(out, depth + 1);
                    }
                    out.push('}');
                }
            }
            self.ws(out);
        }

        /// A value for one of the fields the receiver reads.
        fn field_value(&mut self, key: &str, out: &mut String) {
            if self.rng.u8(..6) == 0 {
                return self.value(out, 3);
            }
            // The first choice is valid; it is taken half the time.
            let valid = self.rng.bool();
            let options: &[&str] = match key {
                "id" | "parent_id" => &[
                    "\"d84b1b1b73797baf\"",
                    "\"D84B1B1B73797BAF\"",
                    "\"d84b\"",
                    "\"\\u0064\\u00384b1b1b73797baf\"",
                    "null",
                ],
                "trace_id" => &[
                    "\"1-6b05ed3f-8efcea56dcfa1ddf54269231\"",
                    "\"2-6b05ed3f-8efcea56dcfa1ddf54269231\"",
                    "\"\"",
                    "\"1-6b05ed3f-8efcea56dcfa1ddf5426923\\u0031\"",
                    "null",
                ],
                "name" => &["\"checkout\"", "\"\"", "\"\\u0000\"", "null"],
                "start_time" | "end_time" => &[
                    "1795550527.61",
                    "1",
                    "-0.5e3",
                    "null",
                    "1e400",
                    "\"1.5\"",
                    "\"see `start_time`\"",
                    "true",
                ],
                "in_progress" => &[
                    "true",
                    "false",
                    "null",
                    "1",
                    "\"true\"",
                    "\"`in_progress` `id`\"",
                ],
                _ => &[
                    "\"subsegment\"",
                    "\"segment\"",
                    "\"sub\\u0073egment\"",
                    "null",
                    "7",
                ],
            };
            let v = if valid {
                options[0]
            } else {
                self.pick(options)
            };
            out.push_str(v);
        }

        fn document(&mut self) -> String {
            let mut out = String::new();
            self.ws(&mut out);
            match self.rng.u8(..20) {
                0 => {
                    // The array form serde accepts for a struct: refused, as X-Ray refuses it.
                    out.push('[');
                    let keys = [
                        "id",
                        "trace_id",
                        "parent_id",
                        "name",
                        "start_time",
                        "end_time",
                        "in_progress",
                        "type",
                        "id",
                        "id",
                    ];
                    for (i, key) in keys.iter().take(self.rng.usize(0..=10)).enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        self.ws(&mut out);
                        self.field_value(key, &mut out);
                    }
                    out.push(']');
                }
                1 => self.value(&mut out, 0),
                _ => {
                    out.push('{');
                    let mut first = true;
                    let mut fields = vec!["id", "name", "start_time", "end_time", "trace_id"];
                    if self.rng.bool() {
                        fields.extend(["type", "parent_id"]);
                    }
                    if self.rng.bool() {
                        fields.push("in_progress");
                    }
                    for _ in 0..self.rng.usize(0..4) {
                        fields.push(self.pick(&[
                            "http",
                            "aws",
                            "subsegments",
                            "x",
                            "id",
                            "trace_id",
                            "parent_id",
                            "name",
                            "start_time",
                            "end_time",
                            "in_progress",
                            "type",
                            "i\\u0064",
                            "\\u0074ype",
                            "\\ud800",
                            "\\udc00x",
                        ]));
                    }
                    if self.rng.u8(..4) == 0 {
                        let drop = self.rng.usize(..fields.len());
                        fields.remove(drop);
                    }
                    self.rng.shuffle(&mut fields);
                    for key in fields {
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        self.ws(&mut out);
                        out.push('"');
                        out.push_str(key);
                        out.push('"');
                        self.ws(&mut out);
                        out.push(':');
                        self.ws(&mut out);
                        match key {
                            "id" | "trace_id" | "parent_id" | "name" | "start_time"
                            | "end_time" | "in_progress" | "type" => {
                                self.field_value(key, &mut out)
                            }
                            "i\\u0064" => self.field_value("id", &mut out),
                            "\\u0074ype" => self.field_value("type", &mut out),
                            _ => self.value(&mut out, 1),
                        }
                        self.ws(&mut out);
                    }
                    out.push('}');
                }
            }
            self.ws(&mut out);
            if self.rng.u8(..40) == 0 {
                out.push_str(self.pick(&["x", "{}", ",", "]"]));
            }
            out
        }

        /// One to three random edits: a byte replaced (any value), removed, inserted from JSON's
        /// punctuation, or the end cut off.
        fn mutate(&mut self, doc: &mut Vec<u8>) {
            for _ in 0..self.rng.usize(1..4) {
                match self.rng.u8(0..4) {
                    0 if !doc.is_empty() => {
                        let i = self.rng.usize(..doc.len());
                        doc[i] = self.rng.u8(..);
                    }
                    1 if !doc.is_empty() => doc.truncate(self.rng.usize(..doc.len())),
                    2 => {
                        let i = self.rng.usize(..=doc.len());
                        let alphabet = b"{}[]\":,\n\\ 0aZ-.eu`";
                        doc.insert(i, alphabet[self.rng.usize(..alphabet.len())]);
                    }
                    _ if !doc.is_empty() => {
                        let i = self.rng.usize(..doc.len());
                        doc.remove(i);
                    }
                    _ => {}
                }
            }
        }
    }

    /// The scanner against the serde probe it replaced, over seeded random and mutated documents:
    /// the same documents accepted with the same ids, the same refused for the same reason and
    /// field. Every outcome the receiver counts must occur, so the comparison covers them all.
    #[test]
    fn scanner_matches_the_serde_probe() {
        let mut docs = Docs {
            rng: fastrand::Rng::with_seed(0xd1ff),
        };
        let mut seen = std::collections::BTreeMap::<String, usize>::new();
        let bench = concat!(
            r#"{"name":"checkout-api","id":"0000000000000001","trace_id":"1-6b05ed3f-000000000000000000000001","#,
            r#""start_time":1795550527.125,"end_time":1795550527.311,"origin":"AWS::EKS::Container","#,
            r#""http":{"request":{"method":"POST","url":"https://shop.example.com/api/v1/checkout"},"#,
            r#""response":{"status":200,"content_length":2381}},"aws":{"xray":{"sdk":"X-Ray for Java"}},"#,
            r#""annotations":{"tenant":"acme"},"subsegments":[{"id":"a1b2c3d4e5f60718","name":"DynamoDB","#,
            r#""start_time":1795550527.130,"end_time":1795550527.142,"namespace":"aws","#,
            r#""aws":{"operation":"GetItem","table_name":"orders"}},{"id":"b2c3d4e5f6071829","#,
            r#""name":"orders@db.internal","start_time":1795550527.150,"end_time":1795550527.201,"#,
            r#""sql":{"sanitized_query":"SELECT * FROM items WHERE order_id = ?"}}]}"#
        );
        for n in 0..60_000 {
            let mut doc = match n % 4 {
                0 => BODY.as_bytes().to_vec(),
                1 => bench.as_bytes().to_vec(),
                _ => docs.document().into_bytes(),
            };
            if n % 4 < 2 || docs.rng.u8(..3) == 0 {
                docs.mutate(&mut doc);
            }
            let want = outcome(oracle::check_body(&doc));
            let got = outcome(check_body(&doc));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&doc));
            let key = match &want {
                Ok(_) => "accepted".to_string(),
                Err(e) => format!("{} {e}", e.reason().as_str()),
            };
            *seen.entry(key).or_default() += 1;
        }
        for must in [
            "accepted",
            "invalid_utf8 body is not UTF-8",
            "invalid_json body is not a JSON object: ",
            "invalid_field field `document` has an invalid value",
            "invalid_field field `id` has an invalid value",
            "invalid_field field `name` has an invalid value",
            "invalid_field field `trace_id` has an invalid value",
            "invalid_field field `type` has an invalid value",
            "invalid_field field `in_progress` has an invalid value",
            "invalid_field field `start_time` has an invalid value",
            "invalid_field field `parent_id` has an invalid value",
            "invalid_field field `end_time` has an invalid value",
            "missing_field missing required field `id`",
            "missing_field missing required field `name`",
            "missing_field missing required field `start_time`",
            "missing_field missing required field `end_time`",
            "missing_field missing required field `trace_id`",
            "missing_field missing required field `parent_id`",
        ] {
            assert!(
                seen.get(must).copied().unwrap_or(0) > 0,
                "never {must}: {seen:#?}"
            );
        }
    }

    /// Hand-picked cases at the edges of what the probe accepted.
    #[test]
    fn scanner_matches_the_serde_probe_at_the_edges() {
        let ok = r#""id":"d84b1b1b73797baf","name":"n","start_time":1,"end_time":2,"trace_id":"1-6b05ed3f-8efcea56dcfa1ddf54269231""#;
        let deep = |n: usize| format!("{{{ok},\"x\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        let mut cases: Vec<String> = vec![
            format!("{{{ok}}}"),
            format!(" \r\n\t{{{ok}}} \n"),
            format!("\u{c}{{{ok}}}"),
            format!("{{{ok}}}\u{c}"),
            format!("{{{ok},}}"),
            format!("{{,{ok}}}"),
            format!("{{{ok},\"id\":null}}"),
            format!("{{{ok},\"i\\u0064\":\"d84b1b1b73797baf\"}}"),
            format!("{{{ok},\"\\ud800\":1}}"),
            format!("{{{ok},\"x\":\"\\ud800\"}}"),
            format!("{{{ok},\"x\":{{\"\\ud800\":1}}}}"),
            format!("{{{ok},\"type\":\"sub\\u0073egment\",\"parent_id\":\"d84b1b1b73797baf\"}}"),
            format!("{{{ok},\"type\":\"\\ud83d\\ude00\"}}"),
            format!("{{{ok},\"type\":\"\\ud83d\"}}"),
            format!("{{{ok},\"start_time\":1e400}}"),
            format!("{{\"start_time\":1e400,{ok}}}"),
            format!("{{\"start_time\":1.7976931348623157e308,{ok}}}").replacen(",\"start_time\":1", "", 1),
            format!("{{\"name\":1e400,{ok}}}"),
            format!("{{\"name\":1e300,{ok}}}"),
            format!("{{\"name\":[oops,{ok}}}"),
            format!("{{\"name\":{{oops,{ok}}}"),
            format!("{{\"in_progress\":\"`type` and `id`\",{ok}}}"),
            format!("{{\"end_time\":\"`start_time`\",{ok}}}"),
            format!("{{\"end_time\":\"\\u0060name\\u0060\",{ok}}}"),
            format!("{{\"id\":\"a\",\"id\""),
            format!("{{{ok},\"type\""),
            format!("{{{ok}"),
            format!("{{{ok}}}x"),
            format!("{{{ok}}}{{}}"),
            deep(10),
            deep(127),
            deep(128),
            deep(5000),
            "[\"d84b1b1b73797baf\",\"1-6b05ed3f-8efcea56dcfa1ddf54269231\",null,\"n\",1,2]".into(),
            "[\"d84b1b1b73797baf\",\"1-6b05ed3f-8efcea56dcfa1ddf54269231\",null,\"n\",1,2,null,null]".into(),
            "[\"d84b1b1b73797baf\",\"1-6b05ed3f-8efcea56dcfa1ddf54269231\",null,\"n\",1,2,null,null,null]".into(),
            "[\"d84b1b1b73797baf\",5]".into(),
            "[]".into(),
            "[,]".into(),
            "[1,]".into(),
            "\"text\"".into(),
            "5".into(),
            "".into(),
            " ".into(),
            "{}".into(),
            "{\"id\":5}".into(),
            "{\"id\":tru}".into(),
            "{\"id\":-}".into(),
            "{\"id\":01}".into(),
            "{\"id\":5x}".into(),
            "{\"start_time\":5x}".into(),
            "{\"x\":01}".into(),
            "{\"x\":\"\\u12\"}".into(),
            "{\"x\":\"a\u{1}b\"}".into(),
            "{\"x\":\"a\u{7f}b\"}".into(),
        ];
        cases.push(format!("{{{ok},\"x\":{}}}", "9".repeat(400)));
        cases.push(format!("{{\"name\":{},{ok}}}", "9".repeat(400)));
        cases.push(format!("{{\"name\":{},{ok}}}", "9".repeat(300)));
        for case in &cases {
            let want = outcome(oracle::check_body(case.as_bytes()));
            let got = outcome(check_body(case.as_bytes()));
            assert_eq!(got, want, "{case:?}");
        }
        let accepted = cases
            .iter()
            .filter(|c| check_body(c.as_bytes()).is_ok())
            .count();
        assert!(accepted >= 10, "{accepted} accepted");
    }

    #[test]
    fn trace_id_shape() {
        assert!(is_trace_id("1-6b05ed3f-8efcea56dcfa1ddf54269231"));
        assert!(!is_trace_id("1-6b05ed3f-8efcea56dcfa1ddf5426923"));
        assert!(!is_trace_id("1-6b05ed3g-8efcea56dcfa1ddf54269231"));
        assert!(!is_trace_id("1x6b05ed3f-8efcea56dcfa1ddf54269231"));
    }
}
