//! The browser shell: performs the I/O the core asks for and feeds the results back.
//!
//! One small module per browser capability (after gloo), no policy inside: storage,
//! timers, HTTP, tabs, page lifecycle. [`client::TokenClient`] ties them to the core.

pub mod client;
pub(crate) mod dpop;
pub mod http;
pub mod options;
pub(crate) mod provider;
pub mod shell;
pub mod signin;
pub mod storage;
pub mod timer;

use wasm_bindgen::prelude::*;

/// A boxed future: its state machine exists once in the wasm, however many flows await
/// it (an `async fn` awaited from several places is otherwise inlined into each).
pub type Boxed<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, looked up at each call (so test doubles and polyfills apply);
    /// `catch`, because a wrapper may throw synchronously.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn fetch_catching(request: &web_sys::Request) -> Result<js_sys::Promise, JsValue>;
}

thread_local! {
    static SENDER: std::cell::RefCell<Option<js_sys::Function>> =
        const { std::cell::RefCell::new(None) };
}

/// Replaces the global `fetch` lookup with `send(request)`: the npm package's JS layer
/// hands one over that marks tokenward's own requests, so that `window.fetch = auth.fetch`
/// (or any wrapper around it) does not send them round in a loop.
pub fn set_sender(send: js_sys::Function) {
    SENDER.with(|s| *s.borrow_mut() = Some(send));
}

/// Sends `request`: always a promise, never a JS exception through Rust frames (a throw,
/// or a non-promise result, becomes a rejected or resolved promise).
pub(crate) fn global_fetch(request: &web_sys::Request) -> js_sys::Promise {
    let sender = SENDER.with(|s| s.borrow().clone());
    let result = match sender {
        Some(send) => send.call1(&JsValue::UNDEFINED, request),
        None => fetch_catching(request).map(JsValue::from),
    };
    match result {
        Ok(v) => match v.dyn_into::<js_sys::Promise>() {
            Ok(p) => p,
            Err(v) => js_sys::Promise::resolve(&v),
        },
        Err(e) => js_sys::Promise::reject(&e),
    }
}

/// A short, secret-free description of a JS exception (its name and message).
pub(crate) fn describe(err: &JsValue) -> String {
    // Read by name, not `instanceof Error`: errors from another frame count too.
    let field = |k: &str| {
        js_sys::Reflect::get(err, &JsValue::from_str(k))
            .ok()
            .and_then(|v| v.as_string())
    };
    match (field("name"), field("message")) {
        (Some(name), Some(message)) => crate::core::error::cat(&[&name, ": ", &message]),
        _ => err
            .as_string()
            .unwrap_or_else(|| "unknown error".to_string()),
    }
}
