//! The JavaScript API of the npm package: a thin layer over [`crate::TokenClient`].
//!
//! It converts JS options to [`Options`], errors to `TokenwardError` (the class defined in
//! `js/` and handed over once with `setErrorClass`), and events to plain objects. It holds
//! no policy: every decision is the core's.

use crate::browser::client::{
    FetchError, Listener, Options, RefreshFn, RefreshFuture, TokenClient,
};
use crate::browser::signin::{SignInParams, SignOutOptions};
use crate::browser::storage::StorageKind;
use crate::core::error::{Error, ErrorCode};
use crate::core::session::{Event, EventKind};
use crate::core::tokens::TokenResponse;
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

thread_local! {
    static ERROR_CLASS: RefCell<Option<Function>> = const { RefCell::new(None) };
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = Request)]
    type JsRequest;
    #[wasm_bindgen(constructor, js_class = "Request", catch)]
    fn new(input: &JsValue, init: &JsValue) -> Result<JsRequest, JsValue>;
}

/// Hands over the `TokenwardError` class: `new TokenwardError(code, message, { cause })`.
#[wasm_bindgen(js_name = setErrorClass)]
pub fn set_error_class(class: Function) {
    ERROR_CLASS.with(|c| *c.borrow_mut() = Some(class));
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn opt_str(value: &Option<String>) -> JsValue {
    value
        .as_deref()
        .map_or(JsValue::UNDEFINED, JsValue::from_str)
}

/// Hands over the function that sends tokenward's own requests (see
/// [`crate::browser::set_sender`]).
#[wasm_bindgen(js_name = setSender)]
pub fn set_sender(send: Function) {
    crate::browser::set_sender(send);
}

/// Converts an [`Error`] into a `TokenwardError`.
pub fn error_to_js(e: &Error) -> JsValue {
    let cause: JsValue = match (&e.server, &e.cause) {
        (Some(s), _) => {
            let o = Object::new();
            set(&o, "error", &opt_str(&s.error));
            set(&o, "error_description", &opt_str(&s.error_description));
            if let Some(status) = s.status {
                set(&o, "status", &JsValue::from(status));
            }
            o.into()
        }
        (None, Some(c)) => JsValue::from_str(c),
        (None, None) => JsValue::UNDEFINED,
    };
    let options = Object::new();
    if !cause.is_undefined() {
        set(&options, "cause", &cause);
    }
    let args = js_sys::Array::of3(
        &JsValue::from_str(e.code.as_str()),
        &JsValue::from_str(&e.message),
        &options,
    );
    let made = ERROR_CLASS.with(|c| {
        c.borrow()
            .as_ref()
            .and_then(|class| Reflect::construct(class, &args).ok())
    });
    made.unwrap_or_else(|| {
        let err = js_sys::Error::new(&e.message);
        set(&err, "code", &JsValue::from_str(e.code.as_str()));
        err.into()
    })
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
    let code = Reflect::get(value, &"code".into())
        .ok()
        .and_then(|c| c.as_string());
    let message = Reflect::get(value, &"message".into())
        .ok()
        .and_then(|m| m.as_string());
    match code {
        Some(code) => Error::new(
            code_from_str(&code),
            message.unwrap_or_else(|| "the refresh function failed".into()),
        ),
        None => Error::network("the refresh function failed")
            .with_cause(crate::browser::describe(value)),
    }
}

fn response_from_js(value: &JsValue) -> Result<TokenResponse, Error> {
    // JSON.stringify turns NaN and ±Infinity into null, which would read as "absent".
    if let Some(n) = get(value, "expires_in").as_f64() {
        if !n.is_finite() {
            return Err(Error::token_response(
                "`expires_in` must be a finite, non-negative number of seconds",
            ));
        }
    }
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| Error::token_response("a token response must be a plain object"))?;
    TokenResponse::parse(&text)
}

fn event_to_js(e: &Event) -> JsValue {
    let o = Object::new();
    set(&o, "type", &JsValue::from_str(e.kind.as_str()));
    set(&o, "status", &JsValue::from_str(e.status.as_str()));
    set(
        &o,
        "expiresAt",
        &e.expires_at.map_or(JsValue::NULL, JsValue::from),
    );
    if let Some(r) = e.reason {
        set(&o, "reason", &JsValue::from_str(r.as_str()));
    }
    if let Some(at) = e.session_ends_at {
        set(&o, "sessionEndsAt", &JsValue::from(at));
    }
    if let Some(err) = &e.error {
        set(&o, "error", &error_to_js(err));
    }
    o.into()
}

fn js_listener(f: Function) -> Listener {
    Rc::new(move |e: &Event| {
        if let Err(thrown) = f.call1(&JsValue::UNDEFINED, &event_to_js(e)) {
            // A listener's exception is the app's bug; show it, keep the client working.
            web_sys::console::error_1(&thrown);
        }
    })
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn opt_string(obj: &JsValue, key: &str) -> Result<Option<String>, Error> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| Error::options(format!("`{key}` must be a string")))
}

fn opt_bool(obj: &JsValue, key: &str, default: bool) -> Result<bool, Error> {
    let v = get(obj, key);
    if v.is_undefined() {
        return Ok(default);
    }
    v.as_bool()
        .ok_or_else(|| Error::options(format!("`{key}` must be a boolean")))
}

fn opt_function(obj: &JsValue, key: &str) -> Result<Option<Function>, Error> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    // typeof checks, not instanceof: values made in another frame are fine.
    if !v.is_function() {
        return Err(Error::options(format!("`{key}` must be a function")));
    }
    Ok(Some(v.unchecked_into()))
}

fn options_from_js(js: &JsValue) -> Result<Options, Error> {
    let mut o = Options::default();
    if js.is_undefined() || js.is_null() {
        return Ok(o);
    }
    if !js.is_object() {
        return Err(Error::options("options must be an object"));
    }
    if let Some(s) = opt_string(js, "storage")? {
        o.storage = StorageKind::parse(&s)
            .ok_or_else(|| Error::options("`storage` must be 'memory', 'session' or 'local'"))?;
    }
    if let Some(k) = opt_string(js, "storageKey")? {
        o.storage_key = Some(k);
    }
    o.token_endpoint = opt_string(js, "tokenEndpoint")?;
    o.client_id = opt_string(js, "clientId")?;
    o.revocation_endpoint = opt_string(js, "revocationEndpoint")?;
    if let Some(f) = opt_function(js, "refresh")? {
        let f: RefreshFn = Rc::new(move |rt: Option<String>| -> RefreshFuture {
            let f = f.clone();
            Box::pin(async move {
                let arg = rt.map_or(JsValue::NULL, |t| JsValue::from_str(&t));
                let returned = f
                    .call1(&JsValue::UNDEFINED, &arg)
                    .map_err(|e| error_from_js(&e))?;
                let value = JsFuture::from(Promise::resolve(&returned))
                    .await
                    .map_err(|e| error_from_js(&e))?;
                response_from_js(&value)
            })
        });
        o.refresh = Some(f);
    }
    let attach = get(js, "attachTo");
    if !attach.is_undefined() && !attach.is_null() {
        if !js_sys::Array::is_array(&attach) {
            return Err(Error::options(
                "`attachTo` must be an array of origins or prefixes",
            ));
        }
        let mut list = Vec::new();
        for item in js_sys::Array::from(&attach).iter() {
            list.push(
                item.as_string()
                    .ok_or_else(|| Error::options("`attachTo` entries must be strings"))?,
            );
        }
        o.attach_to = Some(list);
    }
    let lead = get(js, "refreshLeadSeconds");
    if !lead.is_undefined() {
        o.refresh_lead_seconds = lead
            .as_f64()
            .ok_or_else(|| Error::options("`refreshLeadSeconds` must be a number"))?;
    }
    let lead = get(js, "sessionEndingLeadSeconds");
    if !lead.is_undefined() {
        o.session_ending_lead_seconds = lead
            .as_f64()
            .ok_or_else(|| Error::options("`sessionEndingLeadSeconds` must be a number"))?;
    }
    let age = get(js, "maxSessionAgeSeconds");
    if !age.is_undefined() {
        o.max_session_age_seconds = Some(
            age.as_f64()
                .ok_or_else(|| Error::options("`maxSessionAgeSeconds` must be a number"))?,
        );
    }
    o.retry_on_401 = opt_bool(js, "retryOn401", true)?;
    o.cross_tab = opt_bool(js, "crossTab", true)?;
    if let Some(f) = opt_function(js, "now")? {
        o.now = Some(Rc::new(move || {
            f.call0(&JsValue::UNDEFINED)
                .ok()
                .and_then(|v| v.as_f64())
                .filter(|n| n.is_finite())
                .unwrap_or_else(js_sys::Date::now)
        }));
    }
    let on = get(js, "on");
    if !on.is_undefined() && !on.is_null() {
        if !on.is_object() {
            return Err(Error::options("`on` must be an object of listeners"));
        }
        let on: Object = on.unchecked_into();
        for key in Object::keys(&on).iter() {
            let name = key.as_string().unwrap_or_default();
            let kind = EventKind::parse(&name)
                .ok_or_else(|| Error::options(format!("`on` has an unknown event `{name}`")))?;
            let f = opt_function(&on, &name)?;
            if let Some(f) = f {
                o.on.push((kind, js_listener(f)));
            }
        }
    }
    o.issuer = opt_string(js, "issuer")?;
    o.authorization_endpoint = opt_string(js, "authorizationEndpoint")?;
    o.end_session_endpoint = opt_string(js, "endSessionEndpoint")?;
    o.redirect_uri = opt_string(js, "redirectUri")?;
    o.scope = opt_string(js, "scope")?;
    let dpop = get(js, "dpop");
    o.dpop = if dpop.is_undefined() || dpop.is_null() || dpop == JsValue::FALSE {
        None
    } else if dpop == JsValue::TRUE {
        Some(crate::core::dpop::Mode::default())
    } else if dpop.is_object() {
        Some(crate::core::dpop::Mode {
            allow_bearer: opt_bool(&dpop, "allowBearer", false)?,
        })
    } else {
        return Err(Error::options(
            "`dpop` must be a boolean or `{ allowBearer }`",
        ));
    };
    Ok(o)
}

/// The client as the wasm module exports it; `js/` wraps it in the public `TokenClient`.
#[wasm_bindgen]
pub struct WasmClient {
    client: TokenClient,
}

fn promise(f: impl std::future::Future<Output = Result<JsValue, Error>> + 'static) -> Promise {
    future_to_promise(async move { f.await.map_err(|e| error_to_js(&e)) })
}

#[wasm_bindgen]
impl WasmClient {
    /// `createTokenClient(options)`.
    pub fn create(options: JsValue) -> Promise {
        promise(async move {
            let options = options_from_js(&options)?;
            let client = TokenClient::new(options).await?;
            Ok(WasmClient { client }.into())
        })
    }

    /// `setTokens(response)`.
    #[wasm_bindgen(js_name = setTokens)]
    pub fn set_tokens(&self, response: JsValue) -> Result<(), JsValue> {
        let r = response_from_js(&response).map_err(|e| error_to_js(&e))?;
        self.client
            .check_token_type(&r)
            .map_err(|e| error_to_js(&e))?;
        self.client.set_tokens(r);
        Ok(())
    }

    /// `accessToken()`.
    #[wasm_bindgen(js_name = accessToken)]
    pub fn access_token(&self) -> Promise {
        let c = self.client.clone();
        promise(async move { c.access_token().await.map(JsValue::from) })
    }

    /// `authorizationHeaders(url, method = 'GET')`: the headers `fetch` would add.
    #[wasm_bindgen(js_name = authorizationHeaders)]
    pub fn authorization_headers(&self, url: JsValue, method: JsValue) -> Promise {
        let c = self.client.clone();
        promise(async move {
            let url = url
                .as_string()
                .ok_or_else(|| Error::options("`url` must be a string"))?;
            let method = match method.as_string() {
                Some(m) => m,
                None if method.is_undefined() => "GET".to_string(),
                None => return Err(Error::options("`method` must be a string")),
            };
            let out = Object::new();
            for (name, value) in c.authorization_headers(&url, &method).await? {
                set(&out, name, &JsValue::from_str(&value));
            }
            Ok(out.into())
        })
    }

    /// `refresh()`.
    pub fn refresh(&self) -> Promise {
        let c = self.client.clone();
        promise(async move { c.refresh().await.map(|_| JsValue::UNDEFINED) })
    }

    /// `fetch(input, init)`: rejects like `window.fetch` for request errors.
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        let c = self.client.clone();
        future_to_promise(async move {
            let request = JsRequest::new(&input, &init)?;
            match c.fetch(request.unchecked_into()).await {
                Ok(r) => Ok(r.into()),
                Err(FetchError::Fetch(e)) => Err(e),
                Err(FetchError::Token(e)) => Err(error_to_js(&e)),
            }
        })
    }

    /// `signOut({ revoke, endSession, postLogoutRedirectUri })`.
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self, options: JsValue) -> Promise {
        let revoke = !(options.is_object() && get(&options, "revoke") == JsValue::FALSE);
        let end_session = options.is_object() && get(&options, "endSession") == JsValue::TRUE;
        let post_logout_redirect_uri = if options.is_object() {
            get(&options, "postLogoutRedirectUri").as_string()
        } else {
            None
        };
        let c = self.client.clone();
        promise(async move {
            c.sign_out_with(SignOutOptions {
                revoke,
                end_session,
                post_logout_redirect_uri,
            })
            .await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// `on(event, listener)`: returns the function that removes the listener.
    /// Both arguments arrive as `JsValue` and are checked here: a non-string event name
    /// is `invalid_options`, never a trap in the generated glue.
    pub fn on(&self, event: JsValue, listener: JsValue) -> Result<Function, JsValue> {
        let event = event
            .as_string()
            .ok_or_else(|| error_to_js(&Error::options("an event name must be a string")))?;
        let kind = EventKind::parse(&event)
            .ok_or_else(|| error_to_js(&Error::options(format!("unknown event `{event}`"))))?;
        if !listener.is_function() {
            return Err(error_to_js(&Error::options(
                "a listener must be a function",
            )));
        }
        let f: Function = listener.unchecked_into();
        let id = self.client.on_listener(kind, js_listener(f));
        let c = self.client.clone();
        // Removing a listener twice is a no-op (a `once` closure would throw the second time).
        Ok(Closure::<dyn Fn()>::new(move || c.off(id))
            .into_js_value()
            .unchecked_into())
    }

    /// `status`.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> String {
        self.client.status().as_str().to_string()
    }

    /// `expiresAt`.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> JsValue {
        self.client
            .expires_at()
            .map_or(JsValue::NULL, JsValue::from)
    }

    /// `sessionEndsAt`.
    #[wasm_bindgen(getter, js_name = sessionEndsAt)]
    pub fn session_ends_at(&self) -> JsValue {
        self.client
            .session_ends_at()
            .map_or(JsValue::NULL, JsValue::from)
    }

    /// `claims`.
    #[wasm_bindgen(getter)]
    pub fn claims(&self) -> JsValue {
        self.client
            .claims()
            .and_then(|c| js_sys::JSON::parse(&c.json).ok())
            .unwrap_or(JsValue::NULL)
    }

    /// `dispose()`.
    pub fn dispose(&self) {
        self.client.dispose();
    }

    /// `signIn(options)`: resolves once the page is navigating away (`js/` turns that
    /// into a promise that never settles).
    #[wasm_bindgen(js_name = signIn)]
    pub fn sign_in(&self, options: JsValue) -> Promise {
        let params = sign_in_params_from_js(&options);
        let c = self.client.clone();
        promise(async move { c.sign_in(params?).await.map(|_| JsValue::UNDEFINED) })
    }

    /// `handleRedirect()`.
    #[wasm_bindgen(js_name = handleRedirect)]
    pub fn handle_redirect(&self) -> Promise {
        let c = self.client.clone();
        promise(async move { c.handle_redirect().await.map(JsValue::from) })
    }

    /// `idClaims`.
    #[wasm_bindgen(getter, js_name = idClaims)]
    pub fn id_claims(&self) -> JsValue {
        self.client
            .id_claims()
            .and_then(|c| js_sys::JSON::parse(&c.json).ok())
            .unwrap_or(JsValue::NULL)
    }
}

/// Reads `signIn()`'s options: `scope`, `prompt`, `loginHint` and `extraParams` (strings).
fn sign_in_params_from_js(js: &JsValue) -> Result<SignInParams, Error> {
    let mut p = SignInParams::default();
    if js.is_undefined() || js.is_null() {
        return Ok(p);
    }
    if !js.is_object() {
        return Err(Error::options("signIn() options must be an object"));
    }
    p.scope = opt_string(js, "scope")?;
    p.prompt = opt_string(js, "prompt")?;
    p.login_hint = opt_string(js, "loginHint")?;
    let extra = get(js, "extraParams");
    if !extra.is_undefined() && !extra.is_null() {
        if !extra.is_object() {
            return Err(Error::options("`extraParams` must be an object of strings"));
        }
        let extra: Object = extra.unchecked_into();
        for entry in Object::entries(&extra).iter() {
            let pair = js_sys::Array::from(&entry);
            match (pair.get(0).as_string(), pair.get(1).as_string()) {
                (Some(k), Some(v)) => p.extra_params.push((k, v)),
                _ => return Err(Error::options("`extraParams` values must be strings")),
            }
        }
    }
    Ok(p)
}
