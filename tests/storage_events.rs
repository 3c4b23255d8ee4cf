//! The shared record changed by another page (`storage` events): cleared, removed by
//! something other than tokenward, or unreadable ends the session with reason `storage`;
//! a tokenward tab's own sign-out (its marker, then the removal) says its own reason, and
//! a readable record changes nothing here.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use tokenward::core::session::{Action, Announce, Config, EventKind, Reason, RefreshMode, Session};
use tokenward::core::tokens::TokenResponse;

fn signed_in_config() -> Config {
    Config {
        lead_ms: 60_000.0,
        refresh: RefreshMode::Endpoint,
        seed: 1,
        session_lead_ms: 60_000.0,
        max_session_age_ms: None,
        app: Some("app-1".into()),
        issuer: None,
        client_id: None,
    }
}

fn signed_in() -> Session {
    let mut s = Session::new(signed_in_config());
    let r = TokenResponse::parse(r#"{"access_token":"a","refresh_token":"r","expires_in":600}"#)
        .unwrap();
    s.set_tokens(1_000.0, r);
    s
}

fn reasons(actions: &[Action]) -> Vec<Reason> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Emit(e) if e.kind == EventKind::SignedOut => e.reason,
            _ => None,
        })
        .collect()
}

#[test]
fn cleared_storage_ends_the_session_once_with_reason_storage() {
    let mut s = signed_in();
    let a = s.storage_changed(true, None, true);
    assert_eq!(reasons(&a), [Reason::Storage]);
    assert!(a.iter().any(|x| matches!(x, Action::Forget(_))));
    assert!(s.tokens().is_none());
    assert!(s.storage_changed(true, None, true).is_empty(), "once");
}

#[test]
fn an_unreadable_record_ends_the_session() {
    for junk in ["", "garbage", "{}", r#"{"v":99}"#, "[1,2]"] {
        let mut s = signed_in();
        assert_eq!(
            reasons(&s.storage_changed(false, Some(junk), true)),
            [Reason::Storage],
            "{junk}"
        );
    }
}

#[test]
fn a_readable_record_changes_nothing_here() {
    let mut s = signed_in();
    let record = s.record().unwrap();
    assert!(s.storage_changed(false, Some(&record), true).is_empty());
    assert!(s.tokens().is_some());
}

#[test]
fn a_record_removed_without_a_marker_ends_the_session() {
    for shared in [true, false] {
        let mut s = signed_in();
        assert_eq!(
            reasons(&s.storage_changed(false, None, shared)),
            [Reason::Storage]
        );
        assert!(s.tokens().is_none());
    }
}

/// The marker a tab's sign-out writes before its removal.
fn sign_out_marker() -> String {
    let out = signed_in().sign_out();
    let marker = out.iter().find_map(|a| match a {
        Action::Clear(m) => m.clone(),
        _ => None,
    });
    marker.expect("a sign-out here leaves a marker for the other tabs")
}

#[test]
fn another_tabs_sign_out_says_its_reason_and_its_removal_changes_nothing() {
    let marker = sign_out_marker();
    let mut s = signed_in();
    let a = s.storage_changed(false, Some(&marker), true);
    assert_eq!(reasons(&a), [Reason::OtherTab]);
    assert!(s.storage_changed(false, None, true).is_empty(), "once");
    // Not coordinated (crossTab: false): that tab's marker and removal are its own.
    let mut s = signed_in();
    assert!(s.storage_changed(false, Some(&marker), false).is_empty());
    assert!(s.storage_changed(false, None, false).is_empty());
    assert!(s.tokens().is_some());
    // Only the removal right after a marker is that tab's.
    assert_eq!(
        reasons(&s.storage_changed(false, None, false)),
        [Reason::Storage]
    );
}

#[test]
fn a_marker_is_no_stored_session_at_start_up() {
    let marker = sign_out_marker();
    let mut s = Session::new(signed_in_config());
    assert!(s.restore(2_000.0, Some(&marker)).is_empty());
    assert!(s.tokens().is_none());
}

#[test]
fn a_record_gone_when_read_again_before_a_refresh_ends_the_session() {
    // Past the barrier: nothing of tokenward's removed it (its sign-outs have arrived).
    let mut s = signed_in();
    assert_eq!(reasons(&s.reread(2_000.0, None, true)), [Reason::Storage]);
    assert!(s.tokens().is_none());
    // Without the barrier (no locks, crossTab: false) a removal may be another tab's own.
    let mut s = signed_in();
    assert!(s.reread(2_000.0, None, false).is_empty());
    // Nor when this tab's own writes fail: the record may never have been written.
    let mut s = signed_in();
    s.persist_failed(
        tokenward::core::error::Error::new(tokenward::core::error::ErrorCode::Storage, "full"),
        None,
    );
    assert!(s.reread(2_000.0, None, true).is_empty());
    assert!(s.tokens().is_some());
    // A record there is adopted as before (its own: nothing changes).
    let mut s = signed_in();
    let record = s.record().unwrap();
    assert!(s.reread(2_000.0, Some(&record), true).is_empty());
    assert!(s.tokens().is_some());
}

#[test]
fn a_late_marker_does_not_end_a_session_adopted_since() {
    // Tab A signs out and in again while this tab is busy; the channel's news (sign-out,
    // new tokens) is handled here before the storage events of the same changes.
    let marker = sign_out_marker();
    let mut s = signed_in();
    s.remote_signed_out(Reason::User, None);
    let mut a = Session::new(signed_in_config());
    let r = TokenResponse::parse(r#"{"access_token":"b","refresh_token":"r2","expires_in":600}"#)
        .unwrap();
    let actions = a.set_tokens(5_000.0, r);
    let record = actions
        .iter()
        .find_map(|x| match x {
            Action::Persist(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    s.adopt(5_001.0, &record);
    assert_eq!(s.tokens().unwrap().access_token, "b");
    for event in [Some(marker.as_str()), None, Some(record.as_str())] {
        assert!(
            s.storage_changed(false, event, true).is_empty(),
            "{event:?}"
        );
    }
    assert_eq!(s.tokens().unwrap().access_token, "b");
}

#[test]
fn a_session_ended_elsewhere_removes_only_its_own_record() {
    let mut s = signed_in();
    let own = s.record().unwrap();
    let actions = s.remote_signed_out(Reason::User, None);
    let started = actions
        .iter()
        .find_map(|a| match a {
            Action::Forget(at) => Some(*at),
            _ => None,
        })
        .expect("a remote end forgets this tab's copy");
    // Its record was removed by the tab that ended it (this tab's view may lag): kept.
    assert!(!s.forgets(&own, started), "no session's record");
    assert!(s.forgets("junk", started), "an unreadable record");
    // A session signed in since in another tab, and the marker of its writer: kept.
    let mut other = Session::new(signed_in_config());
    let r = TokenResponse::parse(r#"{"access_token":"b","refresh_token":"r2","expires_in":600}"#)
        .unwrap();
    other.set_tokens(9_000.0, r);
    assert!(!s.forgets(&other.record().unwrap(), started));
    assert!(!s.forgets(&sign_out_marker(), started));
}

#[test]
fn a_late_sign_out_message_does_not_end_a_session_adopted_since() {
    let mut s = signed_in();
    let old = signed_in()
        .sign_out()
        .into_iter()
        .find_map(|a| match a {
            Action::Announce(Announce::SignedOut(_, at)) => Some(at),
            _ => None,
        })
        .expect("a sign-out is announced with its session");
    let mut a = Session::new(signed_in_config());
    let r = TokenResponse::parse(r#"{"access_token":"b","refresh_token":"r2","expires_in":600}"#)
        .unwrap();
    a.set_tokens(5_000.0, r);
    s.adopt(5_001.0, &a.record().unwrap());
    // The new session's tokens came first (from the other tab's new page).
    assert!(s.remote_signed_out(Reason::User, Some(old)).is_empty());
    assert_eq!(s.tokens().unwrap().access_token, "b");
    // Its own sign-out, or one that names no session (an older version), ends it.
    assert_eq!(
        reasons(&s.remote_signed_out(Reason::User, Some(5_000.0))),
        [Reason::OtherTab]
    );
    let mut s = signed_in();
    assert_eq!(
        reasons(&s.remote_signed_out(Reason::User, None)),
        [Reason::OtherTab]
    );
}

/// The "kept in memory" marker a tab whose write failed leaves in place of a stale record.
fn unstored_marker() -> String {
    let mut a = signed_in();
    let stale = a.record().unwrap();
    let r = TokenResponse::parse(r#"{"access_token":"b","refresh_token":"r2","expires_in":600}"#)
        .unwrap();
    a.set_tokens(2_000.0, r);
    let out = a.persist_failed(
        tokenward::core::error::Error::new(tokenward::core::error::ErrorCode::Storage, "full"),
        Some(&stale),
    );
    let marker = out.iter().find_map(|a| match a {
        Action::Unstore(m) => Some(m.clone()),
        _ => None,
    });
    marker.expect("a stale record is replaced")
}

#[test]
fn a_kept_in_memory_marker_ends_no_session_and_restores_none() {
    let marker = unstored_marker();
    // Another tab's storage event, and the record read again before a refresh.
    let mut s = signed_in();
    assert!(s.storage_changed(false, Some(&marker), true).is_empty());
    assert!(s.reread(3_000.0, Some(&marker), true).is_empty());
    assert!(s.tokens().is_some());
    // A reload: no session, nothing removed, no error.
    let mut s = Session::new(signed_in_config());
    assert!(s.restore(3_000.0, Some(&marker)).is_empty());
    assert!(s.tokens().is_none());
}
