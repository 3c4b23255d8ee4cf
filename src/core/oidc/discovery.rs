//! OpenID Connect Discovery 1.0 (§3 the document, §4 where it is): which endpoints the
//! provider publishes, checked before any of them is used.

use super::is_http_url;
use crate::core::attach::secure_url_text;
use crate::core::error::{cat, with_status, Error, ErrorCode};
use crate::core::json::Json;
use crate::prelude::*;

/// The discovery document's URL (OpenID Connect Discovery 1.0 §4): the issuer, without a
/// trailing `/`, followed by `/.well-known/openid-configuration`.
pub fn discovery_url(issuer: &str) -> String {
    cat(&[
        crate::core::ascii::trim_end(issuer, b'/'),
        "/.well-known/openid-configuration",
    ])
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

const NOT_HTTPS: &str = "` must be https (http only for loopback hosts)";

/// "the discovery document's `name`" followed by `rest`.
fn field(name: &str, rest: &str) -> String {
    cat(&["the discovery document's `", name, rest])
}

pub(super) fn invalid_discovery(message: impl Into<String>) -> Error {
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
            408 | 429 | 500..=599 => Err(Error::network(with_status(
                "the discovery document could not be fetched (HTTP ",
                status,
                ")",
            ))),
            _ => Err(invalid_discovery(with_status(
                "the provider has no discovery document (HTTP ",
                status,
                ")",
            ))),
        }
    }

    /// Reads a discovery document. It must be a JSON object naming exactly
    /// `expected_issuer` (Discovery 1.0 §4.3) and absolute http(s) `authorization_endpoint`
    /// and `token_endpoint`; when it lists `code_challenge_methods_supported`, `S256` must
    /// be among them (RFC 8414 §2). Anything else is `invalid_discovery`.
    pub fn parse(text: &str, expected_issuer: &str) -> Result<Discovery, Error> {
        let doc = Json::parse(text).map_err(|e| {
            invalid_discovery("the discovery document is not JSON").with_cause(e.describe())
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
            return Err(invalid_discovery(cat(&[
                "the discovery document names the issuer `",
                &issuer,
                "`, not `",
                expected_issuer,
                "`",
            ])));
        }
        // Endpoints are borrowed until nothing can fail, then copied once.
        let required = |name: &str| -> Result<&str, Error> {
            match doc.get(name) {
                Some(Json::Str(s)) if is_http_url(s) && !secure_url_text(s) => {
                    Err(invalid_discovery(field(name, NOT_HTTPS)))
                }
                Some(Json::Str(s)) if is_http_url(s) => Ok(s),
                Some(_) => Err(invalid_discovery(field(name, "` is not an http(s) URL"))),
                None => Err(invalid_discovery(cat(&[
                    "the discovery document has no `",
                    name,
                    "`",
                ]))),
            }
        };
        let optional = |name: &str| -> Result<Option<&str>, Error> {
            match doc
                .get(name)
                .and_then(Json::as_str)
                .filter(|s| is_http_url(s))
            {
                Some(s) if !secure_url_text(s) => Err(invalid_discovery(field(name, NOT_HTTPS))),
                other => Ok(other),
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
        let authorization_endpoint = required("authorization_endpoint")?;
        let token_endpoint = required("token_endpoint")?;
        let end_session_endpoint = optional("end_session_endpoint")?;
        let revocation_endpoint = optional("revocation_endpoint")?;
        Ok(Discovery {
            authorization_endpoint: authorization_endpoint.to_string(),
            token_endpoint: token_endpoint.to_string(),
            end_session_endpoint: end_session_endpoint.map(str::to_string),
            revocation_endpoint: revocation_endpoint.map(str::to_string),
            iss_parameter_supported: matches!(
                doc.get("authorization_response_iss_parameter_supported"),
                Some(Json::Bool(true))
            ),
            issuer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use crate::core::oidc::testing::*;

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
}
