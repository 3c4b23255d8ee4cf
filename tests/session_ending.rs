//! `sessionEnding`: once per session, `session_lead_ms` before the session can no longer
//! be refreshed — from `refresh_expires_in`, a JWT refresh token's `exp`, or the app's
//! maximum session age — and the end readable as `session_ends_at`, where the session
//! ends (`session::ending`'s own tests show the end itself).
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use tokenward::core::jwt;
use tokenward::core::session::{Action, Config, EventKind, RefreshMode, Session};
use tokenward::core::tokens::{TokenResponse, TokenSet};

const T0: f64 = 1_700_000_000_000.0;

fn cfg(max_age_ms: Option<f64>) -> Config {
    Config {
        lead_ms: 60_000.0,
        refresh: RefreshMode::Endpoint,
        seed: 3,
        session_lead_ms: 60_000.0,
        max_session_age_ms: max_age_ms,
        app: None,
        issuer: None,
        client_id: None,
    }
}

fn answer(at: &str, rt: &str, expires_in: f64, extra: &str) -> TokenResponse {
    TokenResponse::parse(&format!(
        r#"{{"access_token":"{at}","refresh_token":"{rt}","expires_in":{expires_in}{extra}}}"#
    ))
    .unwrap()
}

fn endings(actions: &[Action]) -> Vec<f64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Emit(e) if e.kind == EventKind::SessionEnding => {
                Some(e.session_ends_at.unwrap())
            }
            _ => None,
        })
        .collect()
}

/// Runs the session to `until`, answering every refresh with `next(i)`, and collects the
/// `sessionEnding` events with the time they fired.
fn run(s: &mut Session, until: f64, mut next: impl FnMut(u32) -> TokenResponse) -> Vec<(f64, f64)> {
    let mut fired = Vec::new();
    let mut i = 0;
    while let Some(at) = s.next_wakeup() {
        if at > until {
            break;
        }
        let actions = s.wake(at);
        fired.extend(endings(&actions).into_iter().map(|e| (at, e)));
        if actions.iter().any(|a| matches!(a, Action::Refresh(_))) {
            i += 1;
            let done = s.refresh_done(at + 20.0, Some(Ok(next(i))));
            fired.extend(endings(&done).into_iter().map(|e| (at, e)));
        }
    }
    fired
}

#[test]
fn refresh_expires_in_gives_the_end_and_one_warning_a_lead_before_it() {
    let mut s = Session::new(cfg(None));
    let a = s.set_tokens(
        T0,
        answer("a0", "r0", 300.0, r#","refresh_expires_in":1800"#),
    );
    assert!(endings(&a).is_empty());
    let end = T0 + 1_800_000.0;
    assert_eq!(s.session_ends_at(), Some(end));
    // Keycloak-like: each refresh says how long the (absolute) session has left.
    let fired = run(&mut s, end + 600_000.0, |i| {
        let left = (1800.0 - f64::from(i) * 240.0).max(1.0);
        answer(
            &format!("a{i}"),
            &format!("r{i}"),
            300.0,
            &format!(r#","refresh_expires_in":{left}"#),
        )
    });
    assert_eq!(fired.len(), 1, "{fired:?}");
    let (at, ends_at) = fired[0];
    assert!(ends_at <= end + 1_000.0, "{ends_at} vs {end}");
    assert!(
        at >= ends_at - 60_000.0 - 1.0 && at < ends_at,
        "fired at {at}, end {ends_at}"
    );
}

#[test]
fn zero_refresh_expires_in_means_no_limit() {
    let mut s = Session::new(cfg(None));
    s.set_tokens(T0, answer("a0", "r0", 300.0, r#","refresh_expires_in":0"#));
    assert_eq!(s.session_ends_at(), None);
    let fired = run(&mut s, T0 + 3_600_000.0, |i| {
        answer(&format!("a{i}"), &format!("r{i}"), 300.0, "")
    });
    assert!(fired.is_empty());
}

#[test]
fn a_jwt_refresh_token_gives_the_end_from_exp_minus_iat() {
    let payload = jwt::base64url_encode(br#"{"iat":1000,"exp":1900}"#);
    let rt = format!("e30.{payload}.sig");
    let mut s = Session::new(cfg(None));
    s.set_tokens(T0, answer("a0", &rt, 300.0, ""));
    // On the local clock: received + (exp − iat), never the server's `exp` itself.
    assert_eq!(s.session_ends_at(), Some(T0 + 900_000.0));
}

#[test]
fn max_session_age_counts_from_the_first_tokens_across_refreshes() {
    let mut s = Session::new(cfg(Some(3_600_000.0)));
    s.set_tokens(T0, answer("a0", "r0", 600.0, ""));
    let end = T0 + 3_600_000.0;
    assert_eq!(s.session_ends_at(), Some(end));
    let fired = run(&mut s, T0 + 7_200_000.0, |i| {
        answer(&format!("a{i}"), &format!("r{i}"), 600.0, "")
    });
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].1, end, "refreshes do not move the age limit");
    assert_eq!(fired[0].0, end - 60_000.0, "fired exactly the lead before");
    // The age is a ceiling: the session ended there.
    assert!(s.tokens().is_none());
    assert_eq!(s.session_ends_at(), None);
}

#[test]
fn the_earlier_of_server_end_and_age_limit_wins() {
    let mut s = Session::new(cfg(Some(600_000.0)));
    s.set_tokens(
        T0,
        answer("a0", "r0", 60.0, r#","refresh_expires_in":1800"#),
    );
    assert_eq!(s.session_ends_at(), Some(T0 + 600_000.0));
}

#[test]
fn a_new_sign_in_warns_again_and_a_sign_out_forgets_the_end() {
    let mut s = Session::new(cfg(None));
    s.set_tokens(
        T0,
        answer("a0", "r0", 3600.0, r#","refresh_expires_in":120"#),
    );
    // Already within the lead at the next wake-up.
    let first = s.next_wakeup().unwrap();
    assert_eq!(first, T0 + 60_000.0);
    assert_eq!(endings(&s.wake(first)).len(), 1);
    assert!(
        endings(&s.wake(first + 1_000.0)).is_empty(),
        "once per session"
    );
    s.sign_out();
    assert_eq!(s.session_ends_at(), None);
    let again = s.set_tokens(
        T0 + 10_000.0,
        answer("b0", "s0", 3600.0, r#","refresh_expires_in":30"#),
    );
    assert_eq!(
        endings(&again),
        [T0 + 40_000.0],
        "the new session warns too, at once"
    );
    assert!(endings(&s.wake(T0 + 11_000.0)).is_empty());
}

#[test]
fn a_refresh_without_word_keeps_the_end_unless_the_refresh_token_changed() {
    let mut s = Session::new(cfg(None));
    s.set_tokens(
        T0,
        answer("a0", "r0", 300.0, r#","refresh_expires_in":1800"#),
    );
    let kept = TokenSet::from_response(
        TokenResponse::parse(r#"{"access_token":"a1","expires_in":300}"#).unwrap(),
        T0 + 200_000.0,
        s.tokens(),
    );
    assert_eq!(kept.session_ends_at, Some(T0 + 1_800_000.0));
    assert_eq!(kept.session_started_at, T0);
    let rotated =
        TokenSet::from_response(answer("a1", "r1", 300.0, ""), T0 + 200_000.0, s.tokens());
    assert_eq!(rotated.session_ends_at, None);
    assert_eq!(rotated.session_started_at, T0);
}

#[test]
fn records_keep_the_session_times_and_old_records_still_read() {
    let mut s = Session::new(cfg(None));
    s.set_tokens(
        T0,
        answer("a0", "r0", 300.0, r#","refresh_expires_in":1800"#),
    );
    let t = s.tokens().unwrap().clone();
    let back = TokenSet::from_record(&t.to_record()).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.session_ends_at, Some(T0 + 1_800_000.0));
    let old = r#"{"v":1,"access_token":"a","token_type":"Bearer","received_at":5}"#;
    let read = TokenSet::from_record(old).unwrap();
    assert_eq!((read.session_started_at, read.session_ends_at), (5.0, None));
    let bad =
        r#"{"v":1,"access_token":"a","token_type":"Bearer","received_at":5,"session_ends_at":"x"}"#;
    assert!(TokenSet::from_record(bad).is_err());
}

#[test]
fn refresh_expires_in_of_any_other_type_says_nothing() {
    for extra in [
        r#","refresh_expires_in":-5"#,
        r#","refresh_expires_in":"abc""#,
        r#","refresh_expires_in":null"#,
        r#","refresh_expires_in":[1]"#,
    ] {
        let r = answer("a", "r", 60.0, extra);
        assert_eq!(r.refresh_expires_in, None, "{extra}");
    }
    assert_eq!(
        answer("a", "r", 60.0, r#","refresh_expires_in":"90""#).refresh_expires_in,
        Some(90.0)
    );
}
