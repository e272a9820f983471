//! A hand-written parser for the common case of [`Json::parse`]: valid UTF-8 that is valid JSON
//! within the nesting limit. It builds the same tree as the `serde_json` path (which stays the
//! reference, and the differential test in `json.rs` compares the two), but without the visitor
//! machinery: strings without escapes are borrowed after one scan, and each object's members and
//! each array's items are gathered on scratch stacks shared by the whole document and moved
//! into one vector of exact size, instead of growing a vector per node.
//!
//! Whenever the text is not what this parser handles exactly as `serde_json` does (a syntax
//! error, a lone surrogate escape, a number out of range, nesting near the limit), it gives up
//! with `None` and the caller parses the document with `serde_json`, which then also produces
//! the error message. Giving up is always safe; a tree it returns must equal `serde_json`'s.

use std::borrow::Cow;

use serde_json::Number;

use super::json::{Json, Object};

/// Nesting depth at which this parser gives up, safely below `serde_json`'s limit of 128.
const MAX_DEPTH: usize = 100;

/// Parses the whole of `text`, or gives up.
pub(super) fn parse(text: &str) -> Option<Json<'_>> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        members: Vec::with_capacity(32),
        items: Vec::with_capacity(16),
    };
    parser.skip_whitespace();
    let value = parser.value(0)?;
    parser.skip_whitespace();
    (parser.pos == parser.bytes.len()).then_some(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Members of the objects being parsed, innermost last.
    members: Vec<(Cow<'a, str>, Json<'a>)>,
    /// Items of the arrays being parsed, innermost last.
    items: Vec<Json<'a>>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `literal` if the text continues with it.
    fn eat(&mut self, literal: &[u8]) -> Option<()> {
        if self.bytes[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            Some(())
        } else {
            None
        }
    }

    /// A value starting at the current position (no whitespace before it).
    fn value(&mut self, depth: usize) -> Option<Json<'a>> {
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(Json::String),
            b't' => self.eat(b"true").map(|()| Json::Bool(true)),
            b'f' => self.eat(b"false").map(|()| Json::Bool(false)),
            b'n' => self.eat(b"null").map(|()| Json::Null),
            b'-' | b'0'..=b'9' => self.number().map(Json::Number),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Json<'a>> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let start = self.members.len();
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(Json::Object(Object::new(Vec::new())));
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_whitespace();
            self.eat(b":")?;
            self.skip_whitespace();
            let value = self.value(depth)?;
            self.members.push((key, value));
            self.skip_whitespace();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                b'}' => {
                    self.pos += 1;
                    let members: Vec<_> = self.members.drain(start..).collect();
                    return Some(Json::Object(Object::new(members)));
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Json<'a>> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let start = self.items.len();
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(Json::Array(Vec::new()));
        }
        loop {
            let value = self.value(depth)?;
            self.items.push(value);
            self.skip_whitespace();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                b']' => {
                    self.pos += 1;
                    let items: Vec<_> = self.items.drain(start..).collect();
                    return Some(Json::Array(items));
                }
                _ => return None,
            }
        }
    }

    /// A string starting at its opening quote: borrowed when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.pos += 1;
        let start = self.pos;
        self.skip_plain();
        loop {
            match *self.bytes.get(self.pos)? {
                b'"' => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Some(Cow::Borrowed(s));
                }
                b'\\' => break,
                0..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
        let mut owned = String::with_capacity(self.pos - start + 16);
        owned.push_str(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            self.skip_plain();
            loop {
                match *self.bytes.get(self.pos)? {
                    b'"' | b'\\' => break,
                    0..=0x1f => return None,
                    _ => self.pos += 1,
                }
            }
            owned.push_str(&self.text[run..self.pos]);
            if self.bytes[self.pos] == b'"' {
                self.pos += 1;
                return Some(Cow::Owned(owned));
            }
            self.pos += 1;
            let escaped = *self.bytes.get(self.pos)?;
            self.pos += 1;
            owned.push(match escaped {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return None,
            });
        }
    }

    /// Skips eight bytes at a time while none of them ends a plain run of string text (a quote,
    /// a backslash or a control character); the byte loops take over from where it stops.
    fn skip_plain(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // Whether some byte of `v` is below `n` (may also flag a byte after one that is, which
        // only makes the byte loop look at it).
        let has_below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH != 0;
        while let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let v = u64::from_le_bytes(word);
            if has_below(v ^ (ONES * u64::from(b'"')), 1)
                || has_below(v ^ (ONES * u64::from(b'\\')), 1)
                || has_below(v, 0x20)
            {
                return;
            }
            self.pos += 8;
        }
    }

    /// The character of a `\u` escape whose `\u` is consumed; a surrogate must be followed by
    /// its pair (`serde_json` rejects lone surrogates).
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        match first {
            0xd800..=0xdbff => {
                self.eat(b"\\u")?;
                let second = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return None;
                }
                let code =
                    0x10000 + ((u32::from(first) - 0xd800) << 10) + (u32::from(second) - 0xdc00);
                char::from_u32(code)
            }
            0xdc00..=0xdfff => None,
            _ => char::from_u32(u32::from(first)),
        }
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let mut value = 0u16;
        for &b in digits {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return None,
            };
            value = (value << 4) | u16::from(digit);
        }
        self.pos += 4;
        Some(value)
    }

    /// A number with JSON's grammar. Integers become `u64` (non-negative) or `i64` (negative)
    /// numbers, as `serde_json` makes them; other numbers and integers out of range are parsed
    /// as `f64`, correctly rounded as `serde_json`'s `float_roundtrip` parse is.
    fn number(&mut self) -> Option<Number> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let int_end = self.pos;
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
            integral = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
            integral = false;
        }
        let text = &self.text[start..self.pos];
        if integral {
            let magnitude = &self.text[start + usize::from(negative)..int_end];
            if let Ok(n) = magnitude.parse::<u64>() {
                if !negative {
                    return Some(n.into());
                }
                // `-0` is a float in `serde_json`; other negatives are `i64` when they fit.
                if n != 0 {
                    if let Some(i) = 0i64.checked_sub_unsigned(n) {
                        return Some(i.into());
                    }
                }
            }
        }
        let f: f64 = text.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        Number::from_f64(f)
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}
