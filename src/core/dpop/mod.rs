//! DPoP (RFC 9449): what a proof says, which token types a DPoP client accepts, and the
//! server nonces it must echo.
//!
//! The shell holds the key (a non-extractable WebCrypto P-256 key) and signs; everything
//! that can be decided without the key is decided here: the proof's header and claims,
//! the `htu` of a request, the `ath` of an access token, the RFC 7638 thumbprint that
//! becomes `dpop_jkt`, when a server asks for a nonce, and whether to retry (once).

use super::attach::after_scheme;
use super::error::{Error, ErrorCode};
use super::json::{write_str, ObjWriter};
use super::jwt::base64url_encode;
use crate::core::float;
use crate::prelude::*;

mod nonce;
pub use nonce::*;

/// The client's DPoP setting (`dpop: true` or `dpop: { allowBearer }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mode {
    /// Accept a `Bearer` answer to a DPoP token request (a server without DPoP).
    pub allow_bearer: bool,
}

/// The public key as the proof's `jwk` header carries it: the base64url `x` and `y`
/// coordinates of a P-256 point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// `x`, base64url.
    pub x: String,
    /// `y`, base64url.
    pub y: String,
}

impl PublicKey {
    /// From WebCrypto's `raw` export of a P-256 public key: the uncompressed point
    /// `0x04 || x || y` (65 bytes). `None` for anything else.
    pub fn from_raw(raw: &[u8]) -> Option<PublicKey> {
        match raw.split_first() {
            Some((4, xy)) if xy.len() == 64 => {
                let (x, y) = xy.split_at(32);
                Some(PublicKey {
                    x: base64url_encode(x),
                    y: base64url_encode(y),
                })
            }
            _ => None,
        }
    }

    /// The JWK with exactly the members RFC 7638 §3.2 requires, in lexicographic order
    /// and without whitespace: the input of the thumbprint, and the proof's `jwk`.
    pub fn jwk_json(&self) -> String {
        let mut out = String::from(r#"{"crv":"P-256","kty":"EC","x":"#);
        write_str(&self.x, &mut out);
        out.push_str(r#","y":"#);
        write_str(&self.y, &mut out);
        out.push('}');
        out
    }

    /// The proof's JOSE header (RFC 9449 §4.2).
    pub fn header_json(&self) -> String {
        let mut out = String::from(r#"{"typ":"dpop+jwt","alg":"ES256","jwk":"#);
        out.push_str(&self.jwk_json());
        out.push('}');
        out
    }
}

/// The RFC 7638 thumbprint (`dpop_jkt`, the token's `cnf.jkt`), given the SHA-256 of
/// [`PublicKey::jwk_json`] that the browser computed.
pub fn thumbprint(sha256_of_jwk: &[u8]) -> String {
    base64url_encode(sha256_of_jwk)
}

/// The `ath` claim: base64url of the SHA-256 of the access token (RFC 9449 §4.2), given
/// that digest.
pub fn ath(sha256_of_token: &[u8]) -> String {
    base64url_encode(sha256_of_token)
}

/// The `htu` of a request to `url` (already absolute and normalised by the browser's
/// URL parser): the URL without query and fragment (RFC 9449 §4.2).
pub fn htu(url: &str) -> &str {
    crate::core::ascii::before(url, b"?#")
}

/// The origin (`scheme://host[:port]`) of an absolute URL: nonces are kept per origin.
pub fn origin(url: &str) -> &str {
    let start = after_scheme(url).unwrap_or(0);
    let end = url
        .get(start..)
        .and_then(|rest| crate::core::ascii::find(rest, b"/?#"))
        .map_or(url.len(), |i| start + i);
    url.get(..end).unwrap_or(url)
}

/// The HTTP method as a proof's `htm` states it: the methods `fetch` normalises
/// (`delete`, `get`, `head`, `options`, `post`, `put`) in upper case, any other token as
/// written. `None` for text that is not a method.
pub fn method(m: &str) -> Option<String> {
    const NORMALISED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    if m.is_empty() || !m.bytes().all(crate::core::ascii::is_tchar) {
        return None;
    }
    Some(
        match NORMALISED.iter().find(|n| n.eq_ignore_ascii_case(m)) {
            Some(n) => (*n).to_string(),
            None => m.to_string(),
        },
    )
}

/// What one proof states.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims<'a> {
    /// A fresh unique id (`jti`), base64url of random bytes.
    pub jti: &'a str,
    /// The method (`htm`), as [`method`] gives it.
    pub htm: &'a str,
    /// The target (`htu`), as [`htu`] gives it.
    pub htu: &'a str,
    /// The client's clock, ms since the epoch (`iat` is in seconds).
    pub now_ms: f64,
    /// The server's nonce for that origin, when one is known.
    pub nonce: Option<&'a str>,
    /// The `ath` of the access token, for requests to a resource server.
    pub ath: Option<&'a str>,
}

impl Claims<'_> {
    /// The proof's claims as JSON.
    pub fn to_json(&self) -> String {
        let iat = float::floor(self.now_ms / 1000.0);
        let iat = if iat.is_finite() && iat > 0.0 {
            iat
        } else {
            0.0
        };
        let mut o = ObjWriter::new();
        o.str("jti", self.jti);
        o.str("htm", self.htm);
        o.str("htu", self.htu);
        o.num("iat", iat);
        o.opt_str("nonce", self.nonce);
        o.opt_str("ath", self.ath);
        o.finish()
    }
}

/// The JWS signing input: `base64url(header) . base64url(claims)`.
pub fn signing_input(header_json: &str, claims_json: &str) -> String {
    let mut out = base64url_encode(header_json.as_bytes());
    out.push('.');
    out.push_str(&base64url_encode(claims_json.as_bytes()));
    out
}

/// The compact proof from the signing input and WebCrypto's ECDSA P-256 signature, which
/// is already the raw `r || s` (64 bytes) that JWS ES256 wants (RFC 7518 §3.4).
pub fn compact(signing_input: &str, signature: &[u8]) -> Result<String, Error> {
    if signature.len() != 64 {
        return Err(Error::new(
            ErrorCode::Unsupported,
            "WebCrypto returned an ECDSA signature of an unexpected length",
        ));
    }
    let mut out = String::with_capacity(signing_input.len() + 90);
    out.push_str(signing_input);
    out.push('.');
    out.push_str(&base64url_encode(signature));
    Ok(out)
}

/// Checks a token response's `token_type` against the client's DPoP setting: with DPoP
/// a `DPoP` token, or `Bearer` when `allowBearer`; without DPoP only `Bearer`.
pub fn check_token_type(mode: Option<Mode>, token_type: &str) -> Result<(), Error> {
    match (mode, token_type) {
        (None, "Bearer") | (Some(_), "DPoP") => Ok(()),
        (Some(Mode { allow_bearer: true }), "Bearer") => Ok(()),
        (Some(_), _) => Err(Error::token_response(
            "a DPoP request got a Bearer token (`dpop: { allowBearer: true }` accepts it)",
        )),
        (None, _) => Err(Error::token_response(
            "a DPoP token needs the `dpop` option",
        )),
    }
}

/// Whether requests with a token of this type carry a proof.
pub fn is_dpop(token_type: &str) -> bool {
    token_type == "DPoP"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json::Json;
    use crate::core::jwt::base64url_decode;

    fn key() -> PublicKey {
        let mut raw = vec![4u8];
        raw.extend(1..=64u8);
        PublicKey::from_raw(&raw).unwrap()
    }

    #[test]
    fn rfc7638_3_thumbprint_input_has_the_required_members_in_order() {
        let k = key();
        let j = k.jwk_json();
        assert!(j.starts_with(r#"{"crv":"P-256","kty":"EC","x":""#));
        assert_eq!(
            base64url_decode(&k.x).unwrap(),
            (1..=32u8).collect::<Vec<_>>()
        );
        assert_eq!(
            base64url_decode(&k.y).unwrap(),
            (33..=64u8).collect::<Vec<_>>()
        );
        assert_eq!(
            j,
            format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                k.x, k.y
            )
        );
        assert!(!j.contains(' '));
    }

    #[test]
    fn raw_keys_other_than_an_uncompressed_p256_point_are_refused() {
        assert!(PublicKey::from_raw(&[]).is_none());
        assert!(PublicKey::from_raw(&[4; 64]).is_none());
        assert!(PublicKey::from_raw(&[2; 65]).is_none());
        assert!(PublicKey::from_raw(&[4; 66]).is_none());
    }

    #[test]
    fn rfc7638_3_1_thumbprint_of_a_known_digest() {
        // The SHA-256 of the RFC 7638 §3.1 example JWK, and its thumbprint.
        let digest = [
            55, 54, 203, 177, 120, 124, 184, 48, 156, 119, 238, 140, 55, 5, 197, 225, 111, 251,
            158, 133, 151, 21, 144, 31, 30, 76, 89, 177, 17, 130, 245, 123,
        ];
        assert_eq!(
            thumbprint(&digest),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn rfc9449_4_2_header() {
        let h = key().header_json();
        let v = Json::parse(&h).unwrap();
        assert_eq!(v.get("typ").and_then(Json::as_str), Some("dpop+jwt"));
        assert_eq!(v.get("alg").and_then(Json::as_str), Some("ES256"));
        let jwk = v.get("jwk").unwrap();
        assert_eq!(jwk.get("kty").and_then(Json::as_str), Some("EC"));
        assert_eq!(jwk.get("crv").and_then(Json::as_str), Some("P-256"));
        assert!(jwk.get("d").is_none());
    }

    #[test]
    fn rfc9449_4_2_claims() {
        let c = Claims {
            jti: "abc",
            htm: "POST",
            htu: "https://as.test/token",
            now_ms: 1_700_000_000_999.0,
            nonce: Some("n-1"),
            ath: Some("xyz"),
        };
        assert!(c.to_json().contains(r#""iat":1700000000,"#));
        let v = Json::parse(&c.to_json()).unwrap();
        assert_eq!(v.get("jti").and_then(Json::as_str), Some("abc"));
        assert_eq!(v.get("htm").and_then(Json::as_str), Some("POST"));
        assert_eq!(
            v.get("htu").and_then(Json::as_str),
            Some("https://as.test/token")
        );
        assert_eq!(v.get("iat").and_then(Json::as_f64), Some(1_700_000_000.0));
        assert_eq!(v.get("nonce").and_then(Json::as_str), Some("n-1"));
        assert_eq!(v.get("ath").and_then(Json::as_str), Some("xyz"));
        let bare = Claims {
            nonce: None,
            ath: None,
            ..c
        };
        let v = Json::parse(&bare.to_json()).unwrap();
        assert!(v.get("nonce").is_none() && v.get("ath").is_none());
        // A clock that is not a time still gives a number, never a trap.
        let odd = Claims {
            now_ms: f64::NAN,
            ..bare
        };
        assert_eq!(
            Json::parse(&odd.to_json())
                .unwrap()
                .get("iat")
                .and_then(Json::as_f64),
            Some(0.0)
        );
    }

    #[test]
    fn rfc9449_4_2_htu_drops_query_and_fragment() {
        assert_eq!(htu("https://api.test/a/b?x=1#f"), "https://api.test/a/b");
        assert_eq!(htu("https://api.test/a#f?x"), "https://api.test/a");
        assert_eq!(htu("https://api.test/"), "https://api.test/");
        assert_eq!(htu("http://127.0.0.1:8080/t?"), "http://127.0.0.1:8080/t");
    }

    #[test]
    fn rfc9449_5_token_types() {
        let on = Some(Mode::default());
        let lax = Some(Mode { allow_bearer: true });
        assert!(check_token_type(on, "DPoP").is_ok());
        assert_eq!(
            check_token_type(on, "Bearer").unwrap_err().code,
            ErrorCode::InvalidTokenResponse
        );
        assert!(check_token_type(lax, "Bearer").is_ok());
        assert!(check_token_type(lax, "DPoP").is_ok());
        assert!(check_token_type(None, "Bearer").is_ok());
        assert_eq!(
            check_token_type(None, "DPoP").unwrap_err().code,
            ErrorCode::InvalidTokenResponse
        );
        assert!(is_dpop("DPoP") && !is_dpop("Bearer"));
    }

    #[test]
    fn methods_as_fetch_sends_them() {
        assert_eq!(method("get").as_deref(), Some("GET"));
        assert_eq!(method("Post").as_deref(), Some("POST"));
        assert_eq!(method("PATCH").as_deref(), Some("PATCH"));
        assert_eq!(method("patch").as_deref(), Some("patch"));
        assert_eq!(method(""), None);
        assert_eq!(method("GET /"), None);
    }

    #[test]
    fn proofs_are_compact_jws_with_a_64_byte_signature() {
        let input = signing_input(&key().header_json(), "{}");
        let (h, c) = input.split_once('.').unwrap();
        assert_eq!(
            String::from_utf8(base64url_decode(h).unwrap()).unwrap(),
            key().header_json()
        );
        assert_eq!(base64url_decode(c).unwrap(), b"{}");
        let proof = compact(&input, &[7u8; 64]).unwrap();
        let sig = proof.rsplit('.').next().unwrap();
        assert_eq!(base64url_decode(sig).unwrap(), vec![7u8; 64]);
        assert_eq!(proof.matches('.').count(), 2);
        assert!(compact(&input, &[0u8; 70]).is_err());
    }

    #[test]
    fn ath_is_base64url_without_padding() {
        assert_eq!(ath(&[0xfb, 0xff]), "-_8");
    }
}
