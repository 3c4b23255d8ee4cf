//! A small, strict JSON reader and writer.
//!
//! The browser has `JSON.parse`, but the core must decide on token responses, stored
//! records and JWT payloads without any browser type, and `serde_json` would add tens of
//! kilobytes to the WebAssembly download. This parser accepts RFC 8259 JSON only, limits
//! nesting (a deep document cannot overflow the stack, which would trap the module) and
//! never panics: every malformed input is a [`JsonError`].

use crate::core::float;
use crate::prelude::*;
mod write;
pub use write::{push_hex, push_u64, write_num, write_str, ObjWriter};

/// The deepest nesting of arrays and objects accepted.
const MAX_DEPTH: usize = 64;

/// A parsed JSON value. Objects keep their members in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// any number, as a double
    Num(f64),
    /// a string, unescaped
    Str(String),
    /// an array
    Arr(Vec<Json>),
    /// an object, members in document order
    Obj(Vec<(String, Json)>),
}

/// Why a document is not JSON. Carries no part of the input (it may hold a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset where reading stopped.
    pub offset: usize,
}

impl JsonError {
    /// `not valid JSON (at byte N)`, written without `core::fmt`.
    pub fn describe(&self) -> String {
        let mut s = String::from("not valid JSON (at byte ");
        push_u64(&mut s, self.offset as u64);
        s.push(')');
        s
    }
}

impl ::core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Json {
    /// Parses a whole document; trailing non-space bytes are an error.
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut p = Parser {
            text,
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.err());
        }
        Ok(v)
    }

    /// The member `key` of an object (the last one when repeated), or `None`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number inside, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }
}

/// Parses a JSON number (RFC 8259 §6 grammar, also used for `expires_in` sent as text
/// and `Retry-After`). Small and close to exact; not correctly rounded in the last bit,
/// which no timing decision can notice. `None` for anything else or a non-finite result.
pub fn parse_number(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let mut i = 0;
    let neg = b.first() == Some(&b'-');
    if neg {
        i += 1;
    }
    let mut mantissa: u64 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0;
    let mut push = |d: u8, exp10: &mut i32, after_point: bool| {
        if mantissa < 1_000_000_000_000_000_000 {
            mantissa = mantissa * 10 + u64::from(d);
            if after_point {
                *exp10 -= 1;
            }
        } else if !after_point {
            *exp10 += 1;
        }
    };
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        push(c - b'0', &mut exp10, false);
        digits += 1;
        i += 1;
    }
    if digits == 0 || (digits > 1 && b.get(usize::from(neg)) == Some(&b'0')) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut frac = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            push(c - b'0', &mut exp10, true);
            frac += 1;
            i += 1;
        }
        if frac == 0 {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut e: i32 = 0;
        let mut edigits = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            e = e.saturating_mul(10).saturating_add(i32::from(c - b'0'));
            edigits += 1;
            i += 1;
        }
        if edigits == 0 {
            return None;
        }
        exp10 = exp10.saturating_add(if eneg { -e } else { e });
    }
    if i != b.len() {
        return None;
    }
    let mut v = mantissa as f64;
    if exp10 != 0 && v != 0.0 {
        let scale = float::powi(10.0, exp10.clamp(-400, 400).abs());
        if exp10 > 0 {
            v *= scale;
        } else {
            v /= scale;
        }
    }
    let v = if neg { -v } else { v };
    v.is_finite().then_some(v)
}

struct Parser<'a> {
    /// The text, and its bytes.
    text: &'a str,
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self) -> JsonError {
        JsonError { offset: self.i }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> Result<(), JsonError> {
        let end = self.i.checked_add(lit.len()).ok_or_else(|| self.err())?;
        if self.s.get(self.i..end) == Some(lit) {
            self.i = end;
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err());
        }
        self.ws();
        match self.peek() {
            Some(b'n') => self.eat(b"null").map(|_| Json::Null),
            Some(b't') => self.eat(b"true").map(|_| Json::Bool(true)),
            Some(b'f') => self.eat(b"false").map(|_| Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.bump() {
                        Some(b',') => {}
                        Some(b']') => return Ok(Json::Arr(items)),
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err());
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.bump() != Some(b':') {
                        return Err(self.err());
                    }
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    self.ws();
                    match self.bump() {
                        Some(b',') => {}
                        Some(b'}') => return Ok(Json::Obj(members)),
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err()),
        }
    }

    /// A number: the run of bytes a number can hold, checked against the grammar by
    /// [`parse_number`] (one check of it, not two); an error points at its start.
    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.i;
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            self.i += 1;
        }
        match self.text.get(start..self.i).and_then(parse_number) {
            Some(n) => Ok(Json::Num(n)),
            None => {
                self.i = start;
                Err(self.err())
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(d) = self.bump().and_then(crate::core::form::hex_value) else {
                return Err(self.err());
            };
            v = (v << 4) | u32::from(d);
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        // Opening quote.
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.err()),
                Some(b'"') => break,
                Some(b'\\') => {
                    let c = match self.bump() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.eat(b"\\u")?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or_else(|| self.err())?
                        }
                        _ => return Err(self.err()),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(c) if c < 0x20 => return Err(self.err()),
                Some(c) => out.push(c),
            }
        }
        crate::core::utf8::text(&out).ok_or_else(|| self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc8259_values() {
        let v =
            Json::parse(r#" {"a": [1, -2.5e3, true, false, null], "b": "x\u00e9\ud83d\ude00\n"} "#)
                .unwrap();
        assert_eq!(v.get("b").and_then(Json::as_str), Some("xé😀\n"));
        assert_eq!(
            Json::parse(r#""\u00E9\uD83D\uDE00""#).unwrap(),
            Json::Str("é😀".into())
        );
        assert_eq!(
            v.get("a"),
            Some(&Json::Arr(vec![
                Json::Num(1.0),
                Json::Num(-2500.0),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ]))
        );
    }

    #[test]
    fn numbers_end_where_the_structure_goes_on() {
        let v = Json::parse(r#"{"a":-0.5E-2,"b":[0,1e+2],"c":7}"#).unwrap();
        assert_eq!(v.get("a").and_then(Json::as_f64), Some(-0.005));
        assert_eq!(
            v.get("b"),
            Some(&Json::Arr(vec![Json::Num(0.0), Json::Num(100.0)]))
        );
        assert_eq!(v.get("c").and_then(Json::as_f64), Some(7.0));
        // An error points at the number's start.
        assert_eq!(Json::parse("[1,-01]"), Err(JsonError { offset: 3 }));
    }

    #[test]
    fn rejects_what_is_not_json() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            "\"\\x\"",
            "\"\u{1}\"",
            "nul",
            "{} x",
            "1e999",
            "\"\\ud800\"",
            "{'a':1}",
            "[1-2]",
            "[1e+]",
            "[+1]",
            "[1.e5]",
        ] {
            assert!(Json::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(Json::parse(&deep).is_err());
        let ok = format!("{}{}", "[".repeat(60), "]".repeat(60));
        assert!(Json::parse(&ok).is_ok());
    }

    #[test]
    fn numbers_parse_closely() {
        for (t, v) in [
            ("0", 0.0),
            ("-0", 0.0),
            ("3600", 3600.0),
            ("1.5", 1.5),
            ("-2.5e3", -2500.0),
            ("1E2", 100.0),
            ("1700000000123", 1_700_000_000_123.0),
            ("0.001", 0.001),
            ("12345678901234567890123", 1.2345678901234568e22),
        ] {
            let got = parse_number(t).unwrap();
            assert!((got - v).abs() <= v.abs() * 1e-15, "{t}: {got}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1x", " 1", "1e400", "NaN",
        ] {
            assert!(parse_number(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn last_duplicate_key_wins() {
        let v = Json::parse(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(v.get("a").and_then(Json::as_f64), Some(2.0));
    }
}
