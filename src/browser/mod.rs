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

#[wasm_bindgen]
extern "C" {
    /// A string or a `Uint8Array`, read through one `length` import for both (js-sys's
    /// `JsString` and `Uint8Array` each bring their own).
    pub(crate) type Indexed;
    /// Its `length`: UTF-16 units for a string, bytes for a `Uint8Array`.
    #[wasm_bindgen(method, getter)]
    pub(crate) fn length(this: &Indexed) -> u32;
    /// Byte `i` of a `Uint8Array`.
    #[wasm_bindgen(method, indexing_getter)]
    pub(crate) fn byte(this: &Indexed, i: u32) -> u8;
}

/// The length of `value` when it is a string (UTF-16 units), `None` otherwise.
pub(crate) fn text_length(value: &JsValue) -> Option<usize> {
    value
        .is_string()
        .then(|| value.unchecked_ref::<Indexed>().length() as usize)
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
