//! The authorization response on the redirect URI (RFC 6749 §4.1.2, §4.1.2.1, §10.12 and
//! RFC 9207 `iss`): read from the query and checked against the pending sign-in.

use super::authorize::Pending;
use super::same_secret;
use crate::core::ascii;
use crate::core::error::{cat, Error, ErrorCode, ServerCause};
use crate::core::form::form_decode;
use crate::prelude::*;

/// Strips the query and the fragment from a URL: what decides whether a page is the
/// redirect URI.
pub fn without_query(url: &str) -> &str {
    ascii::before(url, b"?#")
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
        let mut r = AuthResponse::default();
        for (k, v) in form_decode(query) {
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

    /// Reads the response from the query of `url`, an absolute URL as the browser's parser
    /// writes it (the page's `href`): what follows the first `?`, up to the fragment.
    pub fn in_url(url: &str) -> Option<AuthResponse> {
        let url = ascii::before(url, b"#");
        AuthResponse::parse(ascii::cut(url, b'?').map_or("", |(_, query)| query))
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
/// is `access_denied`; another `error` keeps the server's code when it is one
/// ([`ErrorCode::server`]), and a malformed `error` or an empty `code` is `invalid_state`.
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
                invalid_state("the response lacks the `iss` the provider always sends (RFC 9207)"),
                true,
            );
        }
        _ => {}
    }
    if let Some(error) = &response.error {
        let code = match error.as_str() {
            "access_denied" => Some(ErrorCode::AccessDenied),
            other => ErrorCode::server(other),
        };
        let Some(code) = code else {
            return refuse(
                invalid_state(
                    "the response's `error` is no error code (empty, a character RFC 6749 \
                     does not allow, or one of tokenward's own codes)",
                ),
                true,
            );
        };
        let message = if code == ErrorCode::AccessDenied {
            "the sign-in was refused or cancelled".to_string()
        } else {
            cat(&["the authorization server refused the sign-in (", error, ")"])
        };
        let server = ServerCause {
            error: Some(error.clone()),
            error_description: response.error_description.clone(),
            status: None,
        };
        return refuse(Error::new(code, message).with_server(server), true);
    }
    match &response.code {
        Some(c) if !c.is_empty() => Verdict {
            code: Ok(c.clone()),
            consume_pending: true,
        },
        _ => refuse(invalid_state("the response carries an empty `code`"), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use crate::core::oidc::testing::*;
    use crate::core::oidc::*;

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
    fn the_response_in_a_page_url_is_its_query_only() {
        let r = AuthResponse::in_url("https://app.example/cb?code=c1&state=s#code=c2").unwrap();
        assert_eq!(r.code.as_deref(), Some("c1"));
        // A `?` in the fragment is not the query.
        assert_eq!(
            AuthResponse::in_url("https://app.example/cb#x?code=c2&state=s"),
            None
        );
        assert_eq!(AuthResponse::in_url("https://app.example/cb"), None);
        let e = AuthResponse::in_url("https://app.example/?error=access_denied").unwrap();
        assert_eq!(e.error.as_deref(), Some("access_denied"));
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
            (v.code.unwrap_err().code.clone(), v.consume_pending),
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
        assert_eq!(
            e.server.clone().unwrap().error_description.as_deref(),
            Some("nope")
        );
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
            "invalid_state"
        );
        // An `error` that is no error code of the server's: empty, with a character RFC
        // 6749 §4.1.2.1 does not allow, or spelling one of tokenward's own codes.
        for error in [
            "",
            "%22quoted%22",
            "back%5Cslash",
            "caf%C3%A9",
            "network",
            "signed_out",
        ] {
            let r =
                AuthResponse::parse(&format!("error={error}&state=st4te&iss={ISSUER}")).unwrap();
            let verdict = check_response(&r, Some(&p));
            assert!(verdict.consume_pending, "{error}");
            assert_eq!(
                verdict.code.unwrap_err().code.as_str(),
                "invalid_state",
                "{error}"
            );
        }
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
}
