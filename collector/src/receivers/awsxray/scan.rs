//! One pass over a segment document: checks that it is JSON and reads the top-level fields the
//! receiver needs, without building a tree and without allocating (except to unescape a field
//! value or key that holds an escape, and for nesting deeper than 64 levels).
//!
//! The rules are those of the `serde_json` probe this scanner replaced (a `Deserialize` struct
//! with eight optional fields, read with `serde_json::from_slice`), so the same documents are
//! accepted and the same ones refused for the same reason; a differential test in `datagram.rs`
//! holds the two side by side:
//! * whitespace is space, tab, line feed and carriage return; nothing but whitespace may follow
//!   the document; nesting inside skipped values has no depth limit;
//! * strings may not hold control characters; escapes are `\" \\ \/ \b \f \n \r \t \uXXXX`; in the
//!   top-level keys and in the values of the fields read, a `\u` surrogate must be a leading one
//!   followed by a `\u` trailing one (in skipped strings any four hex digits pass);
//! * numbers are JSON numbers; one that overflows an `f64` is refused where the probe read it
//!   (the fields read, or a number given to a text or boolean field);
//! * a top-level key that unescapes to a field name is that field; a field given twice, or given
//!   a value of the wrong kind, is a field error ([`ScanError::Field`]) labelled the way the
//!   probe's error message was read: the field's name for a repeat, otherwise `document`, or the
//!   first field name in backquotes inside a text given to a number or boolean field;
//! * the document is a JSON object: anything else, including the array form `serde` would
//!   accept for a struct, is a syntax error (X-Ray takes only objects).

use std::borrow::Cow;

/// The top-level fields of a segment document that the receiver checks.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Fields<'a> {
    pub id: Option<Cow<'a, str>>,
    pub trace_id: Option<Cow<'a, str>>,
    pub parent_id: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
    /// A number (not `null`) was given.
    pub start_time: bool,
    /// A number (not `null`) was given.
    pub end_time: bool,
    pub in_progress: Option<bool>,
    /// The `type` field.
    pub kind: Option<Cow<'a, str>>,
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ScanError {
    /// Not JSON, or not an object: what was wrong, at which byte.
    Syntax { what: &'static str, at: usize },
    /// A field read twice or with a value of the wrong kind; the label of the refusal.
    Field(&'static str),
}

/// The top-level fields the receiver reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    TraceId,
    ParentId,
    Name,
    StartTime,
    EndTime,
    InProgress,
    Type,
}

impl Field {
    fn from_key(key: &[u8]) -> Option<Field> {
        Some(match key {
            b"id" => Field::Id,
            b"trace_id" => Field::TraceId,
            b"parent_id" => Field::ParentId,
            b"name" => Field::Name,
            b"start_time" => Field::StartTime,
            b"end_time" => Field::EndTime,
            b"in_progress" => Field::InProgress,
            b"type" => Field::Type,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::TraceId => "trace_id",
            Field::ParentId => "parent_id",
            Field::Name => "name",
            Field::StartTime => "start_time",
            Field::EndTime => "end_time",
            Field::InProgress => "in_progress",
            Field::Type => "type",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Scans `text`, the whole document.
pub(super) fn scan(text: &str) -> Result<Fields<'_>, ScanError> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    let fields = match s.peek_ws() {
        Some(b'{') => {
            s.i += 1;
            s.object()?
        }
        Some(_) => return s.syntax("expected a JSON object"),
        None => return s.syntax("EOF while parsing a value"),
    };
    match s.peek_ws() {
        None => Ok(fields),
        Some(_) => s.syntax("trailing characters"),
    }
}

/// `(line, column)` of byte `at`, both from 1, for error messages.
pub(super) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |n| n + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    (line, before.len() - line_start + 1)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// A high bit in each byte of `w` that may be `"`, `\` or a control character. Borrows can flag
/// bytes above a flagged one, but the lowest flag is always exact, and only the lowest is used.
fn string_stop(w: u64) -> u64 {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    control | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\')))
}

/// The kind of value a field reads, for the value checks shared by both forms.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Number,
    Boolean,
}

fn kind_of(field: Field) -> Kind {
    match field {
        Field::StartTime | Field::EndTime => Kind::Number,
        Field::InProgress => Kind::Boolean,
        _ => Kind::Text,
    }
}

/// One field's value as read.
enum Value<'a> {
    Null,
    Text(Cow<'a, str>),
    Number,
    Boolean(bool),
}

/// Nesting of the containers being skipped (`true` for an object), 64 levels in a word, deeper
/// ones in a vector that stays empty (and unallocated) for common documents.
struct Nesting {
    bits: u64,
    spill: Vec<u64>,
    depth: usize,
}

impl Nesting {
    fn new() -> Nesting {
        Nesting {
            bits: 0,
            spill: Vec::new(),
            depth: 0,
        }
    }

    fn push(&mut self, object: bool) {
        if self.depth > 0 && self.depth % 64 == 0 {
            self.spill.push(self.bits);
            self.bits = 0;
        }
        self.bits = (self.bits << 1) | u64::from(object);
        self.depth += 1;
    }

    fn pop(&mut self) {
        self.bits >>= 1;
        self.depth -= 1;
        if self.depth > 0 && self.depth % 64 == 0 {
            self.bits = self.spill.pop().unwrap_or(0);
        }
    }

    /// Whether the innermost open container is an object; `None` when none is open.
    fn top(&self) -> Option<bool> {
        (self.depth > 0).then_some(self.bits & 1 == 1)
    }
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn syntax<T>(&self, what: &'static str) -> Result<T, ScanError> {
        Err(ScanError::Syntax { what, at: self.i })
    }

    /// Skips whitespace; the next byte, not consumed.
    #[inline(always)]
    fn peek_ws(&mut self) -> Option<u8> {
        match self.b.get(self.i) {
            Some(&c) if c > b' ' => Some(c),
            _ => self.peek_ws_slow(),
        }
    }

    #[inline(never)]
    fn peek_ws_slow(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b' ' | b'\n' | b'\t' | b'\r' => self.i += 1,
                _ => return Some(c),
            }
        }
        None
    }

    /// The object form; the opening `{` is consumed.
    fn object(&mut self) -> Result<Fields<'a>, ScanError> {
        let mut fields = Fields::default();
        let mut seen = 0u8;
        let mut first = true;
        loop {
            match self.peek_ws() {
                Some(b'}') => {
                    self.i += 1;
                    return Ok(fields);
                }
                Some(b'"') if first => first = false,
                Some(_) if first => return self.syntax("key must be a string"),
                Some(b',') => {
                    self.i += 1;
                    match self.peek_ws() {
                        Some(b'"') => {}
                        Some(b'}') => return self.syntax("trailing comma"),
                        Some(_) => return self.syntax("key must be a string"),
                        None => return self.syntax("EOF while parsing a value"),
                    }
                }
                Some(_) => return self.syntax("expected `,` or `}`"),
                None => return self.syntax("EOF while parsing an object"),
            }
            self.i += 1;
            let start = self.i;
            let escaped = !self.plain_string() && self.string(true)?;
            let key = &self.b[start..self.i - 1];
            let field = if escaped {
                Field::from_key(unescape(&self.text[start..self.i - 1]).as_bytes())
            } else {
                Field::from_key(key)
            };
            if let Some(field) = field {
                if seen & field.bit() != 0 {
                    return Err(ScanError::Field(field.name()));
                }
                seen |= field.bit();
            }
            match self.peek_ws() {
                Some(b':') => self.i += 1,
                Some(_) => return self.syntax("expected `:`"),
                None => return self.syntax("EOF while parsing an object"),
            }
            match field {
                None => self.skip_value()?,
                Some(field) => {
                    let value = self.value(kind_of(field))?;
                    store(&mut fields, field, value);
                }
            }
        }
    }

    /// The value of a field that is read: `null`, or a value of `kind`; any other value is a
    /// field error.
    fn value(&mut self, kind: Kind) -> Result<Value<'a>, ScanError> {
        let c = match self.peek_ws() {
            Some(c) => c,
            None => return self.syntax("EOF while parsing a value"),
        };
        match (c, kind) {
            (b'n', _) => {
                self.literal(b"null")?;
                Ok(Value::Null)
            }
            (b'"', Kind::Text) => {
                self.i += 1;
                let start = self.i;
                let escaped = !self.plain_string() && self.string(true)?;
                let raw = &self.text[start..self.i - 1];
                Ok(Value::Text(if escaped {
                    Cow::Owned(unescape(raw))
                } else {
                    Cow::Borrowed(raw)
                }))
            }
            (b'-' | b'0'..=b'9', Kind::Number) => {
                self.number(true)?;
                Ok(Value::Number)
            }
            (b't', Kind::Boolean) => {
                self.literal(b"true")?;
                Ok(Value::Boolean(true))
            }
            (b'f', Kind::Boolean) => {
                self.literal(b"false")?;
                Ok(Value::Boolean(false))
            }
            _ => Err(self.wrong_kind(c)),
        }
    }

    /// A value of the wrong kind starting with `c` (not consumed): read as far as the probe read
    /// it (a scalar whole, a container not at all), then the error.
    fn wrong_kind(&mut self, c: u8) -> ScanError {
        let at = self.i;
        let read = match c {
            b'n' => self.literal(b"null").map(|()| "document"),
            b't' => self.literal(b"true").map(|()| "document"),
            b'f' => self.literal(b"false").map(|()| "document"),
            b'-' | b'0'..=b'9' => self.number(true).map(|()| "document"),
            b'"' => {
                self.i += 1;
                let start = self.i;
                self.string(true).map(|escaped| {
                    let raw = &self.text[start..self.i - 1];
                    if escaped {
                        label_in(&unescape(raw))
                    } else {
                        label_in(raw)
                    }
                })
            }
            b'[' | b'{' => Ok("document"),
            _ => {
                return ScanError::Syntax {
                    what: "expected a value",
                    at,
                };
            }
        };
        match read {
            Err(e) => e,
            Ok(label) => ScanError::Field(label),
        }
    }

    /// `word` (`null`, `true` or `false`) at the current position.
    fn literal(&mut self, word: &[u8]) -> Result<(), ScanError> {
        for &want in word {
            match self.b.get(self.i) {
                Some(&c) if c == want => self.i += 1,
                Some(_) => return self.syntax("expected ident"),
                None => return self.syntax("EOF while parsing a value"),
            }
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// A JSON number at the current position (a `-` or a digit). `read`: the number is read as
    /// an `f64`, so one out of range is refused.
    fn number(&mut self, read: bool) -> Result<(), ScanError> {
        let start = self.i;
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.b.get(self.i) {
                    return self.syntax("invalid number");
                }
            }
            Some(b'1'..=b'9') => {
                self.i += 1;
                self.digits();
            }
            Some(_) => return self.syntax("invalid number"),
            None => return self.syntax("EOF while parsing a value"),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            match self.b.get(self.i) {
                Some(b'0'..=b'9') => self.digits(),
                Some(_) => return self.syntax("invalid number"),
                None => return self.syntax("EOF while parsing a value"),
            }
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            exponent = true;
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            match self.b.get(self.i) {
                Some(b'0'..=b'9') => self.digits(),
                Some(_) => return self.syntax("invalid number"),
                None => return self.syntax("EOF while parsing a value"),
            }
        }
        // Without an exponent and within 300 characters a number is below 10^300: finite.
        // Otherwise `serde_json`'s own float parser says whether it overflows, as it did for
        // the probe (the documents the SDKs send never get here).
        if read
            && (exponent || self.i - start > 300)
            && serde_json::from_slice::<f64>(&self.b[start..self.i]).is_err()
        {
            self.i = start;
            return self.syntax("number out of range");
        }
        Ok(())
    }

    /// The rest of a string whose opening quote is consumed, through its closing quote, when it
    /// holds no escape and no control character (the common case, inlined); `false` otherwise,
    /// with the position unchanged, for [`Scanner::string`] to read it.
    #[inline(always)]
    fn plain_string(&mut self) -> bool {
        let mut i = self.i;
        loop {
            match self.b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
                Some(chunk) => {
                    let stop = string_stop(u64::from_le_bytes(*chunk));
                    if stop == 0 {
                        i += 8;
                        continue;
                    }
                    i += (stop.trailing_zeros() / 8) as usize;
                }
                None => {
                    while let Some(&c) = self.b.get(i) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        i += 1;
                    }
                }
            }
            break;
        }
        if self.b.get(i) == Some(&b'"') {
            self.i = i + 1;
            true
        } else {
            false
        }
    }

    /// Moves to the next `"`, `\` or control character inside a string (or to the end).
    #[inline]
    fn skip_plain(&mut self) {
        while let Some(chunk) = self.b.get(self.i..).and_then(<[u8]>::first_chunk::<8>) {
            let stop = string_stop(u64::from_le_bytes(*chunk));
            if stop != 0 {
                self.i += (stop.trailing_zeros() / 8) as usize;
                return;
            }
            self.i += 8;
        }
        while let Some(&c) = self.b.get(self.i) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                return;
            }
            self.i += 1;
        }
    }

    /// The rest of a string whose opening quote is consumed, through its closing quote; whether
    /// it held an escape. `checked`: a `\u` surrogate must be a leading one followed by a `\u`
    /// trailing one.
    fn string(&mut self, checked: bool) -> Result<bool, ScanError> {
        let mut escaped = false;
        loop {
            self.skip_plain();
            match self.b.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    self.i += 1;
                    escaped = true;
                    self.escape(checked)?;
                }
                Some(_) => return self.syntax("control character while parsing a string"),
                None => return self.syntax("EOF while parsing a string"),
            }
        }
    }

    /// One escape after its `\`.
    fn escape(&mut self, checked: bool) -> Result<(), ScanError> {
        let c = match self.b.get(self.i) {
            Some(&c) => c,
            None => return self.syntax("EOF while parsing a string"),
        };
        self.i += 1;
        match c {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => {
                let n = self.hex4()?;
                if !checked || !(0xD800..=0xDFFF).contains(&n) {
                    return Ok(());
                }
                if n >= 0xDC00 {
                    return self.syntax("lone trailing surrogate in hex escape");
                }
                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                    return self.syntax("unexpected end of hex escape");
                }
                self.i += 2;
                if (0xDC00..=0xDFFF).contains(&self.hex4()?) {
                    Ok(())
                } else {
                    self.syntax("lone leading surrogate in hex escape")
                }
            }
            _ => self.syntax("invalid escape"),
        }
    }

    /// Four hex digits after `\u`.
    fn hex4(&mut self) -> Result<u16, ScanError> {
        let digits = match self.b.get(self.i..self.i + 4) {
            Some(d) => d,
            None => {
                self.i = self.b.len();
                return self.syntax("EOF while parsing a string");
            }
        };
        self.i += 4;
        let mut n = 0u16;
        for &d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return self.syntax("invalid escape"),
            };
            n = (n << 4) | u16::from(v);
        }
        Ok(n)
    }

    /// Skips one value of any kind (a field the receiver does not read).
    fn skip_value(&mut self) -> Result<(), ScanError> {
        let mut nesting = Nesting::new();
        loop {
            // A value.
            match self.peek_ws() {
                Some(b'"') => {
                    self.i += 1;
                    if !self.plain_string() {
                        self.string(false)?;
                    }
                }
                Some(b'-' | b'0'..=b'9') => self.number(false)?,
                Some(b'n') => self.literal(b"null")?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'[') => {
                    self.i += 1;
                    if self.peek_ws() == Some(b']') {
                        self.i += 1;
                    } else {
                        nesting.push(false);
                        continue;
                    }
                }
                Some(b'{') => {
                    self.i += 1;
                    if self.peek_ws() == Some(b'}') {
                        self.i += 1;
                    } else {
                        self.key()?;
                        nesting.push(true);
                        continue;
                    }
                }
                Some(_) => return self.syntax("expected a value"),
                None => return self.syntax("EOF while parsing a value"),
            }
            // After a value: close containers until a comma (then the next value) or the end.
            loop {
                let Some(object) = nesting.top() else {
                    return Ok(());
                };
                match self.peek_ws() {
                    Some(b',') => {
                        self.i += 1;
                        if object {
                            self.key()?;
                        }
                        break;
                    }
                    Some(b']') if !object => {
                        self.i += 1;
                        nesting.pop();
                    }
                    Some(b'}') if object => {
                        self.i += 1;
                        nesting.pop();
                    }
                    Some(_) if object => return self.syntax("expected `,` or `}`"),
                    Some(_) => return self.syntax("expected `,` or `]`"),
                    None if object => return self.syntax("EOF while parsing an object"),
                    None => return self.syntax("EOF while parsing a list"),
                }
            }
        }
    }

    /// A key of a skipped object and its colon.
    #[inline(always)]
    fn key(&mut self) -> Result<(), ScanError> {
        match self.peek_ws() {
            Some(b'"') => self.i += 1,
            Some(_) => return self.syntax("key must be a string"),
            None => return self.syntax("EOF while parsing an object"),
        }
        if !self.plain_string() {
            self.string(false)?;
        }
        match self.peek_ws() {
            Some(b':') => {
                self.i += 1;
                Ok(())
            }
            Some(_) => self.syntax("expected `:`"),
            None => self.syntax("EOF while parsing an object"),
        }
    }
}

fn store<'a>(fields: &mut Fields<'a>, field: Field, value: Value<'a>) {
    match (field, value) {
        (_, Value::Null) => {}
        (Field::Id, Value::Text(s)) => fields.id = Some(s),
        (Field::TraceId, Value::Text(s)) => fields.trace_id = Some(s),
        (Field::ParentId, Value::Text(s)) => fields.parent_id = Some(s),
        (Field::Name, Value::Text(s)) => fields.name = Some(s),
        (Field::Type, Value::Text(s)) => fields.kind = Some(s),
        (Field::StartTime, Value::Number) => fields.start_time = true,
        (Field::EndTime, Value::Number) => fields.end_time = true,
        (Field::InProgress, Value::Boolean(b)) => fields.in_progress = Some(b),
        // `value` only returns the kind of its field.
        _ => {}
    }
}

/// The label of a text given to a number or boolean field: the first field name (in the order
/// the probe's error message was searched) that the text holds in backquotes, else `document`.
fn label_in(text: &str) -> &'static str {
    const ORDER: [&str; 8] = [
        "trace_id",
        "parent_id",
        "id",
        "name",
        "start_time",
        "end_time",
        "in_progress",
        "type",
    ];
    if !text.contains('`') {
        return "document";
    }
    ORDER
        .into_iter()
        .find(|name| text.contains(&format!("`{name}`")))
        .unwrap_or("document")
}

/// The text of a checked string (between its quotes) with its escapes replaced.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let b = rest.as_bytes();
        let (c, used) = match b.get(at + 1) {
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let hex = |from: usize| {
                    rest.get(from..from + 4)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .unwrap_or(0xFFFD)
                };
                let n = hex(at + 2);
                if (0xD800..0xDC00).contains(&n) {
                    let low = hex(at + 8);
                    let c = 0x10000 + ((n - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
                    (char::from_u32(c).unwrap_or('\u{FFFD}'), 12)
                } else {
                    (char::from_u32(n).unwrap_or('\u{FFFD}'), 6)
                }
            }
            Some(&other) => (char::from(other), 2),
            None => break,
        };
        out.push(c);
        rest = rest.get(at + used..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_every_escape() {
        assert_eq!(
            unescape(r#"a\"b\\c\/d\be\ff\ng\rh\ti\u0041\u00e9\ud83d\ude00"#),
            "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti\u{41}é😀"
        );
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn nesting_keeps_kinds_past_one_word() {
        let mut n = Nesting::new();
        let kinds: Vec<bool> = (0..300).map(|i| i % 3 == 0).collect();
        for &k in &kinds {
            n.push(k);
            assert_eq!(n.top(), Some(k));
        }
        for &k in kinds.iter().rev() {
            assert_eq!(n.top(), Some(k));
            n.pop();
        }
        assert_eq!(n.top(), None);
    }

    #[test]
    fn reads_the_fields_and_skips_the_rest() {
        let doc = r#" {"x":{"a":[1,-2.5e3,true,false,null,"s\"",{}],"b":{}},"id":"ab","trace_id":null,
            "name":"n\u00e9","start_time":1.5,"end_time":null,"in_progress":false,"type":"t"} "#;
        let f = scan(doc).unwrap();
        assert_eq!(f.id.as_deref(), Some("ab"));
        assert_eq!(f.trace_id, None);
        assert_eq!(f.name.as_deref(), Some("né"));
        assert!(f.start_time && !f.end_time);
        assert_eq!(f.in_progress, Some(false));
        assert_eq!(f.kind.as_deref(), Some("t"));
    }

    #[test]
    fn errors_point_at_the_byte() {
        assert_eq!(
            scan("{\"a\":1,\n \"b\" 2}"),
            Err(ScanError::Syntax {
                what: "expected `:`",
                at: 13
            })
        );
        assert_eq!(line_column("{\"a\":1,\n \"b\" 2}", 13), (2, 6));
        assert_eq!(scan(r#"{"id":"a","id":"b"}"#), Err(ScanError::Field("id")));
        assert_eq!(
            scan(r#"{"start_time":"see `name` and `id`"}"#),
            Err(ScanError::Field("id"))
        );
        assert_eq!(scan(r#"{"name":5}"#), Err(ScanError::Field("document")));
    }
}
