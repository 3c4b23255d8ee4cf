//! The browser shell: performs the I/O the core asks for and feeds the results back.
//!
//! One small module per browser capability (after gloo), no policy inside: storage,
//! timers, HTTP, tabs, page lifecycle. [`client::TokenClient`] ties them to the core.

pub mod client;
pub mod http;
pub mod lifecycle;
pub mod signin;
pub mod storage;
pub mod tabs;
pub mod timer;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, looked up at each call (so test doubles and polyfills apply).
    #[wasm_bindgen(js_name = fetch)]
    pub(crate) fn global_fetch(request: &web_sys::Request) -> js_sys::Promise;
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
        (Some(name), Some(message)) => format!("{name}: {message}"),
        _ => err
            .as_string()
            .unwrap_or_else(|| "unknown error".to_string()),
    }
}
