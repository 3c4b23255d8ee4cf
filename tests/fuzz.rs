//! The fuzz job (not part of `npm test`): every parser of untrusted input is fed at least
//! 100,000 generated inputs (`TOKENWARD_FUZZ_CASES`, default 100000) and must give a typed
//! result without panicking. A panic fails the test; each test prints how many inputs it
//! ran. Run with `npm run fuzz` (`cargo test --release --test fuzz -- --ignored`).
//!
//! Inputs mix arbitrary bytes with text built from each format's own alphabet (JSON
//! punctuation, JWT segments, query strings, URL parts), so that the parsers get past their
//! first check and into their deeper branches.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::atomic::{AtomicU64, Ordering};
use tokenward::core::attach::{AttachRule, ParsedUrl};
use tokenward::core::form::form_decode;
use tokenward::core::grant::{parse_error_body, token_answer};
use tokenward::core::json::{parse_number, Json};
use tokenward::core::jwt;
use tokenward::core::oidc::{AuthResponse, Discovery, Pending};
use tokenward::core::policy::{parse_challenges, refresh_can_help};
use tokenward::core::tab_message::{decode as decode_tab_message, encode as encode_tab_message};
use tokenward::core::tokens::{TokenResponse, TokenSet};

fn cases() -> u32 {
    std::env::var("TOKENWARD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Runs `check` on `cases()` inputs from `strategy` and prints the count.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value))
where
    S::Value: std::fmt::Debug,
{
    let n = cases();
    let ran = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |v| {
            ran.fetch_add(1, Ordering::Relaxed);
            check(v);
            Ok(())
        })
        .unwrap();
    println!(
        "fuzz {name}: {} inputs, 0 panics",
        ran.load(Ordering::Relaxed)
    );
}

/// Arbitrary bytes (lossy UTF-8) or text from `alphabet`, up to `max` characters.
fn input(alphabet: &'static str, max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..max)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        proptest::string::string_regex(&format!("[{alphabet}]{{0,{max}}}")).unwrap(),
    ]
}

const JSON_CHARS: &str = r#"\[\]{}",:0-9eE.+\-a-z_\\ \t\n\u{e9}\u{1F600}"#;

/// JSON objects with the fields a token response, record or discovery document has,
/// holding values of every type.
fn json_object(fields: &'static [&'static str]) -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        any::<f64>().prop_map(|f| format!("{f}")),
        any::<i64>().prop_map(|i| i.to_string()),
        "\"[ -~]{0,24}\"",
        Just("\"https://127.0.0.1:1/x\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("1e999".to_string()),
        Just("\"\\ud800\"".to_string()),
    ];
    proptest::collection::vec((proptest::sample::select(fields), value), 0..8).prop_map(|kv| {
        let body: Vec<String> = kv
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", body.join(","))
    })
}

const TOKEN_FIELDS: &[&str] = &[
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "id_token",
    "scope",
    "error",
    "error_description",
    "v",
    "at",
    "rt",
    "exp",
    "iat",
];

const DISCOVERY_FIELDS: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "revocation_endpoint",
    "end_session_endpoint",
    "code_challenge_methods_supported",
    "authorization_response_iss_parameter_supported",
];

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_json() {
    fuzz("json", input(JSON_CHARS, 300), |t| {
        if let Ok(v) = Json::parse(&t) {
            assert_eq!(Json::parse(&v.to_text()).unwrap(), v);
        }
        let _ = parse_number(&t);
    });
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_token_response() {
    let s = prop_oneof![input(JSON_CHARS, 300), json_object(TOKEN_FIELDS)];
    fuzz("token response", s, |t| {
        if let Ok(r) = TokenResponse::parse(&t) {
            let set = TokenSet::from_response(r, 1_700_000_000_000.0, None);
            assert!(set.expires_at.is_none_or(f64::is_finite));
        }
        let _ = parse_error_body(&t);
    });
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_token_endpoint_answer() {
    let s = (
        any::<u16>(),
        prop_oneof![input(JSON_CHARS, 200), json_object(TOKEN_FIELDS)],
        proptest::option::of(any::<f64>()),
    );
    fuzz("token endpoint answer", s, |(status, body, retry)| {
        let _ = token_answer(status, &body, retry);
    });
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_stored_record() {
    let s = prop_oneof![input(JSON_CHARS, 300), json_object(TOKEN_FIELDS)];
    fuzz("stored record", s, |t| {
        if let Ok(set) = TokenSet::from_record(&t) {
            assert_eq!(TokenSet::from_record(&set.to_record()).unwrap(), set);
        }
    });
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_jwt() {
    let segment = "[A-Za-z0-9_\\-=+/.]{0,80}";
    let s = prop_oneof![
        input("A-Za-z0-9_\\-.=", 200),
        (segment, json_object(TOKEN_FIELDS)).prop_map(|(a, payload)| format!(
            "{a}.{}.sig",
            jwt::base64url_encode(payload.as_bytes())
        )),
    ];
    fuzz("jwt", s, |t| {
        let _ = jwt::decode(&t);
        let _ = jwt::base64url_decode(&t);
    });
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_discovery() {
    let s = (
        any::<u16>(),
        prop_oneof![input(JSON_CHARS, 300), json_object(DISCOVERY_FIELDS)],
    );
    fuzz("discovery", s, |(status, body)| {
        let _ = Discovery::from_answer(status, &body, "https://127.0.0.1:1/x");
        let _ = Discovery::parse(&body, "https://127.0.0.1:1/x");
    });
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_authorization_response() {
    let s = input("a-z_=&%0-9A-F+?#;. ", 200);
    fuzz("authorization response", s, |q| {
        let _ = AuthResponse::parse(&q);
        let _ = form_decode(&q);
    });
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_pending_sign_in() {
    let s = prop_oneof![
        input(JSON_CHARS, 300),
        json_object(&["state", "nonce", "verifier", "redirect_uri", "v", "at"])
    ];
    fuzz("pending sign-in", s, |t| {
        let _ = Pending::from_json(&t);
    });
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_attach_rules() {
    let part = "[a-z:/.%0-9A-F\\\\@?#\\-]{0,30}";
    let s = (part, part, part, any::<bool>(), any::<bool>(), part);
    fuzz(
        "attach rules",
        s,
        |(protocol, origin, path, creds, query, req_path)| {
            let entry = ParsedUrl {
                protocol: &protocol,
                origin: &origin,
                pathname: &path,
                has_credentials: creds,
                has_query_or_fragment: query,
                hostname: &origin,
            };
            if let Ok(rule) = AttachRule::new(entry) {
                let _ = rule.matches(ParsedUrl {
                    pathname: &req_path,
                    ..entry
                });
            }
        },
    );
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_bearer_challenge() {
    let s = prop_oneof![
        input(r#"A-Za-z0-9 =",_\\.:/\-"#, 200),
        (
            proptest::sample::select(&["Bearer", "bearer", "DPoP", "Basic", "Negotiate"][..]),
            input(r#"a-z_=", "#, 80)
        )
            .prop_map(|(scheme, rest)| format!("{scheme} {rest}")),
    ];
    fuzz("bearer challenge", s, |h| {
        let _ = parse_challenges(&h);
        let _ = refresh_can_help(Some(&h));
    });
}

#[test]
#[ignore = "the fuzz job: npm run fuzz"]
fn fuzz_tab_message() {
    let s = prop_oneof![
        input(JSON_CHARS, 300),
        json_object(&["from", "to", "app", "t", "rec", "reason", "n"]),
        (
            proptest::sample::select(&["tokens", "out", "ask", "have", "sync", "ack", "x"][..]),
            json_object(TOKEN_FIELDS),
            proptest::option::of("[a-f0-9]{0,8}"),
        )
            .prop_map(|(t, rec, app)| {
                let app = app.map(|a| format!(r#","app":"{a}""#)).unwrap_or_default();
                format!(r#"{{"from":"x"{app},"t":"{t}","rec":{rec},"reason":"user","n":3}}"#)
            }),
    ];
    fuzz("tab message", s, |text| {
        for app in [None, Some("abc")] {
            if let Some((from, to, msg)) = decode_tab_message(&text, app) {
                let again = encode_tab_message(&from, app, to.as_deref(), &msg);
                assert!(decode_tab_message(&again, app).is_some());
            }
        }
    });
}
