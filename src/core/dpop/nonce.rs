//! DPoP server nonces (RFC 9449 §8, §9): when the token endpoint or a resource server
//! asks for one, the nonces remembered per origin, and the one retry that echoes them.

use super::origin;
use crate::core::json::Json;
use crate::core::policy::parse_challenges;
use crate::prelude::*;

/// Most origins whose nonce is remembered; the oldest is forgotten first.
const MAX_NONCE_ORIGINS: usize = 16;

/// The longest nonce kept (a server's nonce is short; a longer one is ignored).
const MAX_NONCE_LEN: usize = 512;

/// The error code of a server that wants a nonce (RFC 9449 §8, §9).
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// Whether `n` may be a nonce: `1*NQCHAR` (RFC 9449 §8.1), bounded.
fn valid_nonce(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NONCE_LEN
        && n.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

/// The nonces servers gave, per origin, in memory only.
#[derive(Debug, Clone, Default)]
pub struct Nonces {
    by_origin: Vec<(String, String)>,
}

impl Nonces {
    /// No nonces yet.
    pub const fn new() -> Nonces {
        Nonces {
            by_origin: Vec::new(),
        }
    }

    /// The nonce to send to `url`'s origin, when one is known.
    pub fn get(&self, url: &str) -> Option<&str> {
        let o = origin(url);
        self.by_origin
            .iter()
            .find(|(k, _)| k == o)
            .map(|(_, v)| v.as_str())
    }

    /// Remembers the `DPoP-Nonce` header of an answer from `url` (every answer that
    /// carries one replaces the last, RFC 9449 §8.2); an invalid value is ignored. Whether
    /// the answer gave a nonce.
    pub fn learn(&mut self, url: &str, header: Option<&str>) -> bool {
        let Some(n) = header.map(str::trim_ascii).filter(|n| valid_nonce(n)) else {
            return false;
        };
        let o = origin(url);
        // One pass: this origin's old nonce goes, and the oldest one (the first) when the
        // table is full of other origins.
        let mut drop_oldest = self.by_origin.len() >= MAX_NONCE_ORIGINS
            && !self.by_origin.iter().any(|(k, _)| k == o);
        self.by_origin
            .retain(|(k, _)| k != o && !::core::mem::take(&mut drop_oldest));
        self.by_origin.push((o.to_string(), n.to_string()));
        true
    }
}

/// Whether a token endpoint's answer asks for a nonce (RFC 9449 §8): HTTP 400 with
/// `error` `use_dpop_nonce`.
pub fn token_endpoint_wants_nonce(status: u16, body: &str) -> bool {
    status == 400
        && Json::parse(body)
            .ok()
            .and_then(|v| v.get("error").and_then(Json::as_str).map(str::to_string))
            .as_deref()
            == Some(USE_DPOP_NONCE)
}

/// Whether a resource server's answer asks for a nonce (RFC 9449 §9): HTTP 401 with a
/// `DPoP` challenge whose `error` is `use_dpop_nonce`.
pub fn resource_wants_nonce(status: u16, www_authenticate: Option<&str>) -> bool {
    status == 401
        && www_authenticate.is_some_and(|h| {
            parse_challenges(h).iter().any(|c| {
                c.scheme.eq_ignore_ascii_case("dpop") && c.param("error") == Some(USE_DPOP_NONCE)
            })
        })
}

/// Whether to send the request again after an answer that asked for a nonce: only once
/// (`already_retried` false), and only when that answer gave a nonce to use (`given`, see
/// [`Nonces::learn`]): without one, the retry would carry the nonce just refused. A token
/// request answered this way was refused before the grant was looked at (RFC 9449 §8;
/// oidc-provider checks the proof before it reads the refresh token), so the retry spends
/// nothing twice.
pub fn retry_with_nonce(wants_nonce: bool, already_retried: bool, given: bool) -> bool {
    wants_nonce && !already_retried && given
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_kept_per_origin() {
        assert_eq!(origin("https://a.test:8443/x/y?q"), "https://a.test:8443");
        assert_eq!(origin("https://a.test"), "https://a.test");
        assert_eq!(origin("https://a.test?x"), "https://a.test");
        let mut n = Nonces::default();
        assert_eq!(n.get("https://a.test/token"), None);
        n.learn("https://a.test/token", Some("one"));
        assert_eq!(n.get("https://a.test/revoke"), Some("one"));
        assert_eq!(n.get("https://b.test/token"), None);
        n.learn("https://a.test/other", Some(" two "));
        assert_eq!(n.get("https://a.test/token"), Some("two"));
        // No header, or one that is not a nonce, keeps what is known.
        n.learn("https://a.test/token", None);
        n.learn("https://a.test/token", Some("bad nonce"));
        n.learn("https://a.test/token", Some("\"quoted\""));
        n.learn("https://a.test/token", Some(&"x".repeat(MAX_NONCE_LEN + 1)));
        // A header value is ASCII: whitespace beyond it is not trimmed but refused.
        n.learn("https://a.test/token", Some("\u{a0}three\u{3000}"));
        assert_eq!(n.get("https://a.test/token"), Some("two"));
        n.learn("https://a.test/token", Some("\t four \t"));
        assert_eq!(n.get("https://a.test/token"), Some("four"));
        n.learn("https://a.test/token", Some("two"));
        for i in 0..(MAX_NONCE_ORIGINS + 4) {
            n.learn(&format!("https://h{i}.test/"), Some("n"));
        }
        assert_eq!(n.by_origin.len(), MAX_NONCE_ORIGINS);
        assert_eq!(n.get("https://a.test/token"), None);
    }

    #[test]
    fn rfc9449_8_token_endpoint_nonce_challenge() {
        assert!(token_endpoint_wants_nonce(
            400,
            r#"{"error":"use_dpop_nonce","error_description":"x"}"#
        ));
        assert!(!token_endpoint_wants_nonce(
            400,
            r#"{"error":"invalid_grant"}"#
        ));
        assert!(!token_endpoint_wants_nonce(
            401,
            r#"{"error":"use_dpop_nonce"}"#
        ));
        assert!(!token_endpoint_wants_nonce(400, "not json"));
    }

    #[test]
    fn rfc9449_9_resource_nonce_challenge() {
        let c = r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;
        assert!(resource_wants_nonce(401, Some(c)));
        assert!(resource_wants_nonce(
            401,
            Some(r#"Bearer realm="x", DPoP algs="ES256", error="use_dpop_nonce""#)
        ));
        assert!(!resource_wants_nonce(400, Some(c)));
        assert!(!resource_wants_nonce(401, None));
        assert!(!resource_wants_nonce(
            401,
            Some(r#"DPoP error="invalid_token""#)
        ));
        assert!(!resource_wants_nonce(
            401,
            Some(r#"Bearer error="use_dpop_nonce""#)
        ));
    }

    #[test]
    fn a_nonce_challenge_is_retried_once_and_only_with_the_nonce_it_gave() {
        assert!(retry_with_nonce(true, false, true));
        assert!(!retry_with_nonce(true, true, true));
        assert!(!retry_with_nonce(false, false, true));
        // No nonce given (or one that is not remembered): the retry would carry the
        // nonce just refused.
        assert!(!retry_with_nonce(true, false, false));
        let mut n = Nonces::new();
        let long = "n".repeat(MAX_NONCE_LEN + 1);
        for header in [None, Some(""), Some("a b"), Some("\\"), Some(long.as_str())] {
            assert!(!n.learn("https://a.test/", header), "{header:?}");
        }
        assert!(n.learn("https://a.test/", Some(" n ")));
    }
}
