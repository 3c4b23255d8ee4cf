//! Sign-in decisions: OpenID Connect discovery, the authorization request with PKCE,
//! state and nonce, the authorization response and the ID token's claims.
//!
//! Everything here is pure: the browser shell (`crate::browser::signin`) brings the random
//! bytes, the SHA-256 digest, the discovery document, the page URL and the token
//! endpoint's answer, and performs what is decided here (store the pending sign-in,
//! redirect, exchange the code). The specifications, by section:
//! - OpenID Connect Discovery 1.0 §3, §4 — [`discovery_url`], [`Discovery`];
//! - RFC 8414 §3 (endpoints the OpenID document lacks) — [`metadata_urls`], [`Discovery::with_metadata`] (`metadata.rs`);
//! - RFC 6749 §4.1.1 and RFC 7636 §4 (PKCE, S256) — [`authorization_url`], [`code_challenge`];
//! - RFC 6749 §4.1.2, §10.12 (state) and RFC 9207 (`iss`) — [`AuthResponse`], [`check_response`];
//! - RFC 6749 §4.1.3 — [`exchange_form`];
//! - OpenID Connect Core 1.0 §3.1.3.7 (ID token validation) — [`check_sign_in_tokens`], [`id_claims`];
//! - OpenID Connect RP-Initiated Logout 1.0 §2 — [`end_session_url`].
//!
//! Error messages never contain the code, the verifier, the state, the nonce or a token.

use crate::core::error::cat;
use crate::core::form::form_encode;
use crate::prelude::*;

mod authorize;
mod discovery;
mod exchange;
mod id_token;
mod logout;
mod metadata;
mod response;

pub use authorize::*;
pub use discovery::*;
pub use exchange::*;
pub use id_token::*;
pub use logout::*;
pub use metadata::*;
pub use response::*;

/// The scope asked for when neither the options nor `signIn()` name one.
pub const DEFAULT_SCOPE: &str = "openid";

/// How far past its `exp` an ID token is still accepted, for clocks that disagree a little.
pub const ID_TOKEN_LEEWAY_SECONDS: f64 = 60.0;

/// How many random bytes make a state, a nonce or a code verifier: 32 bytes give a
/// 43-character verifier (RFC 7636 §4.1 asks for 43 to 128) and 256 bits of entropy.
pub const RANDOM_BYTES: usize = 32;

/// The version written in pending sign-in records; any other version is discarded.
pub const PENDING_VERSION: f64 = 1.0;

/// The parameters of an authorization response (RFC 6749 §4.1.2, §4.1.2.1, RFC 9207),
/// separated by spaces: read from the page's query, and removed from the address bar once
/// the response is handled.
pub const RESPONSE_PARAM_LIST: &str = "code state iss error error_description error_uri";

/// Whether `s` looks like an absolute http(s) URL without a fragment. The browser's URL
/// parser has the last word in the shell; this only keeps nonsense out of the core.
fn is_http_url(s: &str) -> bool {
    let b = s.as_bytes();
    let starts = |p: &[u8]| b.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let scheme = if starts(b"https://") {
        8
    } else if starts(b"http://") {
        7
    } else {
        return false;
    };
    // A host, and no fragment, space or control character anywhere.
    !matches!(b.get(scheme), None | Some(b'/' | b'?'))
        && !b.iter().any(|&c| c <= b' ' || c == 0x7f || c == b'#')
}

/// Whether a space-separated scope contains `openid` (then an ID token is required).
pub fn scope_has_openid(scope: &str) -> bool {
    crate::core::ascii::pieces(scope, b' ').any(|s| s == "openid")
}

/// Appends form-encoded `pairs` to `endpoint`, keeping its query (RFC 6749 §3.1: "MUST be
/// retained when adding additional query parameters") and dropping any fragment.
fn with_query(endpoint: &str, pairs: &[(&str, &str)]) -> String {
    let base = crate::core::ascii::before(endpoint, b"#");
    let sep = if !crate::core::ascii::has(base.as_bytes(), b'?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    let mut url = cat(&[base, sep]);
    url.push_str(&form_encode(pairs));
    url
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Fixtures shared by the tests of the sign-in modules.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::core::jwt;
    use crate::core::tokens::TokenResponse;
    pub(crate) const ISSUER: &str = "https://op.example.com";

    pub(crate) fn doc(extra: &str) -> String {
        format!(
            r#"{{"issuer":"{ISSUER}","authorization_endpoint":"{ISSUER}/auth","token_endpoint":"{ISSUER}/token"{extra}}}"#
        )
    }

    pub(crate) fn pending() -> Pending {
        Pending {
            state: "st4te".into(),
            nonce: "n0nce".into(),
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            redirect_uri: "https://app.example/cb".into(),
            scope: "openid api:read".into(),
            client_id: "spa".into(),
            token_endpoint: format!("{ISSUER}/token"),
            issuer: Some(ISSUER.into()),
            iss_required: true,
        }
    }

    pub(crate) fn id_token(payload: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            jwt::base64url_encode(payload.as_bytes())
        )
    }

    pub(crate) fn tokens_with(id: Option<String>) -> TokenResponse {
        TokenResponse {
            access_token: "at".into(),
            token_type: "Bearer".into(),
            expires_in: Some(60.0),
            refresh_token: None,
            id_token: id,
            scope: None,
            refresh_expires_in: None,
        }
    }

    pub(crate) const NOW_MS: f64 = 1_700_000_000_000.0;

    pub(crate) fn good_claims() -> String {
        format!(
            r#"{{"iss":"{ISSUER}","sub":"alice","aud":"spa","exp":1700000300,"iat":1700000000,"nonce":"n0nce"}}"#
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn secret_values_never_appear_in_errors() {
        let p = pending();
        let wrong = AuthResponse::parse("code=SECRETCODE&state=SECRETSTATE").unwrap();
        let e = check_response(&wrong, Some(&p)).code.unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains("SECRET") && !text.contains(&p.state) && !text.contains(&p.verifier)
        );
        let payload = good_claims().replace("n0nce", "SECRETNONCE");
        let e =
            check_sign_in_tokens(&tokens_with(Some(id_token(&payload))), &p, NOW_MS).unwrap_err();
        assert!(!format!("{e:?}").contains("SECRETNONCE") && !format!("{e:?}").contains(&p.nonce));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use crate::core::form::form_decode;
    use crate::core::jwt;
    use crate::core::tokens::TokenResponse;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsers_never_panic(text in ".{0,300}", issuer in ".{0,40}", now in proptest::num::f64::ANY) {
            let _ = Discovery::parse(&text, &issuer);
            let _ = Discovery::from_answer(200, &text, &issuer);
            let _ = Pending::from_json(&text);
            let _ = form_decode(&text);
            let _ = without_query(&text);
            let _ = discovery_url(&text);
            let _ = metadata_urls(&text);
            let _ = metadata_urls(&format!("https://{issuer}"));
            if let Ok(d) = Discovery::parse(r#"{"issuer":"x","authorization_endpoint":"https://a","token_endpoint":"https://t"}"#, "x") {
                let _ = d.with_metadata(200, &text);
            }
            if let Some(r) = AuthResponse::parse(&text) {
                let p = Pending::from_json(&text);
                let _ = check_response(&r, p.as_ref());
                let _ = should_handle(&text, &issuer, &r, p.is_some());
            }
            let _ = id_claims(&text, Some(&issuer), Some(&issuer));
            let resp = TokenResponse { access_token: "a".into(), token_type: "Bearer".into(), expires_in: None, refresh_token: None, id_token: Some(text.clone()), scope: None, refresh_expires_in: None };
            let p = Pending { state: issuer.clone(), nonce: issuer.clone(), verifier: "v".into(), redirect_uri: text.clone(), scope: text.clone(),
                client_id: issuer.clone(), token_endpoint: text.clone(), issuer: Some(issuer.clone()), iss_required: true };
            let _ = check_sign_in_tokens(&resp, &p, now);
            let _ = exchange_form(&text, &p);
            let _ = end_session_url(&text, Some(&issuer), Some(&text), None);
        }

        #[test]
        fn queries_with_percent_escapes_never_panic(parts in proptest::collection::vec("[a-z_%0-9A-F+&=?#]{0,12}", 0..12)) {
            let q = parts.concat();
            let _ = form_decode(&q);
            let _ = AuthResponse::parse(&q);
        }

        #[test]
        fn jwt_shaped_id_tokens_never_panic(payload in ".{0,200}", now in proptest::num::f64::ANY) {
            let token = format!("e30.{}.c2ln", jwt::base64url_encode(payload.as_bytes()));
            let resp = TokenResponse { access_token: "a".into(), token_type: "Bearer".into(), expires_in: None, refresh_token: None, id_token: Some(token.clone()), scope: None, refresh_expires_in: None };
            let p = Pending { state: "s".into(), nonce: "n".into(), verifier: "v".into(), redirect_uri: "https://a/".into(), scope: "openid".into(),
                client_id: "c".into(), token_endpoint: "https://a/t".into(), issuer: Some("https://a".into()), iss_required: false };
            let _ = check_sign_in_tokens(&resp, &p, now);
            let _ = id_claims(&token, Some("https://a"), Some("c"));
        }

        #[test]
        fn authorization_urls_keep_their_parameters(state in ".{1,40}", extra_value in ".{0,40}", endpoint_query in "[a-z=&]{0,10}") {
            let req = AuthRequest {
                endpoint: format!("https://op.example/auth?{endpoint_query}"),
                client_id: "c".into(), redirect_uri: "https://a/".into(), scope: "openid".into(),
                state: state.clone(), nonce: "n".into(), code_challenge: "x".into(),
                extra: vec![("ui".into(), extra_value.clone())], ..AuthRequest::default()
            };
            let url = authorization_url(&req).unwrap();
            let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
            let params = form_decode(query);
            prop_assert!(params.contains(&("state".to_string(), state)));
            prop_assert!(params.contains(&("ui".to_string(), extra_value)));
            prop_assert!(params.contains(&("code_challenge_method".to_string(), "S256".to_string())));
        }
    }
}
