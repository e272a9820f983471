//! The subset of OTTL that `filter` conditions may use on spans. Anything else is an error that
//! gives the column where the unsupported part starts.
//!
//! ```text
//! condition  := or
//! or         := and ("or" and)*
//! and        := not ("and" not)*
//! not        := "not" not | "(" condition ")" | "true" | "false"
//!             | "IsMatch" "(" operand "," STRING ")" | operand ("==" | "!=") operand
//! operand    := path | STRING | INT | FLOAT | "true" | "false" | "nil" | ENUM
//! path       := ["span."] ("name" | "kind" | "status.code" | "attributes[" STRING "]")
//!             | "resource.attributes[" STRING "]"
//! ENUM       := SPAN_KIND_UNSPECIFIED | SPAN_KIND_INTERNAL | SPAN_KIND_SERVER | SPAN_KIND_CLIENT
//!             | SPAN_KIND_PRODUCER | SPAN_KIND_CONSUMER | STATUS_CODE_UNSET | STATUS_CODE_OK
//!             | STATUS_CODE_ERROR
//! ```
//!
//! Comparisons: numbers compare by value (an int equals the same double); strings, booleans and
//! enums by equality; values of different types are not equal; an absent attribute equals only
//! `nil`. `IsMatch` is true when the operand is a string that the regular expression (RE2 syntax,
//! as OTTL's Go regexp) matches anywhere. Conditions cannot fail at run time, so `error_mode`
//! never applies.

use regex::Regex;

use crate::processors::view::{SpanView, Val};

/// A parse error: what, and the 1-based column of the condition where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("at column {column}: {message}")]
pub struct OttlError {
    pub column: usize,
    pub message: String,
}

/// A parsed condition.
#[derive(Debug, Clone)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Const(bool),
    Compare {
        left: Operand,
        equal: bool,
        right: Operand,
    },
    IsMatch(Operand, Regex),
}

/// A side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Name,
    Kind,
    StatusCode,
    Attribute(String),
    ResourceAttribute(String),
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Nil,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Double(f64),
    Dot,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Other(String),
    End,
}

fn err(column: usize, message: impl Into<String>) -> OttlError {
    OttlError {
        column,
        message: message.into(),
    }
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, OttlError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let col = i + 1;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'.' => out.push((Tok::Dot, col)),
            b'[' => out.push((Tok::LBracket, col)),
            b']' => out.push((Tok::RBracket, col)),
            b'(' => out.push((Tok::LParen, col)),
            b')' => out.push((Tok::RParen, col)),
            b',' => out.push((Tok::Comma, col)),
            b'=' if b.get(i + 1) == Some(&b'=') => {
                out.push((Tok::Eq, col));
                i += 1;
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                out.push((Tok::Ne, col));
                i += 1;
            }
            b'"' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match b.get(j) {
                        None => return Err(err(col, "unterminated string")),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            match b.get(j + 1) {
                                Some(b'"') => s.push('"'),
                                Some(b'\\') => s.push('\\'),
                                _ => {
                                    return Err(err(
                                        j + 1,
                                        "unsupported escape (only \\\" and \\\\)",
                                    ));
                                }
                            }
                            j += 2;
                            continue;
                        }
                        Some(_) => {
                            let ch = text[j..].chars().next().unwrap_or('?');
                            s.push(ch);
                            j += ch.len_utf8();
                            continue;
                        }
                    }
                }
                out.push((Tok::Str(s), col));
                i = j + 1;
                continue;
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                    j += 1;
                }
                let lit = &text[i..j];
                let tok = if let Ok(n) = lit.parse::<i64>() {
                    Tok::Int(n)
                } else if let Ok(d) = lit.parse::<f64>() {
                    Tok::Double(d)
                } else {
                    return Err(err(col, format!("`{lit}` is not a number")));
                };
                out.push((tok, col));
                i = j;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                out.push((Tok::Ident(text[i..j].to_owned()), col));
                i = j;
                continue;
            }
            _ => {
                let mut j = i + 1;
                while j < b.len() && b"<>=!&|".contains(&b[j]) {
                    j += 1;
                }
                let s = text.get(i..j).unwrap_or("?").to_owned();
                out.push((Tok::Other(s), col));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out.push((Tok::End, text.len() + 1));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
}

/// Parses one condition.
pub fn parse(text: &str) -> Result<Expr, OttlError> {
    let mut p = Parser {
        toks: tokenize(text)?,
        i: 0,
    };
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(e),
        t => Err(err(p.col(), format!("unexpected {}", describe(t)))),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Int(n) => format!("`{n}`"),
        Tok::Double(d) => format!("`{d}`"),
        Tok::Dot => "`.`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Eq => "`==`".into(),
        Tok::Ne => "`!=`".into(),
        Tok::Other(s) => format!("`{s}`"),
        Tok::End => "end of condition".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }

    fn col(&self) -> usize {
        self.toks[self.i].1
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.i].0.clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == k)
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), OttlError> {
        if *self.peek() == want {
            self.bump();
            Ok(())
        } else {
            Err(err(
                self.col(),
                format!("expected {what}, found {}", describe(self.peek())),
            ))
        }
    }

    fn or(&mut self) -> Result<Expr, OttlError> {
        let mut items = vec![self.and()?];
        while self.keyword("or") {
            self.bump();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, OttlError> {
        let mut items = vec![self.not()?];
        while self.keyword("and") {
            self.bump();
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, OttlError> {
        if self.keyword("not") {
            self.bump();
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if *self.peek() == Tok::LParen {
            self.bump();
            let e = self.or()?;
            self.expect(Tok::RParen, "`)`")?;
            return Ok(e);
        }
        if self.keyword("IsMatch") {
            self.bump();
            self.expect(Tok::LParen, "`(` after IsMatch")?;
            let target = self.operand()?;
            self.expect(Tok::Comma, "`,`")?;
            let col = self.col();
            let Tok::Str(pattern) = self.bump() else {
                return Err(err(col, "IsMatch's pattern must be a string literal"));
            };
            let re = Regex::new(&pattern)
                .map_err(|e| err(col, format!("invalid regular expression: {e}")))?;
            self.expect(Tok::RParen, "`)`")?;
            return Ok(Expr::IsMatch(target, re));
        }
        let start = self.col();
        let left = self.operand()?;
        let equal = match self.peek() {
            Tok::Eq => true,
            Tok::Ne => false,
            _ if matches!(left, Operand::Bool(_)) => {
                let Operand::Bool(b) = left else {
                    unreachable!()
                };
                return Ok(Expr::Const(b));
            }
            Tok::Other(op) if ["<", ">", "<=", ">="].contains(&op.as_str()) => {
                return Err(err(
                    self.col(),
                    format!("operator `{op}` is not supported; the subset compares with == and !="),
                ));
            }
            t => {
                return Err(err(
                    self.col(),
                    format!(
                        "expected `==` or `!=` after the operand at column {start}, found {}",
                        describe(t)
                    ),
                ));
            }
        };
        self.bump();
        let right = self.operand()?;
        Ok(Expr::Compare { left, equal, right })
    }

    fn operand(&mut self) -> Result<Operand, OttlError> {
        let col = self.col();
        match self.bump() {
            Tok::Str(s) => Ok(Operand::Str(s)),
            Tok::Int(n) => Ok(Operand::Int(n)),
            Tok::Double(d) => Ok(Operand::Double(d)),
            Tok::Ident(id) => match id.as_str() {
                "true" => Ok(Operand::Bool(true)),
                "false" => Ok(Operand::Bool(false)),
                "nil" => Ok(Operand::Nil),
                "SPAN_KIND_UNSPECIFIED" => Ok(Operand::Int(0)),
                "SPAN_KIND_INTERNAL" => Ok(Operand::Int(1)),
                "SPAN_KIND_SERVER" => Ok(Operand::Int(2)),
                "SPAN_KIND_CLIENT" => Ok(Operand::Int(3)),
                "SPAN_KIND_PRODUCER" => Ok(Operand::Int(4)),
                "SPAN_KIND_CONSUMER" => Ok(Operand::Int(5)),
                "STATUS_CODE_UNSET" => Ok(Operand::Int(0)),
                "STATUS_CODE_OK" => Ok(Operand::Int(1)),
                "STATUS_CODE_ERROR" => Ok(Operand::Int(2)),
                "span" => {
                    self.expect(Tok::Dot, "`.` after span")?;
                    self.span_path()
                }
                "resource" => {
                    self.expect(Tok::Dot, "`.` after resource")?;
                    let c = self.col();
                    if self.keyword("attributes") {
                        self.bump();
                        Ok(Operand::ResourceAttribute(self.key()?))
                    } else {
                        Err(err(c, "the subset reads only resource.attributes[\"key\"]"))
                    }
                }
                _ => {
                    self.i -= 1;
                    self.span_path()
                }
            },
            t => Err(err(
                col,
                format!("expected a path or a literal, found {}", describe(&t)),
            )),
        }
    }

    fn span_path(&mut self) -> Result<Operand, OttlError> {
        let col = self.col();
        let Tok::Ident(id) = self.bump() else {
            return Err(err(col, "expected a span field"));
        };
        match id.as_str() {
            "name" => Ok(Operand::Name),
            "kind" => Ok(Operand::Kind),
            "attributes" => Ok(Operand::Attribute(self.key()?)),
            "status" => {
                self.expect(Tok::Dot, "`.code` after status")?;
                let c = self.col();
                if self.keyword("code") {
                    self.bump();
                    Ok(Operand::StatusCode)
                } else {
                    Err(err(c, "the subset reads only status.code"))
                }
            }
            other if other.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => Err(err(
                col,
                format!(
                    "function or enum `{other}` is not supported; the subset has IsMatch, SPAN_KIND_* and STATUS_CODE_*"
                ),
            )),
            other => Err(err(
                col,
                format!(
                    "path `{other}` is not supported; the subset reads name, kind, status.code, attributes[\"key\"] and resource.attributes[\"key\"]"
                ),
            )),
        }
    }

    fn key(&mut self) -> Result<String, OttlError> {
        self.expect(Tok::LBracket, "`[\"key\"]`")?;
        let col = self.col();
        let Tok::Str(k) = self.bump() else {
            return Err(err(col, "an attribute key must be a string literal"));
        };
        self.expect(Tok::RBracket, "`]`")?;
        if *self.peek() == Tok::LBracket {
            return Err(err(
                self.col(),
                "indexing into a map or list attribute is not supported",
            ));
        }
        Ok(k)
    }
}

/// Whether `expr` holds for `span`.
pub fn eval(expr: &Expr, span: &dyn SpanView) -> bool {
    match expr {
        Expr::Or(items) => items.iter().any(|e| eval(e, span)),
        Expr::And(items) => items.iter().all(|e| eval(e, span)),
        Expr::Not(e) => !eval(e, span),
        Expr::Const(b) => *b,
        Expr::Compare { left, equal, right } => {
            let l = resolve(left, span);
            let r = resolve(right, span);
            equals(l.as_ref(), r.as_ref()) == *equal
        }
        Expr::IsMatch(target, re) => resolve(target, span)
            .as_ref()
            .and_then(Val::as_str)
            .is_some_and(|s| re.is_match(s)),
    }
}

fn resolve<'a>(o: &'a Operand, span: &'a dyn SpanView) -> Option<Val<'a>> {
    Some(match o {
        Operand::Name => Val::Str(span.name().into()),
        Operand::Kind => Val::Int(span.kind()),
        Operand::StatusCode => Val::Int(span.status_code()),
        Operand::Attribute(k) => return span.attribute(k),
        Operand::ResourceAttribute(k) => return span.resource_attribute(k),
        Operand::Str(s) => Val::Str(s.as_str().into()),
        Operand::Int(n) => Val::Int(*n),
        Operand::Double(d) => Val::Double(*d),
        Operand::Bool(b) => Val::Bool(*b),
        Operand::Nil => return None,
    })
}

fn equals(l: Option<&Val<'_>>, r: Option<&Val<'_>>) -> bool {
    match (l, r) {
        (None, None) => true,
        (Some(Val::Int(a)), Some(Val::Double(b))) | (Some(Val::Double(b)), Some(Val::Int(a))) => {
            (*a as f64) == *b
        }
        (Some(Val::Other), _) | (_, Some(Val::Other)) => false,
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processors::view::{OtlpSpan, XrayView};
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{Span, Status};

    fn kv(k: &str, v: Any) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
        }
    }

    fn check(cond: &str, span: &dyn SpanView) -> bool {
        eval(&parse(cond).unwrap_or_else(|e| panic!("{cond}: {e}")), span)
    }

    #[test]
    fn conditions_on_otlp_spans() {
        let span = Span {
            name: "GET /health".into(),
            kind: 2,
            status: Some(Status {
                code: 2,
                ..Status::default()
            }),
            attributes: vec![
                kv("http.route", Any::StringValue("/health".into())),
                kv("http.status_code", Any::IntValue(503)),
                kv("ratio", Any::DoubleValue(0.5)),
            ],
            ..Span::default()
        };
        let resource = [kv("service.name", Any::StringValue("api".into()))];
        let v = OtlpSpan {
            span: &span,
            resource: &resource,
        };
        for (cond, want) in [
            (r#"attributes["http.route"] == "/health""#, true),
            (r#"span.attributes["http.route"] != "/health""#, false),
            (r#"attributes["http.status_code"] == 503"#, true),
            (r#"attributes["http.status_code"] == 503.0"#, true),
            (r#"attributes["http.status_code"] == "503""#, false),
            (r#"attributes["missing"] == nil"#, true),
            (r#"attributes["missing"] != "x""#, true),
            (
                r#"name == "GET /health" and kind == SPAN_KIND_SERVER"#,
                true,
            ),
            (
                r#"kind == SPAN_KIND_CLIENT or status.code == STATUS_CODE_ERROR"#,
                true,
            ),
            (r#"not (status.code == STATUS_CODE_ERROR)"#, false),
            (r#"IsMatch(name, "^GET ")"#, true),
            (r#"IsMatch(attributes["http.status_code"], "5..")"#, false),
            (
                r#"resource.attributes["service.name"] == "api" and not IsMatch(name, "POST")"#,
                true,
            ),
            (r#"attributes["ratio"] == 0.5"#, true),
            ("true", true),
            ("false or (true and false)", false),
        ] {
            assert_eq!(check(cond, &v), want, "{cond}");
        }
    }

    #[test]
    fn conditions_on_xray_documents() {
        let doc = br#"{"name":"orders","error":true,"annotations":{"tenant":"a"}}"#;
        let v = XrayView::read(doc, &[]).unwrap();
        assert!(check(
            r#"name == "orders" and status.code == STATUS_CODE_ERROR"#,
            &v
        ));
        assert!(check(
            r#"attributes["tenant"] == "a" and kind == SPAN_KIND_SERVER"#,
            &v
        ));
    }

    #[test]
    fn anything_outside_the_subset_is_located() {
        for (cond, column, needle) in [
            (r#"attributes["a"] > 5"#, 17, "operator `>`"),
            (r#"trace_id == nil"#, 1, "path `trace_id`"),
            (
                r#"name == "a" and IsString(name)"#,
                17,
                "function or enum `IsString`",
            ),
            (
                r#"resource.dropped_attributes_count == 0"#,
                10,
                "resource.attributes",
            ),
            (r#"attributes["a"]["b"] == 1"#, 16, "indexing"),
            (r#"IsMatch(name, "(")"#, 15, "invalid regular expression"),
            (r#"name == "a" xor true"#, 13, "unexpected `xor`"),
            (r#"(name == "a""#, 13, "expected `)`"),
            (r#"name = "a""#, 6, "`=`"),
            (r#"status.message == "x""#, 8, "status.code"),
        ] {
            let e = parse(cond).unwrap_err();
            assert_eq!(e.column, column, "{cond}: {e}");
            assert!(e.message.contains(needle), "{cond}: {e}");
        }
    }
}
