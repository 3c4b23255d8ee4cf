//! Writing JSON: the records and tab messages the client produces (RFC 8259), numbers
//! written so that they read back to the same `f64`.

use super::Json;
use crate::core::float;
use crate::prelude::*;

impl Json {
    /// Writes this value as compact JSON text.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => write_num(*n, out),
            Json::Str(s) => write_str(s, out),
            Json::Arr(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(members) => {
                out.push('{');
                for (n, (k, v)) in members.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    write_str(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// This value as compact JSON text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

/// Appends a JSON number as [`Json::Num`] writes it.
pub fn write_num(n: f64, out: &mut String) {
    // Integer formatting only: float formatting would add ~20 KB to the wasm. The values
    // written here are times in ms and versions; fractions keep three decimals.
    if !n.is_finite() || n.abs() >= 9.0e15 {
        out.push_str("null");
        return;
    }
    if n < 0.0 {
        out.push('-');
    }
    let a = n.abs();
    push_u64(out, float::trunc(a) as u64);
    let millis = float::round(float::fract(a) * 1000.0) as u64;
    if millis > 0 && millis < 1000 {
        let digits = [millis / 100, millis / 10 % 10, millis % 10];
        let keep = if millis % 100 == 0 {
            1
        } else if millis % 10 == 0 {
            2
        } else {
            3
        };
        out.push('.');
        for d in digits.iter().take(keep) {
            out.push(char::from(b'0' + *d as u8));
        }
    }
}

/// A JSON object written member by member, in order, without building a [`Json`] value
/// (smaller in the wasm than a vector of owned members).
pub struct ObjWriter {
    out: String,
}

impl Default for ObjWriter {
    fn default() -> Self {
        ObjWriter::new()
    }
}

impl ObjWriter {
    /// An empty object.
    pub fn new() -> ObjWriter {
        ObjWriter {
            out: String::from("{"),
        }
    }

    fn key(&mut self, k: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        write_str(k, &mut self.out);
        self.out.push(':');
    }

    /// Adds a string member.
    pub fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        write_str(v, &mut self.out);
    }

    /// Adds a string member when `v` is given.
    pub fn opt_str(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }

    /// Adds a number member (written as [`Json::Num`] writes it).
    pub fn num(&mut self, k: &str, v: f64) {
        self.key(k);
        write_num(v, &mut self.out);
    }

    /// Adds a boolean member.
    pub fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
    }

    /// The object's text.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// Appends `n` in decimal. Written by hand: `core::fmt` would add kilobytes to the wasm.
pub fn push_u64(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for &d in digits.get(i..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

/// Appends the low `width` hex digits of `n`, lower case, with leading zeros.
pub fn push_hex(out: &mut String, n: u64, width: u32) {
    for k in (0..width.min(16)).rev() {
        let d = ((n >> (4 * k)) & 15) as u8;
        out.push(char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 }));
    }
}

/// Writes `s` as a JSON string literal.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                push_hex(out, u64::from(c as u32), 2);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_written_as_json_values_write_them() {
        let mut o = ObjWriter::new();
        o.num("v", 1.0);
        o.str("s", "a\"b");
        o.opt_str("none", None);
        o.opt_str("some", Some("x"));
        o.bool("b", true);
        o.num("f", 0.25);
        let expected = Json::Obj(vec![
            ("v".to_string(), Json::Num(1.0)),
            ("s".to_string(), Json::Str("a\"b".to_string())),
            ("some".to_string(), Json::Str("x".to_string())),
            ("b".to_string(), Json::Bool(true)),
            ("f".to_string(), Json::Num(0.25)),
        ]);
        assert_eq!(o.finish(), expected.to_text());
        assert_eq!(ObjWriter::new().finish(), "{}");
    }

    #[test]
    fn integers_and_hex_are_written_by_hand() {
        for n in [0u64, 7, 10, 99, 1_700_000_000_123, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
        let mut out = String::new();
        push_hex(&mut out, 0x1f, 4);
        push_hex(&mut out, 0xcbf2_9ce4_8422_2325, 16);
        assert_eq!(out, "001fcbf29ce484222325");
    }

    #[test]
    fn numbers_are_written_shortest() {
        let mut out = String::new();
        write_num(1.5, &mut out);
        write_num(-3.0, &mut out);
        assert_eq!(out, "1.5-3");
    }

    #[test]
    fn writes_what_it_reads() {
        let text = r#"{"s":"a\"b\\c\n\u0001","n":1700000000123,"f":0.5,"a":[null,true]}"#;
        let v = Json::parse(text).unwrap();
        assert_eq!(Json::parse(&v.to_text()).unwrap(), v);
        assert_eq!(v.to_text(), text);
    }
}
