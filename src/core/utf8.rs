//! UTF-8 decoding of bytes that come from outside: a JWT's payload, percent-decoded form
//! values, quoted header values, JSON strings.
//!
//! `core::str::from_utf8` reads long text a word at a time; in the wasm it weighs about
//! 1 KB raw with its tables. The texts here are short, so they are decoded a character at
//! a time, with the same rules (RFC 3629: no overlong forms, no surrogates, nothing above
//! U+10FFFF) and, for [`lossy`], the Encoding Standard's replacement of each maximal
//! invalid subsequence by one U+FFFD, as `String::from_utf8_lossy` does.

use crate::prelude::*;

/// The character that starts at `b[i]` and its length in bytes, or, for an invalid
/// sequence, the length of its maximal invalid prefix (at least 1).
fn decode(b: &[u8], i: usize) -> Result<(char, usize), usize> {
    let lead = b.get(i).copied().unwrap_or(0);
    if lead < 0x80 {
        return Ok((char::from(lead), 1));
    }
    // The length, and the range the second byte must be in.
    let (len, lo, hi) = match lead {
        0xC2..=0xDF => (2, 0x80, 0xBF),
        0xE0 => (3, 0xA0, 0xBF),
        0xED => (3, 0x80, 0x9F),
        0xE1..=0xEF => (3, 0x80, 0xBF),
        0xF0 => (4, 0x90, 0xBF),
        0xF1..=0xF3 => (4, 0x80, 0xBF),
        0xF4 => (4, 0x80, 0x8F),
        _ => return Err(1),
    };
    let mut code = u32::from(lead) & (0x7F >> len);
    for k in 1..len {
        let (lo, hi) = if k == 1 { (lo, hi) } else { (0x80, 0xBF) };
        match b.get(i + k) {
            Some(&c) if lo <= c && c <= hi => code = code << 6 | u32::from(c & 0x3F),
            _ => return Err(k),
        }
    }
    char::from_u32(code).map(|c| (c, len)).ok_or(len)
}

/// `b` as text; `None` when it is not UTF-8.
pub fn text(b: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let (c, n) = decode(b, i).ok()?;
        out.push(c);
        i += n;
    }
    Some(out)
}

/// `b` as text, each maximal invalid subsequence replaced by U+FFFD.
pub fn lossy(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match decode(b, i) {
            Ok((c, n)) => {
                out.push(c);
                i += n;
            }
            Err(n) => {
                out.push('\u{fffd}');
                i += n;
            }
        }
    }
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges_of_the_encoding() {
        for bytes in [
            &b""[..],
            b"plain",
            "é€😀\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}".as_bytes(),
            b"\xc0\x80",
            b"\xc1\xbf",
            b"\xe0\x80\x80",
            b"\xe0\x9f\xbf",
            b"\xed\xa0\x80",
            b"\xed\xbf\xbf",
            b"\xf0\x8f\xbf\xbf",
            b"\xf4\x90\x80\x80",
            b"\xf5\x80\x80\x80",
            b"\xff",
            b"\x80",
            b"a\xe2\x82",
            b"\xe2\x82a",
            b"\xf0\x9f\x98",
            b"\xf0\x9f\x98\x80\x80",
        ] {
            assert_eq!(
                text(bytes),
                String::from_utf8(bytes.to_vec()).ok(),
                "{bytes:?}"
            );
            assert_eq!(lossy(bytes), String::from_utf8_lossy(bytes), "{bytes:?}");
        }
    }

    proptest! {
        #[test]
        fn same_as_the_standard_library(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            prop_assert_eq!(text(&bytes), String::from_utf8(bytes.clone()).ok());
            prop_assert_eq!(lossy(&bytes), String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn every_text_round_trips(s in "\\PC{0,16}") {
            prop_assert_eq!(text(s.as_bytes()), Some(s.clone()));
        }

        #[test]
        fn mostly_valid_bytes(s in "[a-zé€😀]{0,8}", cut in 0usize..40, junk in any::<u8>()) {
            let mut bytes = s.into_bytes();
            let at = cut.min(bytes.len());
            bytes.insert(at, junk);
            bytes.truncate(at + 1 + cut % 5);
            prop_assert_eq!(text(&bytes), String::from_utf8(bytes.clone()).ok());
            prop_assert_eq!(lossy(&bytes), String::from_utf8_lossy(&bytes));
        }
    }
}
