//! Reading (not verifying) a JWT's payload (RFC 7519).
//!
//! The client reads its own access token's claims only to show them and, when the token
//! response has no `expires_in`, to learn the lifetime from `exp − iat`. Signatures are
//! the API's business; ID tokens are checked by claim in the sign-in code.

use super::json::Json;
use crate::prelude::*;

/// The payload of a compact JWS, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// The payload as JSON text, for handing to the app.
    pub json: String,
    /// The parsed payload (always an object).
    pub value: Json,
}

impl Claims {
    /// A numeric claim such as `exp` or `iat`, in seconds.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.value
            .get(name)
            .and_then(Json::as_f64)
            .filter(|n| n.is_finite())
    }

    /// A string claim such as `iss`, `sub` or `nonce`.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.value.get(name).and_then(Json::as_str)
    }

    /// The audiences: `aud` as a string or an array of strings.
    pub fn audiences(&self) -> Vec<&str> {
        match self.value.get("aud") {
            Some(Json::Str(s)) => vec![s.as_str()],
            Some(Json::Arr(items)) => items.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Decodes the payload of a compact JWS (`header.payload.signature`). Anything else —
/// an opaque token, a JWE, bad base64url, a payload that is not a JSON object — is `None`.
pub fn decode(token: &str) -> Option<Claims> {
    let mut parts = crate::core::ascii::pieces(token, b'.');
    let header = parts.next()?;
    let payload = parts.next()?;
    let _signature = parts.next()?;
    if parts.next().is_some() || header.is_empty() || payload.is_empty() {
        return None;
    }
    let bytes = base64url_decode(payload)?;
    let json = crate::core::utf8::text(&bytes)?;
    let value = Json::parse(&json).ok()?;
    if !matches!(value, Json::Obj(_)) {
        return None;
    }
    Some(Claims { json, value })
}

/// Decodes unpadded base64url (RFC 4648 §5); padding and other alphabets are refused.
pub fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Encodes bytes as unpadded base64url (RFC 4648 §5).
pub fn base64url_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(
                ALPHABET
                    .get(((acc >> bits) & 63) as usize)
                    .copied()
                    .unwrap_or(b'A'),
            ));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            ALPHABET
                .get(((acc << (6 - bits)) & 63) as usize)
                .copied()
                .unwrap_or(b'A'),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            base64url_encode(payload.as_bytes())
        )
    }

    #[test]
    fn rfc7519_payload_is_read() {
        let c = decode(&jwt(
            r#"{"sub":"u1","exp":1700000300,"iat":1700000000,"aud":["a","b"]}"#,
        ))
        .unwrap();
        assert_eq!(c.string("sub"), Some("u1"));
        assert_eq!(c.number("exp"), Some(1_700_000_300.0));
        assert_eq!(c.audiences(), vec!["a", "b"]);
    }

    #[test]
    fn opaque_and_malformed_tokens_are_none() {
        for t in [
            "opaque",
            "a.b",
            "a.b.c.d",
            ".e30.x",
            "x..y",
            "x.e30=.y",
            "x.!!!.y",
            "x.WzFd.y",
            "x.bm90IGpzb24.y",
        ] {
            assert!(decode(t).is_none(), "{t}");
        }
    }

    #[test]
    fn base64url_round_trips() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64url_decode(&base64url_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64url_encode(b"hello?>"), "aGVsbG8_Pg");
    }
}
