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
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let pair = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                );
                if let (Some(h), Some(l)) = pair {
                    out.push((h << 4) | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    }
}
