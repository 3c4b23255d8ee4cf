//! Talking to the authorization server: token requests (RFC 6749 §6 refresh, §4.1.3
//! code exchange) and revocation (RFC 7009). Bodies are form-encoded; every request has
//! a timeout, so a server that never answers cannot hold a refresh (or a lock) forever.

use super::answer::ask;
use super::dpop::Dpop;
use super::Done;
use crate::core::dpop;
use crate::core::error::{Error, ErrorCode};
use crate::core::grant::{revocation_answer, token_answer, Failure, Revocation};
use crate::core::limits::{self, MAX_HTTP_BODY};
use crate::core::tokens::TokenResponse;
use crate::prelude::*;
use alloc::rc::Rc;
use wasm_bindgen::prelude::*;

use crate::core::policy;
pub use crate::core::policy::REQUEST_TIMEOUT_MS;

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    #[wasm_bindgen(js_name = setSender)]
    fn use_sender(send: &JsValue);
    fn exchange(
        sink: &JsValue,
        id: u32,
        url: &str,
        body: Option<&str>,
        mode: u32,
        proof: Option<&str>,
        ms: f64,
    );
    #[wasm_bindgen(js_name = noFollow, catch)]
    fn no_follow_js(request: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = target, catch)]
    fn target_js(request: &JsValue) -> Result<Option<String>, JsValue>;
    #[wasm_bindgen(js_name = copy)]
    fn copy_js(request: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = send)]
    fn send_js(
        sink: &JsValue,
        id: u32,
        request: &JsValue,
        authorization: Option<&str>,
        proof: Option<&str>,
    );
}

/// Replaces the global `fetch` with `send(request)` for every request tokenward sends:
/// the npm package's JS layer hands one over that marks tokenward's own requests, so that
/// `window.fetch = auth.fetch` (or any wrapper around it) does not send them round in a loop.
pub fn set_sender(send: js_sys::Function) {
    use_sender(&send);
}

/// Item `i` of an answer `js/http.js` gave (always an array: see its header).
fn at(answer: &JsValue, i: u32) -> JsValue {
    answer.unchecked_ref::<js_sys::Array>().get(i)
}

/// The HTTP status of an answer; `None` when no HTTP answer came (then item 1 says why).
fn status(answer: &JsValue) -> Option<u16> {
    at(answer, 0).as_f64().map(|s| s as u16)
}

/// A finished HTTP exchange: status, body text and the `Retry-After` header in ms.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body as text.
    pub body: String,
    /// `Retry-After` (seconds or an HTTP date) as ms from now.
    pub retry_after_ms: Option<f64>,
    /// It gave a DPoP nonce (`DPoP-Nonce`), now remembered for its origin.
    pub nonce_given: bool,
}

/// A request with a DPoP proof: the client's DPoP state, its clock, and whether the
/// session came from elsewhere (memory mode asks the other tabs for the key then).
#[derive(Clone)]
pub(crate) struct Proved {
    /// The client's DPoP key and mode.
    pub(crate) dpop: Rc<Dpop>,
    /// The client's clock, for the proof's `iat`.
    pub(crate) now: Rc<dyn Fn() -> f64>,
    /// See [`Dpop::proof`].
    pub(crate) has_session: bool,
}

/// How a request is sent (the `mode` of `js/http.js`'s `exchange`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Send {
    /// A CORS request whose answer the page reads.
    Cors = 0,
    /// A revocation: `keepalive` (it outlives the page, so a sign-out followed by the
    /// provider's logout redirect still revokes), answer read.
    Keepalive = 1,
    /// A revocation whose answer the page cannot read (the server sent no CORS headers):
    /// `no-cors` + `keepalive`. It resolves only when the server answered.
    Opaque = 2,
}

/// What a request to the authorization server is: its URL, the form it POSTs (a GET
/// without), how it is sent and whether it carries a DPoP proof.
struct Exchange {
    url: String,
    form: Option<String>,
    send: Send,
    proved: Option<Proved>,
}

/// GETs `url` and reads the answer, with a timeout. Fails only when no HTTP answer came
/// (offline, refused, CORS, timeout): that is a `network` error.
pub fn get(url: &str, done: Done<Result<Answer, Error>>) {
    let x = Exchange {
        url: url.to_string(),
        form: None,
        send: Send::Cors,
        proved: None,
    };
    request(Rc::new(x), false, done);
}

/// Sends `x`, aborted after the request timeout. With a proof, a `use_dpop_nonce` answer is
/// sent again once with the nonce it gave (RFC 9449 §8: such an answer comes before the
/// grant is looked at, so the retry spends no refresh token twice).
fn request(x: Rc<Exchange>, retried: bool, done: Done<Result<Answer, Error>>) {
    let Some(p) = x.proved.clone() else {
        return request_once(x, None, retried, done);
    };
    p.dpop.clone().proof(
        "POST".to_string(),
        x.url.clone(),
        None,
        (p.now)(),
        p.has_session,
        Box::new(move |proof| match proof {
            Ok(proof) => request_once(x, Some(proof), retried, done),
            Err(e) => done(Err(e)),
        }),
    );
}

/// One exchange of [`request`], performed by `js/http.js`; [`read`] says what came back.
fn request_once(
    x: Rc<Exchange>,
    proof: Option<String>,
    retried: bool,
    done: Done<Result<Answer, Error>>,
) {
    let y = x.clone();
    ask(
        |sink, id| {
            exchange(
                sink,
                id,
                &y.url,
                y.form.as_deref(),
                y.send as u32,
                proof.as_deref(),
                REQUEST_TIMEOUT_MS,
            )
        },
        Box::new(move |answer| {
            let a = match read(&x.url, answer) {
                Ok(a) => a,
                Err(e) => return done(Err(e)),
            };
            let wants = x.proved.is_some() && dpop::token_endpoint_wants_nonce(a.status, &a.body);
            if !dpop::retry_with_nonce(wants, retried, a.nonce_given) {
                return done(Ok(a));
            }
            request(x, true, done);
        }),
    );
}

/// What an exchange's answer says: the `DPoP-Nonce` it gave is remembered, a body over
/// [`MAX_HTTP_BODY`] is refused, and no HTTP answer at all is a `network` error.
fn read(url: &str, answer: JsValue) -> Result<Answer, Error> {
    let Some(status) = status(&answer) else {
        return Err(
            Error::network("the authorization server could not be reached")
                .with_cause(super::describe(&at(&answer, 1))),
        );
    };
    let nonce_given = super::dpop::learn_nonce(url, super::text(&at(&answer, 3)));
    let body = at(&answer, 1);
    let body = match super::text_length(&body) {
        Some(length) => {
            limits::check(
                length,
                MAX_HTTP_BODY,
                ErrorCode::Network,
                "the authorization server's answer is too large",
            )?;
            super::text(&body).unwrap_or_default()
        }
        None => String::new(),
    };
    let retry_after_ms = super::text(&at(&answer, 2))
        .and_then(|v| policy::retry_after_ms(&v, js_sys::Date::now(), js_sys::Date::parse));
    Ok(Answer {
        status,
        body,
        retry_after_ms,
        nonce_given,
    })
}

/// Why `fetch` failed.
#[derive(Debug)]
pub enum FetchError {
    /// No token could be had (e.g. the refresh failed and the token expired).
    Token(Error),
    /// The request itself failed, as `window.fetch` would have (the browser's error).
    Fetch(JsValue),
}

impl From<Error> for FetchError {
    fn from(e: Error) -> FetchError {
        FetchError::Token(e)
    }
}

impl From<JsValue> for FetchError {
    fn from(e: JsValue) -> FetchError {
        FetchError::Fetch(e)
    }
}

/// What `auth.fetch` got for one send: the page's `Response`, its status, and the
/// `WWW-Authenticate` and `DPoP-Nonce` headers (`None` when absent or hidden by CORS).
pub(crate) struct Sent {
    /// The `Response` the page gets.
    pub(crate) response: JsValue,
    /// Its status.
    pub(crate) status: u16,
    /// Its `WWW-Authenticate` header.
    pub(crate) challenge: Option<String>,
    /// Its `DPoP-Nonce` header.
    pub(crate) nonce: Option<String>,
}

/// Sends a request of `auth.fetch` through the page's fetch (`js/http.js`): as it is, or
/// with `authorization` (and a DPoP `proof`) set on it. Fails with what the page's fetch
/// rejected with (`FetchError::Fetch`).
pub(crate) fn send(
    request: &JsValue,
    authorization: Option<&str>,
    proof: Option<&str>,
    done: Done<Result<Sent, FetchError>>,
) {
    ask(
        |sink, id| send_js(sink, id, request, authorization, proof),
        Box::new(move |answer| {
            let Some(status) = status(&answer) else {
                return done(Err(FetchError::Fetch(at(&answer, 1))));
            };
            done(Ok(Sent {
                response: at(&answer, 1),
                status,
                challenge: super::text(&at(&answer, 2)),
                nonce: super::text(&at(&answer, 3)),
            }))
        }),
    );
}

/// The request an attached request is sent as: it never follows a redirect (see
/// `js/http.js`); fails with the browser's error when it cannot be made.
pub(crate) fn no_follow(request: &JsValue) -> Result<JsValue, JsValue> {
    no_follow_js(request)
}

/// The URL and method of a request of `auth.fetch` that may get the token; `None` when it
/// already has an `Authorization` header (then it is sent untouched).
pub(crate) fn target(request: &JsValue) -> Option<(super::page::Url, String)> {
    let t = target_js(request).ok()??;
    let d = super::page::Described::read(&t);
    Some((super::page::Url::from_described(&d), d.method.to_string()))
}

/// What a retry of `request` sends: the request itself when it has no body, otherwise a
/// copy made now; `None` when its body cannot be copied.
pub(crate) fn copy(request: &JsValue) -> Option<JsValue> {
    Some(copy_js(request)).filter(|r| !r.is_null())
}

/// Sends a token request (with a DPoP proof when `proved`) and decides what the answer
/// means. A second `use_dpop_nonce` answer is transient: the session is not over.
pub(crate) fn token_request(
    url: &str,
    form: &str,
    proved: Option<Proved>,
    done: Done<Result<TokenResponse, (Failure, Error)>>,
) {
    let dpop = proved.is_some();
    let x = Exchange {
        url: url.to_string(),
        form: Some(form.to_string()),
        send: Send::Cors,
        proved,
    };
    request(
        Rc::new(x),
        false,
        Box::new(move |answer| {
            let transient = |e: Error| (Failure::Transient(None), e);
            done(match answer {
                Err(e) => Err(transient(e)),
                Ok(a) if dpop && dpop::token_endpoint_wants_nonce(a.status, &a.body) => {
                    Err(transient(Error::network(
                        "the token endpoint asked for a DPoP nonce again",
                    )))
                }
                Ok(a) => token_answer(a.status, &a.body, a.retry_after_ms),
            })
        }),
    );
}

/// Revokes a token (RFC 7009 §2.1), `keepalive`, so that a sign-out followed by the
/// provider's logout redirect still revokes, with a `DPoP` proof when `proved`; the core
/// decides what each outcome means ([`revocation_answer`]), including the one `no-cors`
/// retry (sent without a proof: its answer cannot be read anyway).
pub(crate) fn revoke(url: &str, form: &str, proved: Option<Proved>, done: Done<Result<(), Error>>) {
    let x = Exchange {
        url: url.to_string(),
        form: Some(form.to_string()),
        send: Send::Keepalive,
        proved,
    };
    let x = Rc::new(x);
    let again = x.clone();
    request(
        x,
        false,
        Box::new(move |outcome| {
            if let Err(e) = &outcome {
                // No proof could be made (the DPoP key is unusable): nothing was sent.
                if e.code == ErrorCode::Unsupported {
                    return done(Err(e.clone()));
                }
            }
            let answer = outcome.as_ref().ok().map(|a| (a.status, a.body.as_str()));
            match revocation_answer(answer, false) {
                Revocation::Revoked => done(Ok(())),
                Revocation::Failed(e) => done(Err(e)),
                Revocation::SendOpaque => {
                    let opaque = Exchange {
                        url: again.url.clone(),
                        form: again.form.clone(),
                        send: Send::Opaque,
                        proved: None,
                    };
                    request_once(
                        Rc::new(opaque),
                        None,
                        true,
                        Box::new(move |opaque| {
                            let answer = opaque.as_ref().ok().map(|a| (a.status, a.body.as_str()));
                            done(match revocation_answer(answer, true) {
                                Revocation::Failed(e) => Err(e),
                                _ => Ok(()),
                            })
                        }),
                    );
                }
            }
        }),
    );
}
