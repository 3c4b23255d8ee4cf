//! What other tabs tell the session: a record to adopt, a sign-out, the shared storage
//! cleared or changed.

use super::*;
use crate::core::tab_message;

impl Session {
    /// Another tab announced tokens (or storage holds a record another tab wrote).
    /// Adopted when newer than ours; `refresh` and `change` fire as if refreshed here, or
    /// `change` alone for another session's tokens (a sign-in or `setTokens` there: not a
    /// refresh).
    pub fn adopt(&mut self, now: f64, record: &str) -> Vec<Action> {
        let mut out = Vec::new();
        let Ok(Some(tokens)) = TokenSet::from_record_for(record, self.cfg.app.as_deref()) else {
            return out;
        };
        if self.tokens.is_none() && self.ended == Some(tokens.session_started_at) {
            // The session ended here (signed out here or in another tab, which that
            // tab's refresh did not know yet when it announced): not brought back.
            return out;
        }
        let mut refreshed = false;
        if let Some(current) = &self.tokens {
            // Within one session, a later refresh has a higher generation; a record of
            // another session (a new sign-in in another tab) replaces this one. No
            // wall-clock comparison: clocks are set back.
            refreshed = current.session_started_at == tokens.session_started_at;
            if current.access_token == tokens.access_token
                || (refreshed && current.generation >= tokens.generation)
            {
                return out;
            }
        }
        let record = tokens.to_record_for(self.cfg.app.as_deref());
        self.install(tokens);
        out.push(Action::Persist(record));
        if refreshed {
            self.emit(&mut out, EventKind::Refresh);
        }
        self.emit(&mut out, EventKind::Change);
        if self.refreshing.is_none() {
            out.extend(self.wake(now));
        }
        out
    }

    /// The shared record (`localStorage`), read again just before a refresh is sent:
    /// adopted when newer. `barrier`: the refresh lock is held and every live tab
    /// acknowledged after its last message, so a tokenward sign-out in another tab would
    /// have arrived before this. Then a record that is gone while this tab has a session
    /// (and its own writes succeed) was removed by something else: a script, devtools,
    /// this page's own `localStorage.clear()`, which no `storage` event reports here. The
    /// session ends with `signedOut { reason: 'storage' }`.
    pub fn reread(&mut self, now: f64, stored: Option<&str>, barrier: bool) -> Vec<Action> {
        let mut out = Vec::new();
        match stored {
            Some(record) => return self.adopt(now, record),
            None if barrier && !self.storage_failed => {
                self.end(Reason::Storage, Ending::OnItsOwn, &mut out)
            }
            None => {}
        }
        out
    }

    /// Whether [`Action::Forget`] of the session that started at `started` removes the
    /// shared record `stored`: when it is unreadable or that session's, not another app's,
    /// a session signed in since, any session's after another tab's word (`None`: that tab
    /// removed it, and this tab's view of `localStorage` may lag behind that tab's next
    /// session), or an end-of-session marker (its writer removes it).
    pub fn forgets(&self, stored: &str, started: Option<f64>) -> bool {
        let app = self.cfg.app.as_deref();
        match TokenSet::from_record_for(stored, app) {
            Ok(tokens) => tokens.is_some_and(|t| Some(t.session_started_at) == started),
            Err(_) => tab_message::ended_by(stored, app).is_none(),
        }
    }

    /// Another tab ended the session that started at `started` (when it says so). A
    /// session adopted since (that tab's next sign-in, whose tokens came first from its
    /// new page) is not ended by it.
    pub fn remote_signed_out(&mut self, reason: Reason, started: Option<f64>) -> Vec<Action> {
        let mut out = Vec::new();
        if started.is_some_and(|at| {
            self.tokens
                .as_ref()
                .is_some_and(|t| t.session_started_at != at)
        }) {
            return out;
        }
        let reason = if reason == Reason::User {
            Reason::OtherTab
        } else {
            reason
        };
        self.end(reason, Ending::Elsewhere, &mut out);
        out
    }

    /// Another page changed the storage area (`localStorage`'s `storage` event): `cleared`
    /// when the whole area was cleared (devtools, "clear site data", a script), otherwise
    /// the record's new value (`None`: removed). `shared`: this tab follows the other
    /// tabs' sign-outs (`crossTab`).
    ///
    /// A tab that ends the session writes an end-of-session marker with its reason and the
    /// session's start just before it removes the record ([`Action::Clear`]). The marker
    /// ends that session here as that tab's channel message does (whichever comes first;
    /// `other_tab` for a user's sign-out), not a session adopted since, and the removal
    /// after it changes nothing. The session ends with
    /// `signedOut { reason: 'storage' }` when the area was cleared, the record removed
    /// with no marker before it (a script, devtools) or made unreadable. A readable record
    /// changes nothing here: tokenward's refreshes in other tabs arrive over the channel,
    /// and a record from another app under the same key is not ours to judge. Not
    /// `shared`, another tab's marker and its removal are that tab's own business.
    pub fn storage_changed(
        &mut self,
        cleared: bool,
        new_value: Option<&str>,
        shared: bool,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let after_marker = ::core::mem::take(&mut self.marked);
        let app = self.cfg.app.as_deref();
        let lost = match new_value {
            _ if cleared => true,
            None => !after_marker,
            Some(v) => match tab_message::ended_by(v, app) {
                Some((reason, started)) => {
                    self.marked = true;
                    if shared {
                        return self.remote_signed_out(reason, Some(started));
                    }
                    false
                }
                // A tab's "kept in memory" marker is no record, and no loss.
                None => {
                    TokenSet::from_record_for(v, app).is_err() && !tab_message::is_unstored(v, app)
                }
            },
        };
        if lost {
            self.end(Reason::Storage, Ending::OnItsOwn, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::core::error::ErrorCode;

    #[test]
    fn a_record_of_the_session_that_ended_is_not_adopted() {
        let (mut a, mut b, rec) = two_tabs("a1", "r1", 10.0);
        // A refreshes; B hears of a sign-out in a third tab before A's announcement.
        a.wake(9_000.0);
        let rec2 = persisted(&a.refresh_done(9_001.0, Some(Ok(resp("a2", Some("r2"), 10.0)))));
        b.remote_signed_out(Reason::User, None);
        assert!(b.adopt(9_002.0, &rec2).is_empty());
        assert!(b.adopt(9_003.0, &rec).is_empty());
        assert_eq!(b.status(), Status::SignedOut);
        // Signed out here, the same holds.
        assert_eq!(
            kinds(&a.sign_out()),
            [
                "clear",
                "announce:signedOut:user",
                "signedOut:user",
                "change"
            ]
        );
        assert!(a.adopt(9_004.0, &rec2).is_empty());
        // A new sign-in (another tab) is a new session, and is adopted.
        let mut c = Session::new(cfg(RefreshMode::Endpoint));
        let rec3 = persisted(&c.set_tokens(10_000.0, resp("a3", Some("r3"), 10.0)));
        assert_eq!(kinds(&b.adopt(10_001.0, &rec3)), ["persist", "change"]);
        assert_eq!(b.tokens().unwrap().access_token, "a3");
    }

    #[test]
    fn records_and_messages_of_another_app_are_ignored() {
        let app = |id: &str| Config {
            app: Some(id.to_string()),
            ..cfg(RefreshMode::Endpoint)
        };
        let mut a = Session::new(app("aaaa"));
        let rec = persisted(&a.set_tokens(0.0, resp("a1", Some("r1"), 10.0)));
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
        let rec = persisted(&a.set_tokens(0.0, resp("a1", Some("r1"), 10.0)));
        assert_eq!(kinds(&b.adopt(1.0, &rec)), ["persist", "change"]);
        assert!(b.adopt(2.0, &rec).is_empty());
        // B is waiting for the lock to refresh; A refreshed meanwhile.
        b.wake(9_000.0);
        assert!(b.refresh_still_needed());
        a.wake(9_000.0);
        let rec2 = persisted(&a.refresh_done(9_001.0, Some(Ok(resp("a2", Some("r2"), 10.0)))));
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
            kinds(&b.remote_signed_out(Reason::User, None)),
            ["clear", "signedOut:other_tab", "change"]
        );
    }

    #[test]
    fn a_failure_for_a_token_another_tab_replaced_is_ignored() {
        for failure in [Failure::Terminal, Failure::Transient(None)] {
            let (mut a, mut b, _) = two_tabs("a1", "r1", 10.0);
            b.wake(9_000.0);
            a.wake(9_000.0);
            let rec2 = persisted(&a.refresh_done(9_001.0, Some(Ok(resp("a2", Some("r2"), 10.0)))));
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
    fn new_tokens_for_a_token_another_tab_replaced_are_not_installed() {
        let (mut a, mut b, _) = two_tabs("s1", "r1", 10.0);
        a.wake(9_000.0);
        // Another login in B while A's refresh of the first session is in flight.
        let rec2 = persisted(&b.set_tokens(9_100.0, resp("s2", Some("q1"), 10.0)));
        a.adopt(9_101.0, &rec2);
        let out = a.refresh_done(9_500.0, Some(Ok(resp("s1b", Some("r2"), 10.0))));
        assert_eq!(kinds(&out), ["change"]);
        assert_eq!(a.tokens().unwrap().access_token, "s2");
        assert_eq!(a.status(), Status::SignedIn);
    }
}
