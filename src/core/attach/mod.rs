//! Which requests receive the token.
//!
//! The browser's URL parser resolves and normalises every URL first (userinfo, `//host`,
//! backslashes, case, default ports, IDN, dot segments); the core then compares the
//! results exactly: the origin (scheme, host and port) must be equal to an `attachTo`
//! entry's, and the path must start with the entry's path as written: `/api/` covers
//! `/api/x` but not `/api`; `/api` covers `/api` and `/api/x` but not `/apix`. The part
//! of the path after the prefix must not hold an encoded separator (`%2f`, `%5c`, `%2e`,
//! also double-encoded), which a server may decode into a path outside the prefix.
//!
//! Tokens and token requests only travel over `https:`, except to loopback hosts
//! (RFC 6750 §5.3, RFC 8414 §2): see [`secure_transport`].

use super::error::Error;
#[cfg(test)]
use super::error::ErrorCode;
use super::form::percent_decode_bytes;
use crate::prelude::*;

/// One `attachTo` entry: an origin and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachRule {
    origin: String,
    prefix: String,
}

/// The parts of a URL after the browser's parser has normalised it.
#[derive(Debug, Clone, Copy)]
pub struct ParsedUrl<'a> {
    /// `url.protocol`, e.g. `"https:"`.
    pub protocol: &'a str,
    /// `url.origin`, e.g. `"https://api.example.com:8443"`.
    pub origin: &'a str,
    /// `url.pathname`, e.g. `"/v1/users"`.
    pub pathname: &'a str,
    /// Whether `url.username` or `url.password` is set.
    pub has_credentials: bool,
    /// Whether `url.search` or `url.hash` is set.
    pub has_query_or_fragment: bool,
    /// `url.hostname`, e.g. `"api.example.com"`, `"127.0.0.1"`, `"[::1]"`.
    pub hostname: &'a str,
}

/// Whether `hostname` (as the browser's URL parser writes it) is a loopback host:
/// `localhost`, an address in `127.0.0.0/8`, or `[::1]`.
pub fn is_loopback_host(hostname: &str) -> bool {
    let h = hostname.strip_suffix('.').unwrap_or(hostname);
    if h.eq_ignore_ascii_case("localhost") || h == "[::1]" {
        return true;
    }
    let Some(rest) = h.strip_prefix("127.") else {
        return false;
    };
    // Three more octets of one to three digits, each at most 255; read byte by byte.
    let (mut octets, mut value, mut digits) = (0u8, 0u16, 0u8);
    for &b in rest.as_bytes().iter().chain(b".") {
        if b == b'.' {
            if digits == 0 || value > 255 || octets == 3 {
                return false;
            }
            octets += 1;
            value = 0;
            digits = 0;
        } else if b.is_ascii_digit() && digits < 3 {
            value = value * 10 + u16::from(b - b'0');
            digits += 1;
        } else {
            return false;
        }
    }
    octets == 3
}

/// Whether a URL with this `protocol` and `hostname` may carry tokens or token requests:
/// `https:`, or `http:` to a loopback host.
pub fn secure_transport(protocol: &str, hostname: &str) -> bool {
    protocol == "https:" || (protocol == "http:" && is_loopback_host(hostname))
}

/// `invalid_options` naming `option` unless [`secure_transport`] holds. The message names
/// the option only, never its value.
pub fn require_secure(option: &str, protocol: &str, hostname: &str) -> Result<(), Error> {
    if secure_transport(protocol, hostname) {
        Ok(())
    } else {
        Err(Error::option(
            option,
            "` must be an https: URL (http: only for localhost, 127.0.0.0/8 or [::1])",
        ))
    }
}

/// `invalid_options` naming `option` unless a URL that tokens or token requests travel to
/// may be used: [`require_secure`], and no user name or password in it (`fetch` refuses
/// a URL with them, so such an option could never work).
pub fn require_endpoint(option: &str, url: ParsedUrl<'_>) -> Result<(), Error> {
    if url.has_credentials {
        return Err(Error::option(
            option,
            "` must not carry a user name or password",
        ));
    }
    require_secure(option, url.protocol, url.hostname)
}

/// Whether an `attachTo` entry's path, as written, reads as what the browser's parser
/// makes of it: no dot segment (`.`, `..`), no backslash and no encoded `.`, `/` or `\`
/// (`https://api.example.com/v1/%2e%2e/` is the whole origin once parsed). A prefix is
/// matched as written, so it must read as what it covers.
pub fn written_plainly(entry: &str) -> bool {
    let rest = after_scheme(entry)
        .and_then(|i| entry.get(i..))
        .unwrap_or("");
    let path = crate::core::ascii::find(rest, b"/\\")
        .and_then(|i| rest.get(i..))
        .unwrap_or("");
    let path = crate::core::ascii::before(path, b"?#");
    !(crate::core::ascii::pieces(path, b'/').any(|p| p == "." || p == "..")
        || crate::core::ascii::has(path.as_bytes(), b'\\')
        || has_encoded_separator(path))
}

/// Where what follows the first `://` of `url` starts. Bytes, not `str::split_once`: a
/// substring search pulls the two-way searcher and panicking paths (about 6 KB) into the
/// wasm.
pub fn after_scheme(url: &str) -> Option<usize> {
    url.as_bytes()
        .windows(3)
        .position(|w| w == b"://")
        .map(|i| i + 3)
}

/// The host of an absolute http(s) URL given as text (e.g. in a discovery document),
/// without userinfo and port, lowercased; `None` when it has none.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.get(after_scheme(url)?..)?;
    let authority = crate::core::ascii::before(rest, b"/?#\\");
    // After the last `@` (userinfo may hold more); bytes, not `rsplit`, which is larger.
    let host_port = match authority.bytes().rposition(|b| b == b'@') {
        Some(at) => authority.get(at + 1..)?,
        None => authority,
    };
    let host = if host_port.starts_with('[') {
        let end = crate::core::ascii::find(host_port, b"]")?;
        host_port.get(..=end)?
    } else {
        crate::core::ascii::before(host_port, b":")
    };
    if host.is_empty() {
        None
    } else {
        Some(host.to_ascii_lowercase())
    }
}

/// Whether an absolute http(s) URL given as text uses a secure transport (see
/// [`secure_transport`]).
pub fn secure_url_text(url: &str) -> bool {
    let scheme = after_scheme(url)
        .and_then(|i| url.get(..i - 3))
        .map(str::to_ascii_lowercase);
    match scheme.as_deref() {
        Some("https") => true,
        Some("http") => host_of(url).is_some_and(|h| is_loopback_host(&h)),
        _ => false,
    }
}

fn has_raw_encoded_separator(b: &[u8]) -> bool {
    b.windows(3).any(|w| match w {
        [b'%', h, l] => {
            matches!(
                (h.to_ascii_lowercase(), l.to_ascii_lowercase()),
                (b'2', b'f') | (b'5', b'c') | (b'2', b'e')
            )
        }
        _ => false,
    })
}

/// Whether `path` holds an encoded `/`, `\` or `.` (`%2f`, `%5c`, `%2e` in any case),
/// also when encoded more than once (`%252f`, `%25%32%66`).
pub fn has_encoded_separator(path: &str) -> bool {
    let mut current = path.as_bytes().to_vec();
    // Each round removes one level of encoding; a few levels are plenty, and anything
    // that still holds `%25` after them is refused too.
    for _ in 0..4 {
        if has_raw_encoded_separator(&current) {
            return true;
        }
        if !crate::core::ascii::has(&current, b'%') {
            return false;
        }
        let decoded = percent_decode_bytes(&current, false);
        if decoded == current {
            return false;
        }
        current = decoded;
    }
    crate::core::ascii::has(&current, b'%')
}

impl AttachRule {
    /// Makes a rule from an `attachTo` entry parsed by the browser. It must be an
    /// absolute https URL (http only for a loopback host) without credentials, query or
    /// fragment.
    pub fn new(entry: ParsedUrl<'_>) -> Result<AttachRule, Error> {
        if !matches!(entry.protocol, "http:" | "https:") {
            return Err(Error::options(
                "an `attachTo` entry must be an http(s) origin or prefix",
            ));
        }
        require_secure("attachTo", entry.protocol, entry.hostname)?;
        AttachRule::any_transport(entry)
    }

    /// The rule for the default `attachTo`, the page's own origin: allowed over plain
    /// http too, because the page itself came over that transport — attaching the token
    /// to requests back to the page's own server exposes nothing the page did not
    /// already expose. An explicit `attachTo` entry must use [`AttachRule::new`].
    pub fn page_origin(entry: ParsedUrl<'_>) -> Result<AttachRule, Error> {
        if !matches!(entry.protocol, "http:" | "https:") {
            return Err(Error::options("the page's origin is not http(s)"));
        }
        AttachRule::any_transport(entry)
    }

    fn any_transport(entry: ParsedUrl<'_>) -> Result<AttachRule, Error> {
        if entry.has_credentials || entry.has_query_or_fragment || entry.origin == "null" {
            return Err(Error::options(
                "an `attachTo` entry must be an origin or an origin + path prefix, without user, query or fragment",
            ));
        }
        // The origin alone (path `/`) covers every path; any other prefix is kept as written.
        let prefix = if entry.pathname == "/" {
            ""
        } else {
            entry.pathname
        };
        Ok(AttachRule {
            origin: entry.origin.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// Whether a request to `url` may carry the token under this rule.
    pub fn matches(&self, url: ParsedUrl<'_>) -> bool {
        if !matches!(url.protocol, "http:" | "https:")
            || url.has_credentials
            || url.origin != self.origin
        {
            return false;
        }
        let Some(rest) = url.pathname.strip_prefix(self.prefix.as_str()) else {
            return false;
        };
        let boundary = self.prefix.is_empty()
            || self.prefix.ends_with('/')
            || rest.is_empty()
            || rest.starts_with('/');
        boundary && !has_encoded_separator(rest)
    }
}

/// Whether any rule lets `url` carry the token.
pub fn allowed(rules: &[AttachRule], url: ParsedUrl<'_>) -> bool {
    rules.iter().any(|r| r.matches(url))
}

#[cfg(test)]
mod tests;
