//! A 401 from an attached URL: whether a refresh can help (the challenge, once per token,
//! not during a backoff).

use super::*;

impl Session {
    /// A request that carried the access token `used` was answered 401; `challenge` is
    /// its `WWW-Authenticate` header (`None`: absent or not readable). Whether to refresh
    /// (or take the token that already replaced `used`) and retry once. A refresh is
    /// forced at most once per access token, only when it can help (RFC 6750 §3.1), and
    /// never during a backoff. `retry` says the 401 answered the retry itself: then
    /// nothing is retried, and that token forces no refresh later either, so an API
    /// that always answers 401 costs one token request per access token, not per call.
    pub fn unauthorized(
        &mut self,
        now: f64,
        used: &str,
        challenge: Option<&str>,
        retry: bool,
    ) -> bool {
        if retry {
            self.spent_401 = Some(used.to_string());
            return false;
        }
        if !policy::refresh_can_help(challenge) {
            return false;
        }
        let Some(t) = &self.tokens else { return false };
        if self.spent_401.as_deref() == Some(t.access_token.as_str()) {
            return false;
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
}
