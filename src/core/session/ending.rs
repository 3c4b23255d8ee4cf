//! The session's end (`sessionEndsAt`): when it can no longer be refreshed, the
//! `sessionEnding` warning before it, and the session ending when it comes.

use super::*;

/// The earlier of two optional times.
pub(super) fn min_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

impl Session {
    /// When the session can no longer be refreshed (ms since epoch), if known: the
    /// refresh token's end, or the app's `maxSessionAgeSeconds`, whichever comes first.
    /// The session ends then ([`Session::wake`]).
    pub fn session_ends_at(&self) -> Option<f64> {
        let t = self.tokens.as_ref()?;
        let by_age = self
            .cfg
            .max_session_age_ms
            .map(|age| t.session_started_at + age);
        min_of(t.session_ends_at, by_age)
    }

    /// When `sessionEnding` is due, if it still is: once per session (the contract's
    /// word). An end that a refresh moves later is not announced again; `sessionEndsAt`
    /// reads the new one.
    pub(super) fn ending_due_at(&self) -> Option<f64> {
        if self.ending_reported {
            return None;
        }
        let end = self.session_ends_at()?;
        Some(end - self.cfg.session_lead_ms.max(0.0))
    }

    /// Whether the session's end has come: nothing refreshes it any more.
    pub(super) fn over(&self, now: f64) -> bool {
        self.session_ends_at().is_some_and(|end| now >= end)
    }

    /// Emits `sessionEnding` when its time has come; when the end itself has come, ends
    /// the session (`signedOut`, `expired`; no warning for an end already past) and says
    /// so. The refresh token is dead then, or the app's ceiling on the session's age is
    /// reached: no refresh is sent after it, and the access token is not handed out.
    pub(super) fn check_ending(&mut self, now: f64, out: &mut Vec<Action>) -> bool {
        if self.over(now) {
            self.end(Reason::Expired, Ending::OnItsOwn, out);
            return true;
        }
        let Some(due) = self.ending_due_at() else {
            return false;
        };
        if now < due {
            return false;
        }
        self.ending_reported = true;
        out.push(Action::Emit(Box::new(Event {
            kind: EventKind::SessionEnding,
            status: self.status(),
            expires_at: self.expires_at(),
            reason: None,
            error: None,
            session_ends_at: self.session_ends_at(),
        })));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::core::error::ErrorCode;

    fn aged(max_age_ms: f64, lead_ms: f64) -> Session {
        Session::new(Config {
            max_session_age_ms: Some(max_age_ms),
            session_lead_ms: lead_ms,
            ..cfg(RefreshMode::Endpoint)
        })
    }

    #[test]
    fn the_session_ends_at_its_end_and_no_refresh_is_sent_after_it() {
        // 30 s tokens, a refresh that always works, a 100 s ceiling with a 10 s warning.
        let mut s = aged(100_000.0, 10_000.0);
        s.set_tokens(0.0, resp("a0", Some("r0"), 30.0));
        let (mut refreshes, mut log) = (0, Vec::new());
        while let Some(now) = s.next_wakeup() {
            assert!(now <= 100_000.0, "woken at {now}");
            let a = s.wake(now);
            for k in kinds(&a) {
                log.push((now, k));
            }
            if a.iter().any(|a| matches!(a, Action::Refresh(_))) {
                refreshes += 1;
                let n = format!("{refreshes}");
                s.refresh_done(now + 10.0, Some(Ok(resp(&n, Some(&n), 30.0))));
            }
        }
        let at = |k: &str| {
            log.iter()
                .filter(|(_, e)| e == k)
                .map(|(t, _)| *t)
                .collect::<Vec<_>>()
        };
        assert_eq!(at("sessionEnding"), [90_000.0]);
        assert_eq!(at("signedOut:expired"), [100_000.0]);
        assert!(at("refresh:-").is_empty());
        assert!(log
            .iter()
            .all(|(t, k)| !k.starts_with("refresh:") || *t < 100_000.0));
        assert!((5..=8).contains(&refreshes), "{refreshes}");
        assert_eq!(s.status(), Status::SignedOut);
        assert_eq!(s.session_ends_at(), None);
    }

    #[test]
    fn past_its_end_a_session_ends_when_asked_or_restored_and_hands_out_nothing() {
        // A token that lives an hour in a session capped at 50 s; the timer never fired
        // (a sleeping laptop).
        let mut s = aged(50_000.0, 10_000.0);
        let record = persisted(&s.set_tokens(0.0, resp("a0", Some("r0"), 3_600.0)));
        assert!(s.ready_tokens(49_999.0).is_some());
        assert!(s.ready_tokens(50_000.0).is_none());
        let (a, d) = s.demand(60_000.0, None, false);
        assert!(matches!(d, Demand::Fail(e) if e.code == ErrorCode::SignedOut));
        assert!(kinds(&a).contains(&"signedOut:expired".to_string()));
        assert!(!kinds(&a).iter().any(|k| k.starts_with("refresh")));
        // The record, read by a page opened later: ended at once, with no warning.
        let mut later = aged(50_000.0, 10_000.0);
        let k = kinds(&later.restore(60_000.0, Some(&record)));
        assert!(k.contains(&"signedOut:expired".to_string()), "{k:?}");
        assert!(!k.contains(&"sessionEnding".to_string()), "{k:?}");
        assert_eq!(later.status(), Status::SignedOut);
    }

    #[test]
    fn an_end_a_refresh_moves_later_is_not_announced_again_and_the_later_end_holds() {
        let mut s = aged(1.0e9, 10_000.0);
        let ending = |a: &[Action]| kinds(a).iter().filter(|k| *k == "sessionEnding").count();
        let with_end = |at: &str, end_s: f64| TokenResponse {
            refresh_expires_in: Some(end_s),
            ..resp(at, Some(at), 3_600.0)
        };
        s.set_tokens(0.0, with_end("a0", 20.0));
        assert_eq!(s.session_ends_at(), Some(20_000.0));
        assert_eq!(ending(&s.wake(10_000.0)), 1);
        // A refresh asked for at 12 s brings an end 100 s later: the session goes on.
        let (a, _) = s.demand(12_000.0, Some("a0"), false);
        assert!(kinds(&a).contains(&"refresh:a0".to_string()));
        s.refresh_sent(12_000.0);
        s.refresh_done(12_100.0, Some(Ok(with_end("a1", 100.0))));
        assert_eq!(s.session_ends_at(), Some(112_000.0));
        assert_eq!(s.next_wakeup(), Some(112_000.0));
        assert_eq!(ending(&s.wake(102_000.0)), 0, "once per session");
        assert_eq!(s.status(), Status::SignedIn);
        assert!(kinds(&s.wake(112_000.0)).contains(&"signedOut:expired".to_string()));
    }
}
