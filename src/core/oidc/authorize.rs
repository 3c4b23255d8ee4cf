//! The authorization request (RFC 6749 §4.1.1, RFC 7636 §4 PKCE with S256, OpenID
//! Connect Core §3.1.2.1) and the pending sign-in kept until the redirect comes back.

use super::{is_http_url, with_query, PENDING_VERSION};
use crate::core::error::{cat, Error};
use crate::core::json::{Json, ObjWriter};
use crate::core::jwt;
use crate::prelude::*;

/// Parameters the client sets itself and `extraParams` may not override, and those that
/// would take the request out of its hands: `response_mode` (the response must come back
/// in the redirect's query, where `handleRedirect` reads it), `request` and `request_uri`
/// (a request object, or a pushed request, whose state, PKCE and redirect URI are not this
/// client's).
const RESERVED_PARAMS: [&str; 13] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
    "response_mode",
    "request",
    "request_uri",
];

/// Random bytes as a string for a state, a nonce or a code verifier (unpadded base64url:
/// only the unreserved characters RFC 7636 §4.1 allows).
pub fn random_string(bytes: &[u8]) -> String {
    jwt::base64url_encode(bytes)
}

/// The S256 code challenge (RFC 7636 §4.2): `BASE64URL(SHA256(ASCII(code_verifier)))`,
/// given the digest the browser computed.
pub fn code_challenge(sha256_of_verifier: &[u8]) -> String {
    jwt::base64url_encode(sha256_of_verifier)
}

/// The authorization request (RFC 6749 §4.1.1 with RFC 7636 §4.3 and OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Default)]
pub struct AuthRequest {
    /// The authorization endpoint; its own query is kept.
    pub endpoint: String,
    /// `client_id`.
    pub client_id: String,
    /// `redirect_uri`.
    pub redirect_uri: String,
    /// `scope`.
    pub scope: String,
    /// `state` (RFC 6749 §10.12).
    pub state: String,
    /// `nonce` (OpenID Connect Core §3.1.2.1), echoed in the ID token.
    pub nonce: String,
    /// `code_challenge` for `code_challenge_method=S256`.
    pub code_challenge: String,
    /// `prompt` (e.g. `login`, `consent`, `none`).
    pub prompt: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// Any other parameters (e.g. `ui_locales`, `resource`), in order.
    pub extra: Vec<(String, String)>,
}

/// The URL `signIn()` sends the page to. `invalid_options` when `extra` tries to set a
/// parameter the client sets itself (`state`, `redirect_uri`, …) or names one twice.
pub fn authorization_url(req: &AuthRequest) -> Result<String, Error> {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &req.client_id),
        ("redirect_uri", &req.redirect_uri),
        ("scope", &req.scope),
        ("state", &req.state),
        ("nonce", &req.nonce),
        ("code_challenge", &req.code_challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(p) = &req.prompt {
        pairs.push(("prompt", p));
    }
    if let Some(h) = &req.login_hint {
        pairs.push(("login_hint", h));
    }
    for (n, (k, v)) in req.extra.iter().enumerate() {
        if RESERVED_PARAMS.contains(&k.as_str()) {
            return Err(Error::options(cat(&[
                "`extraParams` may not set `",
                k,
                "`: the client decides it (use its option, if there is one)",
            ])));
        }
        if k.is_empty() || req.extra.iter().take(n).any(|(other, _)| other == k) {
            return Err(Error::options(
                "`extraParams` names must be non-empty and distinct",
            ));
        }
        pairs.push((k, v));
    }
    Ok(with_query(&req.endpoint, &pairs))
}

/// A sign-in on its way: what the redirect page needs to finish it. Kept in the tab's
/// sessionStorage between `signIn()` and the redirect back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The `state` sent.
    pub state: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE code verifier (a secret until the code is exchanged).
    pub verifier: String,
    /// The `redirect_uri` sent (the exchange must repeat it, RFC 6749 §4.1.3).
    pub redirect_uri: String,
    /// The scope asked for.
    pub scope: String,
    /// The `client_id` sent.
    pub client_id: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// The issuer the request went to, when known: checked against `iss` (RFC 9207) and
    /// the ID token.
    pub issuer: Option<String>,
    /// The provider always sends `iss` (RFC 9207 §3): a response without it is refused.
    pub iss_required: bool,
}

impl Pending {
    /// The record as JSON text.
    pub fn to_json(&self) -> String {
        let mut o = ObjWriter::new();
        o.num("v", PENDING_VERSION);
        o.str("state", &self.state);
        o.str("nonce", &self.nonce);
        o.str("verifier", &self.verifier);
        o.str("redirect_uri", &self.redirect_uri);
        o.str("scope", &self.scope);
        o.str("client_id", &self.client_id);
        o.str("token_endpoint", &self.token_endpoint);
        o.bool("iss_required", self.iss_required);
        o.opt_str("issuer", self.issuer.as_deref());
        o.finish()
    }

    /// Reads a record written by [`Pending::to_json`]; anything else (truncated, another
    /// version, a field missing or empty) is `None`, and the sign-in cannot complete.
    pub fn from_json(text: &str) -> Option<Pending> {
        let v = Json::parse(text).ok()?;
        if v.get("v").and_then(Json::as_f64) != Some(PENDING_VERSION) {
            return None;
        }
        // Fields are borrowed until nothing can fail, then copied once.
        let s = |name: &str| v.get(name).and_then(Json::as_str).filter(|s| !s.is_empty());
        let issuer = match v.get("issuer") {
            None => None,
            Some(Json::Str(i)) if !i.is_empty() => Some(i.as_str()),
            Some(_) => return None,
        };
        let iss_required = match v.get("iss_required") {
            Some(Json::Bool(b)) => *b,
            _ => return None,
        };
        let (state, nonce, verifier) = (s("state")?, s("nonce")?, s("verifier")?);
        let (redirect_uri, scope, client_id) = (s("redirect_uri")?, s("scope")?, s("client_id")?);
        let token_endpoint = s("token_endpoint").filter(|t| is_http_url(t))?;
        Some(Pending {
            state: state.to_string(),
            nonce: nonce.to_string(),
            verifier: verifier.to_string(),
            redirect_uri: redirect_uri.to_string(),
            scope: scope.to_string(),
            client_id: client_id.to_string(),
            token_endpoint: token_endpoint.to_string(),
            issuer: issuer.map(str::to_string),
            iss_required,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use crate::core::oidc::testing::*;
    use crate::core::oidc::*;

    #[test]
    fn rfc7636_appendix_b_s256_example() {
        let octets = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        assert_eq!(
            random_string(&octets),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        let digest = [
            19, 211, 30, 150, 26, 26, 216, 236, 47, 22, 177, 12, 76, 152, 46, 8, 118, 168, 120,
            173, 109, 241, 68, 86, 110, 225, 137, 74, 203, 112, 249, 195,
        ];
        assert_eq!(
            code_challenge(&digest),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn rfc7636_section_4_1_verifier_length_and_alphabet() {
        let v = random_string(&[0xff; RANDOM_BYTES]);
        assert_eq!(v.len(), 43);
        assert!(v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
    }

    fn request(endpoint: &str) -> AuthRequest {
        AuthRequest {
            endpoint: endpoint.into(),
            client_id: "spa".into(),
            redirect_uri: "https://app.example/cb?x=1".into(),
            scope: "openid api:read".into(),
            state: "s".into(),
            nonce: "n".into(),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            ..AuthRequest::default()
        }
    }

    #[test]
    fn rfc6749_4_1_1_authorization_request() {
        let url = authorization_url(&request("https://op.example.com/auth")).unwrap();
        assert_eq!(
            url,
            "https://op.example.com/auth?response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1\
             &scope=openid+api%3Aread&state=s&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        );
        let mut r = request("https://op.example.com/auth");
        r.prompt = Some("login".into());
        r.login_hint = Some("a@b".into());
        r.extra = vec![("ui_locales".into(), "fr en".into())];
        assert!(authorization_url(&r)
            .unwrap()
            .ends_with("&prompt=login&login_hint=a%40b&ui_locales=fr+en"));
    }

    #[test]
    fn rfc6749_3_1_endpoint_query_is_retained() {
        let url = authorization_url(&request("https://op.example.com/auth?tenant=a#frag")).unwrap();
        assert!(
            url.starts_with("https://op.example.com/auth?tenant=a&response_type=code&"),
            "{url}"
        );
        assert!(!url.contains('#'));
        let url = authorization_url(&request("https://op.example.com/auth?")).unwrap();
        assert!(
            url.starts_with("https://op.example.com/auth?response_type=code&"),
            "{url}"
        );
    }

    #[test]
    fn extra_params_cannot_override_the_request() {
        for name in [
            "state",
            "redirect_uri",
            "code_challenge_method",
            "nonce",
            "prompt",
            "response_mode",
            "request",
            "request_uri",
        ] {
            let mut r = request("https://op.example.com/auth");
            r.extra = vec![(name.into(), "x".into())];
            assert_eq!(
                authorization_url(&r).unwrap_err().code,
                ErrorCode::InvalidOptions,
                "{name}"
            );
        }
        let mut r = request("https://op.example.com/auth");
        r.extra = vec![("a".into(), "1".into()), ("a".into(), "2".into())];
        assert_eq!(
            authorization_url(&r).unwrap_err().code,
            ErrorCode::InvalidOptions
        );
    }

    #[test]
    fn pending_record_round_trips_and_bad_records_are_none() {
        let p = pending();
        let text = p.to_json();
        assert_eq!(Pending::from_json(&text), Some(p.clone()));
        let without_issuer = Pending {
            issuer: None,
            iss_required: false,
            ..p
        };
        assert_eq!(
            Pending::from_json(&without_issuer.to_json()),
            Some(without_issuer)
        );
        for bad in [
            text.replace("\"v\":1", "\"v\":2"),
            text.replace("\"state\":\"st4te\"", "\"state\":\"\""),
            text.replace(",\"iss_required\":true", ""),
            text.replace("\"issuer\":\"https://op.example.com\"", "\"issuer\":5"),
            text.replace("https://op.example.com/token", "/token"),
            text.replace(",\"nonce\":\"n0nce\"", ""),
            text[..text.len() - 2].to_string(),
            "null".into(),
        ] {
            assert_eq!(Pending::from_json(&bad), None, "{bad}");
        }
    }
}
