//! Which requests receive the token.
//!
//! The browser's URL parser resolves and normalises every URL first (userinfo, `//host`,
//! backslashes, case, default ports, IDN, dot segments); the core then compares the
//! results exactly: the origin (scheme, host and port) must be equal to an `attachTo`
//! entry's, and the path must start with the entry's path at a `/` boundary.

use super::error::Error;

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
}

impl AttachRule {
    /// Makes a rule from an `attachTo` entry parsed by the browser. It must be an
    /// absolute http(s) URL without credentials, query or fragment.
    pub fn new(entry: ParsedUrl<'_>) -> Result<AttachRule, Error> {
        if !matches!(entry.protocol, "http:" | "https:") {
            return Err(Error::options(
                "an `attachTo` entry must be an http(s) origin or prefix",
            ));
        }
        if entry.has_credentials || entry.has_query_or_fragment || entry.origin == "null" {
            return Err(Error::options(
                "an `attachTo` entry must be an origin or an origin + path prefix, without user, query or fragment",
            ));
        }
        let prefix = entry.pathname.strip_suffix('/').unwrap_or(entry.pathname);
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
        if self.prefix.is_empty() {
            return true;
        }
        match url.pathname.strip_prefix(self.prefix.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

/// Whether any rule lets `url` carry the token.
pub fn allowed(rules: &[AttachRule], url: ParsedUrl<'_>) -> bool {
    rules.iter().any(|r| r.matches(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u<'a>(origin: &'a str, pathname: &'a str) -> ParsedUrl<'a> {
        let protocol = if origin.starts_with("https:") {
            "https:"
        } else {
            "http:"
        };
        ParsedUrl {
            protocol,
            origin,
            pathname,
            has_credentials: false,
            has_query_or_fragment: false,
        }
    }

    #[test]
    fn origin_must_be_equal() {
        let r = AttachRule::new(u("https://api.example.com", "/")).unwrap();
        assert!(r.matches(u("https://api.example.com", "/")));
        assert!(r.matches(u("https://api.example.com", "/anything/deep")));
        assert!(!r.matches(u("http://api.example.com", "/")));
        assert!(!r.matches(u("https://api.example.com:8443", "/")));
        assert!(!r.matches(u("https://api.example.com.evil.com", "/")));
    }

    #[test]
    fn prefix_matches_at_slash_boundary() {
        for entry in ["/v1", "/v1/"] {
            let r = AttachRule::new(u("https://a.com", entry)).unwrap();
            assert!(r.matches(u("https://a.com", "/v1")));
            assert!(r.matches(u("https://a.com", "/v1/")));
            assert!(r.matches(u("https://a.com", "/v1/users")));
            assert!(!r.matches(u("https://a.com", "/v10")));
            assert!(!r.matches(u("https://a.com", "/v1%2Fx")));
            assert!(!r.matches(u("https://a.com", "/")));
            assert!(!r.matches(u("https://a.com", "/V1")));
        }
    }

    #[test]
    fn credentials_and_odd_schemes_never_match() {
        let r = AttachRule::new(u("https://a.com", "/")).unwrap();
        let mut url = u("https://a.com", "/");
        url.has_credentials = true;
        assert!(!r.matches(url));
        let ws = ParsedUrl {
            protocol: "wss:",
            ..u("https://a.com", "/")
        };
        assert!(!r.matches(ws));
    }

    #[test]
    fn bad_entries_are_invalid_options() {
        let mut q = u("https://a.com", "/");
        q.has_query_or_fragment = true;
        assert!(AttachRule::new(q).is_err());
        assert!(AttachRule::new(ParsedUrl {
            protocol: "ftp:",
            ..u("https://a.com", "/")
        })
        .is_err());
        assert!(AttachRule::new(ParsedUrl {
            origin: "null",
            ..u("https://a.com", "/")
        })
        .is_err());
    }
}
