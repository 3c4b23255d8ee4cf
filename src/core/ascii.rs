//! Cutting text at ASCII delimiters, byte by byte.
//!
//! `str::find`, `split` and `split_once` with a `char` pattern bring the UTF-8 searcher
//! and `memchr` into the wasm (about 1 KB raw); `[u8]::contains` brings `memchr` too. An
//! ASCII byte never falls inside a multi-byte character, so every cut made here is on a
//! character boundary, and `str::get` never refuses it.

/// The index of the first byte of `s` that is one of `set` (ASCII bytes).
pub fn find(s: &str, set: &[u8]) -> Option<usize> {
    s.bytes().position(|b| has(set, b))
}

/// Whether `bytes` holds `b`. (`contains` calls `memchr`, a loop unrolled for long
/// inputs: larger, and no faster on URLs.)
#[allow(clippy::manual_contains)]
pub fn has(bytes: &[u8], b: u8) -> bool {
    bytes.iter().any(|&c| c == b)
}

/// Whether `b` is a `tchar`, a byte of an HTTP token (RFC 9110 §5.6.2).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || has(b"!#$%&'*+-.^_`|~", b)
}

/// `s` up to its first byte in `set`, or all of `s`.
pub fn before<'a>(s: &'a str, set: &[u8]) -> &'a str {
    find(s, set).and_then(|i| s.get(..i)).unwrap_or(s)
}

/// `s` cut at its first `sep`: what comes before it and what comes after.
pub fn cut(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = find(s, &[sep])?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// `s` without the `b`s it ends with.
pub fn trim_end(s: &str, b: u8) -> &str {
    let n = s.bytes().rev().take_while(|&c| c == b).count();
    s.get(..s.len() - n).unwrap_or(s)
}

/// The pieces of `s` between its `sep`s, as `str::split` gives them.
pub fn pieces(s: &str, sep: u8) -> Pieces<'_> {
    Pieces { rest: Some(s), sep }
}

/// The iterator of [`pieces`].
pub struct Pieces<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        match cut(s, self.sep) {
            Some((piece, rest)) => {
                self.rest = Some(rest);
                Some(piece)
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::prelude::*;
    use proptest::prelude::*;

    #[test]
    fn tchars_are_the_visible_bytes_but_the_delimiters() {
        // RFC 9110 §5.6.2: tchar is any VCHAR except the delimiters.
        for b in 0..=255u8 {
            let visible = (0x21..0x7f).contains(&b);
            let delimiter = br#""(),/:;<=>?@[\]{}"#.contains(&b);
            assert_eq!(is_tchar(b), visible && !delimiter, "{b:#x}");
        }
    }

    proptest! {
        #[test]
        fn same_as_the_standard_library(s in "[a.=&/?#:é€😀 ]{0,12}") {
            for sep in [b'.', b'=', b'&', b'/', b'?', b'#', b':', b' '] {
                let c = sep as char;
                prop_assert_eq!(pieces(&s, sep).collect::<Vec<_>>(), s.split(c).collect::<Vec<_>>());
                prop_assert_eq!(cut(&s, sep), s.split_once(c));
                prop_assert_eq!(find(&s, &[sep]), s.find(c));
                prop_assert_eq!(trim_end(&s, sep), s.trim_end_matches(c));
                prop_assert_eq!(has(s.as_bytes(), sep), s.contains(c));
            }
            prop_assert_eq!(find(&s, b"?#"), s.find(['?', '#']));
            prop_assert_eq!(before(&s, b"/?#"), s.split(['/', '?', '#']).next().unwrap_or(""));
        }
    }
}
