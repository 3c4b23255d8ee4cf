//! Refreshing: when a refresh is due, who waits for it, and what its outcome does to the
//! session (backoff, expiry during an outage, the end of the session).

use super::*;
use crate::core::error::ErrorCode;
use crate::core::refreshed_id_token;

impl Session {
    fn start_refresh(&mut self, out: &mut Vec<Action>) {
        let Some(t) = &self.tokens else { return };
        if self.refreshing.is_some() {
            return;
        }
        self.refreshing = Some(t.access_token.clone());
        out.push(Action::Refresh(t.refresh_token.clone()));
        self.emit(out, EventKind::Change);
    }

    /// The time passed (a timer fired, the page became visible, came online, a fetch is
    /// about to start): refresh what is due, end what expired.
    pub fn wake(&mut self, now: f64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.check_ending(now, &mut out) {
            return out;
        }
        let Some(t) = &self.tokens else { return out };
        if self.refreshing.is_some() {
            return out;
        }
        let expired = t.expired(now);
        if !self.can_refresh() {
            if expired {
                self.emit(&mut out, EventKind::Expired);
                self.end(Reason::Expired, Ending::OnItsOwn, &mut out);
            }
            return out;
        }
        let due = self.refresh_due(now);
        let backing_off = self.retry_at.is_some_and(|at| now < at);
        if due && !backing_off {
            self.start_refresh(&mut out);
        } else if expired && !self.expired_reported {
            self.expired_reported = true;
            self.emit(&mut out, EventKind::Expired);
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
        // Past the session's end (the timer may not have fired: a sleeping laptop), the
        // session ends now and nothing is handed out.
        if self.check_ending(now, &mut out) {
            return (out, Demand::Fail(Error::signed_out()));
        }
        let Some(t) = &self.tokens else {
            let e = if joined {
                self.last_error.clone()
            } else {
                None
            };
            return (out, Demand::Fail(e.unwrap_or_else(Error::signed_out)));
        };
        let auth = t.access_token.clone();
        if self.refreshing.is_some() {
            // A caller whose token was replaced while it waited has its new token, though
            // another refresh has started since (a listener of the last one asked for it).
            let replaced = joined && force.is_some_and(|used| used != t.access_token);
            if replaced && !t.expired(now) {
                return (out, Demand::Ready(auth));
            }
            return (out, Demand::Wait);
        }
        let expired = t.expired(now);
        let stale = force.is_some_and(|used| used == t.access_token);
        let due = stale || self.refresh_due(now);
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

    /// Whether the refresh about to be sent (the lock is held, shared state re-read) is
    /// still needed: the token it set out to replace is still the current one.
    pub fn refresh_still_needed(&self) -> bool {
        match (&self.tokens, &self.refreshing) {
            (Some(t), Some(replacing)) => &t.access_token == replacing,
            _ => false,
        }
    }

    /// Checks the ID token a refresh brought, if any (OpenID Connect Core §12.2).
    fn check_refreshed_id_token(
        &self,
        resp: TokenResponse,
    ) -> Result<TokenResponse, (Failure, Error)> {
        if let Some(id_token) = &resp.id_token {
            let previous = self.tokens.as_ref().and_then(|t| t.id_token.as_deref());
            refreshed_id_token::check(
                id_token,
                previous,
                self.cfg.issuer.as_deref(),
                self.cfg.client_id.as_deref(),
            )
            .map_err(|e| (Failure::Terminal, e))?;
        }
        Ok(resp)
    }

    /// The refresh's request is going out now. Its answer's `expires_in` (and
    /// `refresh_expires_in`) count from here, not from when the answer arrives: the
    /// server's clock started before the answer was sent, and a slow answer (a loaded
    /// machine, a background tab) would otherwise make a token seem to live longer than it
    /// does.
    pub fn refresh_sent(&mut self, now: f64) {
        if self.refreshing.is_some() {
            self.refresh_sent_at = Some(now);
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
        let sent_at = self.refresh_sent_at.take().map_or(now, |at| at.min(now));
        // An ID token in the answer must be the session's user, issuer, client and sign-in,
        // and not expire before the session's (OpenID Connect Core §12.2); otherwise the
        // answer is refused as terminal.
        let result = result.map(|r| r.and_then(|resp| self.check_refreshed_id_token(resp)));
        let Some(replacing) = self.refreshing.take() else {
            // The session this refresh belonged to has ended or been replaced.
            return out;
        };
        let superseded = self
            .tokens
            .as_ref()
            .is_some_and(|t| t.access_token != replacing);
        if superseded {
            // Another tab's tokens arrived meanwhile (its refresh, or a new session set
            // there): this answer is about a token that is gone, and the new one will be
            // refreshed on its own account. New tokens for the old one would overwrite
            // the newer session.
            self.emit(&mut out, EventKind::Change);
            out.extend(self.wake(now));
            return out;
        }
        match result {
            None => {
                self.emit(&mut out, EventKind::Change);
                out.extend(self.wake(now));
            }
            Some(Ok(resp)) => {
                let tokens = TokenSet::from_response(resp, sent_at, self.tokens.as_ref());
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
                self.emit(&mut out, EventKind::Refresh);
                self.emit(&mut out, EventKind::Change);
            }
            Some(Err((Failure::Terminal, e))) => {
                // The server's `invalid_grant` says itself why the session ends (`signedOut`,
                // `invalid_grant`). Another terminal refusal (a refreshed ID token that
                // fails its checks, `invalid_client`) is also an `error` event first, so
                // the app hears why.
                if e.code != ErrorCode::InvalidGrant {
                    self.emit_error(&mut out, e.clone());
                }
                self.last_error = Some(e);
                self.end(Reason::InvalidGrant, Ending::Here, &mut out);
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
                self.emit(&mut out, EventKind::Change);
                if !expired || !self.expired_failure_reported {
                    self.expired_failure_reported = expired;
                    self.emit_error(&mut out, e);
                }
                out.extend(self.wake(now));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::core::error::ErrorCode;
    use crate::core::jwt;

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
        assert!(s.remote_signed_out(Reason::User, None).is_empty());
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
}
