//! The session state machine: the client's every decision, without any I/O.
//!
//! Following quinn-proto's pattern, the [`Session`] is told the time and what happened
//! (tokens set, a refresh finished, a timer fired, another tab wrote a session, the user
//! signed out) and answers with [`Action`]s for the browser shell to perform: persist
//! this record, clear it, start a refresh, emit this event, tell the other tabs. It is
//! asked [`Session::next_wakeup`] for the timer and [`Session::demand`] for what a caller
//! of `accessToken()` should get.

use super::error::{Error, ErrorCode};
use super::policy::{self, Rng};
use super::tokens::{TokenResponse, TokenSet};

/// The message of a refresh failure with no readable answer once the access token has
/// expired (see [`Session::refresh_done`]).
pub const UNREADABLE_AFTER_EXPIRY: &str = "the access token expired and the token endpoint's answer could not be read: it may lack CORS headers for this page's origin, or the server is unreachable";

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
    /// The app the session belongs to (see [`super::tokens::app_id`]): written into
    /// every record, and records of other apps are not adopted.
    pub app: Option<String>,
}

/// The client's status, as `TokenClient.status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Holding a session.
    SignedIn,
    /// No session.
    SignedOut,
    /// Holding a session and refreshing it.
    Refreshing,
}

impl Status {
    /// The status as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::SignedIn => "signedIn",
            Status::SignedOut => "signedOut",
            Status::Refreshing => "refreshing",
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `signOut()` here.
    User,
    /// The server refused the refresh token.
    InvalidGrant,
    /// The access token expired and nothing could refresh it.
    Expired,
    /// Another tab signed out.
    OtherTab,
    /// The stored session disappeared or became unreadable.
    Storage,
}

impl Reason {
    /// The reason as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::User => "user",
            Reason::InvalidGrant => "invalid_grant",
            Reason::Expired => "expired",
            Reason::OtherTab => "other_tab",
            Reason::Storage => "storage",
        }
    }

    /// Reads a reason sent by another tab.
    pub fn parse(s: &str) -> Option<Reason> {
        Some(match s {
            "user" => Reason::User,
            "invalid_grant" => Reason::InvalidGrant,
            "expired" => Reason::Expired,
            "other_tab" => Reason::OtherTab,
            "storage" => Reason::Storage,
            _ => return None,
        })
    }
}

/// The kinds of event listeners can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Tokens or status changed.
    Change,
    /// A refresh succeeded (here or in another tab).
    Refresh,
    /// The access token expired and could not be refreshed in time.
    Expired,
    /// The session ended.
    SignedOut,
    /// Something went wrong that the app may want to show.
    Error,
    /// The session can be refreshed only a little longer (`sessionEndingLeadSeconds`).
    SessionEnding,
}

impl EventKind {
    /// The event name as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Change => "change",
            EventKind::Refresh => "refresh",
            EventKind::Expired => "expired",
            EventKind::SignedOut => "signedOut",
            EventKind::Error => "error",
            EventKind::SessionEnding => "sessionEnding",
        }
    }

    /// Reads an event name.
    pub fn parse(s: &str) -> Option<EventKind> {
        Some(match s {
            "change" => EventKind::Change,
            "refresh" => EventKind::Refresh,
            "expired" => EventKind::Expired,
            "signedOut" => EventKind::SignedOut,
            "error" => EventKind::Error,
            "sessionEnding" => EventKind::SessionEnding,
            _ => return None,
        })
    }
}

/// An event for the app's listeners.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The status right after it happened.
    pub status: Status,
    /// The access token's expiry right after it happened.
    pub expires_at: Option<f64>,
    /// Why the session ended (on `signedOut`).
    pub reason: Option<Reason>,
    /// What went wrong (on `error`).
    pub error: Option<Error>,
    /// When the session can no longer be refreshed (on `sessionEnding`).
    pub session_ends_at: Option<f64>,
}

/// What the session tells other tabs.
#[derive(Debug, Clone, PartialEq)]
pub enum Announce {
    /// New tokens, as a stored record.
    Tokens(String),
    /// The session ended, and why.
    SignedOut(Reason),
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write this record to storage.
    Persist(String),
    /// Remove the record from storage.
    Clear,
    /// Start a refresh with this refresh token and report it with [`Session::refresh_done`].
    Refresh(Option<String>),
    /// Call the listeners.
    Emit(Event),
    /// Tell the other tabs.
    Announce(Announce),
}

/// How a refresh failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Worth trying again later (network, timeout, 5xx, 429); the server may have said
    /// when (`Retry-After`, in ms).
    Transient(Option<f64>),
    /// The session is over (`invalid_grant`, `invalid_client`, 400/401).
    Terminal,
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
            failures: 0,
            retry_at: None,
            expired_reported: false,
            expired_failure_reported: false,
            storage_failed: false,
            last_error: None,
            ending_reported: false,
            spent_401: None,
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

    /// When the session can no longer be refreshed (ms since epoch), if known: the
    /// refresh token's end, or the app's `maxSessionAgeSeconds`, whichever comes first.
    pub fn session_ends_at(&self) -> Option<f64> {
        let t = self.tokens.as_ref()?;
        let by_age = self
            .cfg
            .max_session_age_ms
            .map(|age| t.session_started_at + age);
        match (t.session_ends_at, by_age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When `sessionEnding` is due, if it still is.
    fn ending_due_at(&self) -> Option<f64> {
        if self.ending_reported {
            return None;
        }
        self.session_ends_at()
            .map(|end| end - self.cfg.session_lead_ms.max(0.0))
    }

    /// Emits `sessionEnding` once, when its time has come.
    fn check_ending(&mut self, now: f64, out: &mut Vec<Action>) {
        let Some(due) = self.ending_due_at() else {
            return;
        };
        if now < due {
            return;
        }
        self.ending_reported = true;
        out.push(Action::Emit(Event {
            kind: EventKind::SessionEnding,
            status: self.status(),
            expires_at: self.expires_at(),
            reason: None,
            error: None,
            session_ends_at: self.session_ends_at(),
        }));
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

    fn event(&self, kind: EventKind) -> Action {
        Action::Emit(Event {
            kind,
            status: self.status(),
            expires_at: self.expires_at(),
            reason: None,
            error: None,
            session_ends_at: None,
        })
    }

    fn error_event(&self, error: Error) -> Action {
        Action::Emit(Event {
            kind: EventKind::Error,
            status: self.status(),
            expires_at: self.expires_at(),
            reason: None,
            error: Some(error),
            session_ends_at: None,
        })
    }

    fn signed_out_event(&self, reason: Reason) -> Action {
        Action::Emit(Event {
            kind: EventKind::SignedOut,
            status: self.status(),
            expires_at: None,
            reason: Some(reason),
            error: None,
            session_ends_at: None,
        })
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

    fn end(&mut self, reason: Reason, announce: bool, out: &mut Vec<Action>) {
        if self.tokens.is_none() {
            return;
        }
        self.tokens = None;
        self.refresh_at = None;
        self.refreshing = None;
        self.failures = 0;
        self.retry_at = None;
        self.ending_reported = false;
        self.expired_failure_reported = false;
        out.push(Action::Clear);
        if announce {
            out.push(Action::Announce(Announce::SignedOut(reason)));
        }
        out.push(self.signed_out_event(reason));
        out.push(self.event(EventKind::Change));
    }

    /// Restores a stored record at start-up (or after another tab changed storage).
    /// A record that cannot be read is removed and reported as a `storage` error.
    pub fn restore(&mut self, now: f64, stored: Option<&str>) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(text) = stored else { return out };
        match TokenSet::from_record_for(text, self.cfg.app.as_deref()) {
            // Another app's record under the same key: not ours to use or remove.
            Ok(None) => {}
            Ok(Some(tokens)) => {
                self.install(tokens);
                out.push(self.event(EventKind::Change));
                out.extend(self.wake(now));
            }
            Err(e) => {
                out.push(Action::Clear);
                out.push(self.error_event(e));
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
            self.event(EventKind::Change),
        ];
        out.extend(self.wake(now));
        out
    }

    fn start_refresh(&mut self, out: &mut Vec<Action>) {
        let Some(t) = &self.tokens else { return };
        if self.refreshing.is_some() {
            return;
        }
        self.refreshing = Some(t.access_token.clone());
        out.push(Action::Refresh(t.refresh_token.clone()));
        out.push(self.event(EventKind::Change));
    }

    /// The time passed (a timer fired, the page became visible, came online, a fetch is
    /// about to start): refresh what is due, end what expired.
    pub fn wake(&mut self, now: f64) -> Vec<Action> {
        let mut out = Vec::new();
        self.check_ending(now, &mut out);
        let Some(t) = &self.tokens else { return out };
        if self.refreshing.is_some() {
            return out;
        }
        let expired = t.expired(now);
        if !self.can_refresh() {
            if expired {
                out.push(self.event(EventKind::Expired));
                self.end(Reason::Expired, false, &mut out);
            }
            return out;
        }
        let due = self.refresh_at.is_some_and(|at| now >= at);
        let backing_off = self.retry_at.is_some_and(|at| now < at);
        if due && !backing_off {
            self.start_refresh(&mut out);
        } else if expired && !self.expired_reported {
            self.expired_reported = true;
            out.push(self.event(EventKind::Expired));
        }
        out
    }

    /// The page came back online: a refresh waiting out a backoff is tried now.
    pub fn online(&mut self, now: f64) -> Vec<Action> {
        if self.retry_at.is_some() {
            self.retry_at = Some(now);
        }
        self.wake(now)
    }

    /// What a caller of `accessToken()` (or `fetch`) gets. `force` asks for a new token
    /// unless the current one differs from `force`'s token (it was already replaced);
    /// `joined` is set after waiting for a refresh, so no second refresh is started.
    pub fn demand(&mut self, now: f64, force: Option<&str>, joined: bool) -> (Vec<Action>, Demand) {
        let mut out = Vec::new();
        let Some(t) = &self.tokens else {
            let e = if joined {
                self.last_error.clone()
            } else {
                None
            };
            return (out, Demand::Fail(e.unwrap_or_else(Error::signed_out)));
        };
        if self.refreshing.is_some() {
            return (out, Demand::Wait);
        }
        let auth = t.access_token.clone();
        let expired = t.expired(now);
        let stale = force.is_some_and(|used| used == t.access_token);
        let due = stale || self.refresh_at.is_some_and(|at| now >= at);
        if !due {
            return (out, Demand::Ready(auth));
        }
        let backing_off = self.retry_at.is_some_and(|at| now < at);
        if !joined && self.can_refresh() && (!backing_off || stale) {
            self.start_refresh(&mut out);
            return (out, Demand::Wait);
        }
        if !(expired || stale && joined) {
            return (out, Demand::Ready(auth));
        }
        if !self.can_refresh() && expired {
            out.extend(self.wake(now));
            return (out, Demand::Fail(Error::signed_out()));
        }
        let e = self.last_error.clone().unwrap_or_else(|| {
            Error::network("the access token expired and could not be refreshed yet")
        });
        (out, Demand::Fail(e))
    }

    /// A request that carried the access token `used` was answered 401; `challenge` is
    /// its `WWW-Authenticate` header (`None`: absent or not readable). Whether to refresh
    /// (or take the token that already replaced `used`) and retry once. A refresh is
    /// forced at most once per access token, only when it can help (RFC 6750 §3.1), and
    /// never during a backoff; a 401 for a token whose forced refresh is still in flight
    /// (several calls sent with it) joins that refresh and retries too. `retry` says the
    /// 401 answered a retry: when a newer token has arrived meanwhile (another tab
    /// rotated it away while the retry was under way, and the server deleted it, as
    /// Django OAuth Toolkit does) the answer is to retry with that one, at most
    /// [`policy::MAX_401_RETRIES`] times per call, without a refresh; otherwise nothing is
    /// retried and that token forces no refresh later either, so an API that always
    /// answers 401 costs one token request per access token, not per call.
    pub fn unauthorized(
        &mut self,
        now: f64,
        used: &str,
        challenge: Option<&str>,
        retry: bool,
    ) -> bool {
        let replaced = self.tokens.as_ref().is_some_and(|t| t.access_token != used);
        if retry {
            if replaced {
                return policy::refresh_can_help(challenge);
            }
            self.spent_401 = Some(used.to_string());
            return false;
        }
        if !policy::refresh_can_help(challenge) {
            return false;
        }
        let Some(t) = &self.tokens else { return false };
        if self.spent_401.as_deref() == Some(t.access_token.as_str()) {
            // Its forced refresh is still in flight: wait for it with the others.
            return !replaced && self.refreshing.as_deref() == Some(used);
        }
        if t.access_token != used {
            // Already replaced (here or in another tab): retry with the new token.
            return true;
        }
        if !self.can_refresh() || self.retry_at.is_some_and(|at| now < at) {
            return false;
        }
        self.spent_401 = Some(used.to_string());
        true
    }

    /// Whether the refresh about to be sent (the lock is held, shared state re-read) is
    /// still needed: the token it set out to replace is still the current one.
    pub fn refresh_still_needed(&self) -> bool {
        match (&self.tokens, &self.refreshing) {
            (Some(t), Some(replacing)) => &t.access_token == replacing,
            _ => false,
        }
    }

    /// The refresh finished: with new tokens, a failure, or (`None`) without sending
    /// anything because another tab had already refreshed.
    ///
    /// A terminal failure ends the session (`signedOut`, `invalid_grant`). A transient one
    /// never does: the tokens are kept and the refresh is retried after a backoff. While
    /// the access token is valid every transient failure is an `error` event. Once it has
    /// expired, the app hears of the run of failures once: `expired`, and one `error`
    /// whose message names the likely cause ([`UNREADABLE_AFTER_EXPIRY`] when no answer
    /// could be read); later failures are not reported again (`accessToken()` rejects with
    /// that error), the backoff grows to its cap (`online` cuts it short), and the status
    /// stays `signedIn` with `expiresAt` in the past. A refresh that succeeds ends the run.
    pub fn refresh_done(
        &mut self,
        now: f64,
        result: Option<Result<TokenResponse, (Failure, Error)>>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(replacing) = self.refreshing.take() else {
            // The session this refresh belonged to has ended or been replaced.
            return out;
        };
        let superseded = self
            .tokens
            .as_ref()
            .is_some_and(|t| t.access_token != replacing);
        if superseded && !matches!(result, Some(Ok(_))) {
            // Another tab's tokens arrived meanwhile: this failure is about a token
            // that is gone, and the new one will be refreshed on its own account.
            out.push(self.event(EventKind::Change));
            out.extend(self.wake(now));
            return out;
        }
        match result {
            None => {
                out.push(self.event(EventKind::Change));
                out.extend(self.wake(now));
            }
            Some(Ok(resp)) => {
                let tokens = TokenSet::from_response(resp, now, self.tokens.as_ref());
                if tokens
                    .lifetime()
                    .is_some_and(|l| l < policy::MIN_TOKEN_LIFETIME_MS)
                {
                    // An answer that is already expired (or nearly): not usable, and
                    // asking again at once would storm the server.
                    let e = Error::token_response(
                        "the token endpoint answered with a token that is already expired",
                    );
                    let retry = Failure::Transient(Some(policy::UNUSABLE_LIFETIME_RETRY_MS));
                    self.refreshing = Some(replacing);
                    let out = self.refresh_done(now, Some(Err((retry, e))));
                    // Not shortened to half the time left: asking again soon would
                    // only get another such answer.
                    self.retry_at = Some(now + policy::UNUSABLE_LIFETIME_RETRY_MS);
                    return out;
                }
                let record = tokens.to_record_for(self.cfg.app.as_deref());
                self.install(tokens);
                out.push(Action::Persist(record.clone()));
                out.push(Action::Announce(Announce::Tokens(record)));
                out.push(self.event(EventKind::Refresh));
                out.push(self.event(EventKind::Change));
            }
            Some(Err((Failure::Terminal, e))) => {
                self.last_error = Some(e);
                self.end(Reason::InvalidGrant, true, &mut out);
            }
            Some(Err((Failure::Transient(retry_after), e))) => {
                self.failures = self.failures.saturating_add(1);
                let left = self.expires_at().map(|x| x - now).filter(|l| *l > 0.0);
                let wait = policy::backoff(self.failures, self.rng.next_f64(), retry_after, left);
                self.retry_at = Some(now + wait);
                // While the token is valid every failure is reported (the app may want to
                // show a flaky network). Once it has expired, the run of failures is
                // reported once, with its likely cause; the session is kept and retried
                // with the backoff (a real outage recovers), until a refresh succeeds.
                let expired = self.tokens.as_ref().is_some_and(|t| t.expired(now));
                let e = if expired {
                    self.failure_after_expiry(e)
                } else {
                    e
                };
                self.last_error = Some(e.clone());
                out.push(self.event(EventKind::Change));
                if !expired || !self.expired_failure_reported {
                    self.expired_failure_reported = expired;
                    out.push(self.error_event(e));
                }
                out.extend(self.wake(now));
            }
        }
        out
    }

    /// The error a transient refresh failure is reported with once the access token has
    /// expired. A failure with no readable HTTP answer at the token endpoint (the browser's
    /// network error) names its likely cause: a server that answers without CORS headers
    /// for this page (its refusals, and maybe its successes, are unreadable), or one that
    /// cannot be reached. Other failures (5xx, 429, an app's refresh function) keep theirs.
    fn failure_after_expiry(&self, e: Error) -> Error {
        if self.cfg.refresh != RefreshMode::Endpoint
            || e.code != ErrorCode::Network
            || e.server.is_some()
        {
            return e;
        }
        Error {
            message: UNREADABLE_AFTER_EXPIRY.to_string(),
            ..e
        }
    }

    /// Another tab announced tokens (or storage holds a record another tab wrote).
    /// Adopted when newer than ours; `refresh` and `change` fire as if refreshed here.
    pub fn adopt(&mut self, now: f64, record: &str) -> Vec<Action> {
        let mut out = Vec::new();
        let Ok(Some(tokens)) = TokenSet::from_record_for(record, self.cfg.app.as_deref()) else {
            return out;
        };
        if let Some(current) = &self.tokens {
            // Within one session, a later refresh has a higher generation; a record of
            // another session (a new sign-in in another tab) replaces this one. No
            // wall-clock comparison: clocks are set back.
            let same_session = current.session_started_at == tokens.session_started_at;
            if current.access_token == tokens.access_token
                || (same_session && current.generation >= tokens.generation)
            {
                return out;
            }
        }
        let was_signed_in = self.tokens.is_some();
        let record = tokens.to_record_for(self.cfg.app.as_deref());
        self.install(tokens);
        out.push(Action::Persist(record));
        if was_signed_in {
            out.push(self.event(EventKind::Refresh));
        }
        out.push(self.event(EventKind::Change));
        if self.refreshing.is_none() {
            out.extend(self.wake(now));
        }
        out
    }

    /// Another tab ended the session.
    pub fn remote_signed_out(&mut self, reason: Reason) -> Vec<Action> {
        let mut out = Vec::new();
        let reason = if reason == Reason::User {
            Reason::OtherTab
        } else {
            reason
        };
        self.end(reason, false, &mut out);
        out
    }

    /// Another page changed the storage area (`localStorage`'s `storage` event): `cleared`
    /// when the whole area was cleared (devtools, "clear site data", a script), otherwise
    /// the record's new value. The session ends with `signedOut { reason: 'storage' }` when
    /// the area was cleared or the record became unreadable. A removed record (`None`) and
    /// a readable one change nothing here: tokenward's own sign-outs and refreshes in other
    /// tabs arrive over the channel, with their own reason, and a record from another app
    /// under the same key is not ours to judge.
    pub fn storage_changed(&mut self, cleared: bool, new_value: Option<&str>) -> Vec<Action> {
        let mut out = Vec::new();
        let unreadable = new_value
            .is_some_and(|v| TokenSet::from_record_for(v, self.cfg.app.as_deref()).is_err());
        if cleared || unreadable {
            self.end(Reason::Storage, false, &mut out);
        }
        out
    }

    /// `signOut()`: forget the session here and in every tab.
    pub fn sign_out(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.end(Reason::User, true, &mut out);
        out
    }

    /// Storage refused a write: the session lives on in memory; reported once.
    pub fn persist_failed(&mut self, error: Error) -> Vec<Action> {
        if self.storage_failed {
            return Vec::new();
        }
        self.storage_failed = true;
        vec![self.error_event(error)]
    }

    /// Reports an error as an event (for failures the shell meets, e.g. revocation).
    pub fn report(&self, error: Error) -> Vec<Action> {
        vec![self.error_event(error)]
    }

    /// When the shell should call [`Session::wake`] next, if ever.
    pub fn next_wakeup(&self) -> Option<f64> {
        let t = self.tokens.as_ref()?;
        if self.refreshing.is_some() {
            return None;
        }
        let ending = self.ending_due_at();
        let earliest = |a: Option<f64>| match (a, ending) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
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

    /// Whether an error is terminal for a refresh: the server said the grant or the
    /// client is not good (RFC 6749 §5.2).
    pub fn is_terminal(code: &ErrorCode) -> bool {
        matches!(code, ErrorCode::InvalidGrant)
            || matches!(code, ErrorCode::Server(c) if c == "invalid_client" || c == "unauthorized_client" || c == "unsupported_grant_type" || c == "invalid_scope")
    }
}

#[cfg(test)]
mod tests {
    use super::super::jwt;
    use super::*;

    fn cfg(refresh: RefreshMode) -> Config {
        Config {
            lead_ms: 60_000.0,
            refresh,
            seed: 7,
            session_lead_ms: 60_000.0,
            max_session_age_ms: None,
            app: None,
        }
    }

    fn resp(at: &str, rt: Option<&str>, expires_in: f64) -> TokenResponse {
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

    fn kinds(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                Action::Persist(_) => "persist".to_string(),
                Action::Clear => "clear".to_string(),
                Action::Refresh(rt) => format!("refresh:{}", rt.as_deref().unwrap_or("-")),
                Action::Emit(e) => match (e.reason, &e.error) {
                    (Some(r), _) => format!("{}:{}", e.kind.as_str(), r.as_str()),
                    (_, Some(err)) => format!("{}:{}", e.kind.as_str(), err.code.as_str()),
                    _ => e.kind.as_str().to_string(),
                },
                Action::Announce(Announce::Tokens(_)) => "announce:tokens".to_string(),
                Action::Announce(Announce::SignedOut(r)) => {
                    format!("announce:signedOut:{}", r.as_str())
                }
            })
            .collect()
    }

    #[test]
    fn set_tokens_persists_announces_and_schedules_refresh_at_half_life() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        let a = s.set_tokens(0.0, resp("a1", Some("r1"), 4.0));
        assert_eq!(kinds(&a), ["persist", "announce:tokens", "change"]);
        let due = s.refresh_due_at().unwrap();
        assert!((1_800.0..=2_000.0).contains(&due), "{due}");
        assert_eq!(s.next_wakeup(), Some(due));
        assert!(s.wake(due - 1.0).is_empty());
        assert_eq!(kinds(&s.wake(due)), ["refresh:r1", "change"]);
        assert_eq!(s.status(), Status::Refreshing);
        // A second wake while in flight starts nothing.
        assert!(s.wake(due + 10.0).is_empty());
    }

    #[test]
    fn one_refresh_per_token_issued() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a0", Some("r0"), 4.0));
        let mut now = 0.0;
        let mut refreshes = 0;
        for i in 1..=15 {
            now = s.next_wakeup().unwrap();
            let a = s.wake(now);
            assert!(a.contains(&Action::Refresh(Some(format!("r{}", i - 1)))));
            refreshes += 1;
            let done = s.refresh_done(
                now + 50.0,
                Some(Ok(resp(&format!("a{i}"), Some(&format!("r{i}")), 4.0))),
            );
            assert_eq!(
                kinds(&done),
                ["persist", "announce:tokens", "refresh", "change"]
            );
        }
        // 15 refreshes of a 4 s token take about 15 × 2 s.
        assert_eq!(refreshes, 15);
        assert!((26_000.0..31_000.0).contains(&now), "{now}");
    }

    #[test]
    fn callers_join_the_refresh_in_flight() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 10.0));
        // Expired (laptop slept): the first caller starts a refresh, the others wait.
        let (a, d) = s.demand(60_000.0, None, false);
        assert_eq!(kinds(&a), ["refresh:r1", "change"]);
        assert_eq!(d, Demand::Wait);
        for _ in 0..49 {
            let (a, d) = s.demand(60_000.0, None, false);
            assert!(a.is_empty());
            assert_eq!(d, Demand::Wait);
        }
        s.refresh_done(60_100.0, Some(Ok(resp("a2", Some("r2"), 10.0))));
        assert_eq!(
            s.demand(60_100.0, None, true).1,
            Demand::Ready("a2".to_string())
        );
    }

    #[test]
    fn transient_failure_keeps_the_valid_token_and_backs_off_within_half_the_time_left() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 100.0));
        let due = s.refresh_due_at().unwrap();
        s.wake(due);
        let a = s.refresh_done(
            due,
            Some(Err((Failure::Transient(None), Error::network("503")))),
        );
        assert_eq!(kinds(&a), ["change", "error:network"]);
        assert_eq!(s.status(), Status::SignedIn);
        let retry = s.next_wakeup().unwrap();
        let left = 100_000.0 - due;
        assert!(retry > due && retry - due <= left / 2.0, "{retry}");
        // The current token is still handed out during the backoff.
        assert_eq!(
            s.demand(due + 1.0, None, false).1,
            Demand::Ready("a1".to_string())
        );
        // Many failures in a row: every wait still ends before expiry.
        let mut now = due;
        for _ in 0..20 {
            now = s.next_wakeup().unwrap();
            if now >= 100_000.0 {
                break;
            }
            assert!(kinds(&s.wake(now)).contains(&"refresh:r1".to_string()));
            s.refresh_done(
                now,
                Some(Err((Failure::Transient(None), Error::network("503")))),
            );
        }
        assert!(now < 100_000.0 + 1_000.0);
    }

    #[test]
    fn expiry_during_an_outage_is_reported_once_and_recovery_works() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 4.0));
        let mut expired = 0;
        let mut now = 0.0;
        for _ in 0..30 {
            now = s.next_wakeup().unwrap();
            for a in s.wake(now) {
                match a {
                    Action::Refresh(_) => {
                        let r = s.refresh_done(
                            now,
                            Some(Err((Failure::Transient(None), Error::network("down")))),
                        );
                        expired += kinds(&r).iter().filter(|k| *k == "expired").count();
                    }
                    Action::Emit(e) if e.kind == EventKind::Expired => expired += 1,
                    _ => {}
                }
            }
        }
        assert_eq!(expired, 1);
        assert!(
            matches!(s.demand(now, None, false).1, Demand::Fail(e) if e.code == ErrorCode::Network)
        );
        // `online` cuts the backoff short.
        let a = s.online(now + 1.0);
        assert!(kinds(&a).contains(&"refresh:r1".to_string()));
        s.refresh_done(now + 2.0, Some(Ok(resp("a2", Some("r2"), 4.0))));
        assert_eq!(
            s.demand(now + 3.0, None, false).1,
            Demand::Ready("a2".to_string())
        );
    }

    #[test]
    fn terminal_failure_ends_the_session_once() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 4.0));
        s.wake(3_000.0);
        let a = s.refresh_done(
            3_000.0,
            Some(Err((
                Failure::Terminal,
                Error::new(ErrorCode::InvalidGrant, "refused"),
            ))),
        );
        assert_eq!(
            kinds(&a),
            [
                "clear",
                "announce:signedOut:invalid_grant",
                "signedOut:invalid_grant",
                "change"
            ]
        );
        assert_eq!(s.status(), Status::SignedOut);
        assert!(s.sign_out().is_empty());
        assert!(s.remote_signed_out(Reason::User).is_empty());
        assert!(s.next_wakeup().is_none());
    }

    #[test]
    fn without_refresh_the_session_ends_at_expiry() {
        let mut s = Session::new(cfg(RefreshMode::None));
        s.set_tokens(0.0, resp("a1", None, 4.0));
        assert_eq!(s.next_wakeup(), Some(4_000.0));
        assert_eq!(
            s.demand(3_999.0, None, false).1,
            Demand::Ready("a1".to_string())
        );
        let a = s.wake(4_000.0);
        assert_eq!(
            kinds(&a),
            ["expired", "clear", "signedOut:expired", "change"]
        );
        // An endpoint without a refresh token is the same.
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", None, 4.0));
        let (_, d) = s.demand(5_000.0, None, false);
        assert!(matches!(d, Demand::Fail(e) if e.code == ErrorCode::SignedOut));
    }

    #[test]
    fn long_lived_tokens_do_not_refresh_early() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 30.0 * 86_400.0));
        let due = s.refresh_due_at().unwrap();
        assert!(due > 28.0 * 86_400_000.0);
        assert!(s.wake(1_000.0).is_empty());
        assert_eq!(
            s.demand(1_000.0, None, false).1,
            Demand::Ready("a1".to_string())
        );
        assert_eq!(policy::timer_delay(0.0, due), policy::MAX_TIMER_MS);
    }

    #[test]
    fn unauthorized_forces_one_refresh_unless_the_token_changed() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 3600.0));
        let (a, d) = s.demand(10.0, Some("a1"), false);
        assert_eq!(kinds(&a), ["refresh:r1", "change"]);
        assert_eq!(d, Demand::Wait);
        s.refresh_done(20.0, Some(Ok(resp("a2", Some("r2"), 3600.0))));
        // A 401 for the old token: the new one is used, no second refresh.
        let (a, d) = s.demand(30.0, Some("a1"), false);
        assert!(a.is_empty());
        assert_eq!(d, Demand::Ready("a2".to_string()));
        // A refresh that failed after a 401: the caller gets the error.
        s.demand(40.0, Some("a2"), false);
        s.refresh_done(
            50.0,
            Some(Err((Failure::Transient(None), Error::network("x")))),
        );
        assert!(matches!(
            s.demand(50.0, Some("a2"), true).1,
            Demand::Fail(_)
        ));
    }

    /// Drives a session for an hour whose token endpoint always answers `answer`, with
    /// a caller asking for a token every 250 ms; returns the number of token requests.
    fn refreshes_in_an_hour(answer: TokenResponse) -> usize {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a0", Some("r0"), 60.0));
        let mut now = 0.0;
        let mut requests = 0;
        while now < 3_600_000.0 {
            let next = s.next_wakeup().unwrap_or(f64::INFINITY).min(now + 250.0);
            now = next.max(now);
            let mut actions = s.wake(now);
            actions.extend(s.demand(now, None, false).0);
            for a in actions {
                if let Action::Refresh(_) = a {
                    requests += 1;
                    now += 20.0;
                    s.refresh_done(now, Some(Ok(answer.clone())));
                }
            }
            now += 1.0;
        }
        requests
    }

    #[test]
    fn answers_without_a_usable_lifetime_never_storm() {
        let zero = resp("z", Some("rz"), 0.0);
        let n = refreshes_in_an_hour(zero);
        assert!(
            (1..=60).contains(&n),
            "expires_in 0: {n} token requests in an hour"
        );
        let tiny = TokenResponse {
            expires_in: Some(0.2),
            ..resp("t", Some("rt"), 0.0)
        };
        let n = refreshes_in_an_hour(tiny);
        assert!(
            (1..=60).contains(&n),
            "expires_in 0.2: {n} token requests in an hour"
        );
        // A JWT whose exp is not after its iat.
        let payload = jwt::base64url_encode(br#"{"exp":1700000000,"iat":1700000000}"#);
        let stale_jwt = TokenResponse {
            expires_in: None,
            ..resp(&format!("e30.{payload}.c2ln"), Some("rj"), 0.0)
        };
        let n = refreshes_in_an_hour(stale_jwt);
        assert!(
            (1..=60).contains(&n),
            "JWT exp <= iat: {n} token requests in an hour"
        );
        // 3 s tokens still refresh about every 1.5 s.
        let n = refreshes_in_an_hour(resp("b", Some("rb"), 3.0));
        assert!((2_000..=2_800).contains(&n), "3 s tokens: {n}");
    }

    #[test]
    fn an_unusable_answer_keeps_the_valid_token_and_reports_it() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 100.0));
        let due = s.refresh_due_at().unwrap();
        s.wake(due);
        let out = s.refresh_done(due, Some(Ok(resp("a2", Some("r2"), 0.0))));
        assert_eq!(kinds(&out), ["change", "error:invalid_token_response"]);
        assert_eq!(s.tokens().unwrap().access_token, "a1");
        assert!(s.next_wakeup().unwrap() > due);
    }

    #[test]
    fn set_tokens_with_zero_lifetime_arms_no_zero_timer_storm() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 0.0));
        assert!(s.refresh_due_at().unwrap() >= policy::MIN_REFRESH_INTERVAL_MS);
        assert!(kinds(&s.wake(0.0))
            .iter()
            .all(|k| !k.starts_with("refresh")));
    }

    #[test]
    fn a_401_forces_at_most_one_refresh_per_token() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 3600.0));
        let invalid = Some(r#"Bearer error="invalid_token""#);
        assert!(s.unauthorized(10.0, "a1", invalid, false));
        // A second 401 for the same token (another call) forces nothing more.
        assert!(!s.unauthorized(11.0, "a1", invalid, false));
        let (a, _) = s.demand(12.0, Some("a1"), false);
        assert_eq!(kinds(&a), ["refresh:r1", "change"]);
        s.refresh_done(20.0, Some(Ok(resp("a2", Some("r2"), 3600.0))));
        // The retry with a2 was answered 401 too: a2 forces nothing, call after call.
        assert!(!s.unauthorized(30.0, "a2", None, true));
        let mut requests = 0;
        for i in 0..100 {
            let t = f64::from(i) * 100.0 + 40.0;
            if s.unauthorized(t, "a2", None, false) {
                let (a, _) = s.demand(t, Some("a2"), false);
                requests += a.iter().filter(|x| matches!(x, Action::Refresh(_))).count();
            }
        }
        assert_eq!(requests, 0);
        // A 401 for a token that was already replaced: retry with the current one, no refresh.
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("b1", Some("r1"), 3600.0));
        s.set_tokens(1.0, resp("b2", Some("r2"), 3600.0));
        assert!(s.unauthorized(2.0, "b1", None, false));
        assert_eq!(
            s.demand(2.0, Some("b1"), false).1,
            Demand::Ready("b2".into())
        );
    }

    #[test]
    fn a_401_refreshes_only_when_it_can_help_and_not_during_backoff() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 3600.0));
        assert!(!s.unauthorized(
            1.0,
            "a1",
            Some(r#"Bearer error="insufficient_scope""#),
            false
        ));
        assert!(!s.unauthorized(1.0, "a1", Some(r#"Basic realm="x""#), false));
        // A transient failure: no 401-forced refresh inside the backoff window.
        s.demand(2.0, Some("a1"), false);
        s.refresh_done(
            3.0,
            Some(Err((
                Failure::Transient(Some(30_000.0)),
                Error::network("503"),
            ))),
        );
        assert!(!s.unauthorized(4.0, "a1", None, false));
        assert!(!s.unauthorized(20_000.0, "a1", None, false));
        assert!(s.unauthorized(40_000.0, "a1", None, false));
        // Without a way to refresh, a 401 forces nothing.
        let mut s = Session::new(cfg(RefreshMode::None));
        s.set_tokens(0.0, resp("a1", None, 3600.0));
        assert!(!s.unauthorized(1.0, "a1", None, false));
    }

    #[test]
    fn records_and_messages_of_another_app_are_ignored() {
        let app = |id: &str| Config {
            app: Some(id.to_string()),
            ..cfg(RefreshMode::Endpoint)
        };
        let mut a = Session::new(app("aaaa"));
        let rec = match &a.set_tokens(0.0, resp("a1", Some("r1"), 10.0))[0] {
            Action::Persist(r) => r.clone(),
            _ => unreachable!(),
        };
        assert!(rec.contains(r#""app":"aaaa""#));
        assert_eq!(a.record().as_deref(), Some(rec.as_str()));
        // Another app: neither adopted from a tab message nor restored, and not removed.
        let mut b = Session::new(app("bbbb"));
        assert!(b.adopt(1.0, &rec).is_empty());
        assert!(b.restore(1.0, Some(&rec)).is_empty());
        assert_eq!(b.status(), Status::SignedOut);
        let mut none = Session::new(cfg(RefreshMode::Endpoint));
        assert!(none.restore(1.0, Some(&rec)).is_empty());
        // The same app adopts it.
        let mut a2 = Session::new(app("aaaa"));
        assert_eq!(kinds(&a2.adopt(1.0, &rec)), ["persist", "change"]);
        // A record from before records were bound: only for a client without an app id.
        let legacy = a.tokens().unwrap().to_record();
        assert!(Session::new(app("aaaa"))
            .restore(1.0, Some(&legacy))
            .is_empty());
        assert_eq!(
            kinds(&Session::new(cfg(RefreshMode::Endpoint)).restore(1.0, Some(&legacy))),
            ["change"]
        );
    }

    #[test]
    fn adoption_from_other_tabs() {
        let mut a = Session::new(cfg(RefreshMode::Endpoint));
        let mut b = Session::new(cfg(RefreshMode::Endpoint));
        let rec = match &a.set_tokens(0.0, resp("a1", Some("r1"), 10.0))[0] {
            Action::Persist(r) => r.clone(),
            _ => unreachable!(),
        };
        assert_eq!(kinds(&b.adopt(1.0, &rec)), ["persist", "change"]);
        assert!(b.adopt(2.0, &rec).is_empty());
        // B is waiting for the lock to refresh; A refreshed meanwhile.
        b.wake(9_000.0);
        assert!(b.refresh_still_needed());
        a.wake(9_000.0);
        let rec2 = match &a.refresh_done(9_001.0, Some(Ok(resp("a2", Some("r2"), 10.0))))[0] {
            Action::Persist(r) => r.clone(),
            _ => unreachable!(),
        };
        assert_eq!(
            kinds(&b.adopt(9_002.0, &rec2)),
            ["persist", "refresh", "change"]
        );
        assert!(!b.refresh_still_needed());
        assert_eq!(kinds(&b.refresh_done(9_003.0, None)), ["change"]);
        assert_eq!(b.tokens().unwrap().refresh_token.as_deref(), Some("r2"));
        // An older record never replaces a newer one.
        assert!(b.adopt(9_004.0, &rec).is_empty());
        assert_eq!(
            kinds(&b.remote_signed_out(Reason::User)),
            ["clear", "signedOut:other_tab", "change"]
        );
    }

    #[test]
    fn a_failure_for_a_token_another_tab_replaced_is_ignored() {
        for failure in [Failure::Terminal, Failure::Transient(None)] {
            let mut a = Session::new(cfg(RefreshMode::Endpoint));
            let mut b = Session::new(cfg(RefreshMode::Endpoint));
            let rec = match &a.set_tokens(0.0, resp("a1", Some("r1"), 10.0))[0] {
                Action::Persist(r) => r.clone(),
                _ => unreachable!(),
            };
            b.adopt(1.0, &rec);
            b.wake(9_000.0);
            a.wake(9_000.0);
            let rec2 = match &a.refresh_done(9_001.0, Some(Ok(resp("a2", Some("r2"), 10.0))))[0] {
                Action::Persist(r) => r.clone(),
                _ => unreachable!(),
            };
            b.adopt(9_002.0, &rec2);
            // B's own (hung) request comes back failed after all.
            let out = b.refresh_done(
                12_000.0,
                Some(Err((failure, Error::new(ErrorCode::InvalidGrant, "used")))),
            );
            assert_eq!(kinds(&out), ["change"]);
            assert_eq!(b.status(), Status::SignedIn);
            assert_eq!(b.tokens().unwrap().access_token, "a2");
        }
    }

    #[test]
    fn restore_handles_good_expired_and_corrupt_records() {
        let mut a = Session::new(cfg(RefreshMode::Endpoint));
        let rec = match &a.set_tokens(0.0, resp("a1", Some("r1"), 10.0))[0] {
            Action::Persist(r) => r.clone(),
            _ => unreachable!(),
        };
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        assert_eq!(kinds(&s.restore(1.0, Some(&rec))), ["change"]);
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        assert_eq!(
            kinds(&s.restore(60_000.0, Some(&rec))),
            ["change", "refresh:r1", "change"]
        );
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        assert_eq!(
            kinds(&s.restore(1.0, Some("{\"v\":1,"))),
            ["clear", "error:storage"]
        );
        assert_eq!(s.status(), Status::SignedOut);
        let mut s = Session::new(cfg(RefreshMode::None));
        assert_eq!(
            kinds(&s.restore(60_000.0, Some(&rec))),
            ["change", "expired", "clear", "signedOut:expired", "change"]
        );
    }

    #[test]
    fn sign_out_during_refresh_drops_the_late_result() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 4.0));
        s.wake(3_000.0);
        assert_eq!(
            kinds(&s.sign_out()),
            [
                "clear",
                "announce:signedOut:user",
                "signedOut:user",
                "change"
            ]
        );
        assert!(s
            .refresh_done(3_100.0, Some(Ok(resp("a2", Some("r2"), 4.0))))
            .is_empty());
        assert_eq!(s.status(), Status::SignedOut);
    }

    #[test]
    fn storage_failure_is_reported_once() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        assert_eq!(s.persist_failed(Error::storage("quota")).len(), 1);
        assert!(s.persist_failed(Error::storage("quota")).is_empty());
    }

    fn unreadable() -> (Failure, Error) {
        (
            Failure::Transient(None),
            Error::network("the authorization server could not be reached")
                .with_cause("TypeError: Failed to fetch"),
        )
    }

    fn errors(actions: &[Action]) -> Vec<Error> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Emit(e) if e.kind == EventKind::Error => e.error.clone(),
                _ => None,
            })
            .collect()
    }

    /// Drives a session whose token endpoint never gives a readable answer from `from` to
    /// `until` (ms), waking it when it asks and a caller every 250 ms; returns every action
    /// and the number of token requests.
    fn failing_refreshes(s: &mut Session, from: f64, until: f64) -> (Vec<Action>, usize) {
        let mut all = Vec::new();
        let mut requests = 0;
        let mut now = from;
        while now < until {
            let mut actions = s.wake(now);
            actions.extend(s.demand(now, None, false).0);
            for a in actions {
                if let Action::Refresh(_) = a {
                    requests += 1;
                    all.extend(s.refresh_done(now + 20.0, Some(Err(unreadable()))));
                }
                all.push(a);
            }
            now = s
                .next_wakeup()
                .unwrap_or(f64::INFINITY)
                .min(now + 250.0)
                .max(now + 1.0);
        }
        (all, requests)
    }

    #[test]
    fn unreadable_answers_after_expiry_are_reported_once_with_their_cause() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 4.0));
        let (before, _) = failing_refreshes(&mut s, 0.0, 3_999.0);
        // While the token is valid, every failure is reported, as the shell said it.
        let early = errors(&before);
        assert!(!early.is_empty());
        assert!(early.iter().all(|e| !e.message.contains("CORS")));
        let (after, requests) = failing_refreshes(&mut s, 3_999.0, 3_600_000.0);
        let named = errors(&after);
        assert_eq!(named.len(), 1, "one error for the whole run after expiry");
        assert_eq!(named[0].code, ErrorCode::Network);
        assert_eq!(named[0].message, UNREADABLE_AFTER_EXPIRY);
        assert_eq!(
            named[0].cause.as_deref(),
            Some("TypeError: Failed to fetch")
        );
        let expired = after
            .iter()
            .filter(|a| matches!(a, Action::Emit(e) if e.kind == EventKind::Expired))
            .count();
        assert_eq!(expired, 1);
        // Not signed out: a network failure may be an outage that ends.
        assert!(kinds(&after)
            .iter()
            .all(|k| !k.starts_with("signedOut") && k != "clear"));
        assert_eq!(s.status(), Status::SignedIn);
        assert!(s.expires_at().is_some_and(|e| e < 3_600_000.0));
        // The backoff grows to its cap (30–60 s with its jitter): not a storm, but tries
        // all along, so that an outage that ends is noticed.
        let most = (3_600_000.0 / (policy::BACKOFF_CAP_MS / 2.0)) as usize + 10;
        assert!(
            (50..=most).contains(&requests),
            "{requests} token requests in an hour"
        );
        // Callers get the named error.
        let (_, d) = s.demand(3_600_000.0, None, true);
        assert!(matches!(d, Demand::Fail(e) if e.message == UNREADABLE_AFTER_EXPIRY));
    }

    #[test]
    fn an_outage_after_expiry_recovers_and_a_later_run_is_reported_again() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 4.0));
        let (_, _) = failing_refreshes(&mut s, 0.0, 30_000.0);
        // Back online: the next try is now, and it succeeds.
        let a = s.online(30_000.0);
        assert_eq!(kinds(&a), ["refresh:r1", "change"]);
        let a = s.refresh_done(30_050.0, Some(Ok(resp("a2", Some("r2"), 4.0))));
        assert_eq!(
            kinds(&a),
            ["persist", "announce:tokens", "refresh", "change"]
        );
        assert_eq!(s.status(), Status::SignedIn);
        // The next run of failures after the next expiry is reported again, once.
        let (after, _) = failing_refreshes(&mut s, 30_050.0, 200_000.0);
        let named: Vec<Error> = errors(&after)
            .into_iter()
            .filter(|e| e.message == UNREADABLE_AFTER_EXPIRY)
            .collect();
        assert_eq!(named.len(), 1);
        // A server that answers (5xx) after expiry keeps its own message, once too.
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 4.0));
        s.wake(5_000.0);
        let e503 = Error::network("the token endpoint answered HTTP 503").with_server(
            super::super::error::ServerCause {
                status: Some(503),
                ..Default::default()
            },
        );
        let a = s.refresh_done(5_000.0, Some(Err((Failure::Transient(None), e503.clone()))));
        assert_eq!(errors(&a), [e503]);
    }

    #[test]
    fn concurrent_401s_for_one_token_join_its_forced_refresh() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("a1", Some("r1"), 3600.0));
        // Two calls went out with a1; the first 401 forces the refresh.
        assert!(s.unauthorized(10.0, "a1", None, false));
        let (a, d) = s.demand(10.0, Some("a1"), false);
        assert_eq!(kinds(&a), ["refresh:r1", "change"]);
        assert_eq!(d, Demand::Wait);
        // The second 401 comes while that refresh is in flight: it joins, no second refresh.
        assert!(s.unauthorized(11.0, "a1", None, false));
        let (a, d) = s.demand(11.0, Some("a1"), false);
        assert!(a.is_empty());
        assert_eq!(d, Demand::Wait);
        s.refresh_done(20.0, Some(Ok(resp("a2", Some("r2"), 3600.0))));
        assert_eq!(
            s.demand(21.0, Some("a1"), true).1,
            Demand::Ready("a2".into())
        );
        // A forced refresh that did not replace the token: a later 401 for it forces nothing.
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        s.set_tokens(0.0, resp("b1", Some("r1"), 3600.0));
        assert!(s.unauthorized(10.0, "b1", None, false));
        s.demand(10.0, Some("b1"), false);
        s.refresh_done(
            20.0,
            Some(Err((Failure::Transient(Some(0.0)), Error::network("x")))),
        );
        assert!(!s.unauthorized(100_000.0, "b1", None, false));
    }

    #[test]
    fn a_retry_answered_401_for_a_token_another_tab_replaced_is_retried_with_the_newer_one() {
        // Tab B holds a1; tab A rotates a1 → a2 → a3 and the server deletes each old one.
        let mut a = Session::new(cfg(RefreshMode::Endpoint));
        let mut b = Session::new(cfg(RefreshMode::Endpoint));
        let record = |out: &[Action]| match out.first() {
            Some(Action::Persist(r)) => r.clone(),
            _ => String::new(),
        };
        let rec1 = record(&a.set_tokens(0.0, resp("a1", Some("r1"), 3.0)));
        b.adopt(1.0, &rec1);
        a.wake(1_500.0);
        let rec2 = record(&a.refresh_done(1_510.0, Some(Ok(resp("a2", Some("r2"), 3.0)))));
        // B's call with a1 is answered 401; B has a2 by then: retry with it, no refresh.
        b.adopt(1_520.0, &rec2);
        assert!(b.unauthorized(1_600.0, "a1", None, false));
        let (out, d) = b.demand(1_600.0, Some("a1"), false);
        assert!(out.is_empty());
        assert_eq!(d, Demand::Ready("a2".into()));
        // While that retry is under way A rotates again; the retry is answered 401.
        a.wake(3_100.0);
        let rec3 = record(&a.refresh_done(3_110.0, Some(Ok(resp("a3", Some("r3"), 3.0)))));
        b.adopt(3_120.0, &rec3);
        assert!(b.unauthorized(3_200.0, "a2", None, true), "retried with a3");
        let (out, d) = b.demand(3_200.0, Some("a2"), false);
        assert!(out.is_empty(), "no refresh for it");
        assert_eq!(d, Demand::Ready("a3".into()));
        // A 401 for the retry with the token B still holds: nothing more (an API that
        // always answers 401), and that token forces no refresh later.
        assert!(!b.unauthorized(3_300.0, "a3", None, true));
        assert!(!b.unauthorized(3_400.0, "a3", None, false));
        // A retry's 401 that a new token cannot fix is not retried either.
        b.adopt(
            4_700.0,
            &record(&{
                a.wake(4_600.0);
                a.refresh_done(4_610.0, Some(Ok(resp("a4", Some("r4"), 3.0))))
            }),
        );
        assert!(!b.unauthorized(
            4_800.0,
            "a3",
            Some(r#"Bearer error="insufficient_scope""#),
            true
        ));
    }
}
