//! Talking to the authorization server: token requests (RFC 6749 §6 refresh, §4.1.3
//! code exchange) and revocation (RFC 7009). Bodies are form-encoded; every request has
//! a timeout, so a server that never answers cannot hold a refresh (or a lock) forever.

use super::dpop::Dpop;
use super::timer::Timeout;
use crate::core::dpop;
use crate::core::error::{Error, ErrorCode};
use crate::core::grant::{revocation_answer, token_answer, Failure, Revocation};
use crate::core::limits::{self, MAX_HTTP_BODY};
use crate::core::tokens::TokenResponse;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

use crate::core::policy;
pub use crate::core::policy::REQUEST_TIMEOUT_MS;

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
    policy::retry_after_ms(&v, js_sys::Date::now(), js_sys::Date::parse)
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
fn request_once<'a>(
    url: &'a str,
    form: Option<&'a str>,
    timeout_ms: f64,
    send: Send,
    proof: Option<&'a str>,
) -> super::Boxed<'a, Result<Answer, Error>> {
    Box::pin(async move {
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

/// Revokes a token (RFC 7009 §2.1), `keepalive`, so that a sign-out followed by the
/// provider's logout redirect still revokes, with a `DPoP` proof when `proved`; the core
/// decides what each outcome means ([`revocation_answer`]), including the one `no-cors`
/// retry (sent without a proof: its answer cannot be read anyway).
pub(crate) async fn revoke(url: &str, form: &str, proved: Option<Proved<'_>>) -> Result<(), Error> {
    let outcome = request(url, Some(form), REQUEST_TIMEOUT_MS, Send::Keepalive, proved).await;
    if let Err(e) = &outcome {
        // No proof could be made (the DPoP key is unusable): nothing was sent.
        if e.code == ErrorCode::Unsupported {
            return Err(e.clone());
        }
    }
    let answer = outcome.as_ref().ok().map(|a| (a.status, a.body.as_str()));
    match revocation_answer(answer, false) {
        Revocation::Revoked => Ok(()),
        Revocation::Failed(e) => Err(e),
        Revocation::SendOpaque => {
            let opaque =
                request_once(url, Some(form), REQUEST_TIMEOUT_MS, Send::Opaque, None).await;
            let answer = opaque.as_ref().ok().map(|a| (a.status, a.body.as_str()));
            match revocation_answer(answer, true) {
                Revocation::Failed(e) => Err(e),
                _ => Ok(()),
            }
        }
    }
}
