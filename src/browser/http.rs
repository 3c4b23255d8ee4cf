//! Talking to the authorization server: token requests (RFC 6749 §6 refresh, §4.1.3
//! code exchange) and revocation (RFC 7009). Bodies are form-encoded; every request has
//! a timeout, so a server that never answers cannot hold a refresh (or a lock) forever.

use super::timer::Timeout;
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

/// POSTs a form and reads the answer, with a timeout. Fails only when no HTTP answer
/// came (offline, refused, CORS, timeout): that is a `network` error.
pub async fn post_form(url: &str, body: &str, timeout_ms: f64) -> Result<Answer, Error> {
    request(url, Some(body), timeout_ms, Send::Cors).await
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
    request(url, None, timeout_ms, Send::Cors).await
}

/// A GET, or with a body a form POST, aborted after `timeout_ms`.
fn request<'a>(
    url: &'a str,
    form: Option<&'a str>,
    timeout_ms: f64,
    send: Send,
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

/// Sends a token request and decides what the answer means.
pub async fn token_request(url: &str, form: &str) -> Result<TokenResponse, (Failure, Error)> {
    match post_form(url, form, REQUEST_TIMEOUT_MS).await {
        Ok(a) => token_answer(a.status, &a.body, a.retry_after_ms),
        Err(e) => Err((Failure::Transient(None), e)),
    }
}

/// Revokes a token (RFC 7009 §2.1), `keepalive`, so that a sign-out followed by the
/// provider's logout redirect still revokes; the core decides what each outcome means
/// ([`revocation_answer`]), including the one `no-cors` retry.
pub async fn revoke(url: &str, form: &str) -> Result<(), Error> {
    let mut send = Send::Keepalive;
    loop {
        let outcome = request(url, Some(form), REQUEST_TIMEOUT_MS, send).await;
        let answer = outcome.as_ref().ok().map(|a| (a.status, a.body.as_str()));
        match revocation_answer(answer, send == Send::Opaque) {
            Revocation::Revoked => return Ok(()),
            Revocation::Failed(e) => return Err(e),
            Revocation::SendOpaque if send != Send::Opaque => send = Send::Opaque,
            Revocation::SendOpaque => return Ok(()),
        }
    }
}
