//! The page's side of the shell, performed by `js/shell.js`: the browser's URL parser, the
//! page's address (read, navigate, drop the authorization response from it) and random
//! bytes. One call per operation; nothing is decided here.

use crate::core::attach::ParsedUrl;
use crate::core::oidc;
use crate::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/shell.js")]
extern "C" {
    #[wasm_bindgen(js_name = url)]
    fn url_js(text: &str, relative: bool) -> Option<String>;
    #[wasm_bindgen(js_name = href)]
    fn href_js() -> Option<String>;
    #[wasm_bindgen(js_name = assign, catch)]
    fn assign_js(to: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = dropParams, catch)]
    fn drop_params_js(names: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = random, catch)]
    fn random_js(n: u32) -> Result<JsValue, JsValue>;
}

/// A URL as the browser's parser read it.
pub(crate) struct Url {
    /// The normalised URL.
    pub(crate) href: String,
    /// e.g. `https:`.
    pub(crate) protocol: String,
    /// The host without the port.
    pub(crate) hostname: String,
    /// `scheme://host[:port]`.
    pub(crate) origin: String,
    /// The path.
    pub(crate) pathname: String,
    /// Whether it has a user name or password.
    pub(crate) credentials: bool,
    /// Whether it has a query or fragment.
    pub(crate) query_or_fragment: bool,
}

impl Url {
    /// Parses `text`, relative to the page with `relative`; `None` when it is not a URL.
    pub(crate) fn parse(text: &str, relative: bool) -> Option<Url> {
        Some(Url::from_described(&Described::read(&url_js(
            text, relative,
        )?)))
    }

    /// The URL a description carries (`js/shell.js`'s `parts`).
    pub(crate) fn from_described(d: &Described<'_>) -> Url {
        let u = &d.url;
        Url {
            href: d.href.to_string(),
            protocol: u.protocol.to_string(),
            hostname: u.hostname.to_string(),
            origin: u.origin.to_string(),
            pathname: u.pathname.to_string(),
            credentials: u.has_credentials,
            query_or_fragment: u.has_query_or_fragment,
        }
    }

    /// The parts the core's attach rules read.
    pub(crate) fn parts(&self) -> ParsedUrl<'_> {
        ParsedUrl {
            hostname: &self.hostname,
            protocol: &self.protocol,
            origin: &self.origin,
            pathname: &self.pathname,
            has_credentials: self.credentials,
            has_query_or_fragment: self.query_or_fragment,
        }
    }
}

/// A URL as the browser's parser read it (`js/shell.js`'s `parts`), or a request of
/// `auth.fetch` as `js/client.js` describes it, in one string (one crossing into the
/// wasm): fields ended by a line feed, which the URL parser never leaves in a URL and no
/// method has. They are the URL's protocol, hostname, origin and pathname as `new URL`
/// reads them, `1` or `0` for a user or password, `1` or `0` for a query or fragment, then
/// the href and (for a request) the method.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) struct Described<'a> {
    /// The parts the core's attach rules read.
    pub(crate) url: ParsedUrl<'a>,
    /// The normalised URL.
    pub(crate) href: &'a str,
    /// The request's method.
    pub(crate) method: &'a str,
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
impl<'a> Described<'a> {
    /// Reads a description; missing fields read as empty (such a URL matches no rule).
    pub(crate) fn read(text: &'a str) -> Described<'a> {
        let mut rest = text;
        let mut next = || {
            let (field, tail) = crate::core::ascii::cut(rest, b'\n').unwrap_or((rest, ""));
            rest = tail;
            field
        };
        let (protocol, hostname, origin, pathname) = (next(), next(), next(), next());
        let (has_credentials, has_query_or_fragment) = (next() != "0", next() != "0");
        Described {
            url: ParsedUrl {
                hostname,
                protocol,
                origin,
                pathname,
                has_credentials,
                has_query_or_fragment,
            },
            href: next(),
            method: next(),
        }
    }
}

/// The page's URL; `None` without a window.
pub(crate) fn href() -> Option<String> {
    href_js()
}

/// Sends the page to `to`; fails with what the browser threw.
pub(crate) fn assign(to: &str) -> Result<(), JsValue> {
    assign_js(to)
}

/// Removes the authorization response's parameters from the address bar.
pub(crate) fn drop_response_params() {
    let _ = drop_params_js(oidc::RESPONSE_PARAM_LIST);
}

/// `n` bytes from `crypto.getRandomValues`; fails with what the browser threw.
pub(crate) fn random(n: u32) -> Result<Vec<u8>, JsValue> {
    random_js(n).map(|b| super::answer::bytes(&b))
}

#[cfg(test)]
mod tests {
    use super::Described;

    #[test]
    fn a_described_request_reads_back_field_by_field() {
        let d = Described::read(
            "https:\napi.example.com\nhttps://api.example.com:8443\n/v1/a b\n0\n1\nhttps://api.example.com:8443/v1/a%20b?q\nPOST",
        );
        assert_eq!(d.url.protocol, "https:");
        assert_eq!(d.url.hostname, "api.example.com");
        assert_eq!(d.url.origin, "https://api.example.com:8443");
        assert_eq!(d.url.pathname, "/v1/a b");
        assert!(!d.url.has_credentials);
        assert!(d.url.has_query_or_fragment);
        assert_eq!(d.href, "https://api.example.com:8443/v1/a%20b?q");
        assert_eq!(d.method, "POST");
        // A short description: the missing fields are empty, the flags set (no rule
        // matches an empty origin, and a set flag never widens a match).
        let short = Described::read("https:\nh");
        assert_eq!((short.url.origin, short.url.pathname), ("", ""));
        assert!(short.url.has_credentials && short.url.has_query_or_fragment);
        assert_eq!((short.href, short.method), ("", ""));
    }
}
