//! Tabs order records by the session's generation counter, never by wall-clock time: a
//! clock set back must not make a tab refuse a newer record (and later spend a rotated
//! refresh token), and a stale record of the same session is never adopted.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use tokenward::core::session::{Action, Config, EventKind, RefreshMode, Session};
use tokenward::core::tokens::TokenResponse;

fn session() -> Session {
    Session::new(Config {
        lead_ms: 60_000.0,
        refresh: RefreshMode::Endpoint,
        seed: 9,
        session_lead_ms: 60_000.0,
        max_session_age_ms: None,
        app: None,
        issuer: None,
        client_id: None,
    })
}

fn answer(at: &str, rt: &str) -> TokenResponse {
    TokenResponse::parse(&format!(
        r#"{{"access_token":"{at}","refresh_token":"{rt}","expires_in":600}}"#
    ))
    .unwrap()
}

/// Tab A signs in and refreshes; returns A and the records it wrote (in order).
fn tab_a_records(refresh_at: &[f64]) -> (Session, Vec<String>) {
    let mut a = session();
    let mut records = Vec::new();
    let persisted = |actions: Vec<Action>, into: &mut Vec<String>| {
        for action in actions {
            if let Action::Persist(r) = action {
                into.push(r);
            }
        }
    };
    persisted(a.set_tokens(1_000_000.0, answer("a0", "r0")), &mut records);
    for (i, &at) in refresh_at.iter().enumerate() {
        let due = a.next_wakeup().unwrap();
        a.wake(due.max(at));
        let n = i + 1;
        persisted(
            a.refresh_done(at, Some(Ok(answer(&format!("a{n}"), &format!("r{n}"))))),
            &mut records,
        );
    }
    (a, records)
}

#[test]
fn a_newer_record_is_adopted_even_when_its_clock_went_back() {
    // A's clock was set back an hour between the sign-in and the refresh.
    let (_, records) = tab_a_records(&[1_000_000.0 - 3_600_000.0]);
    let mut b = session();
    b.adopt(2_000_000.0, &records[0]);
    assert_eq!(b.tokens().unwrap().access_token, "a0");
    b.adopt(2_000_000.0, &records[1]);
    assert_eq!(
        b.tokens().unwrap().access_token,
        "a1",
        "the refreshed record wins although it says it was received earlier"
    );
    assert_eq!(b.tokens().unwrap().refresh_token.as_deref(), Some("r1"));
}

#[test]
fn a_stale_record_of_the_same_session_is_never_adopted() {
    let (_, records) = tab_a_records(&[1_400_000.0, 1_800_000.0]);
    let mut b = session();
    b.adopt(2_000_000.0, &records[2]);
    assert_eq!(b.tokens().unwrap().access_token, "a2");
    // Older generations arrive late (a slow tab, an old `have` answer), even with a
    // later clock: refused.
    for old in &records[..2] {
        assert!(b.adopt(9_000_000.0, old).is_empty());
        assert_eq!(b.tokens().unwrap().access_token, "a2");
    }
}

#[test]
fn a_new_sign_in_in_another_tab_replaces_the_session() {
    let (_, records) = tab_a_records(&[1_400_000.0, 1_800_000.0]);
    let mut b = session();
    b.adopt(2_000_000.0, &records[2]);
    let mut c = session();
    let mut fresh = None;
    for action in c.set_tokens(500_000.0, answer("new0", "newr0")) {
        if let Action::Persist(r) = action {
            fresh = Some(r);
        }
    }
    b.adopt(2_100_000.0, &fresh.unwrap());
    assert_eq!(
        b.tokens().unwrap().access_token,
        "new0",
        "another session's first record replaces it"
    );
}

fn persisted(actions: &[Action]) -> String {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Persist(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap()
}

fn events(actions: &[Action]) -> Vec<EventKind> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Emit(e) => Some(e.kind),
            _ => None,
        })
        .collect()
}

#[test]
fn another_tabs_sign_in_is_a_change_and_its_refresh_a_refresh() {
    let (_, records) = tab_a_records(&[1_400_000.0]);
    let mut b = session();
    b.adopt(1_500_000.0, &records[1]);
    let mut c = session();
    let signed_in = persisted(&c.set_tokens(1_600_000.0, answer("new0", "newr0")));
    assert_eq!(
        events(&b.adopt(1_600_001.0, &signed_in)),
        [EventKind::Change],
        "a sign-in there is not a refresh"
    );
    c.wake(c.next_wakeup().unwrap());
    let refreshed = persisted(&c.refresh_done(2_000_000.0, Some(Ok(answer("new1", "newr1")))));
    assert_eq!(
        events(&b.adopt(2_000_001.0, &refreshed)),
        [EventKind::Refresh, EventKind::Change]
    );
}
