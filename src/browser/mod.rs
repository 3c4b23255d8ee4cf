//! The browser shell: performs the I/O the core asks for and feeds the results back.
//!
//! One small module per browser capability (after gloo), no policy inside: storage,
//! timers, HTTP, tabs, page lifecycle. [`client::TokenClient`] ties them to the core.

use crate::prelude::*;
pub(crate) mod answer;
pub mod client;
pub(crate) mod dpop;
pub mod http;
pub mod options;
pub(crate) mod page;
pub(crate) mod provider;
pub mod shell;
pub mod signin;
pub mod storage;

use wasm_bindgen::prelude::*;

pub use http::set_sender;

/// What a step of a flow calls when it is done: the shell is written with callbacks, not
/// Rust futures (see DESIGN.md).
pub type Done<T> = Box<dyn FnOnce(T)>;

#[wasm_bindgen(module = "/js/shell.js")]
extern "C" {
    #[wasm_bindgen(js_name = field)]
    fn field_js(err: &JsValue, name: &str) -> Option<String>;
    #[wasm_bindgen(js_name = str)]
    fn str_js(value: &JsValue) -> Option<String>;
}

/// `value` when it is a string, read by `js/shell.js`'s `str` instead of
/// `JsValue::as_string`, whose glue intrinsic brings in `Box<[u8]>`'s conversion and
/// `Vec::into_boxed_slice` (DESIGN.md, Size).
pub(crate) fn text(value: &JsValue) -> Option<String> {
    str_js(value)
}

/// A short, secret-free description of a JS exception (its name and message).
pub(crate) fn describe(err: &JsValue) -> String {
    // Read by name, not `instanceof Error`: errors from another frame count too.
    match (field(err, "name"), field(err, "message")) {
        (Some(name), Some(message)) => crate::core::error::cat(&[&name, ": ", &message]),
        _ => text(err).unwrap_or_else(|| "unknown error".to_string()),
    }
}

/// The string member `name` of a thrown value, if it has one (`js/shell.js`'s `field`).
pub(crate) fn field(err: &JsValue, name: &str) -> Option<String> {
    field_js(err, name)
}
