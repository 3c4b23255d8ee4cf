//! The session tests of what every flow shares (tokens set, restore, storage failures).

use super::testing::*;
use super::*;
use crate::core::jwt;

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
fn set_tokens_with_zero_lifetime_arms_no_zero_timer_storm() {
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    s.set_tokens(0.0, resp("a1", Some("r1"), 0.0));
    assert!(s.refresh_due_at().unwrap() >= policy::MIN_REFRESH_INTERVAL_MS);
    assert!(kinds(&s.wake(0.0))
        .iter()
        .all(|k| !k.starts_with("refresh")));
}

#[test]
fn restore_handles_good_expired_and_corrupt_records() {
    let mut a = Session::new(cfg(RefreshMode::Endpoint));
    let rec = persisted(&a.set_tokens(0.0, resp("a1", Some("r1"), 10.0)));
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
fn storage_failure_is_reported_once() {
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    assert_eq!(
        kinds(&s.persist_failed(Error::storage("quota"), None)),
        ["error:storage"]
    );
    assert!(s.persist_failed(Error::storage("quota"), None).is_empty());
}

#[test]
fn a_failed_write_leaves_no_older_record_stored() {
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    s.set_tokens(0.0, resp("a1", Some("r1"), 600.0));
    let first = s.record().unwrap();
    // The session's current record (another tab wrote it): it stays.
    assert_eq!(
        kinds(&s.persist_failed(Error::storage("quota"), Some(&first))),
        ["error:storage"]
    );
    // A rotation: the stored record's refresh token was spent; later failures replace it too.
    let due = wake_when_due(&mut s);
    s.refresh_done(due + 1.0, Some(Ok(resp("a2", Some("r2"), 600.0))));
    let mut other = Session::new(cfg(RefreshMode::Endpoint));
    other.set_tokens(5.0, resp("b1", Some("r2"), 600.0));
    let junk = "junk".to_string();
    // The older record, another session's, junk: each is replaced by the marker.
    for stored in [first, other.record().unwrap(), junk] {
        let out = s.persist_failed(Error::storage("quota"), Some(&stored));
        assert_eq!(kinds(&out), ["unstore"], "{stored}");
        let app = s.cfg.app.as_deref();
        assert!(
            matches!(&out[0], Action::Unstore(m) if crate::core::tab_message::is_unstored(m, app))
        );
    }
    // Nothing stored, or the current record: nothing to replace.
    let current = s.record();
    for stored in [None, current.as_deref()] {
        assert!(s.persist_failed(Error::storage("quota"), stored).is_empty());
    }
}

/// Wakes `s` when its refresh is due (which asks for one) and gives the due time.
fn wake_when_due(s: &mut Session) -> f64 {
    let due = s.refresh_due_at().unwrap();
    s.wake(due);
    due
}

/// Answers the refresh in flight at `at` with `access` living `seconds`; the new expiry.
fn answer(s: &mut Session, at: f64, access: &str, seconds: f64) -> Option<f64> {
    s.refresh_done(at, Some(Ok(resp(access, Some("r"), seconds))));
    s.expires_at()
}

/// `from` in whole milliseconds, plus `seconds`.
fn expiry(from: f64, seconds: f64) -> Option<f64> {
    Some(crate::core::float::round(from) + seconds * 1000.0)
}

#[test]
fn a_refreshed_token_lives_from_when_its_request_went_out() {
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    s.set_tokens(0.0, resp("a1", Some("r1"), 3600.0));
    let due = s.refresh_due_at().unwrap();
    assert_eq!(kinds(&s.wake(due)), ["refresh:r1", "change"]);
    // The request goes out 100 ms after the refresh was asked for; its answer arrives
    // 900 ms later: the new token's hour counts from the request.
    s.refresh_sent(due + 100.0);
    assert_eq!(
        answer(&mut s, due + 1_000.0, "a2", 3600.0),
        expiry(due + 100.0, 3600.0)
    );
    // Without a request (another tab's answer, a test), from the answer; and never from a
    // time after it (a clock that went back).
    let due = wake_when_due(&mut s);
    assert_eq!(
        answer(&mut s, due + 50.0, "a3", 60.0),
        expiry(due + 50.0, 60.0)
    );
    let due = wake_when_due(&mut s);
    s.refresh_sent(due + 5_000.0);
    assert_eq!(
        answer(&mut s, due + 10.0, "a4", 60.0),
        expiry(due + 10.0, 60.0)
    );
    // A request sent for a session that then ended counts for nothing later.
    let due = wake_when_due(&mut s);
    s.refresh_sent(due);
    s.sign_out();
    s.set_tokens(due + 20_000.0, resp("b1", Some("rb1"), 3600.0));
    let due = wake_when_due(&mut s);
    assert_eq!(
        answer(&mut s, due + 30.0, "b2", 3600.0),
        expiry(due + 30.0, 3600.0)
    );
}

#[test]
fn a_forced_caller_whose_token_was_replaced_gets_it_during_the_next_refresh() {
    let mut s = Session::new(cfg(RefreshMode::Endpoint));
    s.set_tokens(0.0, resp("a1", Some("r1"), 3600.0));
    // `refresh()` forces a new token for a1 and waits.
    let (_, first) = s.demand(1.0, Some("a1"), false);
    assert!(matches!(first, Demand::Wait));
    s.refresh_done(2.0, Some(Ok(resp("a2", Some("r2"), 3600.0))));
    // A listener of that refresh forced the next one before the caller woke up.
    let (_, listener) = s.demand(3.0, Some("a2"), false);
    assert!(matches!(listener, Demand::Wait));
    assert!(s.is_refreshing());
    let (_, woken) = s.demand(4.0, Some("a1"), true);
    assert!(matches!(woken, Demand::Ready(t) if t == "a2"));
    // The listener's own call still waits for its refresh, and so does a plain caller.
    assert!(matches!(s.demand(5.0, Some("a2"), true).1, Demand::Wait));
    assert!(matches!(s.demand(5.0, None, true).1, Demand::Wait));
}

#[test]
fn a_refreshed_id_token_for_another_user_client_or_sign_in_or_older_ends_the_session() {
    let id = |claims: &str| {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            jwt::base64url_encode(claims.as_bytes())
        )
    };
    let alice = id(r#"{"iss":"https://op","sub":"alice","aud":"spa","nonce":"n1","exp":100}"#);
    for (new, ends) in [
        (
            id(r#"{"iss":"https://op","sub":"alice","aud":"spa","exp":100}"#),
            false,
        ),
        (
            id(r#"{"iss":"https://op","sub":"alice","aud":"spa","nonce":"n1","exp":50}"#),
            false,
        ),
        (
            id(r#"{"iss":"https://op","sub":"alice","aud":"spa","nonce":"n2","exp":100}"#),
            true,
        ),
        (
            id(r#"{"iss":"https://op","sub":"alice","aud":"spa","exp":39}"#),
            true,
        ),
        (
            id(r#"{"iss":"https://op","sub":"alice","aud":"spa"}"#),
            true,
        ),
        (
            id(r#"{"iss":"https://op","sub":"mallory","aud":"spa","exp":100}"#),
            true,
        ),
        (
            id(r#"{"iss":"https://op","sub":"alice","aud":"other","exp":100}"#),
            true,
        ),
        (
            id(r#"{"iss":"https://evil","sub":"alice","aud":"spa","exp":100}"#),
            true,
        ),
        ("not-a-jwt".to_string(), true),
    ] {
        let mut s = Session::new(Config {
            issuer: Some("https://op".into()),
            client_id: Some("spa".into()),
            ..cfg(RefreshMode::Endpoint)
        });
        s.set_tokens(
            0.0,
            TokenResponse {
                id_token: Some(alice.clone()),
                ..resp("a1", Some("r1"), 4.0)
            },
        );
        s.wake(3_000.0);
        let a = s.refresh_done(
            3_000.0,
            Some(Ok(TokenResponse {
                id_token: Some(new.clone()),
                ..resp("a2", Some("r2"), 4.0)
            })),
        );
        assert_eq!(
            kinds(&a).contains(&"signedOut:invalid_grant".to_string()),
            ends,
            "{new}"
        );
        // The app hears why: the refusal is an `error` event before the end.
        let why = kinds(&a)
            .iter()
            .position(|k| k == "error:invalid_token_response");
        let end = kinds(&a)
            .iter()
            .position(|k| k == "signedOut:invalid_grant");
        assert_eq!(why.is_some(), ends, "{new}");
        assert!(why < end || !ends, "{new}");
        assert_eq!(s.status() == Status::SignedOut, ends);
    }
}
