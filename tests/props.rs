//! Property tests: arbitrary bytes into every parser (token responses, stored records,
//! JWTs, JSON, token endpoint answers, numbers) never panic and always give a typed
//! result; the session state machine keeps its promises under random event sequences.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use proptest::prelude::*;
use tokenward::core::attach::{has_encoded_separator, secure_url_text};
use tokenward::core::dpop;
use tokenward::core::grant::token_answer;
use tokenward::core::json::{parse_number, Json};
use tokenward::core::jwt;
use tokenward::core::policy;
use tokenward::core::session::{Action, Config, Demand, Failure, RefreshMode, Session};
use tokenward::core::tokens::{TokenResponse, TokenSet};
use tokenward::{Error, ErrorCode};

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn json_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = lossy(&bytes);
        if let Ok(v) = Json::parse(&text) {
            prop_assert_eq!(Json::parse(&v.to_text()).unwrap(), v);
        }
    }

    #[test]
    fn json_like_text_never_panics(text in r#"[\[\]{}",:0-9eE.+\-a-z\\ ]{0,200}"#) {
        let _ = Json::parse(&text);
    }

    #[test]
    fn token_responses_are_typed(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = TokenResponse::parse(&lossy(&bytes)) {
            prop_assert_eq!(&e.code, &ErrorCode::InvalidTokenResponse);
        }
    }

    #[test]
    fn token_response_fields_of_any_type_are_typed(
        at in prop_oneof![Just("\"a.b.c\"".to_string()), Just("\"\"".to_string()), Just("1".to_string()), Just("null".to_string()), "\"[ -~]{0,20}\""],
        ei in prop_oneof![Just("3600".to_string()), Just("-1".to_string()), Just("\"60\"".to_string()), Just("\"x\"".to_string()), Just("1e308".to_string()), Just("[]".to_string())],
        tt in prop_oneof![Just("\"bearer\"".to_string()), Just("\"DPoP\"".to_string()), Just("7".to_string())],
    ) {
        let text = format!(r#"{{"access_token":{at},"expires_in":{ei},"token_type":{tt}}}"#);
        match TokenResponse::parse(&text) {
            Ok(r) => {
                prop_assert!(!r.access_token.is_empty());
                let want = if tt == "\"DPoP\"" { "DPoP" } else { "Bearer" };
                prop_assert_eq!(r.token_type.as_str(), want);
                let t = TokenSet::from_response(r, 1_700_000_000_000.0, None);
                prop_assert!(t.expires_at.is_none_or(|e| e.is_finite() && e >= t.received_at));
            }
            Err(e) => prop_assert_eq!(&e.code, &ErrorCode::InvalidTokenResponse),
        }
    }

    #[test]
    fn stored_records_are_typed_and_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        match TokenSet::from_record(&lossy(&bytes)) {
            Ok(t) => prop_assert_eq!(TokenSet::from_record(&t.to_record()).unwrap(), t),
            Err(e) => prop_assert_eq!(&e.code, &ErrorCode::Storage),
        }
    }

    #[test]
    fn tampered_records_are_storage_errors(cut in 0usize..200, flip in 0usize..200, byte in any::<u8>()) {
        let t = TokenSet::from_response(
            TokenResponse::parse(r#"{"access_token":"at","refresh_token":"rt","expires_in":60}"#).unwrap(),
            1_700_000_000_000.0,
            None,
        );
        let rec = t.to_record().into_bytes();
        let mut bad = rec.clone();
        bad.truncate(cut.min(rec.len()));
        if let Some(b) = bad.get_mut(flip) { *b = byte; }
        match TokenSet::from_record(&lossy(&bad)) {
            Ok(_) => {}
            Err(e) => prop_assert_eq!(&e.code, &ErrorCode::Storage),
        }
    }

    #[test]
    fn jwts_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), payload in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = jwt::decode(&lossy(&bytes));
        let token = format!("e30.{}.sig", jwt::base64url_encode(&payload));
        if let Some(c) = jwt::decode(&token) {
            prop_assert!(matches!(c.value, Json::Obj(_)));
        }
        prop_assert_eq!(jwt::base64url_decode(&jwt::base64url_encode(&payload)).unwrap(), payload);
    }

    #[test]
    fn token_answers_are_classified(status in 0u16..1000, bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        match token_answer(status, &lossy(&bytes), None) {
            Ok(_) => prop_assert!((200..300).contains(&status)),
            Err((Failure::Terminal, _)) => prop_assert!(status == 400 || status == 401),
            Err((Failure::Transient(_), _)) => prop_assert!(status != 400 && status != 401),
        }
    }

    #[test]
    fn encoded_separators_are_found_in_any_case_and_depth(
        before in "[a-zA-Z0-9/._~-]{0,12}", after in "[a-zA-Z0-9/._~%-]{0,12}",
        sep in prop_oneof![Just("2f"), Just("2F"), Just("5c"), Just("5C"), Just("2e"), Just("2E")],
        depth in 0usize..4,
    ) {
        let encoded = format!("%{}{sep}", "25".repeat(depth));
        let path = format!("{before}{encoded}{after}");
        prop_assert!(has_encoded_separator(&path), "{}", path);
    }

    #[test]
    fn url_helpers_never_panic(text in "\\PC{0,80}") {
        let _ = has_encoded_separator(&text);
        let _ = secure_url_text(&text);
        let _ = policy::parse_challenges(&text);
        let _ = policy::refresh_can_help(Some(&text));
    }

    #[test]
    fn numbers_parse_like_rust(x in any::<f64>().prop_filter("normal range", |x| *x == 0.0 || (x.abs() > 1e-250 && x.abs() < 1e250))) {
        // Close, not correctly rounded: times and lifetimes need no more.
        for text in [format!("{x:e}"), format!("{x}")] {
            let got = parse_number(&text).unwrap();
            prop_assert!((got - x).abs() <= x.abs() * 1e-12, "{} -> {}", text, got);
        }
    }

    #[test]
    fn refresh_time_and_backoff_stay_in_bounds(
        received in 0.0f64..2e12, lifetime in 0.0f64..1e10, lead in 0.0f64..1e7, r in 0.0f64..1.0,
        failures in 0u32..100, left in 0.0f64..1e8,
    ) {
        let at = policy::refresh_at(received, received + lifetime, lead, r);
        prop_assert!(at <= (received + lifetime).max(received + policy::MIN_REFRESH_INTERVAL_MS));
        prop_assert!(at >= received + policy::MIN_REFRESH_INTERVAL_MS);
        prop_assert!(at >= received + lifetime / 2.0 - lifetime * policy::JITTER_FRACTION - 1e-6);
        let wait = policy::backoff(failures, r, None, Some(left));
        prop_assert!(wait >= 0.0);
        if left > 0.0 {
            prop_assert!(wait <= (left / 2.0).max(policy::BACKOFF_FLOOR_MS));
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Advance(f64),
    Wake,
    Online,
    Demand(bool),
    Finish(u8),
    SetTokens(u32),
    SignOut,
    Adopt,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0.0f64..10_000.0).prop_map(Step::Advance),
        Just(Step::Wake),
        Just(Step::Online),
        any::<bool>().prop_map(Step::Demand),
        (0u8..4).prop_map(Step::Finish),
        (1u32..100).prop_map(Step::SetTokens),
        Just(Step::SignOut),
        Just(Step::Adopt),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    /// Whatever happens, in whatever order: at most one refresh is in flight, a refresh
    /// is only started for a session, and every token issued is refreshed at most once
    /// on the timer's account.
    #[test]
    fn session_keeps_its_promises(steps in proptest::collection::vec(step(), 1..80), seed in any::<u64>()) {
        let mut s = Session::new(Config { lead_ms: 60_000.0, refresh: RefreshMode::Endpoint, seed, session_lead_ms: 60_000.0, max_session_age_ms: None, app: None, issuer: None, client_id: None });
        let mut now = 1_700_000_000_000.0;
        let mut in_flight = false;
        let mut issued = 0u32;
        let mut other = Session::new(Config { lead_ms: 60_000.0, refresh: RefreshMode::Endpoint, seed: seed ^ 1, session_lead_ms: 60_000.0, max_session_age_ms: None, app: None, issuer: None, client_id: None });
        let check = |actions: &[Action], in_flight: &mut bool, signed_in: bool| -> Result<(), TestCaseError> {
            for a in actions {
                if let Action::Refresh(_) = a {
                    prop_assert!(!*in_flight, "two refreshes in flight");
                    prop_assert!(signed_in, "refresh without a session");
                    *in_flight = true;
                }
            }
            Ok(())
        };
        for st in steps {
            let actions = match st {
                Step::Advance(ms) => { now += ms; Vec::new() }
                Step::Wake => s.wake(now),
                Step::Online => s.online(now),
                Step::Demand(force) => {
                    let token = s.tokens().map(|t| t.access_token.clone());
                    let (a, d) = s.demand(now, if force { token.as_deref() } else { None }, false);
                    if s.tokens().is_none() { prop_assert!(matches!(d, Demand::Fail(_))); }
                    a
                }
                Step::Finish(kind) => {
                    let result = match kind {
                        0 => Some(Ok(TokenResponse::parse(&format!(r#"{{"access_token":"r{issued}","refresh_token":"rt{issued}","expires_in":5}}"#)).unwrap())),
                        1 => Some(Err((Failure::Transient(None), Error::network("x")))),
                        2 => Some(Err((Failure::Terminal, Error::new(ErrorCode::InvalidGrant, "x")))),
                        _ => None,
                    };
                    issued += 1;
                    in_flight = false;
                    s.refresh_done(now, result)
                }
                Step::SetTokens(secs) => {
                    in_flight = false;
                    issued += 1;
                    s.set_tokens(now, TokenResponse::parse(&format!(r#"{{"access_token":"s{issued}","refresh_token":"rt","expires_in":{secs}}}"#)).unwrap())
                }
                Step::SignOut => { in_flight = false; s.sign_out() }
                Step::Adopt => {
                    issued += 1;
                    let a = other.set_tokens(now, TokenResponse::parse(&format!(r#"{{"access_token":"o{issued}","refresh_token":"rt","expires_in":5}}"#)).unwrap());
                    let rec = a.iter().find_map(|x| if let Action::Persist(r) = x { Some(r.clone()) } else { None }).unwrap();
                    s.adopt(now, &rec)
                }
            };
            let signed_in = s.tokens().is_some();
            check(&actions, &mut in_flight, signed_in)?;
            if !s.is_refreshing() { in_flight = false; }
            if let Some(next) = s.next_wakeup() { prop_assert!(next.is_finite()); }
        }
    }

    /// RFC 9449 inputs from servers and callers: any text gives a typed answer, never a panic.
    #[test]
    fn dpop_inputs_never_panic(
        url in "[ -~]{0,60}",
        header in proptest::option::of("[ -~]{0,40}"),
        status in 100u16..600,
        raw in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let htu = dpop::htu(&url);
        prop_assert!(url.starts_with(htu) && !htu.contains(['?', '#']));
        prop_assert!(url.starts_with(dpop::origin(&url)));
        let mut nonces = dpop::Nonces::default();
        nonces.learn(&url, header.as_deref());
        if let Some(n) = nonces.get(&url) {
            prop_assert!(!n.is_empty() && !n.contains([' ', '"', '\\']));
        }
        let _ = dpop::resource_wants_nonce(status, header.as_deref());
        let _ = dpop::token_endpoint_wants_nonce(status, &lossy(&raw));
        let _ = dpop::method(&lossy(&raw));
        if let Some(k) = dpop::PublicKey::from_raw(&raw) {
            prop_assert!(Json::parse(&k.header_json()).is_ok());
        }
    }
}
