//! Talking to the authorization server: token requests (RFC 6749 §6 refresh, §4.1.3
//! code exchange) and revocation (RFC 7009). Bodies are form-encoded; every request has
//! a timeout, so a server that never answers cannot hold a refresh (or a lock) forever.

use super::dpop::Dpop;
use super::timer::Timeout;
use crate::core::dpop;
use crate::core::error::{Error, ErrorCode, ServerCause};
use crate::core::limits::{self, MAX_HTTP_BODY};
use crate::core::session::Failure;
use crate::core::tokens::{parse_error_body, token_answer, TokenResponse};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

/// How long a token or revocation request may take.
pub const REQUEST_TIMEOUT_MS: f64 = 10_000.0;

/// A finished HTTP exchange: status, body text and the `Retry-After` header in ms.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body as text.
    pub body: String,
    /// `Retry-After` (seconds or an HTTP date) as ms from now.
    pub retry_after_ms: Option<f64>,
}

fn retry_after(headers: &Headers) -> Option<f64> {
    let v = headers.get("retry-after").ok().flatten()?;
    let v = v.trim();
    if let Some(secs) = crate::core::json::parse_number(v) {
        return Some(secs.max(0.0) * 1000.0);
    }
    let at = js_sys::Date::parse(v);
    if at.is_finite() {
        Some((at - js_sys::Date::now()).max(0.0))
    } else {
        None
    }
}

/// A request with a DPoP proof: the client's DPoP state, its clock, and whether the
/// session came from elsewhere (memory mode asks the other tabs for the key then).
#[derive(Clone, Copy)]
pub(crate) struct Proved<'a> {
    /// The client's DPoP key and mode.
    pub(crate) dpop: &'a Dpop,
    /// The client's clock, for the proof's `iat`.
    pub(crate) now: &'a dyn Fn() -> f64,
    /// See [`Dpop::proof`].
    pub(crate) has_session: bool,
}

/// POSTs a form and reads the answer, with a timeout. Fails only when no HTTP answer
/// came (offline, refused, CORS, timeout): that is a `network` error.
pub async fn post_form(url: &str, body: &str, timeout_ms: f64) -> Result<Answer, Error> {
    request(url, Some(body), timeout_ms, Send::Cors, None).await
}

/// How a request is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Send {
    /// A CORS request whose answer the page reads.
    Cors,
    /// A revocation: `keepalive` (it outlives the page, so a sign-out followed by the
    /// provider's logout redirect still revokes), answer read.
    Keepalive,
    /// A revocation whose answer the page cannot read (the server sent no CORS headers):
    /// `no-cors` + `keepalive`. It resolves only when the server answered.
    Opaque,
}

/// GETs `url` and reads the answer, with a timeout; fails as [`post_form`] does.
pub async fn get(url: &str, timeout_ms: f64) -> Result<Answer, Error> {
    request(url, None, timeout_ms, Send::Cors, None).await
}

/// A GET, or with a body a form POST, aborted after `timeout_ms`. With `proved`, the
/// request carries a DPoP proof, and a `use_dpop_nonce` answer is sent again once with
/// the nonce it gave (RFC 9449 §8: such an answer comes before the grant is looked at,
/// so the retry spends no refresh token twice).
async fn request(
    url: &str,
    form: Option<&str>,
    timeout_ms: f64,
    send: Send,
    proved: Option<Proved<'_>>,
) -> Result<Answer, Error> {
    let mut retried = false;
    loop {
        let proof = match proved {
            Some(p) => Some(
                p.dpop
                    .proof("POST", url, None, (p.now)(), p.has_session)
                    .await?,
            ),
            None => None,
        };
        let a = request_once(url, form, timeout_ms, send, proof.as_deref()).await?;
        let wants = proved.is_some() && dpop::token_endpoint_wants_nonce(a.status, &a.body);
        if !dpop::retry_with_nonce(wants, retried, super::dpop::nonce_for(url).as_deref()) {
            return Ok(a);
        }
        retried = true;
    }
}

/// One exchange of [`request`].
async fn request_once(
    url: &str,
    form: Option<&str>,
    timeout_ms: f64,
    send: Send,
    proof: Option<&str>,
) -> Result<Answer, Error> {
    let fail = |e: JsValue| {
        Error::network("the authorization server could not be reached")
            .with_cause(super::describe(&e))
    };
    let headers = Headers::new().map_err(fail)?;
    headers.set("accept", "application/json").map_err(fail)?;
    let controller = web_sys::AbortController::new().map_err(fail)?;
    let init = RequestInit::new();
    if let Some(body) = form {
        headers
            .set("content-type", "application/x-www-form-urlencoded")
            .map_err(fail)?;
        init.set_method("POST");
        init.set_body(&JsValue::from_str(body));
    }
    if let Some(p) = proof {
        headers.set("dpop", p).map_err(fail)?;
    }
    init.set_headers(&headers);
    init.set_signal(Some(&controller.signal()));
    if send != Send::Cors {
        // `keepalive` is not in web-sys's stable API; the dictionary member is standard.
        let _ = js_sys::Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
    }
    if send == Send::Opaque {
        init.set_mode(web_sys::RequestMode::NoCors);
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(fail)?;
    let abort = controller.clone();
    let _timeout = Timeout::new(timeout_ms, move || abort.abort());
    let response: Response = JsFuture::from(super::global_fetch(&request))
        .await
        .map_err(fail)?
        .unchecked_into();
    super::dpop::learn_nonce(url, &response.headers());
    let text = response.text().map_err(fail)?;
    let text = JsFuture::from(text).await.map_err(fail)?;
    let body = match text.dyn_ref::<js_sys::JsString>() {
        Some(s) => {
            limits::check(
                s.length() as usize,
                MAX_HTTP_BODY,
                ErrorCode::Network,
                "the authorization server's answer is too large",
            )?;
            String::from(s)
        }
        None => String::new(),
    };
    Ok(Answer {
        status: response.status(),
        body,
        retry_after_ms: retry_after(&response.headers()),
    })
}

/// Sends a token request (with a DPoP proof when `proved`) and decides what the answer
/// means. A second `use_dpop_nonce` answer is transient: the session is not over.
pub(crate) async fn token_request(
    url: &str,
    form: &str,
    proved: Option<Proved<'_>>,
) -> Result<TokenResponse, (Failure, Error)> {
    let transient = |e: Error| (Failure::Transient(None), e);
    let a = request(url, Some(form), REQUEST_TIMEOUT_MS, Send::Cors, proved)
        .await
        .map_err(transient)?;
    if proved.is_some() && dpop::token_endpoint_wants_nonce(a.status, &a.body) {
        return Err(transient(Error::network(
            "the token endpoint asked for a DPoP nonce again",
        )));
    }
    token_answer(a.status, &a.body, a.retry_after_ms)
}

/// Revokes a token (RFC 7009 §2.1), with a `DPoP` proof when `proved`. Success is any
/// 200; anything else is `revocation_failed`.
pub(crate) async fn revoke(url: &str, form: &str, proved: Option<Proved<'_>>) -> Result<(), Error> {
    let failed = |status: Option<u16>, body: &str| {
        let (error, error_description) = parse_error_body(body);
        Error::new(
            ErrorCode::RevocationFailed,
            "the refresh token could not be revoked",
        )
        .with_server(ServerCause {
            error,
            error_description,
            status,
        })
    };
    match request(url, Some(form), REQUEST_TIMEOUT_MS, Send::Keepalive, proved).await {
        Ok(a) if a.status == 200 => Ok(()),
        Ok(a) => Err(failed(Some(a.status), &a.body)),
        // No proof could be made (the DPoP key is unusable): nothing was sent.
        Err(e) if e.code == ErrorCode::Unsupported => Err(e),
        // No readable answer: the server may have answered without CORS headers (Django
        // OAuth Toolkit does). A revocation is a CORS-simple request, so it is sent again
        // `no-cors`: that resolves only when the server answered, which for RFC 7009 means
        // the token is revoked (revoking a revoked token is a 200 too). Only when that
        // fails as well was the server not reached: `revocation_failed`.
        Err(_) => match request_once(url, Some(form), REQUEST_TIMEOUT_MS, Send::Opaque, None).await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(Error {
                code: ErrorCode::RevocationFailed,
                ..e
            }),
        },
    }
}
