//! Refresh failures that do not end the session: a network error, 5xx, 429. The tokens
//! are kept and the refresh retried after a backoff; once the access token has expired
//! the app hears of the run of failures once, with its likely cause.

use super::*;
use crate::core::error::ErrorCode;

/// The message of a refresh failure with no readable answer once the access token has
/// expired (see [`Session::refresh_done`]).
pub const UNREADABLE_AFTER_EXPIRY: &str = "the access token expired and the token endpoint's answer could not be read: it may lack CORS headers for this page's origin, or the server is unreachable";

impl Session {
    /// The error a transient refresh failure is reported with once the access token has
    /// expired. A failure with no readable HTTP answer at the token endpoint (the browser's
    /// network error) names its likely cause: a server that answers without CORS headers
    /// for this page (its refusals, and maybe its successes, are unreadable), or one that
    /// cannot be reached. Other failures (5xx, 429, an app's refresh function) keep theirs.
    pub(super) fn failure_after_expiry(&self, e: Error) -> Error {
        if self.cfg.refresh != RefreshMode::Endpoint
            || e.code != ErrorCode::Network
            || e.server.is_some()
        {
            return e;
        }
        e.with_message(UNREADABLE_AFTER_EXPIRY)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

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
            crate::core::error::ServerCause {
                status: Some(503),
                ..Default::default()
            },
        );
        let a = s.refresh_done(5_000.0, Some(Err((Failure::Transient(None), e503.clone()))));
        assert_eq!(errors(&a), [e503]);
    }
}
