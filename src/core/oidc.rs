//! Sign-in decisions: OpenID Connect discovery, the authorization request with PKCE,
//! state and nonce, the authorization response and the ID token's claims.
//!
//! Everything here is pure: the browser shell (`crate::browser::signin`) brings the random
//! bytes, the SHA-256 digest, the discovery document, the page URL and the token
//! endpoint's answer, and performs what is decided here (store the pending sign-in,
//! redirect, exchange the code). The specifications, by section:
//! - OpenID Connect Discovery 1.0 §3, §4 — [`discovery_url`], [`Discovery`];
//! - RFC 8414 §3 (endpoints the OpenID document lacks) — [`metadata_urls`], [`Discovery::with_metadata`];
//! - RFC 6749 §4.1.1 and RFC 7636 §4 (PKCE, S256) — [`authorization_url`], [`code_challenge`];
//! - RFC 6749 §4.1.2, §10.12 (state) and RFC 9207 (`iss`) — [`AuthResponse`], [`check_response`];
//! - RFC 6749 §4.1.3 — [`exchange_form`];
//! - OpenID Connect Core 1.0 §3.1.3.7 (ID token validation) — [`check_sign_in_tokens`], [`id_claims`];
//! - OpenID Connect RP-Initiated Logout 1.0 §2 — [`end_session_url`].
//!
//! Error messages never contain the code, the verifier, the state, the nonce or a token.

use super::attach::secure_url_text;
use super::error::{Error, ErrorCode, ServerCause};
use super::json::Json;
use super::jwt::{self, Claims};
use super::tokens::{form_encode, TokenResponse};

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
/// removed from the address bar once the response is handled.
pub const RESPONSE_PARAMS: [&str; 6] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

/// Parameters the client sets itself and `extraParams` may not override.
const RESERVED_PARAMS: [&str; 10] = [
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
];

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
    scope.split(' ').any(|s| s == "openid")
}

/// The discovery document's URL (OpenID Connect Discovery 1.0 §4): the issuer, without a
/// trailing `/`, followed by `/.well-known/openid-configuration`.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// What the client uses of an OpenID Provider's metadata (Discovery 1.0 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// The issuer identifier, identical to the one configured.
    pub issuer: String,
    /// Where `signIn()` sends the user.
    pub authorization_endpoint: String,
    /// Where codes are exchanged and tokens refreshed.
    pub token_endpoint: String,
    /// RP-Initiated Logout, when the provider supports it.
    pub end_session_endpoint: Option<String>,
    /// RFC 7009 revocation, when the provider supports it.
    pub revocation_endpoint: Option<String>,
    /// RFC 9207 §3: the provider puts `iss` in every authorization response, so a response
    /// without it is rejected.
    pub iss_parameter_supported: bool,
}

fn invalid_discovery(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidDiscovery, message)
}

impl Discovery {
    /// Decides what the answer to the discovery request means: a document (200), a
    /// transient failure (`network`: 408, 429, 5xx) or a provider that has no usable
    /// document (`invalid_discovery`: any other status, or a document [`Discovery::parse`]
    /// refuses).
    pub fn from_answer(status: u16, body: &str, expected_issuer: &str) -> Result<Discovery, Error> {
        match status {
            200..=299 => Discovery::parse(body, expected_issuer),
            408 | 429 | 500..=599 => Err(Error::network(format!(
                "the discovery document could not be fetched (HTTP {status})"
            ))),
            _ => Err(invalid_discovery(format!(
                "the provider has no discovery document (HTTP {status})"
            ))),
        }
    }

    /// Reads a discovery document. It must be a JSON object naming exactly
    /// `expected_issuer` (Discovery 1.0 §4.3) and absolute http(s) `authorization_endpoint`
    /// and `token_endpoint`; when it lists `code_challenge_methods_supported`, `S256` must
    /// be among them (RFC 8414 §2). Anything else is `invalid_discovery`.
    pub fn parse(text: &str, expected_issuer: &str) -> Result<Discovery, Error> {
        let doc = Json::parse(text).map_err(|e| {
            invalid_discovery("the discovery document is not JSON").with_cause(e.to_string())
        })?;
        if !matches!(doc, Json::Obj(_)) {
            return Err(invalid_discovery(
                "the discovery document is not a JSON object",
            ));
        }
        let issuer = match doc.get("issuer") {
            Some(Json::Str(s)) => s.clone(),
            _ => return Err(invalid_discovery("the discovery document has no `issuer`")),
        };
        if issuer != expected_issuer {
            return Err(invalid_discovery(format!(
                "the discovery document names the issuer `{issuer}`, not `{expected_issuer}`"
            )));
        }
        let required = |name: &str| -> Result<String, Error> {
            match doc.get(name) {
                Some(Json::Str(s)) if is_http_url(s) && !secure_url_text(s) => {
                    Err(invalid_discovery(format!(
                        "the discovery document's `{name}` must be https (http only for loopback hosts)"
                    )))
                }
                Some(Json::Str(s)) if is_http_url(s) => Ok(s.clone()),
                Some(_) => Err(invalid_discovery(format!(
                    "the discovery document's `{name}` is not an http(s) URL"
                ))),
                None => Err(invalid_discovery(format!(
                    "the discovery document has no `{name}`"
                ))),
            }
        };
        let optional = |name: &str| -> Result<Option<String>, Error> {
            match doc
                .get(name)
                .and_then(Json::as_str)
                .filter(|s| is_http_url(s))
            {
                Some(s) if !secure_url_text(s) => Err(invalid_discovery(format!(
                    "the discovery document's `{name}` must be https (http only for loopback hosts)"
                ))),
                other => Ok(other.map(str::to_string)),
            }
        };
        if let Some(methods) = doc.get("code_challenge_methods_supported") {
            let s256 = matches!(methods, Json::Arr(items) if items.iter().any(|m| m.as_str() == Some("S256")));
            if !s256 {
                return Err(invalid_discovery(
                    "the provider does not support PKCE with S256",
                ));
            }
        }
        Ok(Discovery {
            authorization_endpoint: required("authorization_endpoint")?,
            token_endpoint: required("token_endpoint")?,
            end_session_endpoint: optional("end_session_endpoint")?,
            revocation_endpoint: optional("revocation_endpoint")?,
            iss_parameter_supported: doc.get("authorization_response_iss_parameter_supported")
                == Some(&Json::Bool(true)),
            issuer,
        })
    }
}

/// The RFC 8414 §3 authorization server metadata URLs to try, in order, for an issuer:
/// the well-known segment goes between the host and the issuer's path
/// (`https://as.example/.well-known/oauth-authorization-server/tenant`); for an issuer
/// with a path, the form some servers also serve, the issuer followed by the segment
/// (`https://as.example/tenant/.well-known/oauth-authorization-server`), comes second.
/// Empty for something that is not an absolute http(s) URL.
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
    if !is_http_url(issuer) {
        return Vec::new();
    }
    let issuer = issuer.trim_end_matches('/');
    // Bytes, not `str::find` or slicing by `split_at`: those pull panicking paths and the
    // formatting machinery (Unicode tables, about 6 KB gzip) into the wasm.
    let https = issuer
        .as_bytes()
        .get(..8)
        .is_some_and(|h| h.eq_ignore_ascii_case(b"https://"));
    let after_scheme = if https { 8 } else { 7 };
    // The authority ends at the first `/` (a query in an issuer is not allowed, §2).
    let path_start = issuer
        .bytes()
        .skip(after_scheme)
        .position(|b| b == b'/')
        .map(|i| i.saturating_add(after_scheme));
    match path_start {
        Some(path_start) => match (issuer.get(..path_start), issuer.get(path_start..)) {
            (Some(origin), Some(path)) => vec![
                format!("{origin}{WELL_KNOWN}{path}"),
                format!("{issuer}{WELL_KNOWN}"),
            ],
            _ => Vec::new(),
        },
        None => vec![format!("{issuer}{WELL_KNOWN}")],
    }
}

/// What an RFC 8414 metadata answer did to a [`Discovery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataOutcome {
    /// The document was read: its issuer matched, and these endpoints were taken from it.
    Merged(Discovery),
    /// The document could not be used (not there, not JSON, another issuer); the reason,
    /// for diagnostics. The next URL, if any, may still be tried.
    Unusable(String),
}

impl Discovery {
    /// Whether the OpenID document lacks an endpoint the client can use that RFC 8414
    /// metadata may have (today `revocation_endpoint`, RFC 8414 §2): then the shell reads
    /// [`metadata_urls`] one after another, feeding each answer to [`Discovery::with_metadata`].
    pub fn wants_metadata(&self) -> bool {
        self.revocation_endpoint.is_none()
    }

    /// Fills the endpoints this document lacks from an RFC 8414 metadata answer. The
    /// answer is used only when it is a 200 JSON object whose `issuer` is identical to
    /// this one (RFC 8414 §3.3); endpoints already known are never replaced, and a value
    /// that is not an http(s) URL is ignored.
    pub fn with_metadata(&self, status: u16, body: &str) -> MetadataOutcome {
        if !(200..=299).contains(&status) {
            return MetadataOutcome::Unusable(format!("HTTP {status}"));
        }
        let doc = match Json::parse(body) {
            Ok(doc @ Json::Obj(_)) => doc,
            _ => return MetadataOutcome::Unusable("not a JSON object".to_string()),
        };
        match doc.get("issuer").and_then(Json::as_str) {
            Some(issuer) if issuer == self.issuer => {}
            _ => return MetadataOutcome::Unusable("it names another issuer".to_string()),
        }
        let endpoint = |name: &str| {
            doc.get(name)
                .and_then(Json::as_str)
                .filter(|s| is_http_url(s))
                .map(str::to_string)
        };
        let mut merged = self.clone();
        if merged.revocation_endpoint.is_none() {
            merged.revocation_endpoint = endpoint("revocation_endpoint");
        }
        if !merged.iss_parameter_supported {
            merged.iss_parameter_supported = doc
                .get("authorization_response_iss_parameter_supported")
                == Some(&Json::Bool(true));
        }
        MetadataOutcome::Merged(merged)
    }
}

/// The discovery requests, in order, and what their answers mean: the OpenID document
/// first; then, when it lacks an endpoint ([`Discovery::wants_metadata`]), the RFC 8414
/// [`metadata_urls`] one after another until one is usable. The shell fetches
/// [`Discovering::next_url`] and feeds the answer to [`Discovering::answer`] until that
/// gives the result: one request site, every decision here.
#[derive(Debug, Clone)]
pub struct Discovering {
    issuer: String,
    /// The OpenID document, once read.
    found: Option<Discovery>,
    /// The URLs to fetch, in order, and the index of the next one.
    to_fetch: Vec<String>,
    next: usize,
}

impl Discovering {
    /// Starts with the OpenID document of `issuer`.
    pub fn new(issuer: &str) -> Discovering {
        Discovering {
            issuer: issuer.to_string(),
            found: None,
            to_fetch: vec![discovery_url(issuer)],
            next: 0,
        }
    }

    /// The URL to fetch next.
    pub fn next_url(&self) -> Option<&str> {
        self.to_fetch.get(self.next).map(String::as_str)
    }

    /// The answer to [`Discovering::next_url`] (status and body, or why it could not be
    /// fetched). `Ok(Some(_))` is the result; `Ok(None)`: fetch the next URL. The OpenID
    /// document's failures are the result's ([`Discovery::from_answer`]); a metadata
    /// answer that cannot be used only moves on to the next URL, and after the last one
    /// the OpenID document is the result as it was.
    pub fn answer(
        &mut self,
        answer: Result<(u16, &str), Error>,
    ) -> Result<Option<Discovery>, Error> {
        self.next = self.next.saturating_add(1);
        let discovery = match self.found.take() {
            None => {
                let (status, body) = answer?;
                let d = Discovery::from_answer(status, body, &self.issuer)?;
                if d.wants_metadata() {
                    self.to_fetch = metadata_urls(&self.issuer);
                    self.next = 0;
                }
                d
            }
            Some(d) => match answer.map(|(status, body)| d.with_metadata(status, body)) {
                Ok(MetadataOutcome::Merged(merged)) => {
                    self.next = self.to_fetch.len();
                    merged
                }
                _ => d,
            },
        };
        if self.next >= self.to_fetch.len() {
            return Ok(Some(discovery));
        }
        self.found = Some(discovery);
        Ok(None)
    }
}

/// Sign-out asked to revoke, and no revocation endpoint is known (none given, none in the
/// provider's OpenID or RFC 8414 metadata): the refresh token stays valid at the server.
/// Reported once per client as an `error` event (`revocation_failed`); `None` when it
/// has been reported already.
pub fn no_revocation_endpoint(already_reported: bool) -> Option<Error> {
    (!already_reported).then(|| {
        Error::new(
            ErrorCode::RevocationFailed,
            "no revocation endpoint is known (no `revocationEndpoint` option, none in the provider's metadata): the refresh token was not revoked",
        )
    })
}

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

/// Appends form-encoded `pairs` to `endpoint`, keeping its query (RFC 6749 §3.1: "MUST be
/// retained when adding additional query parameters") and dropping any fragment.
fn with_query(endpoint: &str, pairs: &[(&str, &str)]) -> String {
    let base = endpoint.split('#').next().unwrap_or(endpoint);
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!("{base}{sep}{}", form_encode(pairs))
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
            return Err(Error::options(format!("`extraParams` may not set `{k}`: the client sets it (use the option of that name where there is one)")));
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
        let s = |v: &str| Json::Str(v.to_string());
        let mut members = vec![
            ("v".to_string(), Json::Num(PENDING_VERSION)),
            ("state".to_string(), s(&self.state)),
            ("nonce".to_string(), s(&self.nonce)),
            ("verifier".to_string(), s(&self.verifier)),
            ("redirect_uri".to_string(), s(&self.redirect_uri)),
            ("scope".to_string(), s(&self.scope)),
            ("client_id".to_string(), s(&self.client_id)),
            ("token_endpoint".to_string(), s(&self.token_endpoint)),
            ("iss_required".to_string(), Json::Bool(self.iss_required)),
        ];
        if let Some(i) = &self.issuer {
            members.push(("issuer".to_string(), s(i)));
        }
        Json::Obj(members).to_text()
    }

    /// Reads a record written by [`Pending::to_json`]; anything else (truncated, another
    /// version, a field missing or empty) is `None`, and the sign-in cannot complete.
    pub fn from_json(text: &str) -> Option<Pending> {
        let v = Json::parse(text).ok()?;
        if v.get("v").and_then(Json::as_f64) != Some(PENDING_VERSION) {
            return None;
        }
        let s = |name: &str| {
            v.get(name)
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let issuer = match v.get("issuer") {
            None => None,
            Some(Json::Str(i)) if !i.is_empty() => Some(i.clone()),
            Some(_) => return None,
        };
        let iss_required = match v.get("iss_required") {
            Some(Json::Bool(b)) => *b,
            _ => return None,
        };
        Some(Pending {
            state: s("state")?,
            nonce: s("nonce")?,
            verifier: s("verifier")?,
            redirect_uri: s("redirect_uri")?,
            scope: s("scope")?,
            client_id: s("client_id")?,
            token_endpoint: s("token_endpoint").filter(|t| is_http_url(t))?,
            issuer,
            iss_required,
        })
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

/// Strips the query and the fragment from a URL: what decides whether a page is the
/// redirect URI.
pub fn without_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url)
}

/// An authorization response, as it arrives in the redirect URI's query (RFC 6749
/// §4.1.2, §4.1.2.1, RFC 9207 §2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthResponse {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` echoed back.
    pub state: Option<String>,
    /// The issuer that sent the response (RFC 9207).
    pub iss: Option<String>,
    /// The error code, when the request was refused.
    pub error: Option<String>,
    /// The error's description.
    pub error_description: Option<String>,
    /// A page about the error.
    pub error_uri: Option<String>,
    /// A response parameter appeared more than once (RFC 6749 §3.1 forbids it).
    pub repeated: bool,
}

impl AuthResponse {
    /// Reads the response from a URL's query (with or without the leading `?`). `None`
    /// when the query carries neither `code` nor `error`: then it is no authorization
    /// response.
    pub fn parse(query: &str) -> Option<AuthResponse> {
        AuthResponse::from_pairs(form_decode(query))
    }

    /// Reads the response from name/value pairs already decoded (the shell uses the
    /// browser's `URLSearchParams`); the same rules as [`AuthResponse::parse`].
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Option<AuthResponse> {
        let mut r = AuthResponse::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "code" => &mut r.code,
                "state" => &mut r.state,
                "iss" => &mut r.iss,
                "error" => &mut r.error,
                "error_description" => &mut r.error_description,
                "error_uri" => &mut r.error_uri,
                _ => continue,
            };
            if slot.is_some() {
                r.repeated = true;
            }
            *slot = Some(v);
        }
        if r.code.is_none() && r.error.is_none() {
            return None;
        }
        Some(r)
    }
}

/// Whether `createTokenClient` should handle the response in the page URL by itself: the
/// page is the redirect URI (compared without query and fragment) and a sign-in is pending
/// in this tab. With the default redirect URI every page of the app is "the redirect URI",
/// so a page whose own URL happens to carry `?code=…&state=…` (an app's own parameters, a
/// link someone shared) is left alone — neither exchanged nor stripped — unless this tab
/// started a sign-in. An explicit `handleRedirect()` still checks any response.
pub fn should_handle(
    page_url: &str,
    redirect_uri: &str,
    _response: &AuthResponse,
    has_pending: bool,
) -> bool {
    without_query(page_url) == without_query(redirect_uri) && has_pending
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The verdict on an authorization response.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The code to exchange, or why there is none.
    pub code: Result<String, Error>,
    /// Whether the pending sign-in was used by this response (its `state` matched) and is
    /// to be removed. A response with a wrong `state` leaves it, so a forged response
    /// cannot cancel the real one on its way.
    pub consume_pending: bool,
}

fn invalid_state(message: &str) -> Error {
    Error::new(ErrorCode::InvalidState, message)
}

/// Checks an authorization response against the pending sign-in: `state` first (RFC 6749
/// §10.12), then `iss` (RFC 9207 §2.4), then the server's `error` (§4.1.2.1), then the
/// code. A wrong or missing `state` or `iss` is `invalid_state`; `error=access_denied`
/// is `access_denied`; another `error` keeps the server's code.
pub fn check_response(response: &AuthResponse, pending: Option<&Pending>) -> Verdict {
    let refuse = |e: Error, consume_pending: bool| Verdict {
        code: Err(e),
        consume_pending,
    };
    let Some(pending) = pending else {
        return refuse(
            invalid_state(
                "no sign-in is pending in this tab: the response is stale, replayed or forged",
            ),
            false,
        );
    };
    match &response.state {
        Some(s) if same_secret(s, &pending.state) => {}
        Some(_) => {
            return refuse(
                invalid_state("the response's `state` does not match the pending sign-in"),
                false,
            )
        }
        None => return refuse(invalid_state("the response has no `state`"), false),
    }
    if response.repeated {
        return refuse(invalid_state("the response repeats a parameter"), true);
    }
    match (&response.iss, &pending.issuer) {
        (Some(iss), Some(expected)) if iss != expected => {
            return refuse(
                invalid_state("the response comes from another issuer (RFC 9207 `iss`)"),
                true,
            );
        }
        (None, Some(_)) if pending.iss_required => {
            return refuse(
                invalid_state(
                    "the response has no `iss` although the provider always sends it (RFC 9207)",
                ),
                true,
            );
        }
        _ => {}
    }
    if let Some(error) = &response.error {
        let server = ServerCause {
            error: Some(error.clone()),
            error_description: response.error_description.clone(),
            status: None,
        };
        let (code, message) = match error.as_str() {
            "access_denied" => (
                ErrorCode::AccessDenied,
                "the sign-in was refused or cancelled".to_string(),
            ),
            "" => (
                ErrorCode::Server("invalid_request".to_string()),
                "the authorization server refused the sign-in".to_string(),
            ),
            other => (
                ErrorCode::Server(other.to_string()),
                format!("the authorization server refused the sign-in ({other})"),
            ),
        };
        return refuse(Error::new(code, message).with_server(server), true);
    }
    match &response.code {
        Some(c) if !c.is_empty() => Verdict {
            code: Ok(c.clone()),
            consume_pending: true,
        },
        _ => refuse(
            Error::new(
                ErrorCode::Server("invalid_request".to_string()),
                "the response carries an empty code",
            ),
            true,
        ),
    }
}

/// The token request that exchanges the code (RFC 6749 §4.1.3 with RFC 7636 §4.5).
pub fn exchange_form(code: &str, pending: &Pending) -> String {
    form_encode(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &pending.redirect_uri),
        ("client_id", &pending.client_id),
        ("code_verifier", &pending.verifier),
    ])
}

fn bad_id_token(message: &str) -> Error {
    Error::token_response(format!("the ID token {message}"))
}

/// Checks the claims every ID token of this client must have (OpenID Connect Core
/// §3.1.3.7 steps 2–5): `iss` is the issuer (when known), `aud` contains the client, and
/// an `azp` present names the client.
fn check_audience_and_issuer(
    claims: &Claims,
    issuer: Option<&str>,
    client_id: &str,
) -> Result<(), Error> {
    if let Some(expected) = issuer {
        if claims.string("iss") != Some(expected) {
            return Err(bad_id_token("was issued by another issuer (`iss`)"));
        }
    }
    if !claims.audiences().contains(&client_id) {
        return Err(bad_id_token("is meant for another client (`aud`)"));
    }
    if let Some(azp) = claims.value.get("azp") {
        if azp.as_str() != Some(client_id) {
            return Err(bad_id_token("was authorized for another client (`azp`)"));
        }
    }
    Ok(())
}

/// Checks the token response of a sign-in: when the scope asked for contains `openid` it
/// must carry an ID token; an ID token must be a JWT whose `iss`, `aud` (and `azp`),
/// `exp` (with [`ID_TOKEN_LEEWAY_SECONDS`]) and `nonce` are right (OpenID Connect Core
/// §3.1.3.7; the signature is not checked, as §3.1.3.7 step 6 allows for a token received
/// directly from the token endpoint over TLS). Every failure is `invalid_token_response`.
/// Returns the ID token's claims, if there is one.
pub fn check_sign_in_tokens(
    response: &TokenResponse,
    pending: &Pending,
    now_ms: f64,
) -> Result<Option<Claims>, Error> {
    let Some(id_token) = &response.id_token else {
        if scope_has_openid(&pending.scope) {
            return Err(Error::token_response(
                "the sign-in asked for `openid` but the token response has no ID token",
            ));
        }
        return Ok(None);
    };
    let claims = jwt::decode(id_token).ok_or_else(|| bad_id_token("is not a JWT"))?;
    check_audience_and_issuer(&claims, pending.issuer.as_deref(), &pending.client_id)?;
    let exp = claims
        .number("exp")
        .ok_or_else(|| bad_id_token("has no `exp`"))?;
    if now_ms / 1000.0 > exp + ID_TOKEN_LEEWAY_SECONDS {
        return Err(bad_id_token("has expired (`exp`)"));
    }
    match claims.string("nonce") {
        Some(n) if same_secret(n, &pending.nonce) => {}
        Some(_) => return Err(bad_id_token("answers another sign-in (`nonce`)")),
        None => return Err(bad_id_token("has no `nonce`")),
    }
    Ok(Some(claims))
}

/// The claims `idClaims` shows for the ID token the session holds. Its `exp` and `nonce`
/// were checked when it arrived; here `iss` and `aud` are checked again (the token may
/// come from storage or a refresh). `None` without a client id, or when a check fails.
pub fn id_claims(id_token: &str, issuer: Option<&str>, client_id: Option<&str>) -> Option<Claims> {
    let claims = jwt::decode(id_token)?;
    check_audience_and_issuer(&claims, issuer, client_id?).ok()?;
    Some(claims)
}

/// The RP-Initiated Logout request (OpenID Connect RP-Initiated Logout 1.0 §2), keeping
/// the endpoint's own query.
pub fn end_session_url(
    endpoint: &str,
    id_token_hint: Option<&str>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
) -> String {
    let mut pairs = Vec::new();
    if let Some(t) = id_token_hint {
        pairs.push(("id_token_hint", t));
    }
    if let Some(c) = client_id {
        pairs.push(("client_id", c));
    }
    if let Some(p) = post_logout_redirect_uri {
        pairs.push(("post_logout_redirect_uri", p));
    }
    if pairs.is_empty() {
        return endpoint.split('#').next().unwrap_or(endpoint).to_string();
    }
    with_query(endpoint, &pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://op.example.com";

    fn doc(extra: &str) -> String {
        format!(
            r#"{{"issuer":"{ISSUER}","authorization_endpoint":"{ISSUER}/auth","token_endpoint":"{ISSUER}/token"{extra}}}"#
        )
    }

    fn pending() -> Pending {
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

    fn id_token(payload: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            jwt::base64url_encode(payload.as_bytes())
        )
    }

    fn tokens_with(id: Option<String>) -> TokenResponse {
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

    const NOW_MS: f64 = 1_700_000_000_000.0;

    fn good_claims() -> String {
        format!(
            r#"{{"iss":"{ISSUER}","sub":"alice","aud":"spa","exp":1700000300,"iat":1700000000,"nonce":"n0nce"}}"#
        )
    }

    #[test]
    fn discovery_1_0_section_4_url_is_issuer_plus_well_known() {
        assert_eq!(
            discovery_url(ISSUER),
            "https://op.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://op.example.com/tenant/"),
            "https://op.example.com/tenant/.well-known/openid-configuration"
        );
    }

    #[test]
    fn discovery_1_0_section_3_document_is_read() {
        let d = Discovery::parse(
            &doc(r#","end_session_endpoint":"https://op.example.com/end","revocation_endpoint":"https://op.example.com/rev","code_challenge_methods_supported":["plain","S256"],"authorization_response_iss_parameter_supported":true"#),
            ISSUER,
        )
        .unwrap();
        assert_eq!(d.authorization_endpoint, "https://op.example.com/auth");
        assert_eq!(d.token_endpoint, "https://op.example.com/token");
        assert_eq!(
            d.end_session_endpoint.as_deref(),
            Some("https://op.example.com/end")
        );
        assert_eq!(
            d.revocation_endpoint.as_deref(),
            Some("https://op.example.com/rev")
        );
        assert!(d.iss_parameter_supported);
        let minimal = Discovery::parse(&doc(""), ISSUER).unwrap();
        assert_eq!(
            (
                minimal.end_session_endpoint,
                minimal.iss_parameter_supported
            ),
            (None, false)
        );
    }

    #[test]
    fn rfc8414_2_discovered_endpoints_must_be_https_except_loopback() {
        for (path, url) in [
            ("/token", "http://op.example.com/token"),
            ("/auth", "http://op.example.com/auth"),
            ("/token", "http://127.0.0.1.evil.example/token"),
            ("/token", "HTTP://op.example.com/token"),
        ] {
            let text = doc("").replace(&format!("{ISSUER}{path}"), url);
            let e = Discovery::parse(&text, ISSUER).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidDiscovery, "{url}");
        }
        for (name, url) in [
            ("revocation_endpoint", "http://op.example.com/rev"),
            ("end_session_endpoint", "http://op.example.com/end"),
        ] {
            let e = Discovery::parse(&doc(&format!(r#","{name}":"{url}""#)), ISSUER).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidDiscovery, "{url}");
        }
        let local = r#"{"issuer":"http://127.0.0.1:4000","authorization_endpoint":"http://127.0.0.1:4000/auth","token_endpoint":"http://localhost:4000/token","revocation_endpoint":"http://[::1]:4000/rev"}"#;
        assert!(Discovery::parse(local, "http://127.0.0.1:4000").is_ok());
    }

    #[test]
    fn discovery_1_0_section_4_3_issuer_must_be_identical_and_endpoints_present() {
        let bad = [
            doc("").replace(ISSUER, "https://evil.example"),
            doc("").replace("https://op.example.com/token", "/token"),
            doc("").replace(r#","token_endpoint":"https://op.example.com/token""#, ""),
            doc("").replace(
                r#""authorization_endpoint":"https://op.example.com/auth","#,
                "",
            ),
            doc("").replace("https://op.example.com/auth", "javascript:alert(1)"),
            doc(r#","code_challenge_methods_supported":["plain"]"#),
            r#"{"authorization_endpoint":"https://op.example.com/auth"}"#.to_string(),
            "[]".to_string(),
            "<html>".to_string(),
        ];
        for text in &bad {
            let e = Discovery::parse(text, ISSUER).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidDiscovery, "{text}");
        }
        // A trailing slash is another issuer (simple string comparison, Discovery §4.3).
        assert_eq!(
            Discovery::parse(&doc(""), "https://op.example.com/")
                .unwrap_err()
                .code,
            ErrorCode::InvalidDiscovery
        );
    }

    #[test]
    fn rfc8414_3_well_known_segment_goes_between_host_and_path() {
        assert_eq!(
            metadata_urls("https://as.example.com"),
            ["https://as.example.com/.well-known/oauth-authorization-server"]
        );
        assert_eq!(
            metadata_urls("https://as.example.com/"),
            ["https://as.example.com/.well-known/oauth-authorization-server"]
        );
        assert_eq!(
            metadata_urls("http://127.0.0.1:8000/o"),
            [
                "http://127.0.0.1:8000/.well-known/oauth-authorization-server/o",
                "http://127.0.0.1:8000/o/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            metadata_urls("https://as.example.com/issuer1/tenant"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/issuer1/tenant",
                "https://as.example.com/issuer1/tenant/.well-known/oauth-authorization-server",
            ]
        );
        assert!(metadata_urls("not a url").is_empty());
        assert!(metadata_urls("ftp://as.example.com").is_empty());
    }

    #[test]
    fn rfc8414_metadata_fills_only_missing_endpoints_of_the_same_issuer() {
        let oidc = Discovery::parse(&doc(""), ISSUER).unwrap();
        assert!(oidc.wants_metadata());
        let meta = format!(
            r#"{{"issuer":"{ISSUER}","token_endpoint":"https://elsewhere.example/token","revocation_endpoint":"{ISSUER}/revoke","authorization_response_iss_parameter_supported":true}}"#
        );
        let MetadataOutcome::Merged(merged) = oidc.with_metadata(200, &meta) else {
            panic!("the same issuer's metadata is used");
        };
        assert_eq!(
            merged.revocation_endpoint.as_deref(),
            Some("https://op.example.com/revoke")
        );
        assert_eq!(
            merged.token_endpoint, "https://op.example.com/token",
            "known endpoints stay"
        );
        assert!(merged.iss_parameter_supported);
        assert!(!merged.wants_metadata());

        // A revocation endpoint in the OpenID document is never replaced.
        let full = Discovery::parse(
            &doc(r#","revocation_endpoint":"https://op.example.com/rev""#),
            ISSUER,
        )
        .unwrap();
        assert!(!full.wants_metadata());
        let MetadataOutcome::Merged(kept) = full.with_metadata(200, &meta) else {
            panic!("merged");
        };
        assert_eq!(
            kept.revocation_endpoint.as_deref(),
            Some("https://op.example.com/rev")
        );

        // Another issuer, no document, not JSON, a non-URL endpoint.
        for (status, body) in [
            (200, meta.replace(ISSUER, "https://evil.example")),
            (
                200,
                r#"{"revocation_endpoint":"https://op.example.com/revoke"}"#.to_string(),
            ),
            (404, meta.clone()),
            (500, String::new()),
            (200, "<html>".to_string()),
            (200, "[]".to_string()),
        ] {
            assert!(
                matches!(
                    oidc.with_metadata(status, &body),
                    MetadataOutcome::Unusable(_)
                ),
                "{status} {body}"
            );
        }
        let MetadataOutcome::Merged(no_url) = oidc.with_metadata(
            200,
            &format!(r#"{{"issuer":"{ISSUER}","revocation_endpoint":"javascript:x"}}"#),
        ) else {
            panic!("merged");
        };
        assert_eq!(no_url.revocation_endpoint, None);
    }

    #[test]
    fn discovery_requests_fall_back_to_rfc8414_metadata_in_order() {
        let issuer = "https://as.example.com/o";
        let oidc = format!(
            r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/auth","token_endpoint":"{issuer}/token"}}"#
        );
        let meta = format!(r#"{{"issuer":"{issuer}","revocation_endpoint":"{issuer}/revoke"}}"#);

        // The OpenID document lacks revocation: the path form first, then the suffixed form.
        let mut d = Discovering::new(issuer);
        assert_eq!(
            d.next_url(),
            Some("https://as.example.com/o/.well-known/openid-configuration")
        );
        assert_eq!(d.answer(Ok((200, &oidc))).unwrap(), None);
        assert_eq!(
            d.next_url(),
            Some("https://as.example.com/.well-known/oauth-authorization-server/o")
        );
        assert_eq!(d.answer(Ok((404, ""))).unwrap(), None);
        assert_eq!(
            d.next_url(),
            Some("https://as.example.com/o/.well-known/oauth-authorization-server")
        );
        let done = d.answer(Ok((200, &meta))).unwrap().unwrap();
        assert_eq!(
            done.revocation_endpoint.as_deref(),
            Some("https://as.example.com/o/revoke")
        );

        // The first usable document ends it.
        let mut d = Discovering::new(issuer);
        d.answer(Ok((200, &oidc))).unwrap();
        let done = d.answer(Ok((200, &meta))).unwrap().unwrap();
        assert!(done.revocation_endpoint.is_some());
        assert_eq!(d.next_url(), None);

        // Unreachable or foreign metadata: the OpenID document as it was.
        let mut d = Discovering::new(issuer);
        d.answer(Ok((200, &oidc))).unwrap();
        assert_eq!(d.answer(Err(Error::network("down"))).unwrap(), None);
        let done = d
            .answer(Ok((200, &meta.replace(issuer, "https://evil.example"))))
            .unwrap()
            .unwrap();
        assert_eq!(done.revocation_endpoint, None);
        assert_eq!(done.token_endpoint, "https://as.example.com/o/token");

        // A complete OpenID document needs no second request; its failures are the result.
        let mut d = Discovering::new(ISSUER);
        let full = doc(r#","revocation_endpoint":"https://op.example.com/rev""#);
        assert!(d.answer(Ok((200, &full))).unwrap().is_some());
        assert_eq!(
            Discovering::new(ISSUER)
                .answer(Ok((404, "")))
                .unwrap_err()
                .code,
            ErrorCode::InvalidDiscovery
        );
        assert_eq!(
            Discovering::new(ISSUER)
                .answer(Err(Error::network("down")))
                .unwrap_err()
                .code,
            ErrorCode::Network
        );
    }

    #[test]
    fn a_missing_revocation_endpoint_is_reported_once() {
        let first = no_revocation_endpoint(false).unwrap();
        assert_eq!(first.code, ErrorCode::RevocationFailed);
        assert!(no_revocation_endpoint(true).is_none());
    }

    #[test]
    fn discovery_answers_are_classified() {
        assert!(Discovery::from_answer(200, &doc(""), ISSUER).is_ok());
        for status in [404, 400, 401, 302] {
            assert_eq!(
                Discovery::from_answer(status, "", ISSUER).unwrap_err().code,
                ErrorCode::InvalidDiscovery,
                "{status}"
            );
        }
        for status in [408, 429, 500, 503] {
            assert_eq!(
                Discovery::from_answer(status, "", ISSUER).unwrap_err().code,
                ErrorCode::Network,
                "{status}"
            );
        }
    }

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

    #[test]
    fn rfc6749_4_1_2_response_is_read_and_other_queries_are_none() {
        let r = AuthResponse::parse("?code=c1&state=st4te&iss=https%3A%2F%2Fop.example.com&page=2")
            .unwrap();
        assert_eq!(
            (r.code.as_deref(), r.state.as_deref(), r.iss.as_deref()),
            (Some("c1"), Some("st4te"), Some(ISSUER))
        );
        assert!(!r.repeated);
        let e =
            AuthResponse::parse("error=access_denied&error_description=End-User+aborted&state=s")
                .unwrap();
        assert_eq!(e.error_description.as_deref(), Some("End-User aborted"));
        assert_eq!(AuthResponse::parse("?page=2&state=x"), None);
        assert_eq!(AuthResponse::parse(""), None);
        assert!(
            AuthResponse::parse("code=a&code=b&state=s")
                .unwrap()
                .repeated
        );
    }

    #[test]
    fn rfc6749_10_12_state_must_match() {
        let p = pending();
        let ok = AuthResponse::parse(&format!("code=c1&state=st4te&iss={ISSUER}")).unwrap();
        assert_eq!(
            check_response(&ok, Some(&p)),
            Verdict {
                code: Ok("c1".into()),
                consume_pending: true
            }
        );
        for (query, consume) in [
            ("code=c1&state=other&iss=https://op.example.com", false),
            ("code=c1&iss=https://op.example.com", false),
            ("code=c1&state=st4t&iss=https://op.example.com", false),
            (
                "code=c1&state=st4te&state=st4te&iss=https://op.example.com",
                true,
            ),
        ] {
            let v = check_response(&AuthResponse::parse(query).unwrap(), Some(&p));
            assert_eq!(v.code.unwrap_err().code, ErrorCode::InvalidState, "{query}");
            assert_eq!(v.consume_pending, consume, "{query}");
        }
        let v = check_response(&ok, None);
        assert_eq!(
            (v.code.unwrap_err().code, v.consume_pending),
            (ErrorCode::InvalidState, false)
        );
    }

    #[test]
    fn rfc9207_2_4_iss_must_match_and_be_present_when_advertised() {
        let p = pending();
        let wrong = AuthResponse::parse("code=c1&state=st4te&iss=https://evil.example").unwrap();
        assert_eq!(
            check_response(&wrong, Some(&p)).code.unwrap_err().code,
            ErrorCode::InvalidState
        );
        let missing = AuthResponse::parse("code=c1&state=st4te").unwrap();
        assert_eq!(
            check_response(&missing, Some(&p)).code.unwrap_err().code,
            ErrorCode::InvalidState
        );
        let not_advertised = Pending {
            iss_required: false,
            ..pending()
        };
        assert_eq!(
            check_response(&missing, Some(&not_advertised)).code,
            Ok("c1".into())
        );
        let unknown_issuer = Pending {
            issuer: None,
            iss_required: false,
            ..pending()
        };
        assert_eq!(
            check_response(&wrong, Some(&unknown_issuer)).code,
            Ok("c1".into())
        );
        // The issuer is checked before the error, so a forged error is invalid_state too.
        let forged_error =
            AuthResponse::parse("error=access_denied&state=st4te&iss=https://evil.example")
                .unwrap();
        assert_eq!(
            check_response(&forged_error, Some(&p))
                .code
                .unwrap_err()
                .code,
            ErrorCode::InvalidState
        );
    }

    #[test]
    fn rfc6749_4_1_2_1_error_responses_keep_the_server_code() {
        let p = pending();
        let denied = AuthResponse::parse(&format!(
            "error=access_denied&error_description=nope&state=st4te&iss={ISSUER}"
        ))
        .unwrap();
        let v = check_response(&denied, Some(&p));
        assert!(v.consume_pending);
        let e = v.code.unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessDenied);
        assert_eq!(e.server.unwrap().error_description.as_deref(), Some("nope"));
        let other =
            AuthResponse::parse(&format!("error=login_required&state=st4te&iss={ISSUER}")).unwrap();
        assert_eq!(
            check_response(&other, Some(&p))
                .code
                .unwrap_err()
                .code
                .as_str(),
            "login_required"
        );
        let empty = AuthResponse::parse(&format!("code=&state=st4te&iss={ISSUER}")).unwrap();
        assert_eq!(
            check_response(&empty, Some(&p))
                .code
                .unwrap_err()
                .code
                .as_str(),
            "invalid_request"
        );
    }

    #[test]
    fn only_responses_on_the_redirect_uri_are_handled_by_themselves() {
        let with_state = AuthResponse::parse("code=c&state=s").unwrap();
        let stray = AuthResponse::parse("error=oops").unwrap();
        // Without a pending sign-in in this tab, even a well-formed response is the
        // page's own business.
        assert!(!should_handle(
            "https://app.example/cb?code=c&state=s",
            "https://app.example/cb",
            &with_state,
            false
        ));
        assert!(should_handle(
            "https://app.example/cb?code=c&state=s",
            "https://app.example/cb",
            &with_state,
            true
        ));
        assert!(should_handle(
            "https://app.example/cb?code=c&state=s#x",
            "https://app.example/cb?x=1",
            &with_state,
            true
        ));
        assert!(!should_handle(
            "https://app.example/other?code=c&state=s",
            "https://app.example/cb",
            &with_state,
            true
        ));
        assert!(!should_handle(
            "https://app.example/cb?error=oops",
            "https://app.example/cb",
            &stray,
            false
        ));
        assert!(should_handle(
            "https://app.example/cb?error=oops",
            "https://app.example/cb",
            &stray,
            true
        ));
    }

    #[test]
    fn rfc6749_4_1_3_and_rfc7636_4_5_token_request() {
        assert_eq!(
            exchange_form("c 1", &pending()),
            "grant_type=authorization_code&code=c+1&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=spa\
             &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    #[test]
    fn oidc_core_3_1_3_7_id_token_is_validated() {
        let p = pending();
        let claims = check_sign_in_tokens(&tokens_with(Some(id_token(&good_claims()))), &p, NOW_MS)
            .unwrap()
            .unwrap();
        assert_eq!(claims.string("sub"), Some("alice"));
        let multi = good_claims().replace(r#""aud":"spa""#, r#""aud":["api","spa"],"azp":"spa""#);
        assert!(check_sign_in_tokens(&tokens_with(Some(id_token(&multi))), &p, NOW_MS).is_ok());
        let bad = [
            ("iss", good_claims().replace(ISSUER, "https://evil.example")),
            (
                "iss",
                good_claims().replace(&format!(r#""iss":"{ISSUER}","#), ""),
            ),
            (
                "aud",
                good_claims().replace(r#""aud":"spa""#, r#""aud":"other""#),
            ),
            (
                "aud",
                good_claims().replace(r#""aud":"spa""#, r#""aud":["other"]"#),
            ),
            (
                "azp",
                good_claims().replace(r#""aud":"spa""#, r#""aud":["spa","api"],"azp":"api""#),
            ),
            ("exp", good_claims().replace("1700000300", "1699999939")),
            ("exp", good_claims().replace(r#""exp":1700000300,"#, "")),
            ("nonce", good_claims().replace("n0nce", "other")),
            ("nonce", good_claims().replace(r#","nonce":"n0nce""#, "")),
        ];
        for (claim, payload) in &bad {
            let e = check_sign_in_tokens(&tokens_with(Some(id_token(payload))), &p, NOW_MS)
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidTokenResponse, "{payload}");
            assert!(e.message.contains(claim), "{} / {claim}", e.message);
        }
        let opaque =
            check_sign_in_tokens(&tokens_with(Some("opaque".into())), &p, NOW_MS).unwrap_err();
        assert_eq!(opaque.code, ErrorCode::InvalidTokenResponse);
    }

    #[test]
    fn oidc_core_3_1_3_7_exp_has_a_small_leeway() {
        let p = pending();
        // exp 30 s ago is accepted, 61 s ago is not.
        let recent = good_claims().replace("1700000300", "1699999970");
        assert!(check_sign_in_tokens(&tokens_with(Some(id_token(&recent))), &p, NOW_MS).is_ok());
        let old = good_claims().replace("1700000300", "1699999939");
        assert!(check_sign_in_tokens(&tokens_with(Some(id_token(&old))), &p, NOW_MS).is_err());
    }

    #[test]
    fn oidc_core_3_1_3_3_openid_scope_requires_an_id_token() {
        let e = check_sign_in_tokens(&tokens_with(None), &pending(), NOW_MS).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTokenResponse);
        let no_openid = Pending {
            scope: "api:read".into(),
            ..pending()
        };
        assert_eq!(
            check_sign_in_tokens(&tokens_with(None), &no_openid, NOW_MS),
            Ok(None)
        );
        assert!(scope_has_openid("api:read openid"));
        assert!(!scope_has_openid("openidx api"));
    }

    #[test]
    fn stored_id_tokens_are_shown_after_iss_and_aud_checks() {
        let t = id_token(&good_claims());
        assert!(id_claims(&t, Some(ISSUER), Some("spa")).is_some());
        assert!(id_claims(&t, None, Some("spa")).is_some());
        assert!(id_claims(&t, Some("https://evil.example"), Some("spa")).is_none());
        assert!(id_claims(&t, Some(ISSUER), Some("other")).is_none());
        assert!(id_claims(&t, Some(ISSUER), None).is_none());
        assert!(id_claims("opaque", Some(ISSUER), Some("spa")).is_none());
    }

    #[test]
    fn rp_initiated_logout_1_0_section_2_request() {
        assert_eq!(
            end_session_url("https://op.example.com/end?x=1", Some("a.b.c"), Some("spa"), Some("https://app.example/")),
            "https://op.example.com/end?x=1&id_token_hint=a.b.c&client_id=spa&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2F"
        );
        assert_eq!(
            end_session_url("https://op.example.com/end#f", None, None, None),
            "https://op.example.com/end"
        );
    }

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
