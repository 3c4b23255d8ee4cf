//! Browser tests of the shell (wasm-bindgen-test, headless Chromium; Firefox and WebKit
//! through their drivers): storage modes, corrupt records, storage that refuses writes,
//! attach rules with the browser's own URL parser, events, and the Rust API itself.
#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::cell::RefCell;
use std::rc::Rc;
use tokenward::{ErrorCode, EventKind, Options, Reason, Status, StorageKind, TokenClient};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn local() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

fn session() -> web_sys::Storage {
    web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap()
}

fn key(name: &str) -> String {
    format!("tw-test-{name}")
}

fn options(name: &str, storage: StorageKind) -> Options {
    Options {
        storage,
        storage_key: Some(key(name)),
        cross_tab: false,
        ..Options::default()
    }
}

type Log = Rc<RefCell<Vec<String>>>;

fn record_events(o: &mut Options) -> Log {
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    for kind in [
        EventKind::Change,
        EventKind::Refresh,
        EventKind::Expired,
        EventKind::SignedOut,
        EventKind::Error,
    ] {
        let l = log.clone();
        o.on.push((
            kind,
            Rc::new(move |e: &tokenward::Event| {
                let detail = match (&e.reason, &e.error) {
                    (Some(r), _) => format!(":{}", r.as_str()),
                    (_, Some(err)) => format!(":{}", err.code.as_str()),
                    _ => String::new(),
                };
                l.borrow_mut()
                    .push(format!("{}{}", e.kind.as_str(), detail));
            }),
        ));
    }
    log
}

/// The logged events of one kind (with their reason or error code).
fn of_kind(log: &Log, kind: &str) -> Vec<String> {
    log.borrow()
        .iter()
        .filter(|e| e.starts_with(kind))
        .cloned()
        .collect()
}

const TOKENS: &str =
    r#"{"access_token":"at-1","token_type":"bearer","expires_in":3600,"refresh_token":"rt-1"}"#;

#[wasm_bindgen_test]
async fn memory_storage_writes_nothing() {
    let k = key("memory");
    let c = TokenClient::new(options("memory", StorageKind::Memory))
        .await
        .unwrap();
    c.set_tokens_json(TOKENS).unwrap();
    assert_eq!(c.status(), Status::SignedIn);
    assert!(local().get_item(&k).unwrap().is_none());
    assert!(session().get_item(&k).unwrap().is_none());
    assert_eq!(c.access_token().await.unwrap(), "at-1");
}

#[wasm_bindgen_test]
async fn local_and_session_storage_survive_a_new_client() {
    for (name, kind, area) in [
        ("local", StorageKind::Local, local()),
        ("session", StorageKind::Session, session()),
    ] {
        let k = key(name);
        area.remove_item(&k).unwrap();
        let c = TokenClient::new(options(name, kind)).await.unwrap();
        c.set_tokens_json(TOKENS).unwrap();
        let stored = area.get_item(&k).unwrap().expect("record written");
        assert!(stored.contains("\"v\":1"), "{stored}");
        c.dispose();
        // A reload is a new client reading the same storage.
        let again = TokenClient::new(options(name, kind)).await.unwrap();
        assert_eq!(again.status(), Status::SignedIn);
        assert_eq!(again.access_token().await.unwrap(), "at-1");
        again.sign_out(false).await;
        assert!(area.get_item(&k).unwrap().is_none());
    }
}

#[wasm_bindgen_test]
async fn corrupt_records_are_removed_and_reported_once() {
    for (i, bad) in [
        "garbage",
        "{\"v\":1,\"access_tok",
        "{\"v\":99,\"access_token\":\"x\"}",
        "{\"v\":1,\"access_token\":7}",
        "[]",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("corrupt-{i}");
        local().set_item(&key(&name), bad).unwrap();
        let mut o = options(&name, StorageKind::Local);
        let log = record_events(&mut o);
        let c = TokenClient::new(o).await.unwrap();
        assert_eq!(c.status(), Status::SignedOut, "{bad}");
        assert_eq!(*log.borrow(), vec!["error:storage".to_string()], "{bad}");
        assert!(local().get_item(&key(&name)).unwrap().is_none(), "{bad}");
        let e = c.access_token().await.unwrap_err();
        assert_eq!(e.code, ErrorCode::SignedOut);
    }
}

#[wasm_bindgen_test]
async fn storage_that_refuses_writes_keeps_the_session_in_memory_and_reports_once() {
    let patch = js_sys::Function::new_no_args(
        "window.__setItem = Storage.prototype.setItem; Storage.prototype.setItem = function () { throw new DOMException('full', 'QuotaExceededError'); };",
    );
    let restore = js_sys::Function::new_no_args("Storage.prototype.setItem = window.__setItem;");
    patch.call0(&JsValue::UNDEFINED).unwrap();
    let mut o = options("quota", StorageKind::Local);
    let log = record_events(&mut o);
    let c = TokenClient::new(o).await.unwrap();
    c.set_tokens_json(TOKENS).unwrap();
    c.set_tokens_json(TOKENS).unwrap();
    restore.call0(&JsValue::UNDEFINED).unwrap();
    assert_eq!(c.status(), Status::SignedIn);
    assert_eq!(c.access_token().await.unwrap(), "at-1");
    let errors = of_kind(&log, "error");
    assert_eq!(errors, vec!["error:storage".to_string()]);
}

#[wasm_bindgen_test]
async fn attach_rules_use_the_browser_url_parser() {
    let mut o = options("attach", StorageKind::Memory);
    o.attach_to = Some(vec![
        "https://api.example.com/v1".to_string(),
        "http://127.0.0.1:8080".to_string(),
    ]);
    let c = TokenClient::new(o).await.unwrap();
    for yes in [
        "https://api.example.com/v1",
        "https://api.example.com/v1/",
        "https://API.EXAMPLE.COM/v1/users?x=1#f",
        "https://api.example.com:443/v1/a",
        "https://api.example.com/v1/a/../b",
        "https://api.example.com./v1".replace("./", "/").as_str(),
        "http://127.0.0.1:8080/anything",
    ] {
        assert!(c.attaches_to(yes), "should attach: {yes}");
    }
    for no in [
        "http://api.example.com/v1",
        "https://api.example.com/v10",
        "https://api.example.com/V1",
        "https://api.example.com/v1%2F..",
        "https://api.example.com/v1/../admin",
        "https://api.example.com.evil.com/v1",
        "https://evil.com/https://api.example.com/v1",
        "https://api.example.com@evil.com/v1",
        "https://user:pw@api.example.com/v1",
        "https://api.example.com:8443/v1",
        "https://api.example.com./v1",
        "//evil.com/v1",
        "https:\\\\evil.com\\v1",
        "http://127.0.0.1:8081/",
        "http://localhost:8080/",
        "https://127.0.0.1:8080/",
        "ws://127.0.0.1:8080/",
        "data:text/plain,hi",
        "/relative/to/page",
    ] {
        assert!(!c.attaches_to(no), "must not attach: {no}");
    }
}

#[wasm_bindgen_test]
async fn bad_options_are_invalid_options() {
    for entries in [
        vec!["api.example.com"],
        vec!["ftp://x.com"],
        vec!["https://x.com/?q=1"],
        vec!["https://u@x.com"],
        vec!["/relative"],
    ] {
        let mut o = options("bad", StorageKind::Memory);
        o.attach_to = Some(entries.iter().map(|s| s.to_string()).collect());
        let e = TokenClient::new(o).await.err().expect("rejected");
        assert_eq!(e.code, ErrorCode::InvalidOptions, "{entries:?}");
    }
    let mut o = options("bad", StorageKind::Memory);
    o.token_endpoint = Some("https://x.com/token".into());
    o.refresh = Some(Rc::new(|_, done| done(Err(tokenward::Error::network("x")))));
    assert_eq!(
        TokenClient::new(o).await.err().unwrap().code,
        ErrorCode::InvalidOptions
    );
}

#[wasm_bindgen_test]
async fn refresh_callback_and_events_with_an_injected_clock() {
    let now = Rc::new(RefCell::new(1_000_000.0f64));
    let calls = Rc::new(RefCell::new(0u32));
    let mut o = options("callback", StorageKind::Memory);
    let n = now.clone();
    o.now = Some(Rc::new(move || *n.borrow()));
    let c2 = calls.clone();
    o.refresh = Some(Rc::new(move |rt, done| {
        *c2.borrow_mut() += 1;
        assert_eq!(rt.as_deref(), Some("rt-1"));
        done(tokenward::TokenResponse::parse(
            r#"{"access_token":"at-2","expires_in":3600}"#,
        ))
    }));
    let log = record_events(&mut o);
    let c = TokenClient::new(o).await.unwrap();
    c.set_tokens_json(TOKENS).unwrap();
    assert_eq!(c.access_token().await.unwrap(), "at-1");
    // An hour later (a sleeping laptop): the next call refreshes first, once for all callers.
    *now.borrow_mut() += 3_600_000.0;
    assert_eq!(
        both_tokens(&c).await,
        vec!["at-2".to_string(), "at-2".to_string()]
    );
    assert_eq!(*calls.borrow(), 1);
    assert!(log.borrow().contains(&"refresh".to_string()));
    c.sign_out(false).await;
    assert!(log
        .borrow()
        .contains(&format!("signedOut:{}", Reason::User.as_str())));
}

#[wasm_bindgen_test]
async fn terminal_refresh_failure_signs_out_once() {
    let mut o = options("terminal", StorageKind::Local);
    o.refresh = Some(Rc::new(|_, done| {
        done(Err(tokenward::Error::new(
            ErrorCode::InvalidGrant,
            "refused",
        )))
    }));
    let log = record_events(&mut o);
    let c = TokenClient::new(o).await.unwrap();
    c.set_tokens_json(TOKENS).unwrap();
    let e = c.refresh().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidGrant);
    assert_eq!(c.status(), Status::SignedOut);
    let outs = of_kind(&log, "signedOut");
    assert_eq!(outs, vec!["signedOut:invalid_grant".to_string()]);
    assert!(local().get_item(&key("terminal")).unwrap().is_none());
}

/// Runs two `access_token` calls concurrently.
async fn both_tokens(c: &TokenClient) -> Vec<String> {
    let run = |c: TokenClient| {
        wasm_bindgen_futures::future_to_promise(async move {
            c.access_token()
                .await
                .map(JsValue::from)
                .map_err(|e| JsValue::from(e.into_fields().message))
        })
    };
    let all = js_sys::Promise::all(&js_sys::Array::of2(&run(c.clone()), &run(c.clone())));
    let v = wasm_bindgen_futures::JsFuture::from(all).await.unwrap();
    js_sys::Array::from(&v)
        .iter()
        .map(|x| x.as_string().unwrap())
        .collect()
}

/// Creates a cross-tab client while `hide` (JS) removes a browser feature, then checks it
/// still works in its own tab and reported exactly one `unsupported` error.
async fn works_alone_without(name: &str, hide: &str, unhide: &str) {
    js_sys::Function::new_no_args(hide)
        .call0(&JsValue::UNDEFINED)
        .unwrap();
    let mut o = Options {
        cross_tab: true,
        ..options(name, StorageKind::Memory)
    };
    let log = record_events(&mut o);
    let c = TokenClient::new(o).await;
    js_sys::Function::new_no_args(unhide)
        .call0(&JsValue::UNDEFINED)
        .unwrap();
    let c = c.unwrap();
    c.set_tokens_json(TOKENS).unwrap();
    assert_eq!(c.access_token().await.unwrap(), "at-1", "{name}");
    let errors = of_kind(&log, "error");
    assert_eq!(errors, vec!["error:unsupported".to_string()], "{name}");
    c.dispose();
}

#[wasm_bindgen_test]
async fn without_web_locks_or_broadcast_channel_it_works_alone_and_says_so_once() {
    works_alone_without(
        "nolocks",
        "window.__locks = Object.getOwnPropertyDescriptor(Navigator.prototype, 'locks');
         Object.defineProperty(Navigator.prototype, 'locks', { get() { return undefined; }, configurable: true });",
        "if (window.__locks) Object.defineProperty(Navigator.prototype, 'locks', window.__locks);",
    )
    .await;
    works_alone_without(
        "nochannel",
        "window.__bc = window.BroadcastChannel; window.BroadcastChannel = undefined;",
        "window.BroadcastChannel = window.__bc;",
    )
    .await;
}

/// Waits for a value a callback form of the API gives (through a JS promise, as an app
/// without the `async` methods would).
async fn settled<T: 'static>(start: impl FnOnce(Box<dyn FnOnce(T)>)) -> T {
    let slot: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
    let mut start = Some(start);
    let s = slot.clone();
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let s = s.clone();
        if let Some(start) = start.take() {
            start(Box::new(move |v| {
                *s.borrow_mut() = Some(v);
                resolve.call0(&JsValue::NULL).unwrap();
            }));
        }
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    let v = slot.borrow_mut().take();
    v.expect("the callback was called")
}

#[wasm_bindgen_test]
async fn the_callback_forms_answer_once() {
    let c = TokenClient::create(options("callbacks", StorageKind::Memory)).unwrap();
    settled(|done| c.when_started(done)).await;
    // Signed out: the token is refused, a refresh too, and the headers are empty.
    let e = settled(|done| c.access_token_then(done)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::SignedOut);
    let e = settled(|done| c.refresh_then(done)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::SignedOut);
    c.set_tokens_json(TOKENS).unwrap();
    assert_eq!(
        settled(|done| c.access_token_then(done)).await.unwrap(),
        "at-1"
    );
    let page = web_sys::window().unwrap().location().origin().unwrap();
    let headers = settled(|done| c.authorization_headers_then(&page, "GET", done))
        .await
        .unwrap();
    assert_eq!(headers, vec![("Authorization", "Bearer at-1".to_string())]);
    // Started already: `when_started` answers at once.
    settled(|done| c.when_started(done)).await;
    settled(|done| c.sign_out_then(tokenward::SignOutOptions::default(), done)).await;
    assert_eq!(c.status(), Status::SignedOut);
}

#[wasm_bindgen_test]
async fn a_listener_removed_during_a_dispatch_is_not_called() {
    let c = TokenClient::new(options("listeners", StorageKind::Memory))
        .await
        .unwrap();
    let heard: Log = Rc::new(RefCell::new(Vec::new()));
    let second: Rc<RefCell<Option<tokenward::ListenerId>>> = Rc::new(RefCell::new(None));
    let (h, s, client) = (heard.clone(), second.clone(), c.clone());
    let first = c.on(EventKind::Change, move |_| {
        h.borrow_mut().push("a".to_string());
        if let Some(id) = s.borrow_mut().take() {
            client.off(id);
        }
    });
    let h = heard.clone();
    *second.borrow_mut() = Some(c.on(EventKind::Change, move |_| {
        h.borrow_mut().push("b".to_string())
    }));
    c.set_tokens_json(TOKENS).unwrap();
    c.set_tokens_json(TOKENS).unwrap();
    c.off(first);
    assert_eq!(*heard.borrow(), ["a", "a"]);
}

#[wasm_bindgen_test]
async fn a_record_sign_out_cannot_remove_is_overwritten_or_reported() {
    let patch = |what: &str| {
        js_sys::Function::new_no_args(&format!(
            "window.__{what} = Storage.prototype.{what}; Storage.prototype.{what} = function () {{ throw new DOMException('no', 'SecurityError'); }};"
        ))
        .call0(&JsValue::UNDEFINED)
        .unwrap();
    };
    let unpatch = |what: &str| {
        js_sys::Function::new_no_args(&format!("Storage.prototype.{what} = window.__{what};"))
            .call0(&JsValue::UNDEFINED)
            .unwrap();
    };
    // removeItem throws: the marker takes the record's place, and a reload has no session.
    let mut o = options("stuck", StorageKind::Session);
    let log = record_events(&mut o);
    let c = TokenClient::new(o).await.unwrap();
    c.set_tokens_json(TOKENS).unwrap();
    patch("removeItem");
    c.sign_out(false).await;
    unpatch("removeItem");
    assert!(of_kind(&log, "error").is_empty());
    let stored = session().get_item(&key("stuck")).unwrap().unwrap();
    assert!(!stored.contains("rt-1"));
    let again = TokenClient::new(options("stuck", StorageKind::Session))
        .await
        .unwrap();
    assert_eq!(again.status(), Status::SignedOut);
    // setItem throws too: the record stays, and the app hears of it.
    let mut o = options("stuck", StorageKind::Session);
    let log = record_events(&mut o);
    let c = TokenClient::new(o).await.unwrap();
    c.set_tokens_json(TOKENS).unwrap();
    patch("removeItem");
    patch("setItem");
    c.sign_out(false).await;
    unpatch("setItem");
    unpatch("removeItem");
    assert_eq!(of_kind(&log, "error"), ["error:storage"]);
    assert_eq!(c.status(), Status::SignedOut);
    session().remove_item(&key("stuck")).unwrap();
}
