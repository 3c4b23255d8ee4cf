//! The session state machine: the client's every decision, without any I/O.
//!
//! Following quinn-proto's pattern, the [`Session`] is told the time and what happened
//! (tokens set, a refresh finished, a timer fired, another tab wrote a session, the user
//! signed out) and answers with [`Action`]s for the browser shell to perform: persist
//! this record, clear it, start a refresh, emit this event, tell the other tabs. It is
//! asked [`Session::next_wakeup`] for the timer and [`Session::demand`] for what a caller
//! of `accessToken()` should get.
//!
//! This file holds the state and what every flow shares (installing tokens, ending the
//! session, restoring, persisting); `refresh.rs` decides refreshes and their outcomes,
//! `unauthorized.rs` what a 401 means, `tabs.rs` what other tabs and the shared storage
//! tell the session. The app-visible vocabulary (status, events, reasons) is `events.rs`.

use super::error::Error;
pub use super::grant::Failure;
use super::policy::{self, Rng};
use super::tokens::{TokenResponse, TokenSet};
use crate::prelude::*;

/// How the session can get new tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshMode {
    /// It cannot: the session ends when the access token expires.
    None,
    /// The refresh_token grant at a token endpoint: needs a refresh token.
    Endpoint,
    /// The app's own `refresh` callback: called even without a refresh token.
    Callback,
}

/// What the session is told at creation.
#[derive(Debug, Clone)]
pub struct Config {
    /// Refresh this long (ms) before expiry, never more than half the lifetime.
    pub lead_ms: f64,
    /// How refreshing works.
    pub refresh: RefreshMode,
    /// Seed for the jitter generator.
    pub seed: u64,
    /// `sessionEnding` fires this long (ms) before the session's end.
    pub session_lead_ms: f64,
    /// An app-given ceiling on the session's age (ms), counted from its first tokens.
    pub max_session_age_ms: Option<f64>,
    /// The app the session belongs to (see [`crate::core::config::app_id`]): written into
    /// every record, and records of other apps are not adopted.
    pub app: Option<String>,
    /// The configured issuer: a refreshed ID token must name it (`iss`).
    pub issuer: Option<String>,
    /// The client id: a refreshed ID token must be meant for it (`aud`).
    pub client_id: Option<String>,
}

pub use super::events::*;

/// What the session tells other tabs.
#[derive(Debug, Clone, PartialEq)]
pub enum Announce {
    /// New tokens, as a stored record.
    Tokens(String),
    /// The session that started at this time ended, and why.
    SignedOut(Reason, f64),
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write this record to storage.
    Persist(String),
    /// Remove the record from storage. With a marker (a session this tab ended), first
    /// write the marker in its place (`localStorage`): the other tabs' `storage` events
    /// then tell tokenward's own sign-out, with its reason, from a record that disappeared
    /// ([`Session::storage_changed`]). A record that cannot be removed is overwritten by
    /// the marker, which restores no session; when neither works, the removal's error is
    /// reported ([`Session::report`]): a reload may bring the session back.
    Clear(Option<String>),
    /// The session that started at this time ended on its own (expiry, storage), or
    /// (`None`) on another tab's word: remove this tab's copy of the record; the shared
    /// `localStorage` one only when [`Session::forgets`] says so (it may hold a newer one).
    Forget(Option<f64>),
    /// Start a refresh with this refresh token and report it with [`Session::refresh_done`].
    Refresh(Option<String>),
    /// Call the listeners (boxed: an action list stays small to move).
    Emit(Box<Event>),
    /// Tell the other tabs.
    Announce(Announce),
    /// Writing the record failed and storage holds something other than the session's
    /// current record ([`Session::persist_failed`]): write this "kept in memory" marker in
    /// its place, or (when that fails too) remove it.
    Unstore(String),
}

/// How a session ends: for every tab, from here (the marker, the record removed, the
/// announcement); here on its own (expiry, storage); or on another tab's word.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    Here,
    OnItsOwn,
    Elsewhere,
}

/// What a caller of `accessToken()` gets now.
#[derive(Debug, Clone, PartialEq)]
pub enum Demand {
    /// Use this access token (its type is always `Bearer`).
    Ready(String),
    /// A refresh is in flight: wait for it, then ask again with `joined = true`.
    Wait,
    /// Fail with this error.
    Fail(Error),
}

/// The session state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Session {
    cfg: Config,
    rng: Rng,
    tokens: Option<TokenSet>,
    refresh_at: Option<f64>,
    /// The access token the in-flight refresh set out to replace.
    refreshing: Option<String>,
    /// When that refresh's request went out ([`Session::refresh_sent`]): its answer's
    /// lifetimes count from then.
    refresh_sent_at: Option<f64>,
    failures: u32,
    retry_at: Option<f64>,
    expired_reported: bool,
    /// A refresh failure after the access token expired was reported (once per run of
    /// failures; see [`Session::refresh_done`]).
    expired_failure_reported: bool,
    storage_failed: bool,
    last_error: Option<Error>,
    /// `sessionEnding` was emitted for this session.
    ending_reported: bool,
    /// The access token whose 401 already forced a refresh (or whose retry was answered
    /// 401 too): another 401 for it forces nothing.
    spent_401: Option<String>,
    /// The start of the session that ended here: a record of it that arrives later (a
    /// refresh another tab announced before it heard of the end) is not adopted.
    ended: Option<f64>,
    /// The last `storage` event wrote another tab's end-of-session marker: the removal
    /// after it is that tab's, not a script's.
    marked: bool,
}

impl Session {
    /// A signed-out session.
    pub fn new(cfg: Config) -> Session {
        let rng = Rng::new(cfg.seed);
        Session {
            cfg,
            rng,
            tokens: None,
            refresh_at: None,
            refreshing: None,
            refresh_sent_at: None,
            failures: 0,
            retry_at: None,
            expired_reported: false,
            expired_failure_reported: false,
            storage_failed: false,
            last_error: None,
            ending_reported: false,
            spent_401: None,
            ended: None,
            marked: false,
        }
    }

    /// The current status.
    pub fn status(&self) -> Status {
        match (&self.tokens, &self.refreshing) {
            (None, _) => Status::SignedOut,
            (Some(_), Some(_)) => Status::Refreshing,
            (Some(_), None) => Status::SignedIn,
        }
    }

    /// The tokens held, if any.
    pub fn tokens(&self) -> Option<&TokenSet> {
        self.tokens.as_ref()
    }

    /// When the access token expires (ms since epoch), if known.
    pub fn expires_at(&self) -> Option<f64> {
        self.tokens.as_ref().and_then(|t| t.expires_at)
    }

    /// The current session as a record for other tabs, if there is one.
    pub fn record(&self) -> Option<String> {
        self.tokens
            .as_ref()
            .map(|t| t.to_record_for(self.cfg.app.as_deref()))
    }

    /// When the current token is due for refresh, if it ever is.
    pub fn refresh_due_at(&self) -> Option<f64> {
        self.refresh_at
    }

    /// Whether a refresh is in flight.
    pub fn is_refreshing(&self) -> bool {
        self.refreshing.is_some()
    }

    /// Whether the scheduled refresh time has come.
    fn refresh_due(&self, now: f64) -> bool {
        self.refresh_at.is_some_and(|at| now >= at)
    }

    /// Pushes the event `kind` onto `out`, with the status and expiry as they are now.
    /// Every event is made here, so the event is copied into `out` in one place.
    fn emit(&self, out: &mut Vec<Action>, kind: EventKind) {
        self.push_event(out, kind, None, None);
    }

    /// Pushes an `error` event onto `out`.
    fn emit_error(&self, out: &mut Vec<Action>, error: Error) {
        self.push_event(out, EventKind::Error, None, Some(error));
    }

    fn push_event(
        &self,
        out: &mut Vec<Action>,
        kind: EventKind,
        reason: Option<Reason>,
        error: Option<Error>,
    ) {
        out.push(Action::Emit(Box::new(Event {
            kind,
            status: self.status(),
            // A `signedOut` event has no expiry: the session is gone.
            expires_at: if reason.is_some() {
                None
            } else {
                self.expires_at()
            },
            reason,
            error,
            session_ends_at: None,
        })));
    }

    fn can_refresh(&self) -> bool {
        match self.cfg.refresh {
            RefreshMode::None => false,
            RefreshMode::Callback => true,
            RefreshMode::Endpoint => self
                .tokens
                .as_ref()
                .is_some_and(|t| t.refresh_token.is_some()),
        }
    }

    fn install(&mut self, tokens: TokenSet) {
        self.refresh_at = tokens.expires_at.map(|e| {
            policy::refresh_at(tokens.received_at, e, self.cfg.lead_ms, self.rng.next_f64())
        });
        self.tokens = Some(tokens);
        self.failures = 0;
        self.retry_at = None;
        self.expired_reported = false;
        self.expired_failure_reported = false;
        self.last_error = None;
    }

    fn end(&mut self, reason: Reason, how: Ending, out: &mut Vec<Action>) {
        let Some(tokens) = self.tokens.take() else {
            return;
        };
        self.ended = Some(tokens.session_started_at);
        self.refresh_at = None;
        self.refreshing = None;
        self.refresh_sent_at = None;
        self.failures = 0;
        self.retry_at = None;
        self.ending_reported = false;
        self.expired_failure_reported = false;
        let started = tokens.session_started_at;
        match how {
            Ending::Here => {
                let marker = super::tab_message::ended(self.cfg.app.as_deref(), reason, started);
                out.push(Action::Clear(Some(marker)));
                out.push(Action::Announce(Announce::SignedOut(reason, started)));
            }
            Ending::OnItsOwn => out.push(Action::Forget(Some(started))),
            Ending::Elsewhere => out.push(Action::Forget(None)),
        }
        self.push_event(out, EventKind::SignedOut, Some(reason), None);
        self.emit(out, EventKind::Change);
    }

    /// Restores a stored record at start-up (or after another tab changed storage).
    /// A record that cannot be read is removed and reported as a `storage` error.
    pub fn restore(&mut self, now: f64, stored: Option<&str>) -> Vec<Action> {
        let mut out = Vec::new();
        let app = self.cfg.app.as_deref();
        // Another tab's end-of-session marker, read between its writing and its removal:
        // no session.
        // A "kept in memory" marker: no session either.
        let Some(text) = stored.filter(|t| {
            super::tab_message::ended_by(t, app).is_none()
                && !super::tab_message::is_unstored(t, app)
        }) else {
            return out;
        };
        match TokenSet::from_record_for(text, app) {
            // Another app's record under the same key: not ours to use or remove.
            Ok(None) => {}
            Ok(Some(tokens)) => {
                self.install(tokens);
                self.emit(&mut out, EventKind::Change);
                out.extend(self.wake(now));
            }
            Err(e) => {
                out.push(Action::Clear(None));
                self.emit_error(&mut out, e);
            }
        }
        out
    }

    /// Stores a fresh token response (after a sign-in): persist, tell the other tabs,
    /// and emit `change`. An in-flight refresh of the old session is forgotten.
    pub fn set_tokens(&mut self, now: f64, resp: TokenResponse) -> Vec<Action> {
        let tokens = TokenSet::from_response(resp, now, None);
        self.refreshing = None;
        self.ending_reported = false;
        let record = tokens.to_record_for(self.cfg.app.as_deref());
        self.install(tokens);
        let mut out = vec![
            Action::Persist(record.clone()),
            Action::Announce(Announce::Tokens(record)),
        ];
        self.emit(&mut out, EventKind::Change);
        out.extend(self.wake(now));
        out
    }

    /// `signOut()`: forget the session here and in every tab.
    pub fn sign_out(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.end(Reason::User, Ending::Here, &mut out);
        out
    }

    /// Storage refused a write (quota, storage disabled): the session lives on in memory;
    /// reported once. `stored`: what storage holds now. Anything but this session's
    /// current record (an older record of it, whose refresh token a rotation may just have
    /// spent; another session's) would be restored on reload and its refresh token spent
    /// again, which revokes the grant where the server detects reuse: it is replaced
    /// ([`Action::Unstore`]), and a reload starts signed out, as for a session in memory.
    pub fn persist_failed(&mut self, error: Error, stored: Option<&str>) -> Vec<Action> {
        let mut out = Vec::new();
        if stored.is_some_and(|t| Some(t) != self.record().as_deref()) {
            let app = self.cfg.app.as_deref();
            out.push(Action::Unstore(super::tab_message::unstored(app)));
        }
        if !self.storage_failed {
            self.storage_failed = true;
            self.emit_error(&mut out, error);
        }
        out
    }

    /// Reports an error as an event (for failures the shell meets, e.g. revocation).
    pub fn report(&self, error: Error) -> Vec<Action> {
        let mut out = Vec::new();
        self.emit_error(&mut out, error);
        out
    }

    /// When the shell should call [`Session::wake`] next, if ever.
    pub fn next_wakeup(&self) -> Option<f64> {
        let t = self.tokens.as_ref()?;
        if self.refreshing.is_some() {
            return None;
        }
        // The `sessionEnding` warning (never after the end) and the end itself wake the
        // session too.
        let ending = self.ending_due_at().or_else(|| self.session_ends_at());
        let earliest = |a: Option<f64>| min_of(a, ending);
        if !self.can_refresh() {
            return earliest(t.expires_at);
        }
        let mut next = match self.retry_at {
            Some(r) => Some(r.max(self.refresh_at.unwrap_or(r))),
            None => self.refresh_at,
        };
        if !self.expired_reported {
            if let Some(e) = t.expires_at {
                next = Some(next.map_or(e, |n| n.min(e)));
            }
        }
        earliest(next)
    }
}

mod ending;
use ending::min_of;
mod failures;
mod refresh;
pub use failures::UNREADABLE_AFTER_EXPIRY;
mod tabs;
mod unauthorized;

/// Fixtures shared by the session tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::core::tokens::TokenResponse;

    pub(crate) fn cfg(refresh: RefreshMode) -> Config {
        Config {
            lead_ms: 60_000.0,
            refresh,
            seed: 7,
            session_lead_ms: 60_000.0,
            max_session_age_ms: None,
            app: None,
            issuer: None,
            client_id: None,
        }
    }

    /// Two tabs: A set tokens (`at`, refresh token `rt`, living `expires_in`) at 0, and B
    /// adopted A's record at 1; with the record.
    pub(crate) fn two_tabs(at: &str, rt: &str, expires_in: f64) -> (Session, Session, String) {
        let mut a = Session::new(cfg(RefreshMode::Endpoint));
        let mut b = Session::new(cfg(RefreshMode::Endpoint));
        let rec = persisted(&a.set_tokens(0.0, resp(at, Some(rt), expires_in)));
        b.adopt(1.0, &rec);
        (a, b, rec)
    }

    pub(crate) fn resp(at: &str, rt: Option<&str>, expires_in: f64) -> TokenResponse {
        TokenResponse {
            access_token: at.to_string(),
            token_type: "Bearer".to_string(),
            expires_in: Some(expires_in),
            refresh_token: rt.map(str::to_string),
            id_token: None,
            scope: None,
            refresh_expires_in: None,
        }
    }

    /// The record a list of actions persists first (the test fails when it persists none).
    pub(crate) fn persisted(actions: &[Action]) -> String {
        match actions.first() {
            Some(Action::Persist(r)) => r.clone(),
            other => panic!("expected a persist first, got {other:?}"),
        }
    }

    pub(crate) fn kinds(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                Action::Persist(_) => "persist".to_string(),
                Action::Unstore(_) => "unstore".to_string(),
                Action::Clear(_) | Action::Forget(_) => "clear".to_string(),
                Action::Refresh(rt) => format!("refresh:{}", rt.as_deref().unwrap_or("-")),
                Action::Emit(e) => match (e.reason, &e.error) {
                    (Some(r), _) => format!("{}:{}", e.kind.as_str(), r.as_str()),
                    (_, Some(err)) => format!("{}:{}", e.kind.as_str(), err.code.as_str()),
                    _ => e.kind.as_str().to_string(),
                },
                Action::Announce(Announce::Tokens(_)) => "announce:tokens".to_string(),
                Action::Announce(Announce::SignedOut(r, _)) => {
                    format!("announce:signedOut:{}", r.as_str())
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
