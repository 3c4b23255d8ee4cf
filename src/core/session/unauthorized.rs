//! `fetch`'s side of the session: the token an attached request gets at once, and a 401
//! from an attached URL (whether a refresh can help: the challenge, once per token, not
//! during a backoff).

use super::*;

impl Session {
    /// The tokens a request gets with nothing to wait for or decide: those whose access
    /// token [`Session::demand`] with no `force` answers `Ready` with, when it would also
    /// ask for nothing (no refresh in flight or due). `None` otherwise: then `demand`
    /// decides. The shell sends most attached requests on this answer alone.
    pub fn ready_tokens(&self, now: f64) -> Option<&TokenSet> {
        let t = self.tokens.as_ref()?;
        (self.refreshing.is_none() && !self.refresh_due(now) && !self.over(now)).then_some(t)
    }

    /// A request that carried the access token `used` was answered 401; `challenge` is
    /// its `WWW-Authenticate` header (`None`: absent or not readable). Whether to refresh
    /// (or take the token that already replaced `used`) and retry once. A refresh is
    /// forced at most once per access token, only when it can help (RFC 6750 §3.1), and
    /// never during a backoff; a 401 for a token whose forced refresh is still in flight
    /// (several calls sent with it) joins that refresh and retries too. `retry` says the
    /// 401 answered the retry itself: then nothing is retried (a call is retried once),
    /// and that token forces no refresh later either, so an API that always answers 401
    /// costs one token request per access token, not per call.
    pub fn unauthorized(
        &mut self,
        now: f64,
        used: &str,
        challenge: Option<&str>,
        retry: bool,
    ) -> bool {
        let replaced = self.tokens.as_ref().is_some_and(|t| t.access_token != used);
        if retry {
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
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn ready_tokens_are_demand_ready_with_nothing_to_do() {
        let mut s = Session::new(cfg(RefreshMode::Endpoint));
        assert!(s.ready_tokens(0.0).is_none());
        s.set_tokens(0.0, resp("a1", Some("r1"), 3600.0));
        let due = s.next_wakeup().unwrap_or(f64::MAX);
        for now in [1.0, due - 1.0, due, due + 1.0, 3_600_000.0, 4_000_000.0] {
            let mut copy = s.clone();
            let (actions, demand) = copy.demand(now, None, false);
            match s.ready_tokens(now) {
                Some(t) => {
                    assert!(actions.is_empty(), "{now}");
                    assert_eq!(demand, Demand::Ready(t.access_token.clone()), "{now}");
                }
                None => assert!(
                    !actions.is_empty() || demand != Demand::Ready("a1".into()),
                    "{now}"
                ),
            }
        }
        // A refresh in flight: the caller waits with the others.
        let (_, d) = s.demand(due + 1.0, None, false);
        assert_eq!(d, Demand::Wait);
        assert!(s.ready_tokens(due + 2.0).is_none());
        // Signed out: nothing is sent with a token.
        s.refresh_done(
            due + 3.0,
            Some(Err((Failure::Terminal, Error::signed_out()))),
        );
        assert!(s.ready_tokens(due + 4.0).is_none());
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
    fn a_401_for_a_token_another_tab_replaced_is_retried_once_with_the_newer_one() {
        // Tab B holds a1; tab A rotates a1 → a2 → a3 and the server deletes each old one.
        let (mut a, mut b, _) = two_tabs("a1", "r1", 3.0);
        a.wake(1_500.0);
        let rec2 = persisted(&a.refresh_done(1_510.0, Some(Ok(resp("a2", Some("r2"), 3.0)))));
        // B's call with a1 is answered 401; B has a2 by then: retry with it, no refresh.
        b.adopt(1_520.0, &rec2);
        assert!(b.unauthorized(1_600.0, "a1", None, false));
        let (out, d) = b.demand(1_600.0, Some("a1"), false);
        assert!(out.is_empty());
        assert_eq!(d, Demand::Ready("a2".into()));
        // While that retry is under way A rotates again; the retry is answered 401: `fetch`
        // retries once, so that 401 is the answer, and a2 forces no refresh later.
        a.wake(3_100.0);
        let rec3 = persisted(&a.refresh_done(3_110.0, Some(Ok(resp("a3", Some("r3"), 3.0)))));
        b.adopt(3_120.0, &rec3);
        assert!(!b.unauthorized(3_200.0, "a2", None, true));
        // The next call goes out with a3.
        assert_eq!(b.demand(3_300.0, None, false).1, Demand::Ready("a3".into()));
    }
}
