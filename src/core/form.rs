//! `application/x-www-form-urlencoded` (the URL Standard's form encoding): the bodies of
//! token and revocation requests (RFC 6749 Appendix B) and the query of an authorization
//! response, read as the browser's `URLSearchParams` reads it.

use crate::prelude::*;
/// Encodes `pairs` as `application/x-www-form-urlencoded` (the body of token,
/// revocation and authorization requests).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (n, (k, v)) in pairs.iter().enumerate() {
        if n > 0 {
            out.push('&');
        }
        percent_encode(k, &mut out);
        out.push('=');
        percent_encode(v, &mut out);
    }
    out
}

fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(
                    HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
                ));
                out.push(char::from(
                    HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
                ));
            }
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` text as the browser's `URLSearchParams`
/// does: `+` is a space, a `%` not followed by two hex digits stays as it is, and bytes
/// that are not UTF-8 become U+FFFD. A leading `?` is skipped.
pub fn form_decode(query: &str) -> Vec<(String, String)> {
    let query = query.strip_prefix('?').unwrap_or(query);
    crate::core::ascii::pieces(query, b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = crate::core::ascii::cut(part, b'=').unwrap_or((part, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// The value of an ASCII hex digit.
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes every `%` followed by two hex digits (and `+` as a space when `plus_is_space`);
/// any other `%` stays as it is. The bytes need not be UTF-8.
pub(crate) fn percent_decode_bytes(s: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        i += 1;
        out.push(match b {
            b'+' if plus_is_space => b' ',
            b'%' => match (
                s.get(i).copied().and_then(hex_value),
                s.get(i + 1).copied().and_then(hex_value),
            ) {
                (Some(h), Some(l)) => {
                    i += 2;
                    (h << 4) | l
                }
                _ => b,
            },
            _ => b,
        });
    }
    out
}

fn percent_decode(s: &str) -> String {
    crate::core::utf8::lossy(&percent_decode_bytes(s.as_bytes(), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_is_rfc6749_appendix_b() {
        assert_eq!(
            form_encode(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "a+b/c= d&é")
            ]),
            "grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3D+d%26%C3%A9"
        );
    }

    #[test]
    fn url_search_params_decoding() {
        assert_eq!(
            form_decode("?code=a%2Bb+c&state=%E2%9C%93&x&=v&%zz=%4"),
            vec![
                ("code".into(), "a+b c".into()),
                ("state".into(), "✓".into()),
                ("x".into(), String::new()),
                (String::new(), "v".into()),
                ("%zz".into(), "%4".into())
            ]
        );
        assert_eq!(form_decode("a=%ff"), vec![("a".into(), "\u{fffd}".into())]);
        for bytes in [
            &b"ok"[..],
            b"\xff",
            b"a\xc3",
            b"\xe2\x9c",
            b"\xe2\x9cx\xf0\x9f\x98",
            b"\xed\xa0\x80z",
            b"\xc0\xaf\xe2\x9c\x93",
        ] {
            assert_eq!(
                crate::core::utf8::lossy(bytes),
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
