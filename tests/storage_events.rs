//! The shared record changed by another page (`storage` events): cleared or unreadable
//! ends the session with reason `storage`; removed or readable changes nothing here.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use tokenward::core::session::{Action, Config, EventKind, Reason, RefreshMode, Session};
use tokenward::core::tokens::TokenResponse;

fn signed_in() -> Session {
    let mut s = Session::new(Config {
        lead_ms: 60_000.0,
        refresh: RefreshMode::Endpoint,
        seed: 1,
        session_lead_ms: 60_000.0,
        max_session_age_ms: None,
        app: Some("app-1".into()),
        issuer: None,
        client_id: None,
    });
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
    let a = s.storage_changed(true, None);
    assert_eq!(reasons(&a), [Reason::Storage]);
    assert!(a.contains(&Action::Clear));
    assert!(s.tokens().is_none());
    assert!(s.storage_changed(true, None).is_empty(), "once");
}

#[test]
fn an_unreadable_record_ends_the_session() {
    for junk in ["", "garbage", "{}", r#"{"v":99}"#, "[1,2]"] {
        let mut s = signed_in();
        assert_eq!(
            reasons(&s.storage_changed(false, Some(junk))),
            [Reason::Storage],
            "{junk}"
        );
    }
}

#[test]
fn a_removed_or_readable_record_changes_nothing_here() {
    let mut s = signed_in();
    assert!(
        s.storage_changed(false, None).is_empty(),
        "sign-outs come over the channel"
    );
    let record = s.record().unwrap();
    assert!(s.storage_changed(false, Some(&record)).is_empty());
    assert!(s.tokens().is_some());
}
