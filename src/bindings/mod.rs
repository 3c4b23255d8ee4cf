//! The JavaScript API of the npm package: a thin layer over [`crate::TokenClient`].
//!
//! It converts JS options to [`Options`], errors to `TokenwardError` (the class defined in
//! `js/` and handed over with `create`), and events to plain objects. It holds
//! no policy: every decision is the core's.

use crate::browser::client::{Done, FetchError, Listener, Options, RefreshFn, TokenClient};
use crate::browser::http::Sent;
use crate::browser::page::Described;
use crate::browser::signin::{SignInParams, SignOutOptions};
use crate::browser::storage::StorageKind;
use crate::core::error::{Error, ErrorCode};
use crate::core::session::{Event, EventKind};
use crate::core::tokens::TokenResponse;
use crate::local::RefCell;
use crate::prelude::*;
use alloc::rc::Rc;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

crate::local::local! {
    static ERROR_CLASS: RefCell<Option<Function>> = RefCell::new(None);
}

mod options;
use crate::core::json::Json;
use options::{object, opt_bool, opt_string, options_from_js};

#[wasm_bindgen]
extern "C" {
    /// `js/client.js`'s maker of `TokenwardError`s.
    type MakeError;
    #[wasm_bindgen(method, structural, js_name = call)]
    #[allow(clippy::too_many_arguments)]
    fn make(
        this: &MakeError,
        ctx: &JsValue,
        code: &str,
        message: &str,
        server: bool,
        error: Option<&str>,
        description: Option<&str>,
        status: Option<u16>,
        cause: Option<&str>,
    ) -> JsValue;
}

/// Converts an [`Error`] into a `TokenwardError` (made by `js/client.js`).
pub fn error_to_js(e: &Error) -> JsValue {
    let made = ERROR_CLASS.with(|c| {
        let c = c.borrow();
        let make = c.as_ref()?;
        let s = e.server.as_ref();
        Some(make.unchecked_ref::<MakeError>().make(
            &JsValue::UNDEFINED,
            e.code.as_str(),
            &e.message,
            s.is_some(),
            s.and_then(|s| s.error.as_deref()),
            s.and_then(|s| s.error_description.as_deref()),
            s.and_then(|s| s.status),
            e.cause.as_deref(),
        ))
    });
    made.unwrap_or_else(|| js_sys::Error::new(&e.message).into())
}

fn code_from_str(code: &str) -> ErrorCode {
    match code {
        "invalid_options" => ErrorCode::InvalidOptions,
        "invalid_token_response" => ErrorCode::InvalidTokenResponse,
        "invalid_grant" => ErrorCode::InvalidGrant,
        "network" => ErrorCode::Network,
        "signed_out" => ErrorCode::SignedOut,
        "storage" => ErrorCode::Storage,
        "revocation_failed" => ErrorCode::RevocationFailed,
        "invalid_state" => ErrorCode::InvalidState,
        "access_denied" => ErrorCode::AccessDenied,
        "invalid_discovery" => ErrorCode::InvalidDiscovery,
        "unsupported" => ErrorCode::Unsupported,
        other => ErrorCode::Server(other.to_string()),
    }
}

/// Reads what an app's `refresh` function threw: a `TokenwardError` (or anything with a
/// string `code`) keeps its code; anything else is a transient `network` failure.
fn error_from_js(value: &JsValue) -> Error {
    let code = crate::browser::field(value, "code");
    let message = crate::browser::field(value, "message");
    match code {
        Some(code) => Error::new(
            code_from_str(&code),
            message.unwrap_or_else(|| "the refresh function failed".into()),
        ),
        None => Error::network("the refresh function failed")
            .with_cause(crate::browser::describe(value)),
    }
}

#[wasm_bindgen]
extern "C" {
    /// `js/client.js`'s `emit(type, status, expiresAt, reason, sessionEndsAt, error)`.
    type Emit;
    #[wasm_bindgen(method, structural, js_name = call)]
    #[allow(clippy::too_many_arguments)]
    fn emit(
        this: &Emit,
        ctx: &JsValue,
        kind: &str,
        status: &str,
        expires_at: Option<f64>,
        reason: Option<&str>,
        session_ends_at: Option<f64>,
        error: &JsValue,
    );
}

/// The client as the wasm module exports it; `js/` wraps it in the public `TokenClient`.
#[wasm_bindgen]
pub struct WasmClient {
    client: TokenClient,
}

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    /// `[promise, resolve, reject]`.
    #[wasm_bindgen(js_name = deferred)]
    fn deferred_js() -> js_sys::Array;
}

/// A promise, and the callback that settles it: resolved with the value, or rejected with
/// the error.
fn deferred() -> (Promise, Done<Result<JsValue, JsValue>>) {
    let parts = deferred_js();
    let settle = |i| parts.get(i).unchecked_into::<Function>();
    let (resolve, reject) = (settle(1), settle(2));
    let done: Done<Result<JsValue, JsValue>> = Box::new(move |result| {
        let _ = match result {
            Ok(v) => resolve.call1(&JsValue::UNDEFINED, &v),
            Err(e) => reject.call1(&JsValue::UNDEFINED, &e),
        };
    });
    (parts.get(0).unchecked_into(), done)
}

/// [`deferred`] for a result with a tokenward [`Error`] (rejected as a `TokenwardError`).
fn promise<T: 'static>(
    start: impl FnOnce(Done<Result<T, Error>>),
    to_js: fn(T) -> JsValue,
) -> Promise {
    let (promise, done) = deferred();
    start(Box::new(move |r: Result<T, Error>| {
        done(r.map(to_js).map_err(|e| error_to_js(&e)))
    }));
    promise
}

/// What `auth.fetch` rejects with: the browser's error as it is, or a `TokenwardError`.
fn fetch_error_to_js(e: FetchError) -> JsValue {
    match e {
        FetchError::Fetch(e) => e,
        FetchError::Token(e) => error_to_js(&e),
    }
}

fn undefined<T>(_: T) -> JsValue {
    JsValue::UNDEFINED
}

#[wasm_bindgen]
impl WasmClient {
    /// `createTokenClient(options)`: the client, restoring the session (see `call`'s
    /// `started`). The options come as JSON text, with the `refresh` and `now` functions
    /// beside it, `js/client.js`'s `emit`, and the page's two helpers, the same for every
    /// client: `make(code, message, isServerAnswer, error, errorDescription, status,
    /// cause)` makes a `TokenwardError`, `send(request)` sends tokenward's own requests
    /// (see [`crate::browser::set_sender`]).
    pub fn create(
        options: &str,
        refresh: JsValue,
        now: JsValue,
        emit: JsValue,
        make: Function,
        send: Function,
    ) -> Result<WasmClient, JsValue> {
        ERROR_CLASS.with(|c| *c.borrow_mut() = Some(make));
        crate::browser::set_sender(send);
        let options = options_from_js(options, refresh, now, emit.unchecked_into())
            .map_err(|e| error_to_js(&e))?;
        let client = TokenClient::create(options).map_err(|e| error_to_js(&e))?;
        Ok(WasmClient { client })
    }

    /// `auth.fetch` when `readyAuthorization` left the decision here, or after a 401.
    // `request` has no `authorization`; `js/client.js` describes it (see `Described`). The
    // token is waited for (a refresh), proved (DPoP) or not there (signed out: the
    // request goes untouched). Rejects like `window.fetch` for request errors. With
    // `sent_with`, `js/client.js` sent the request itself with that `Authorization` value
    // and it was answered 401 (`response`, with the `WWW-Authenticate` header
    // `challenge`): `request` is then the copy made before sending, sent again once when
    // the core says a refresh can help.
    pub fn fetch(
        &self,
        request: JsValue,
        described: &str,
        sent_with: JsValue,
        response: JsValue,
        challenge: JsValue,
    ) -> Promise {
        // Strings or `undefined`, read here: as `Option<String>` parameters each would
        // have its own copying and clean-up code in the glue (DESIGN.md, Size).
        let text = crate::browser::text;
        let (sent_with, challenge) = (text(&sent_with), text(&challenge));
        let (promise, done) = deferred();
        let done: Done<Result<Sent, FetchError>> =
            Box::new(move |r| done(r.map(|s| s.response).map_err(fetch_error_to_js)));
        match sent_with {
            Some(a) => self
                .client
                .answered_401(request, &a, response, challenge, done),
            None => self
                .client
                .fetch_described(request, Described::read(described), done),
        }
        promise
    }

    /// The methods that take one text, one export for all of them: 0 `setTokens(response)`
    /// (`undefined`, or it throws), 1 `readyAuthorization(described)` (a string or
    /// `undefined`); promises from 2 `signOut(options)`, 3 `signIn(options)` and 4
    /// `authorizationHeaders` (its arguments as a JSON array, `[url]` or `[url, method]`).
    pub fn text(&self, which: u32, text: &str) -> Result<JsValue, JsValue> {
        match which {
            0 => self.set_tokens(text).map(|()| JsValue::UNDEFINED),
            1 => Ok(self
                .ready_authorization(text)
                .map_or(JsValue::UNDEFINED, |a| JsValue::from_str(&a))),
            2 => Ok(self.sign_out(text).into()),
            3 => Ok(self.sign_in(text).into()),
            _ => Ok(self.authorization_headers(text).into()),
        }
    }

    /// The client's state, one value per `which` (one export for all of them):
    /// 0 `status`, 1 `expiresAt`, 2 `claims` and 3 `idClaims` (as JSON text, which
    /// `js/client.js` parses), 4 `sessionEndsAt`, 5 `retryOn401`; `null` for what is not
    /// there.
    pub fn state(&self, which: u32) -> JsValue {
        let c = &self.client;
        let text = |claims: Option<crate::core::jwt::Claims>| {
            claims.map_or(JsValue::NULL, |c| JsValue::from_str(&c.json))
        };
        let number = |n: Option<f64>| n.map_or(JsValue::NULL, JsValue::from);
        match which {
            0 => JsValue::from_str(c.status().as_str()),
            1 => number(c.expires_at()),
            2 => text(c.claims()),
            3 => text(c.id_claims()),
            4 => number(c.session_ends_at()),
            _ => JsValue::from_bool(c.retries_401()),
        }
    }

    /// The methods without arguments, one export for all of them: 0 `started` (resolves
    /// once start-up is done; `createTokenClient` waits for it), 1 `accessToken()`,
    /// 2 `refresh()`, 3 `handleRedirect()`, each a promise; 4 `dispose()` (`undefined`).
    pub fn call(&self, which: u32) -> JsValue {
        let c = &self.client;
        match which {
            0 => {
                let (promise, done) = deferred();
                c.when_started(Box::new(move |()| done(Ok(JsValue::UNDEFINED))));
                promise.into()
            }
            1 => promise(|done| c.access_token_then(done), JsValue::from).into(),
            2 => promise(|done| c.refresh_then(done), undefined).into(),
            3 => promise(|done| c.handle_redirect_then(done), JsValue::from).into(),
            4 => {
                c.dispose();
                JsValue::UNDEFINED
            }
            // No such method: nothing happens.
            _ => JsValue::UNDEFINED,
        }
    }
}

/// The methods behind [`WasmClient::text`].
impl WasmClient {
    /// `authorizationHeaders(url, method = 'GET')`: the headers `fetch` would add. The
    /// arguments as a JSON array, `[url]` or `[url, method]`.
    fn authorization_headers(&self, args: &str) -> Promise {
        // As JSON text, which `js/client.js` parses into the object it resolves with.
        let to_js = |headers: Vec<(&'static str, String)>| {
            let mut out = crate::core::json::ObjWriter::new();
            for (name, value) in headers {
                out.str(name, &value);
            }
            JsValue::from_str(&out.finish())
        };
        let args = Json::parse(args);
        let at = |i| match &args {
            Ok(Json::Arr(a)) => a.get(i),
            _ => None,
        };
        promise(
            |done| {
                if let Err(e) = &args {
                    let read =
                        Error::options("the authorizationHeaders arguments could not be read");
                    return done(Err(read.with_cause(e.describe())));
                }
                let Some(url) = at(0).and_then(Json::as_str) else {
                    return done(Err(Error::options("`url` must be a string")));
                };
                let method = match at(1) {
                    None => "GET",
                    Some(Json::Str(m)) => m,
                    Some(_) => return done(Err(Error::options("`method` must be a string"))),
                };
                self.client.authorization_headers_then(url, method, done)
            },
            to_js,
        )
    }

    /// `setTokens(response)`, the response as JSON text.
    fn set_tokens(&self, response: &str) -> Result<(), JsValue> {
        self.client
            .set_tokens_json(response)
            .map_err(|e| error_to_js(&e))
    }

    /// `auth.fetch`'s first step: the `Authorization` value, `""` or `undefined`.
    // For a request `js/client.js` describes (see `Described`): `""` when its URL is not
    // in `attachTo` (it is sent untouched), the `Authorization` value when a token is
    // ready, `undefined` when `fetch` must decide.
    fn ready_authorization(&self, described: &str) -> Option<String> {
        self.client
            .ready_authorization(Described::read(described).url)
    }

    /// `signOut({ revoke, endSession, postLogoutRedirectUri })`, as JSON text: rejects with
    /// `invalid_options` (signing nothing out) for options of the wrong type.
    fn sign_out(&self, options: &str) -> Promise {
        promise(
            |done| match sign_out_options_from_js(options) {
                Ok(options) => self
                    .client
                    .sign_out_then(options, Box::new(move |()| done(Ok(())))),
                Err(e) => done(Err(e)),
            },
            undefined,
        )
    }

    /// `signIn(options)`, as JSON text: resolves once the page is navigating away (`js/`
    /// turns that into a promise that never settles).
    fn sign_in(&self, options: &str) -> Promise {
        promise(
            |done| match sign_in_params_from_js(options) {
                Ok(params) => self.client.sign_in_then(params, done),
                Err(e) => done(Err(e)),
            },
            undefined,
        )
    }
}

/// Reads `signOut()`'s options: `revoke` (default `true`) and `endSession` (default
/// `false`), booleans, and `postLogoutRedirectUri`, a string.
fn sign_out_options_from_js(text: &str) -> Result<SignOutOptions, Error> {
    let js = object(text, "signOut() options")?;
    Ok(SignOutOptions {
        revoke: opt_bool(&js, "revoke", true)?,
        end_session: opt_bool(&js, "endSession", false)?,
        post_logout_redirect_uri: opt_string(&js, "postLogoutRedirectUri")?,
    })
}

/// Reads `signIn()`'s options: `scope`, `prompt`, `loginHint` and `extraParams` (strings).
fn sign_in_params_from_js(text: &str) -> Result<SignInParams, Error> {
    let js = object(text, "signIn() options")?;
    let mut p = SignInParams {
        scope: opt_string(&js, "scope")?,
        prompt: opt_string(&js, "prompt")?,
        login_hint: opt_string(&js, "loginHint")?,
        extra_params: Vec::new(),
    };
    // As for the `scope` option: an empty scope would ask for nothing.
    if p.scope
        .as_deref()
        .is_some_and(|s| s.trim_ascii().is_empty())
    {
        return Err(Error::options("`scope` must not be empty"));
    }
    match js.get("extraParams") {
        None | Some(Json::Null) => {}
        Some(Json::Obj(members)) => {
            for (k, v) in members {
                let v = v
                    .as_str()
                    .ok_or_else(|| Error::options("`extraParams` values must be strings"))?;
                p.extra_params.push((k.clone(), v.to_string()));
            }
        }
        Some(_) => return Err(Error::options("`extraParams` must be an object of strings")),
    }
    Ok(p)
}
