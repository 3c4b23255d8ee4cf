//! The token client: the core's session driven by the browser shell.
//!
//! [`TokenClient`] is the Rust API (for Yew/Leptos apps); the JavaScript API in
//! `bindings.rs` is a thin layer over it. Every step is the same: take the time, let the
//! core decide, then perform its actions (persist, clear, refresh, emit, announce) with
//! no borrow held, so listeners may call back into the client.

use super::answer::oneshot;
use super::dpop::Dpop;
use super::http;
pub use super::http::FetchError;
pub use super::options::Options;
use super::options::{parse_url, MakeRule};
use super::page::{self, Url};
use super::provider::Provider;
use super::shell::{kind, Shell, Sink, WAKE};
use super::signin::{SignIn, SignInParams, SignOutOptions};
use super::storage::{StorageKind, Store};
pub use super::Done;
use crate::core::attach::{self, AttachRule};
use crate::core::config;
use crate::core::coordination::{Coordination, Input, Op};
use crate::core::dpop::{self, Mode};
use crate::core::error::{Error, ErrorCode};
use crate::core::grant;
use crate::core::jwt::{self, Claims};
use crate::core::policy;
use crate::core::session::{Action, Demand, Event, EventKind, Failure, Reason, Session, Status};
use crate::core::tab_message::{decode, Msg};
use crate::core::tokens::TokenResponse;
use crate::local::RefCell;
use crate::prelude::*;
use ::core::cell::Cell;
use alloc::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{Request, Response};

/// An event listener.
pub type Listener = Rc<dyn Fn(&Event)>;

/// An app's own refresh function: given the refresh token (if any), it calls the callback
/// once with new tokens or why there are none (a Rust app with a future to wait on runs it
/// on its own executor; see the README's Rust section).
pub type RefreshFn = Rc<dyn Fn(Option<String>, Done<Result<TokenResponse, Error>>)>;

/// A clock in ms since the epoch.
pub type Clock = Rc<dyn Fn() -> f64>;

struct Inner {
    session: RefCell<Session>,
    app: Option<String>,
    store: Store,
    provider: Rc<Provider>,
    refresh_fn: Option<RefreshFn>,
    rules: Vec<AttachRule>,
    retry_on_401: bool,
    clock: Option<Clock>,
    listeners: RefCell<Vec<(u64, EventKind, Listener)>>,
    next_listener: Cell<u64>,
    /// When the wake-up timer is set for.
    wake_at: Cell<Option<f64>>,
    /// Whether a refresh is in flight, and who waits for it to end.
    refreshing: Cell<bool>,
    /// Whether the core asked for a refresh while one was in flight: that one's answer is
    /// then not for the core's refresh (see `request_refresh`).
    again: Cell<bool>,
    waiting: RefCell<Vec<Done<()>>>,
    /// The browser's side of tabs and time, and the callback it answers through.
    shell: RefCell<Option<Shell>>,
    sink: RefCell<Option<Sink>>,
    /// Whether the tabs are coordinated (`crossTab` and a `BroadcastChannel`).
    coordinated: Cell<bool>,
    coord: RefCell<Coordination>,
    /// Whether start-up is done, and who waits for it.
    started: Cell<bool>,
    on_started: RefCell<Vec<Done<()>>>,
    disposed: Cell<bool>,
    signin: Rc<SignIn>,
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
        let client = TokenClient::create(options)?;
        let (done, started) = oneshot::channel();
        client.when_started(done);
        started.await;
        Ok(client)
    }

    /// [`TokenClient::new`] without waiting: the client is made and starts restoring the
    /// session; [`TokenClient::when_started`] says when that is done.
    pub fn create(mut options: Options) -> Result<TokenClient, Error> {
        // The options are dropped here once, not at each of `assemble`'s exits.
        Self::assemble(&mut options)
    }

    /// [`TokenClient::create`], taking what it keeps out of `options`.
    fn assemble(options: &mut Options) -> Result<TokenClient, Error> {
        let seed = (js_sys::Math::random() * 9.0e15) as u64;
        let checked = config::check(
            &config::Given {
                issuer: options.issuer.as_deref(),
                token_endpoint: options.token_endpoint.as_deref(),
                client_id: options.client_id.as_deref(),
                refresh_fn: options.refresh.is_some(),
                storage_key: options.storage_key.as_deref(),
                refresh_lead_seconds: options.refresh_lead_seconds,
                session_ending_lead_seconds: options.session_ending_lead_seconds,
                max_session_age_seconds: options.max_session_age_seconds,
            },
            seed,
        )?;
        let storage_key = checked.storage_key;
        let app = checked.config.app.clone();
        options.storage_key = Some(storage_key.clone());
        // The default is the page's own origin, allowed even over http (see
        // `AttachRule::page_origin`); explicit entries must be https or loopback.
        let (attach_to, make_rule): (Vec<String>, MakeRule) = match options.attach_to.take() {
            Some(list) => (list, AttachRule::new),
            None => match page::href().and_then(|h| Url::parse(&h, false)) {
                Some(u) if u.origin != "null" => (vec![u.origin], AttachRule::page_origin),
                _ => (Vec::new(), AttachRule::new),
            },
        };
        let mut rules = Vec::with_capacity(attach_to.len());
        for entry in &attach_to {
            let url = Url::parse(entry, false)
                .filter(|_| attach::written_plainly(entry))
                .ok_or_else(|| {
                    Error::options(
                        "an `attachTo` entry must be an absolute http(s) origin or prefix, without `.` or `..` segments or encoded separators",
                    )
                })?;
            rules.push(make_rule(url.parts())?);
        }
        // Everything that can fail comes before the client is assembled, so that a failure
        // drops only what was made so far (one drop each, not one per exit).
        let provider = Rc::new(Provider::new(options)?);
        let signin = Rc::new(SignIn::new(options, provider.clone())?);
        let dpop = match options.dpop {
            Some(m) => Some(Rc::new(Dpop::new(
                m,
                &storage_key,
                options.storage == StorageKind::Memory,
                options.storage == StorageKind::Session && !options.cross_tab,
            )?)),
            None => None,
        };
        let inner = Rc::new(Inner {
            session: RefCell::new(Session::new(checked.config)),
            app,
            store: Store::new(options.storage, &storage_key),
            provider: provider.clone(),
            refresh_fn: options.refresh.take(),
            rules,
            retry_on_401: options.retry_on_401,
            clock: options.now.take(),
            listeners: RefCell::new(Vec::new()),
            next_listener: Cell::new(1),
            wake_at: Cell::new(None),
            refreshing: Cell::new(false),
            again: Cell::new(false),
            waiting: RefCell::new(Vec::new()),
            shell: RefCell::new(None),
            sink: RefCell::new(None),
            coordinated: Cell::new(false),
            coord: RefCell::new(Coordination::new(false)),
            started: Cell::new(false),
            on_started: RefCell::new(Vec::new()),
            disposed: Cell::new(false),
            signin,
            no_revocation_reported: Cell::new(false),
            dpop,
        });
        let client = TokenClient { inner };
        for (kind, listener) in ::core::mem::take(&mut options.on) {
            client.on_listener(kind, listener);
        }
        client.start(options);
        Ok(client)
    }

    /// Calls `done` once the stored session (or, in memory and session storage, another
    /// tab's) is restored and an authorization response in the page's URL is handled (at
    /// once when that is already so).
    pub fn when_started(&self, done: Done<()>) {
        if self.inner.started.get() {
            return done(());
        }
        self.inner.on_started.borrow_mut().push(done);
    }

    fn start(&self, options: &Options) {
        let inner = &self.inner;
        // The page's signals, the shared record's `storage` events, timers and other tabs
        // all arrive through one callback.
        let weak = Rc::downgrade(inner);
        let sink: Sink = Closure::new(move |kind: u32, id: u32, value: JsValue| {
            if let Some(i) = weak.upgrade() {
                i.on_shell(kind, id, value);
            }
        });
        let key = options.storage_key.clone().unwrap_or_default();
        let watch = (options.storage == StorageKind::Local).then(|| key.clone());
        let shell = Shell::open(&sink, &key, inner.app.clone(), options.cross_tab, watch);
        let coordinated = options.cross_tab && shell.has_channel();
        let locks = Shell::has_locks();
        if options.cross_tab && !coordinated {
            inner.report(Error::new(
                ErrorCode::Unsupported,
                "this browser has no BroadcastChannel: the session is not shared with other tabs",
            ));
        } else if coordinated && !locks {
            inner.report(tabs::no_locks());
        }
        *inner.shell.borrow_mut() = Some(shell);
        *inner.sink.borrow_mut() = Some(sink);
        inner.coordinated.set(coordinated);
        *inner.coord.borrow_mut() = Coordination::new(coordinated && locks);
        if coordinated {
            let ops = inner.coord.borrow_mut().open();
            inner.coordinate(ops);
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
            None if inner.coordinated.get() && inner.store.kind() != StorageKind::Local => {
                // Restored when the other tabs answered (`Op::Answer`).
                let ops = inner.coord.borrow_mut().ask();
                inner.coordinate(ops);
                return;
            }
            None => {}
        }
        inner.restored();
    }

    /// Stores a fresh token response (e.g. after a sign-in). Nothing changes when it is
    /// not a usable response.
    /// A token type the `dpop` option does not accept is reported as an `error` event.
    pub fn set_tokens(&self, response: TokenResponse) {
        if let Err(e) = self.try_set_tokens(response) {
            self.inner.report(e);
        }
    }

    /// [`TokenClient::set_tokens`] that returns `invalid_token_response` for a token type the
    /// `dpop` option does not accept (then nothing stored changes).
    pub fn try_set_tokens(&self, response: TokenResponse) -> Result<(), Error> {
        dpop::check_token_type(self.inner.dpop_mode(), &response.token_type)?;
        self.inner.step(|s, now| s.set_tokens(now, response));
        Ok(())
    }

    /// Stores a token response given as JSON text; `invalid_token_response` when it is
    /// not usable (then nothing stored changes).
    pub fn set_tokens_json(&self, json: &str) -> Result<(), Error> {
        self.try_set_tokens(TokenResponse::parse(json)?)
    }

    /// A valid access token, refreshed first when it is about to expire.
    pub async fn access_token(&self) -> Result<String, Error> {
        let (done, token) = oneshot::channel();
        self.access_token_then(done);
        token.await
    }

    /// [`TokenClient::access_token`], calling `done` with the outcome.
    pub fn access_token_then(&self, done: Done<Result<String, Error>>) {
        self.inner.authorize(None, done);
    }

    /// Refreshes now (joining a refresh in flight).
    pub async fn refresh(&self) -> Result<(), Error> {
        let (done, refreshed) = oneshot::channel();
        self.refresh_then(done);
        refreshed.await
    }

    /// [`TokenClient::refresh`], calling `done` with the outcome.
    pub fn refresh_then(&self, done: Done<Result<(), Error>>) {
        let current = self
            .inner
            .session
            .borrow()
            .tokens()
            .map(|t| t.access_token.clone());
        let Some(current) = current else {
            return done(Err(Error::signed_out()));
        };
        let inner = self.inner.clone();
        self.inner.authorize(
            Some(current.clone()),
            Box::new(move |token| {
                done(match token {
                    Err(e) => Err(e),
                    Ok(token) if token != current => Ok(()),
                    Ok(_) => match inner.session.borrow().tokens() {
                        Some(_) => Err(Error::network(
                            "the refresh did not succeed; the current token is kept",
                        )),
                        None => Err(Error::signed_out()),
                    },
                })
            }),
        );
    }

    /// `window.fetch` with the token attached when the URL matches `attachTo`.
    pub async fn fetch(&self, request: Request) -> Result<Response, FetchError> {
        let (done, sent) = oneshot::channel();
        self.fetch_then(request.into(), done);
        Ok(sent.await?.unchecked_into())
    }

    /// [`TokenClient::fetch`] of a `Request`, calling `done` with the `Response`.
    pub fn fetch_then(&self, request: JsValue, done: Done<Result<JsValue, FetchError>>) {
        self.inner.fetch(
            request,
            Box::new(move |sent| done(sent.map(|s| s.response))),
        );
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
        parse_url(url).is_some_and(|u| attach::allowed(&self.inner.rules, u.parts()))
    }

    /// Stops timers and listeners (page, tabs); the session stays stored.
    pub fn dispose(&self) {
        let inner = &self.inner;
        inner.disposed.set(true);
        let ops = inner.coord.borrow_mut().close();
        inner.coordinate(ops);
        if let Some(shell) = inner.shell.borrow().as_ref() {
            shell.close();
        }
        inner.coordinated.set(false);
        if let Some(d) = &inner.dpop {
            d.close();
        }
    }
}

mod dpop_hooks;
mod drive;
mod fetch;
mod refresh;
mod signin;
mod signout;
mod tabs;
