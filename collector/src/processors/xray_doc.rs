//! The top level of an X-Ray segment document, read and edited without parsing the tree.
//!
//! [`TopLevel::scan`] finds each top-level member's key and the byte range of its value by a
//! single pass that only tracks strings and bracket depth: nested values are skipped, not parsed.
//! A member's value is parsed only when a processor asks for it ([`TopLevel::parse`], borrowed
//! where possible). [`TopLevel::splice`] writes a new document that is the old one byte for byte
//! except for the members replaced or appended, so everything a processor does not touch (the
//! subsegments, the SDK's own fields, number formatting) stays exactly as the SDK wrote it.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use serde::Deserialize;

/// Why a document's top level could not be read (the receiver checked it is a JSON object, so
/// this means a document from elsewhere, which is then left unchanged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a JSON object at byte {0}")]
pub struct ScanError(pub usize);

/// One top-level member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// The key, unescaped.
    pub key: Cow<'a, str>,
    /// Where its value's bytes are.
    pub value: Range<usize>,
}

/// The top-level members of one document.
#[derive(Debug)]
pub struct TopLevel<'a> {
    body: &'a [u8],
    members: Vec<Member<'a>>,
    /// Where the closing `}` is.
    close: usize,
}

impl<'a> TopLevel<'a> {
    /// Scans `body`'s top level.
    pub fn scan(body: &'a [u8]) -> Result<TopLevel<'a>, ScanError> {
        let mut s = Scanner { b: body, i: 0 };
        s.ws();
        s.expect(b'{')?;
        let mut members = Vec::new();
        s.ws();
        if s.peek() == Some(b'}') {
            return Ok(TopLevel {
                body,
                members,
                close: s.i,
            });
        }
        loop {
            s.ws();
            let key_range = s.string()?;
            let raw = &body[key_range.clone()];
            let key = if raw.contains(&b'\\') {
                // Escapes: let serde_json decode the quoted key.
                let quoted = &body[key_range.start - 1..key_range.end + 1];
                Cow::Owned(serde_json::from_slice::<String>(quoted).map_err(|_| s.err())?)
            } else {
                Cow::Borrowed(std::str::from_utf8(raw).map_err(|_| s.err())?)
            };
            s.ws();
            s.expect(b':')?;
            s.ws();
            let start = s.i;
            s.value()?;
            members.push(Member {
                key,
                value: start..s.i,
            });
            s.ws();
            match s.next() {
                Some(b',') => continue,
                Some(b'}') => {
                    return Ok(TopLevel {
                        body,
                        members,
                        close: s.i - 1,
                    });
                }
                _ => return Err(s.err()),
            }
        }
    }

    /// The members, in document order.
    pub fn members(&self) -> &[Member<'a>] {
        &self.members
    }

    /// Where the closing `}` is.
    pub fn close(&self) -> usize {
        self.close
    }

    /// The raw bytes of member `key`'s value (the last one if the key repeats, as JSON parsers
    /// read it).
    pub fn raw(&self, key: &str) -> Option<&'a [u8]> {
        self.members
            .iter()
            .rev()
            .find(|m| m.key == key)
            .map(|m| &self.body[m.value.clone()])
    }

    /// Member `key`'s value parsed as `T` (borrowing from the document where `T` does); `None`
    /// when absent or of another type.
    pub fn parse<T: Deserialize<'a>>(&self, key: &str) -> Option<T> {
        serde_json::from_slice(self.raw(key)?).ok()
    }

    /// A new document: `edits` replace the value of existing members (every occurrence) or are
    /// appended as new members before the closing brace; every other byte is kept.
    pub fn splice(&self, edits: &[(&str, Vec<u8>)]) -> Bytes {
        let extra: usize = edits.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        let mut out = Vec::with_capacity(self.body.len() + extra);
        let mut at = 0;
        let mut appended: Vec<bool> = vec![true; edits.len()];
        for m in &self.members {
            if let Some(i) = edits.iter().position(|(k, _)| *k == m.key) {
                out.extend_from_slice(&self.body[at..m.value.start]);
                out.extend_from_slice(&edits[i].1);
                at = m.value.end;
                appended[i] = false;
            }
        }
        out.extend_from_slice(&self.body[at..self.close]);
        let mut empty = self.members.is_empty();
        for ((key, value), append) in edits.iter().zip(appended) {
            if !append {
                continue;
            }
            if !empty {
                out.push(b',');
            }
            empty = false;
            out.extend_from_slice(
                serde_json::to_string(key)
                    .unwrap_or_else(|_| "\"\"".to_owned())
                    .as_bytes(),
            );
            out.push(b':');
            out.extend_from_slice(value);
        }
        out.extend_from_slice(&self.body[self.close..]);
        Bytes::from(out)
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn err(&self) -> ScanError {
        ScanError(self.i)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), ScanError> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(self.err())
        }
    }

    /// A string starting at the cursor; returns the range between the quotes.
    fn string(&mut self) -> Result<Range<usize>, ScanError> {
        self.expect(b'"')?;
        let start = self.i;
        loop {
            let Some(n) = self.b[self.i..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\')
            else {
                self.i = self.b.len();
                return Err(self.err());
            };
            self.i += n + 1;
            if self.b[self.i - 1] == b'"' {
                return Ok(start..self.i - 1);
            }
            // An escape: skip the escaped byte.
            self.next().ok_or_else(|| self.err())?;
        }
    }

    /// Skips one value: strings and brackets are tracked, scalars run to a delimiter.
    fn value(&mut self) -> Result<(), ScanError> {
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    // Only quotes and brackets matter inside a nested value.
                    let Some(n) = self.b[self.i..]
                        .iter()
                        .position(|&c| matches!(c, b'"' | b'{' | b'[' | b'}' | b']'))
                    else {
                        self.i = self.b.len();
                        return Err(self.err());
                    };
                    self.i += n;
                    match self.b[self.i] {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        _ => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Ok(());
                            }
                        }
                    }
                    self.i += 1;
                }
            }
            Some(_) => {
                let start = self.i;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.i += 1;
                }
                if self.i == start {
                    Err(self.err())
                } else {
                    Ok(())
                }
            }
            None => Err(self.err()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_members_and_skips_nested_values() {
        let doc = br#" { "name" : "a\"b", "n": -1.5e3, "sub":[{"x":"}"}], "o":{"k":[1,{"z":null}]}, "t":true } "#;
        let top = TopLevel::scan(doc).unwrap();
        let keys: Vec<&str> = top.members().iter().map(|m| m.key.as_ref()).collect();
        assert_eq!(keys, ["name", "n", "sub", "o", "t"]);
        assert_eq!(top.raw("n").unwrap(), b"-1.5e3");
        assert_eq!(top.raw("sub").unwrap(), br#"[{"x":"}"}]"#);
        assert_eq!(top.parse::<String>("name").unwrap(), "a\"b");
        assert_eq!(top.parse::<bool>("t"), Some(true));
        assert_eq!(top.parse::<bool>("n"), None);
    }

    #[test]
    fn escaped_keys_are_unescaped() {
        let top = TopLevel::scan(br#"{"a\u0062":1}"#).unwrap();
        assert_eq!(top.members()[0].key, "ab");
    }

    #[test]
    fn splice_replaces_and_appends_keeping_other_bytes() {
        let doc = br#"{"name":"x",  "annotations" : {"a":1},"sub":[ 1 ,2 ]}"#;
        let top = TopLevel::scan(doc).unwrap();
        let out = top.splice(&[
            ("annotations", br#"{"a":2}"#.to_vec()),
            ("origin", br#""AWS::EKS::Container""#.to_vec()),
        ]);
        assert_eq!(
            &out[..],
            br#"{"name":"x",  "annotations" : {"a":2},"sub":[ 1 ,2 ],"origin":"AWS::EKS::Container"}"#
        );
        let empty = TopLevel::scan(b"{ }")
            .unwrap()
            .splice(&[("k", b"1".to_vec())]);
        assert_eq!(&empty[..], br#"{ "k":1}"#);
        let same = TopLevel::scan(doc).unwrap().splice(&[]);
        assert_eq!(&same[..], &doc[..]);
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            &b"[1]"[..],
            b"{\"a\":",
            b"{\"a\" 1}",
            b"{\"a\":[1}",
            b"{\"a\":\"x}",
        ] {
            assert!(
                TopLevel::scan(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-z\"\\\\{}\\[\\],:\u{e9}\n ]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                prop::collection::btree_map("[a-z\"\\\\}]{0,4}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Every member the scan finds is the member serde_json reads, compact or pretty.
        #[test]
        fn scan_finds_the_members_serde_json_reads(
            members in proptest::collection::btree_map("[a-z\"\\\\{]{0,5}", json(), 0..6),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let object = serde_json::Value::Object(members.clone().into_iter().collect());
            let text = if pretty {
                serde_json::to_vec_pretty(&object).unwrap()
            } else {
                serde_json::to_vec(&object).unwrap()
            };
            let top = TopLevel::scan(&text).unwrap();
            proptest::prop_assert_eq!(top.members().len(), members.len());
            for (m, (key, value)) in top.members().iter().zip(&members) {
                proptest::prop_assert_eq!(m.key.as_ref(), key.as_str());
                let raw: serde_json::Value = serde_json::from_slice(&text[m.value.clone()]).unwrap();
                proptest::prop_assert_eq!(&raw, value);
            }
        }
    }
}
