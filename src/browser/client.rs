//! The token client: the core's session driven by the browser shell.
//!
//! [`TokenClient`] is the Rust API (for Yew/Leptos apps); the JavaScript API in
//! `bindings.rs` is a thin layer over it. Every step is the same: take the time, let the
//! core decide, then perform its actions (persist, clear, refresh, emit, announce) with
//! no borrow held, so listeners may call back into the client.

use super::dpop::Dpop;
use super::http;
use super::lifecycle::{Lifecycle, Signal};
use super::signin::{SignIn, SignInParams, SignOutOptions};
use super::storage::{StorageKind, Store};
use super::tabs::{Msg, RefreshGuard, Tabs};
use super::timer::Timeout;
use crate::core::attach::{self, AttachRule, ParsedUrl};
use crate::core::dpop::{self, Mode};
use crate::core::error::{Error, ErrorCode};
use crate::core::jwt::{self, Claims};
use crate::core::oidc;
use crate::core::policy;
use crate::core::refreshed_id_token;
use crate::core::session::{
    Action, Config, Demand, Event, EventKind, Failure, RefreshMode, Session, Status,
};
use crate::core::tokens::{self, form_encode, TokenResponse};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, Response};

/// An event listener.
pub type Listener = Rc<dyn Fn(&Event)>;

/// The future an app's refresh function returns.
pub type RefreshFuture = Pin<Box<dyn Future<Output = Result<TokenResponse, Error>>>>;

/// An app's own refresh function: given the refresh token (if any), new tokens.
pub type RefreshFn = Rc<dyn Fn(Option<String>) -> RefreshFuture>;

/// A clock in ms since the epoch.
pub type Clock = Rc<dyn Fn() -> f64>;

/// How long the barrier and the start-up question wait for tabs that do not answer.
const TABS_WAIT_MS: f64 = 1_000.0;

/// Options for [`TokenClient::new`]; the README describes each one (same names in camelCase in JS).
#[derive(Clone)]
pub struct Options {
    /// Where the session is kept.
    pub storage: StorageKind,
    /// Namespaces the storage record, the lock and the channel; `None`: derived from the
    /// issuer (or token endpoint) and client id (`tokenward:<hash>`), `tokenward` when
    /// neither is given.
    pub storage_key: Option<String>,
    /// The token endpoint for the refresh_token grant.
    pub token_endpoint: Option<String>,
    /// Sent as `client_id` with refresh and revocation requests.
    pub client_id: Option<String>,
    /// The app's own refresh function, instead of `token_endpoint`.
    pub refresh: Option<RefreshFn>,
    /// RFC 7009 revocation endpoint.
    pub revocation_endpoint: Option<String>,
    /// Origins or origin + path prefixes that receive the token; `None`: the page's origin.
    pub attach_to: Option<Vec<String>>,
    /// Refresh this long before expiry (never more than half the lifetime).
    pub refresh_lead_seconds: f64,
    /// `sessionEnding` fires this long before the session's end; default 60.
    pub session_ending_lead_seconds: f64,
    /// An app-given ceiling on the session's age, in seconds (`maxSessionAgeSeconds`).
    pub max_session_age_seconds: Option<f64>,
    /// Refresh once and retry once on a 401 from an attached URL.
    pub retry_on_401: bool,
    /// One refresh for all tabs, shared sign-out.
    pub cross_tab: bool,
    /// The clock; `None`: `Date.now`.
    pub now: Option<Clock>,
    /// Listeners attached before the session is restored.
    pub on: Vec<(EventKind, Listener)>,
    /// The OpenID Provider: endpoints not given explicitly come from its discovery
    /// document, fetched when first needed.
    pub issuer: Option<String>,
    /// Where `sign_in` sends the user, instead of the discovered one.
    pub authorization_endpoint: Option<String>,
    /// RP-Initiated Logout endpoint, instead of the discovered one.
    pub end_session_endpoint: Option<String>,
    /// The redirect URI; `None`: the page's URL without query and fragment.
    pub redirect_uri: Option<String>,
    /// The scope `sign_in` asks for; `None`: `openid`.
    pub scope: Option<String>,
    /// DPoP (RFC 9449) sender-constrained tokens; `None`: off.
    pub dpop: Option<Mode>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            storage: StorageKind::Memory,
            storage_key: None,
            token_endpoint: None,
            client_id: None,
            refresh: None,
            revocation_endpoint: None,
            attach_to: None,
            refresh_lead_seconds: 60.0,
            session_ending_lead_seconds: 60.0,
            max_session_age_seconds: None,
            retry_on_401: true,
            cross_tab: true,
            now: None,
            on: Vec::new(),
            issuer: None,
            authorization_endpoint: None,
            end_session_endpoint: None,
            redirect_uri: None,
            scope: None,
            dpop: None,
        }
    }
}

/// Why `fetch` failed.
#[derive(Debug)]
pub enum FetchError {
    /// No token could be had (e.g. the refresh failed and the token expired).
    Token(Error),
    /// The request itself failed, as `window.fetch` would have (the browser's error).
    Fetch(JsValue),
}

/// Makes an attach rule from a parsed entry.
type MakeRule = fn(ParsedUrl<'_>) -> Result<AttachRule, Error>;

/// Parses a URL with the browser's parser, relative to the page.
pub(crate) fn parse_url(url: &str) -> Option<web_sys::Url> {
    let base = web_sys::window().and_then(|w| w.location().href().ok());
    match base {
        Some(b) => web_sys::Url::new_with_base(url, &b).ok(),
        None => web_sys::Url::new(url).ok(),
    }
}

fn with_parts<R>(url: &web_sys::Url, f: impl FnOnce(ParsedUrl<'_>) -> R) -> R {
    let (protocol, origin, pathname) = (url.protocol(), url.origin(), url.pathname());
    let hostname = url.hostname();
    f(ParsedUrl {
        hostname: &hostname,
        protocol: &protocol,
        origin: &origin,
        pathname: &pathname,
        has_credentials: !url.username().is_empty() || !url.password().is_empty(),
        has_query_or_fragment: !url.search().is_empty() || !url.hash().is_empty(),
    })
}

/// An absolute http(s) URL option (relative ones resolve against the page), as the
/// browser normalises it; `invalid_options` otherwise.
pub(crate) fn url_option(name: &str, value: &Option<String>) -> Result<Option<String>, Error> {
    let Some(v) = value else { return Ok(None) };
    let url = parse_url(v).ok_or_else(|| Error::options(format!("`{name}` is not a URL")))?;
    if !matches!(url.protocol().as_str(), "http:" | "https:") {
        return Err(Error::options(format!("`{name}` must be an http(s) URL")));
    }
    Ok(Some(url.href()))
}

/// [`url_option`] for an endpoint that tokens travel to: https only, except loopback hosts.
pub(crate) fn endpoint_option(name: &str, value: &Option<String>) -> Result<Option<String>, Error> {
    let Some(href) = url_option(name, value)? else {
        return Ok(None);
    };
    let url = parse_url(&href).ok_or_else(|| Error::options(format!("`{name}` is not a URL")))?;
    attach::require_secure(name, &url.protocol(), &url.hostname())?;
    Ok(Some(href))
}

struct Inner {
    session: RefCell<Session>,
    app: Option<String>,
    store: Store,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    client_id: Option<String>,
    refresh_fn: Option<RefreshFn>,
    rules: Vec<AttachRule>,
    retry_on_401: bool,
    clock: Option<Clock>,
    listeners: RefCell<Vec<(u64, EventKind, Listener)>>,
    next_listener: Cell<u64>,
    timer: RefCell<Option<(f64, Timeout)>>,
    refresh: RefCell<Option<js_sys::Promise>>,
    lifecycle: RefCell<Option<Lifecycle>>,
    tabs: RefCell<Option<Rc<Tabs>>>,
    disposed: Cell<bool>,
    signin: SignIn,
    /// Whether "no revocation endpoint is known" was reported (it is said once).
    no_revocation_reported: Cell<bool>,
    /// The DPoP key and nonces, with the `dpop` option.
    dpop: Option<Rc<Dpop>>,
}

/// The token client. Cloning gives another handle on the same client.
#[derive(Clone)]
pub struct TokenClient {
    inner: Rc<Inner>,
}

/// Identifies a listener added with [`TokenClient::on`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerId(u64);

impl TokenClient {
    /// Creates a client and restores any stored session. Fails only for options that
    /// cannot work (`invalid_options`); what is in storage never makes it fail.
    pub async fn new(options: Options) -> Result<TokenClient, Error> {
        let app = tokens::app_id(
            options
                .issuer
                .as_deref()
                .or(options.token_endpoint.as_deref()),
            options.client_id.as_deref(),
        );
        let storage_key = options
            .storage_key
            .clone()
            .unwrap_or_else(|| tokens::default_storage_key(app.as_deref()));
        let options = Options {
            storage_key: Some(storage_key.clone()),
            ..options
        };
        if options.token_endpoint.is_some() && options.refresh.is_some() {
            return Err(Error::options(
                "give either `tokenEndpoint` or `refresh`, not both",
            ));
        }
        if !options.refresh_lead_seconds.is_finite() || options.refresh_lead_seconds < 0.0 {
            return Err(Error::options(
                "`refreshLeadSeconds` must be a non-negative number",
            ));
        }
        if !options.session_ending_lead_seconds.is_finite()
            || options.session_ending_lead_seconds < 0.0
        {
            return Err(Error::options(
                "`sessionEndingLeadSeconds` must be a non-negative number",
            ));
        }
        if options
            .max_session_age_seconds
            .is_some_and(|s| !s.is_finite() || s <= 0.0)
        {
            return Err(Error::options(
                "`maxSessionAgeSeconds` must be a positive number",
            ));
        }
        if storage_key.is_empty() {
            return Err(Error::options("`storageKey` must not be empty"));
        }
        // The default is the page's own origin, allowed even over http (see
        // `AttachRule::page_origin`); explicit entries must be https or loopback.
        let (attach_to, make_rule): (Vec<String>, MakeRule) = match &options.attach_to {
            Some(list) => (list.clone(), AttachRule::new),
            None => match web_sys::window().and_then(|w| w.location().origin().ok()) {
                Some(origin) if origin != "null" => (vec![origin], AttachRule::page_origin),
                _ => (Vec::new(), AttachRule::new),
            },
        };
        let mut rules = Vec::with_capacity(attach_to.len());
        for entry in &attach_to {
            let url = web_sys::Url::new(entry).map_err(|_| {
                Error::options("an `attachTo` entry must be an absolute http(s) origin or prefix")
            })?;
            rules.push(with_parts(&url, make_rule)?);
        }
        let refresh = match (&options.token_endpoint, &options.refresh) {
            (Some(_), _) => RefreshMode::Endpoint,
            (None, Some(_)) => RefreshMode::Callback,
            // The token endpoint is discovered when the first refresh needs it.
            (None, None) if options.issuer.is_some() => RefreshMode::Endpoint,
            (None, None) => RefreshMode::None,
        };
        let seed = (js_sys::Math::random() * 9.0e15) as u64;
        let inner = Rc::new(Inner {
            session: RefCell::new(Session::new(Config {
                lead_ms: options.refresh_lead_seconds * 1000.0,
                refresh,
                seed,
                session_lead_ms: options.session_ending_lead_seconds * 1000.0,
                max_session_age_ms: options.max_session_age_seconds.map(|s| s * 1000.0),
                app: app.clone(),
            })),
            app,
            store: Store::new(options.storage, &storage_key),
            token_endpoint: endpoint_option("tokenEndpoint", &options.token_endpoint)?,
            revocation_endpoint: endpoint_option(
                "revocationEndpoint",
                &options.revocation_endpoint,
            )?,
            client_id: options.client_id.clone(),
            refresh_fn: options.refresh.clone(),
            rules,
            retry_on_401: options.retry_on_401,
            clock: options.now.clone(),
            listeners: RefCell::new(Vec::new()),
            next_listener: Cell::new(1),
            timer: RefCell::new(None),
            refresh: RefCell::new(None),
            lifecycle: RefCell::new(None),
            tabs: RefCell::new(None),
            disposed: Cell::new(false),
            signin: SignIn::new(&options)?,
            no_revocation_reported: Cell::new(false),
            dpop: match options.dpop {
                Some(m) => Some(Rc::new(Dpop::new(
                    m,
                    &storage_key,
                    options.storage == StorageKind::Memory,
                )?)),
                None => None,
            },
        });
        let client = TokenClient { inner };
        for (kind, listener) in options.on.iter().cloned() {
            client.on_listener(kind, listener);
        }
        client.start(&options).await;
        Ok(client)
    }

    async fn start(&self, options: &Options) {
        let inner = &self.inner;
        // Page lifecycle: wake the core when the page comes back.
        let weak = Rc::downgrade(inner);
        let mut lifecycle = Lifecycle::listen(move |signal| {
            if let Some(i) = weak.upgrade() {
                match signal {
                    Signal::Visible => i.step(|s, now| s.wake(now)),
                    Signal::Online => i.step(|s, now| s.online(now)),
                }
            }
        });
        // The shared record cleared or made unreadable from another page.
        if options.storage == StorageKind::Local {
            let weak = Rc::downgrade(inner);
            let key = options.storage_key.clone().unwrap_or_default();
            lifecycle.watch_storage(key, move |change| {
                if let Some(i) = weak.upgrade() {
                    i.step(|s, _| s.storage_changed(change.cleared, change.new_value.as_deref()));
                }
            });
        }
        *inner.lifecycle.borrow_mut() = Some(lifecycle);
        // Other tabs.
        if options.cross_tab {
            let weak = Rc::downgrade(inner);
            let handler =
                Rc::new(move |msg: Msg| weak.upgrade().and_then(|i| i.on_tab_message(msg)));
            let key = options.storage_key.as_deref().unwrap_or("tokenward");
            match Tabs::open(key, inner.app.as_deref(), handler).await {
                Ok(tabs) => {
                    if !tabs.has_locks() {
                        inner.report(Error::new(
                            ErrorCode::Unsupported,
                            "this browser has no Web Locks: refreshes are not coordinated between tabs",
                        ));
                    }
                    *inner.tabs.borrow_mut() = Some(Rc::new(tabs));
                }
                Err(_) => inner.report(Error::new(
                    ErrorCode::Unsupported,
                    "this browser has no BroadcastChannel: the session is not shared with other tabs",
                )),
            }
        }
        // The stored session, or (memory and session storage) another tab's.
        let stored = match inner.store.read() {
            Ok(s) => s,
            Err(e) => {
                let _ = inner.store.clear();
                inner.report(e);
                None
            }
        };
        match stored {
            Some(record) => inner.step(|s, now| s.restore(now, Some(&record))),
            None => {
                let tabs = inner.tabs.borrow().clone();
                if let (Some(tabs), true) = (tabs, inner.store.kind() != StorageKind::Local) {
                    if let Some(record) = tabs.ask(TABS_WAIT_MS).await {
                        inner.step(|s, now| s.adopt(now, &record));
                    }
                }
            }
        }
        self.handle_redirect_on_start().await;
        inner.reschedule();
    }

    /// Stores a fresh token response (e.g. after a sign-in). Nothing changes when it is
    /// not a usable response.
    pub fn set_tokens(&self, response: TokenResponse) {
        match self.check_token_type(&response) {
            Ok(()) => self.inner.step(|s, now| s.set_tokens(now, response)),
            Err(e) => self.inner.report(e),
        }
    }

    /// `invalid_token_response` for a token type the `dpop` option does not accept.
    pub fn check_token_type(&self, response: &TokenResponse) -> Result<(), Error> {
        dpop::check_token_type(self.inner.dpop_mode(), &response.token_type)
    }

    /// The headers [`TokenClient::fetch`] would add to a `method` request to `url`:
    /// `Authorization`, and with a DPoP token a fresh `DPoP` proof. None outside
    /// `attachTo`, nor when signed out.
    pub async fn authorization_headers(
        &self,
        url: &str,
        method: &str,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        let htm = dpop::method(method)
            .ok_or_else(|| Error::options("`method` must be an HTTP method"))?;
        let url = parse_url(url).ok_or_else(|| Error::options("`url` is not a URL"))?;
        if !with_parts(&url, |p| attach::allowed(&self.inner.rules, p)) {
            return Ok(Vec::new());
        }
        let token = match self.inner.clone().authorize(None).await {
            Ok(t) => t,
            Err(e) if e.code == ErrorCode::SignedOut => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let token_type = self.inner.token_type();
        let mut value = token_type.clone();
        value.push(' ');
        value.push_str(&token);
        let mut out = vec![("Authorization", value)];
        if let (Some(d), true) = (&self.inner.dpop, dpop::is_dpop(&token_type)) {
            let proof = d
                .proof(&htm, &url.href(), Some(&token), self.inner.now(), true)
                .await?;
            out.push(("DPoP", proof));
        }
        Ok(out)
    }

    /// Stores a token response given as JSON text; `invalid_token_response` when it is
    /// not usable (then nothing stored changes).
    pub fn set_tokens_json(&self, json: &str) -> Result<(), Error> {
        let response = TokenResponse::parse(json)?;
        self.check_token_type(&response)?;
        self.set_tokens(response);
        Ok(())
    }

    /// A valid access token, refreshed first when it is about to expire.
    pub async fn access_token(&self) -> Result<String, Error> {
        self.inner.clone().authorize(None).await
    }

    /// Refreshes now (joining a refresh in flight).
    pub async fn refresh(&self) -> Result<(), Error> {
        let current = self
            .inner
            .session
            .borrow()
            .tokens()
            .map(|t| t.access_token.clone());
        let Some(current) = current else {
            return Err(Error::signed_out());
        };
        let token = self.inner.clone().authorize(Some(current.clone())).await?;
        if token == current {
            let e = self.inner.session.borrow().tokens().map(|_| ());
            return match e {
                Some(()) => Err(Error::network(
                    "the refresh did not succeed; the current token is kept",
                )),
                None => Err(Error::signed_out()),
            };
        }
        Ok(())
    }

    /// `window.fetch` with the token attached when the URL matches `attachTo`.
    pub async fn fetch(&self, request: Request) -> Result<Response, FetchError> {
        self.inner.clone().fetch(request).await
    }

    /// Signs out here and in every tab, revoking the refresh token first when
    /// `revoke` and a revocation endpoint are set. A failed revocation still signs
    /// out and is reported as an `error` event.
    pub async fn sign_out(&self, revoke: bool) {
        self.sign_out_with(SignOutOptions {
            revoke,
            ..SignOutOptions::default()
        })
        .await;
    }

    /// Adds a shared listener (as the bindings do).
    pub fn on_listener(&self, kind: EventKind, listener: Listener) -> ListenerId {
        let id = self.inner.next_listener.get();
        self.inner.next_listener.set(id.wrapping_add(1));
        self.inner.listeners.borrow_mut().push((id, kind, listener));
        ListenerId(id)
    }

    /// Adds a listener for one kind of event.
    pub fn on(&self, kind: EventKind, listener: impl Fn(&Event) + 'static) -> ListenerId {
        self.on_listener(kind, Rc::new(listener))
    }

    /// Removes a listener.
    pub fn off(&self, id: ListenerId) {
        self.inner
            .listeners
            .borrow_mut()
            .retain(|(i, _, _)| *i != id.0);
    }

    /// `signedIn`, `signedOut` or `refreshing`.
    pub fn status(&self) -> Status {
        self.inner.session.borrow().status()
    }

    /// When the access token expires (ms since epoch).
    pub fn expires_at(&self) -> Option<f64> {
        self.inner.session.borrow().expires_at()
    }

    /// When the session can no longer be refreshed (ms since epoch), if known.
    pub fn session_ends_at(&self) -> Option<f64> {
        self.inner.session.borrow().session_ends_at()
    }

    /// The access token's payload, when it is a JWT.
    pub fn claims(&self) -> Option<Claims> {
        self.inner
            .session
            .borrow()
            .tokens()
            .and_then(|t| jwt::decode(&t.access_token))
    }

    /// Whether a request to `url` would carry the token.
    pub fn attaches_to(&self, url: &str) -> bool {
        parse_url(url).is_some_and(|u| with_parts(&u, |p| attach::allowed(&self.inner.rules, p)))
    }

    /// Stops timers and listeners (page, tabs); the session stays stored.
    pub fn dispose(&self) {
        let inner = &self.inner;
        inner.disposed.set(true);
        inner.timer.borrow_mut().take();
        inner.lifecycle.borrow_mut().take();
        inner.tabs.borrow_mut().take();
        if let Some(d) = &inner.dpop {
            d.close();
        }
    }

    /// Sends the page to the authorization endpoint (authorization code with PKCE S256,
    /// `state` and `nonce`; endpoints discovered from `issuer` unless given). Returns once
    /// the navigation has started; fails, storing nothing, when it cannot start
    /// (`invalid_options`, `invalid_discovery`, `network`, `unsupported`, `storage`).
    pub async fn sign_in(&self, mut params: SignInParams) -> Result<(), Error> {
        // RFC 9449 §10: the code is bound to the key that will redeem it.
        if let Some(d) = &self.inner.dpop {
            let jkt = d.jkt_for_sign_in().await?;
            params.extra_params.retain(|(k, _)| k != "dpop_jkt");
            params.extra_params.push(("dpop_jkt".to_string(), jkt));
        }
        self.inner.signin.begin(params).await
    }

    /// On the redirect URI: checks the authorization response (`state`, RFC 9207 `iss`),
    /// removes it from the address bar, exchanges the code, checks the ID token and stores
    /// the tokens. `Ok(false)` when the page URL carries no authorization response; on an
    /// error nothing stored changes.
    pub async fn handle_redirect(&self) -> Result<bool, Error> {
        let inner = self.inner.clone();
        let clock = move || inner.now();
        let dpop = self.inner.dpop.as_deref();
        match self.inner.signin.complete(&clock, dpop).await? {
            Some(response) => {
                self.check_token_type(&response)?;
                self.set_tokens(response);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The ID token's payload: checked (`iss`, `aud`, `exp`, `nonce`) when it arrived,
    /// `iss` and `aud` again now. `None` without an ID token or a `client_id`.
    pub fn id_claims(&self) -> Option<Claims> {
        let id_token = self
            .inner
            .session
            .borrow()
            .tokens()
            .and_then(|t| t.id_token.clone())?;
        self.inner.signin.id_claims(&id_token)
    }

    /// [`TokenClient::sign_out`] with the discovered revocation endpoint when none was
    /// given, and, when asked, the provider's end-session endpoint afterwards (the page
    /// navigates there). Failures are reported as `error` events; the local sign-out
    /// always happens.
    pub async fn sign_out_with(&self, options: SignOutOptions) {
        let inner = &self.inner;
        let (id_token, refresh_token) = match inner.session.borrow().tokens() {
            Some(t) => (t.id_token.clone(), t.refresh_token.clone()),
            None => (None, None),
        };
        let revocation = match (
            &inner.revocation_endpoint,
            options.revoke && refresh_token.is_some(),
        ) {
            (_, false) => None,
            (Some(url), true) => Some(url.clone()),
            (None, true) => match inner.signin.discovered_revocation_endpoint().await {
                Ok(Some(url)) => Some(url),
                // With an issuer, its metadata had no revocation endpoint: said once.
                Ok(None) if inner.signin.issuer().is_some() => {
                    if let Some(e) =
                        oidc::no_revocation_endpoint(inner.no_revocation_reported.replace(true))
                    {
                        inner.report(e);
                    }
                    None
                }
                Ok(None) => None,
                Err(e) => {
                    inner.report(e);
                    None
                }
            },
        };
        let result = match (revocation, refresh_token) {
            (Some(url), Some(rt)) => {
                let mut form = vec![("token", rt.as_str()), ("token_type_hint", "refresh_token")];
                if let Some(id) = &inner.client_id {
                    form.push(("client_id", id));
                }
                let now = || inner.now();
                let proved = inner.dpop.as_deref().map(|dpop| http::Proved {
                    dpop,
                    now: &now,
                    has_session: true,
                });
                http::revoke(&url, &form_encode(&form), proved).await
            }
            _ => Ok(()),
        };
        inner.step(|s, _| s.sign_out());
        if let Some(d) = &inner.dpop {
            let _ = d.forget().await;
        }
        if let Err(e) = result {
            inner.report(e);
        }
        if options.end_session {
            let post_logout = options.post_logout_redirect_uri.as_deref();
            if let Err(e) = inner
                .signin
                .end_session(id_token.as_deref(), post_logout)
                .await
            {
                inner.report(e);
            }
        }
    }

    /// `createTokenClient`'s own redirect handling: a failure is an `error` event, never
    /// a failed creation.
    async fn handle_redirect_on_start(&self) {
        if self.inner.signin.response_in_page() {
            if let Err(e) = self.handle_redirect().await {
                self.inner.report(e);
            }
        }
    }
}

impl Inner {
    fn dpop_mode(&self) -> Option<Mode> {
        self.dpop.as_ref().map(|d| d.mode)
    }

    /// The session's token type (`Bearer` when signed out).
    fn token_type(&self) -> String {
        self.session
            .borrow()
            .tokens()
            .map_or_else(|| "Bearer".to_string(), |t| t.token_type.clone())
    }

    /// The session ended: its DPoP key goes with it.
    fn forget_dpop_key(&self) {
        if let Some(d) = &self.dpop {
            drop(d.forget());
        }
    }

    /// Sends an attached request with the token (and a DPoP proof for a DPoP token).
    /// Boxed: `fetch` awaits it twice, and its state machine should exist once.
    fn send_authorized(
        self: Rc<Self>,
        request: Request,
        token: String,
    ) -> Pin<Box<dyn Future<Output = Result<Response, FetchError>>>> {
        Box::pin(async move {
            let dpop = match &self.dpop {
                Some(d) if dpop::is_dpop(&self.token_type()) => Some(d.as_ref()),
                _ => None,
            };
            let (url, method) = (request.url(), request.method());
            // With DPoP, a copy made before sending, for a retry with the nonce a resource
            // server asks for (a body is read only once).
            let mut spare = dpop.and_then(|_| request.clone().ok());
            let mut current = request;
            let mut retried = false;
            loop {
                let mut scheme = String::from(if dpop.is_some() { "DPoP " } else { "Bearer " });
                scheme.push_str(&token);
                let headers = current.headers();
                headers
                    .set("authorization", &scheme)
                    .map_err(FetchError::Fetch)?;
                let Some(d) = dpop else {
                    return send(&current).await;
                };
                let proof = d
                    .proof(&method, &url, Some(&token), self.now(), true)
                    .await
                    .map_err(FetchError::Token)?;
                headers.set("dpop", &proof).map_err(FetchError::Fetch)?;
                let response = send(&current).await?;
                super::dpop::learn_nonce(&url, &response.headers());
                let challenge = response.headers().get("www-authenticate").ok().flatten();
                let wants = dpop::resource_wants_nonce(response.status(), challenge.as_deref());
                let again =
                    dpop::retry_with_nonce(wants, retried, super::dpop::nonce_for(&url).as_deref());
                match spare.take() {
                    Some(next) if again => {
                        retried = true;
                        current = next;
                    }
                    _ => return Ok(response),
                }
            }
        })
    }

    fn now(&self) -> f64 {
        match &self.clock {
            Some(c) => c(),
            None => js_sys::Date::now(),
        }
    }

    /// Lets the core decide, then performs what it decided.
    fn step(self: &Rc<Self>, f: impl FnOnce(&mut Session, f64) -> Vec<Action>) {
        let now = self.now();
        let actions = f(&mut self.session.borrow_mut(), now);
        self.perform(actions);
    }

    fn report(self: &Rc<Self>, error: Error) {
        self.step(|s, _| s.report(error));
    }

    fn perform(self: &Rc<Self>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Persist(record) => {
                    if let Err(e) = self.store.write(&record) {
                        self.step(|s, _| s.persist_failed(e));
                    }
                }
                Action::Clear => {
                    let _ = self.store.clear();
                }
                Action::Refresh(refresh_token) => self.start_refresh(refresh_token),
                Action::Emit(event) => {
                    if event.kind == EventKind::SignedOut {
                        self.forget_dpop_key();
                    }
                    self.emit(&event)
                }
                Action::Announce(a) => {
                    let tabs = self.tabs.borrow().clone();
                    if let Some(t) = tabs {
                        t.post(&Msg::from(a));
                    }
                }
            }
        }
        self.reschedule();
    }

    fn emit(&self, event: &Event) {
        let listeners: Vec<Listener> = self
            .listeners
            .borrow()
            .iter()
            .filter(|(_, k, _)| *k == event.kind)
            .map(|(_, _, l)| l.clone())
            .collect();
        for l in listeners {
            l(event);
        }
    }

    fn reschedule(self: &Rc<Self>) {
        if self.disposed.get() {
            return;
        }
        let next = self.session.borrow().next_wakeup();
        let same = matches!((&*self.timer.borrow(), next), (Some((at, _)), Some(n)) if *at == n);
        if same {
            return;
        }
        let timer = next.map(|at| {
            let weak: Weak<Inner> = Rc::downgrade(self);
            let delay = policy::timer_delay(self.now(), at);
            let t = Timeout::new(delay, move || {
                let weak = weak.clone();
                // Run outside the timer's own callback, which the step may replace.
                wasm_bindgen_futures::spawn_local(async move {
                    if let Some(i) = weak.upgrade() {
                        i.timer.borrow_mut().take();
                        i.step(|s, now| s.wake(now));
                    }
                });
            });
            (at, t)
        });
        *self.timer.borrow_mut() = timer;
    }

    fn on_tab_message(self: &Rc<Self>, msg: Msg) -> Option<Msg> {
        match msg {
            Msg::Tokens(record) => self.step(|s, now| s.adopt(now, &record)),
            Msg::SignedOut(reason) => self.step(|s, _| s.remote_signed_out(reason)),
            Msg::Ask => {
                let record = self.session.borrow().record();
                return Some(Msg::Have(record));
            }
            _ => {}
        }
        None
    }

    fn start_refresh(self: &Rc<Self>, refresh_token: Option<String>) {
        let inner = self.clone();
        let promise = wasm_bindgen_futures::future_to_promise(async move {
            inner.run_refresh(refresh_token).await;
            Ok(JsValue::UNDEFINED)
        });
        *self.refresh.borrow_mut() = Some(promise);
    }

    async fn run_refresh(self: Rc<Self>, refresh_token: Option<String>) {
        let tabs = self.tabs.borrow().clone();
        let mut _guard: Option<RefreshGuard> = None;
        let mut refresh_token = refresh_token;
        if let Some(tabs) = &tabs {
            // Wait for a tab that is refreshing, but not past half the time left.
            let left = self.session.borrow().expires_at().map(|e| e - self.now());
            let wait = policy::lock_wait(left);
            _guard = tabs.refresh_lock(wait).await;
            tabs.sync(TABS_WAIT_MS).await;
            if self.store.kind() == StorageKind::Local {
                if let Ok(Some(record)) = self.store.read() {
                    self.step(|s, now| s.adopt(now, &record));
                }
            }
            if !self.session.borrow().refresh_still_needed() {
                self.step(|s, now| s.refresh_done(now, None));
                return;
            }
            refresh_token = self
                .session
                .borrow()
                .tokens()
                .and_then(|t| t.refresh_token.clone());
        }
        let token_endpoint = match (&self.refresh_fn, &self.token_endpoint) {
            (None, None) if self.signin.issuer().is_some() && refresh_token.is_some() => {
                match self.signin.token_endpoint().await {
                    Ok(url) => Some(url),
                    Err(e) => {
                        let failure = Err((Failure::Transient(None), e));
                        self.step(|s, now| s.refresh_done(now, Some(failure)));
                        return;
                    }
                }
            }
            _ => self.token_endpoint.clone(),
        };
        let result = match (&self.refresh_fn, &token_endpoint) {
            (Some(f), _) => f(refresh_token).await.map_err(|e| {
                let failure = if Session::is_terminal(&e.code) {
                    Failure::Terminal
                } else {
                    Failure::Transient(None)
                };
                (failure, e)
            }),
            (None, Some(url)) => match &refresh_token {
                Some(rt) => {
                    let mut form = vec![
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rt.as_str()),
                    ];
                    if let Some(id) = &self.client_id {
                        form.push(("client_id", id));
                    }
                    let now = || self.now();
                    let proved = self.dpop.as_deref().map(|dpop| http::Proved {
                        dpop,
                        now: &now,
                        has_session: true,
                    });
                    http::token_request(url, &form_encode(&form), proved).await
                }
                None => Err((
                    Failure::Terminal,
                    Error::new(ErrorCode::InvalidGrant, "there is no refresh token"),
                )),
            },
            (None, None) => Err((
                Failure::Terminal,
                Error::new(ErrorCode::InvalidGrant, "this client cannot refresh"),
            )),
        };
        // An ID token in the answer must be the session's user, issuer and client.
        let result = result.and_then(|resp| {
            dpop::check_token_type(self.dpop_mode(), &resp.token_type)
                .map_err(|e| (Failure::Terminal, e))?;
            if let Some(id_token) = &resp.id_token {
                let previous = self
                    .session
                    .borrow()
                    .tokens()
                    .and_then(|t| t.id_token.clone());
                refreshed_id_token::check(
                    id_token,
                    previous.as_deref(),
                    self.signin.issuer(),
                    self.client_id.as_deref(),
                )
                .map_err(|e| (Failure::Terminal, e))?;
            }
            Ok(resp)
        });
        self.step(|s, now| s.refresh_done(now, Some(result)));
        // The lock is released here, after the new tokens were announced.
    }

    async fn authorize(self: Rc<Self>, force: Option<String>) -> Result<String, Error> {
        let mut joined = false;
        for _ in 0..4 {
            let now = self.now();
            let (actions, demand) = self
                .session
                .borrow_mut()
                .demand(now, force.as_deref(), joined);
            self.perform(actions);
            match demand {
                Demand::Ready(token) => return Ok(token),
                Demand::Fail(e) => return Err(e),
                Demand::Wait => {
                    let pending = self.refresh.borrow().clone();
                    if let Some(p) = pending {
                        let _ = JsFuture::from(p).await;
                    }
                    joined = true;
                }
            }
        }
        Err(Error::network("the token could not be refreshed"))
    }

    async fn fetch(self: Rc<Self>, request: Request) -> Result<Response, FetchError> {
        // `request.url()` is already absolute: no need to resolve it against the page.
        let attach = !request.headers().has("authorization").unwrap_or(true)
            && web_sys::Url::new(&request.url())
                .is_ok_and(|u| with_parts(&u, |p| attach::allowed(&self.rules, p)));
        if !attach {
            return send(&request).await;
        }
        let token = match self.clone().authorize(None).await {
            Ok(t) => t,
            Err(e) if e.code == ErrorCode::SignedOut => return send(&request).await,
            Err(e) => return Err(FetchError::Token(e)),
        };
        // What a retry after a 401 sends: the same request when it has no body (GET,
        // HEAD: nothing is consumed by sending it), otherwise a copy made before sending.
        let replay = match (self.retry_on_401, request.method().as_str()) {
            (false, _) => None,
            (true, "GET" | "HEAD") => Some(Clone::clone(&request)),
            (true, _) => request.clone().ok(),
        };
        let request = no_follow(request)?;
        let replay = match replay {
            Some(r) => Some(no_follow(r)?),
            None => None,
        };
        let response = self.clone().send_authorized(request, token.clone()).await?;
        let Some(replay) = replay.filter(|_| response.status() == 401) else {
            return Ok(response);
        };
        // The core decides whether a refresh can help (the challenge, once per token,
        // not during a backoff); a header a cross-origin response hides reads as `None`.
        let challenge = response.headers().get("www-authenticate").ok().flatten();
        let now = self.now();
        let retry =
            self.session
                .borrow_mut()
                .unauthorized(now, &token, challenge.as_deref(), false);
        if !retry {
            return Ok(response);
        }
        match self.clone().authorize(Some(token.clone())).await {
            Ok(fresh) if fresh != token => {
                let second = self.clone().send_authorized(replay, fresh.clone()).await?;
                if second.status() == 401 {
                    let now = self.now();
                    let challenge = second.headers().get("www-authenticate").ok().flatten();
                    self.session
                        .borrow_mut()
                        .unauthorized(now, &fresh, challenge.as_deref(), true);
                }
                Ok(second)
            }
            _ => Ok(response),
        }
    }
}

/// An attached request never follows a redirect: browsers keep `Authorization` on
/// same-origin redirects, which would carry the token to a path outside `attachTo` (and a
/// redirect cannot be followed by hand: `redirect: 'manual'` gives an opaque answer). With
/// the default `redirect: 'follow'` the request is sent with `redirect: 'error'`, so a
/// redirect answer rejects the call with a `TypeError`, as a network error would; a
/// caller's own `'manual'` or `'error'` is kept. Requests that get no token are untouched.
fn no_follow(request: Request) -> Result<Request, FetchError> {
    if request.redirect() != web_sys::RequestRedirect::Follow {
        return Ok(request);
    }
    let init = web_sys::RequestInit::new();
    init.set_redirect(web_sys::RequestRedirect::Error);
    Request::new_with_request_and_init(&request, &init).map_err(FetchError::Fetch)
}

async fn send(request: &Request) -> Result<Response, FetchError> {
    match JsFuture::from(super::global_fetch(request)).await {
        Ok(r) => Ok(r.unchecked_into()),
        Err(e) => Err(FetchError::Fetch(e)),
    }
}
