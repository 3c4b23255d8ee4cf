//! What the authorization server's answers mean: a token endpoint's answer (RFC 6749
//! §5.1, §5.2) and a revocation's (RFC 7009 §2.2), and the forms those requests send.
//! The session (`session.rs`) and sign-in (`oidc/`) act on these verdicts; the shell
//! only carries the bytes.

use super::error::{with_status, Error, ErrorCode, ServerCause};
use super::form::form_encode;
use super::json::Json;
use super::tokens::TokenResponse;
use crate::prelude::*;

/// How a refresh failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Worth trying again later (network, timeout, 5xx, 429); the server may have said
    /// when (`Retry-After`, in ms).
    Transient(Option<f64>),
    /// The session is over (`invalid_grant`, `invalid_client`, 400/401).
    Terminal,
}

/// Whether an error is terminal for a refresh: the server said the grant or the
/// client is not good (RFC 6749 §5.2).
pub fn is_terminal(code: &ErrorCode) -> bool {
    matches!(code, ErrorCode::InvalidGrant)
        || matches!(code, ErrorCode::Server(c) if c == "invalid_client" || c == "unauthorized_client" || c == "unsupported_grant_type" || c == "invalid_scope")
}

/// Reads an error answer of a token endpoint (RFC 6749 §5.2): `(error, error_description)`.
pub fn parse_error_body(text: &str) -> (Option<String>, Option<String>) {
    match Json::parse(text) {
        Ok(v) => (
            v.get("error").and_then(Json::as_str).map(str::to_string),
            v.get("error_description")
                .and_then(Json::as_str)
                .map(str::to_string),
        ),
        Err(_) => (None, None),
    }
}

/// Decides what a token endpoint's answer means (RFC 6749 §5.1, §5.2): new tokens, a
/// transient failure (5xx, 429, 408: try again, after `retry_after_ms` if the server
/// said), or a terminal one (400/401, e.g. `invalid_grant`: the session is over).
pub fn token_answer(
    status: u16,
    body: &str,
    retry_after_ms: Option<f64>,
) -> Result<TokenResponse, (Failure, Error)> {
    let cause = |body: &str| {
        let (error, error_description) = parse_error_body(body);
        ServerCause {
            error,
            error_description,
            status: Some(status),
        }
    };
    match status {
        200..=299 => TokenResponse::parse(body).map_err(|e| (Failure::Transient(None), e)),
        400 | 401 => {
            let server = cause(body);
            let code = match server.error.as_deref() {
                Some("invalid_grant") | None => ErrorCode::InvalidGrant,
                Some(other) => ErrorCode::server(other).unwrap_or(ErrorCode::InvalidGrant),
            };
            Err((
                Failure::Terminal,
                Error::new(code, "the authorization server refused the grant").with_server(server),
            ))
        }
        _ => Err((
            Failure::Transient(retry_after_ms),
            Error::network(with_status("the token endpoint answered HTTP ", status, ""))
                .with_server(cause(body)),
        )),
    }
}

/// The refresh request's form (RFC 6749 §6), with `client_id` for a public client.
pub fn refresh_form(refresh_token: &str, client_id: Option<&str>) -> String {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    form_encode(&form)
}

/// The revocation request's form (RFC 7009 §2.1) for a refresh token.
pub fn revocation_form(refresh_token: &str, client_id: Option<&str>) -> String {
    let mut form = vec![
        ("token", refresh_token),
        ("token_type_hint", "refresh_token"),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    form_encode(&form)
}

/// How a refresh gets its new tokens, decided from the options and what is known.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshPlan {
    /// Call the app's `refresh` function with the refresh token (if any).
    AppFunction,
    /// Find the token endpoint in the provider's metadata first, then plan again.
    Discover,
    /// POST this form to this token endpoint.
    Request {
        /// The token endpoint.
        url: String,
        /// The form (RFC 6749 §6).
        form: String,
    },
    /// It cannot: the refresh fails this way.
    Fail(Failure, Error),
}

/// Plans a refresh: the app's function wins; else the token endpoint (explicit, or
/// `discovered`, or to be discovered when an issuer is known) with the refresh token.
pub fn refresh_plan(
    app_function: bool,
    endpoint: Option<&str>,
    can_discover: bool,
    refresh_token: Option<&str>,
    client_id: Option<&str>,
) -> RefreshPlan {
    if app_function {
        return RefreshPlan::AppFunction;
    }
    let fail = |m: &'static str| {
        RefreshPlan::Fail(Failure::Terminal, Error::new(ErrorCode::InvalidGrant, m))
    };
    match (endpoint, refresh_token) {
        (Some(url), Some(rt)) => RefreshPlan::Request {
            url: url.to_string(),
            form: refresh_form(rt, client_id),
        },
        (Some(_), None) => fail("there is no refresh token"),
        (None, Some(_)) if can_discover => RefreshPlan::Discover,
        (None, _) => fail("this client cannot refresh"),
    }
}

/// What a failure of the app's own `refresh` function means: terminal when its code says
/// the grant or client is not good, otherwise worth trying again.
pub fn app_refresh_failure(e: Error) -> (Failure, Error) {
    let failure = if is_terminal(&e.code) {
        Failure::Terminal
    } else {
        Failure::Transient(None)
    };
    (failure, e)
}

/// How long the app's own `refresh` function's promise is waited for: as long as a token
/// request (a promise that never settles would otherwise hold the refresh, and every call
/// waiting for it, forever).
pub const APP_REFRESH_TIMEOUT_MS: f64 = super::policy::REQUEST_TIMEOUT_MS;

/// The app's own `refresh` function's promise did not settle within
/// [`APP_REFRESH_TIMEOUT_MS`]: a `network` error, so a transient failure (retried with
/// backoff, as an unanswered token request is).
pub fn app_refresh_unsettled() -> Error {
    Error::network("the refresh function did not settle within 10 s")
}

/// What to do after a revocation request.
#[derive(Debug, Clone, PartialEq)]
pub enum Revocation {
    /// The token is revoked.
    Revoked,
    /// Send it once more `no-cors` (`keepalive`): the answer could not be read, which is
    /// what a server that sends no CORS headers looks like. A revocation is a CORS-simple
    /// request; a `no-cors` request resolves only when the server answered, and for RFC
    /// 7009 an answer means the token is revoked (revoking a revoked token is a 200 too).
    SendOpaque,
    /// It failed: `revocation_failed`, reported as an `error` event.
    Failed(Error),
}

/// Decides what a revocation's outcome means: `answer` is the status and body, or `None`
/// when no readable answer came; `opaque` says whether this was the `no-cors` retry.
pub fn revocation_answer(answer: Option<(u16, &str)>, opaque: bool) -> Revocation {
    match (answer, opaque) {
        (Some(_), true) | (Some((200, _)), false) => Revocation::Revoked,
        (Some((status, body)), false) => {
            let (error, error_description) = parse_error_body(body);
            Revocation::Failed(
                Error::new(
                    ErrorCode::RevocationFailed,
                    "the refresh token could not be revoked",
                )
                .with_server(ServerCause {
                    error,
                    error_description,
                    status: Some(status),
                }),
            )
        }
        (None, false) => Revocation::SendOpaque,
        (None, true) => Revocation::Failed(Error::new(
            ErrorCode::RevocationFailed,
            "the revocation endpoint could not be reached",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_5_2_answers_are_classified() {
        assert!(token_answer(200, r#"{"access_token":"a"}"#, None).is_ok());
        let (f, e) = token_answer(
            400,
            r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
            None,
        )
        .unwrap_err();
        assert_eq!(
            (f, e.code.clone()),
            (Failure::Terminal, ErrorCode::InvalidGrant)
        );
        assert_eq!(
            e.server.clone().unwrap().error_description.as_deref(),
            Some("grant request is invalid")
        );
        let (f, e) = token_answer(401, r#"{"error":"invalid_client"}"#, None).unwrap_err();
        assert_eq!((f, e.code.as_str()), (Failure::Terminal, "invalid_client"));
        // A server's `error` that is no code of its own reads as `invalid_grant`, never as
        // tokenward's `network` (transient) or any other of its codes.
        for body in [
            r#"{"error":"network"}"#,
            r#"{"error":""}"#,
            r#"{"error":"a\"b"}"#,
        ] {
            let (f, e) = token_answer(400, body, None).unwrap_err();
            assert_eq!(
                (f, e.code.clone()),
                (Failure::Terminal, ErrorCode::InvalidGrant),
                "{body}"
            );
        }
        for status in [408, 429, 500, 502, 503, 504, 404] {
            let (f, e) = token_answer(status, "<html>", Some(2_000.0)).unwrap_err();
            assert_eq!(
                (f, e.code.clone()),
                (Failure::Transient(Some(2_000.0)), ErrorCode::Network),
                "{status}"
            );
        }
        let (f, e) = token_answer(200, "{", None).unwrap_err();
        assert_eq!(
            (f, e.code.clone()),
            (Failure::Transient(None), ErrorCode::InvalidTokenResponse)
        );
    }

    #[test]
    fn revocation_answers_are_classified() {
        assert_eq!(
            revocation_answer(Some((200, "")), false),
            Revocation::Revoked
        );
        assert_eq!(revocation_answer(None, false), Revocation::SendOpaque);
        assert_eq!(revocation_answer(Some((0, "")), true), Revocation::Revoked);
        let Revocation::Failed(e) =
            revocation_answer(Some((400, r#"{"error":"unsupported_token_type"}"#)), false)
        else {
            panic!("a 400 is a failure")
        };
        assert_eq!(e.code, ErrorCode::RevocationFailed);
        assert_eq!(
            e.server.clone().unwrap().error.as_deref(),
            Some("unsupported_token_type")
        );
        let Revocation::Failed(e) = revocation_answer(None, true) else {
            panic!("unreachable twice is a failure")
        };
        assert_eq!(e.code, ErrorCode::RevocationFailed);
    }

    #[test]
    fn refreshes_are_planned_from_the_options() {
        assert_eq!(
            refresh_plan(true, None, false, None, None),
            RefreshPlan::AppFunction
        );
        assert_eq!(
            refresh_plan(false, Some("https://as/t"), false, Some("rt"), Some("spa")),
            RefreshPlan::Request {
                url: "https://as/t".into(),
                form: "grant_type=refresh_token&refresh_token=rt&client_id=spa".into()
            }
        );
        assert_eq!(
            refresh_plan(false, None, true, Some("rt"), None),
            RefreshPlan::Discover
        );
        let code = |p: RefreshPlan| match p {
            RefreshPlan::Fail(Failure::Terminal, e) => e.code.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            code(refresh_plan(false, None, true, None, None)),
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            code(refresh_plan(false, Some("https://as/t"), false, None, None)),
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            code(refresh_plan(false, None, false, Some("rt"), None)),
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            app_refresh_failure(Error::new(ErrorCode::InvalidGrant, "x")).0,
            Failure::Terminal
        );
        assert_eq!(
            app_refresh_failure(Error::network("x")).0,
            Failure::Transient(None)
        );
        assert_eq!(APP_REFRESH_TIMEOUT_MS, 10_000.0, "the message names 10 s");
        assert_eq!(
            app_refresh_failure(app_refresh_unsettled()).0,
            Failure::Transient(None)
        );
    }

    #[test]
    fn forms_carry_the_client_id_of_a_public_client() {
        assert_eq!(
            refresh_form("r t", Some("spa")),
            "grant_type=refresh_token&refresh_token=r+t&client_id=spa"
        );
        assert_eq!(
            revocation_form("rt", None),
            "token=rt&token_type_hint=refresh_token"
        );
    }
}
