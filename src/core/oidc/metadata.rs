//! RFC 8414 authorization server metadata: where it is for an issuer, the endpoints it
//! adds that the OpenID document lacks, and the order of the discovery requests
//! ([`Discovering`]).

use super::discovery::{discovery_url, Discovery};
use super::is_http_url;
use crate::core::error::{cat, Error};
use crate::core::json::Json;
use crate::prelude::*;

/// The RFC 8414 §3 authorization server metadata URLs to try, in order, for an issuer:
/// the well-known segment goes between the host and the issuer's path
/// (`https://as.example/.well-known/oauth-authorization-server/tenant`); for an issuer
/// with a path, the form some servers also serve, the issuer followed by the segment
/// (`https://as.example/tenant/.well-known/oauth-authorization-server`), comes second.
/// Empty for something that is not an absolute http(s) URL.
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
    if !is_http_url(issuer) {
        return Vec::new();
    }
    let issuer = crate::core::ascii::trim_end(issuer, b'/');
    // Bytes, not `str::find` or slicing by `split_at`: those pull panicking paths and the
    // formatting machinery (Unicode tables, about 6 KB gzip) into the wasm.
    let https = issuer
        .as_bytes()
        .get(..8)
        .is_some_and(|h| h.eq_ignore_ascii_case(b"https://"));
    let after_scheme = if https { 8 } else { 7 };
    // The authority ends at the first `/` (a query in an issuer is not allowed, §2).
    let path_start = issuer
        .bytes()
        .skip(after_scheme)
        .position(|b| b == b'/')
        .map(|i| i.saturating_add(after_scheme));
    match path_start {
        Some(path_start) => match (issuer.get(..path_start), issuer.get(path_start..)) {
            (Some(origin), Some(path)) => {
                vec![cat(&[origin, WELL_KNOWN, path]), cat(&[issuer, WELL_KNOWN])]
            }
            _ => Vec::new(),
        },
        None => vec![cat(&[issuer, WELL_KNOWN])],
    }
}

/// What an RFC 8414 metadata answer did to a [`Discovery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataOutcome {
    /// The document was read: its issuer matched, and these endpoints were taken from it.
    Merged(Discovery),
    /// The document could not be used (not there, not JSON, another issuer); the reason,
    /// for diagnostics. The next URL, if any, may still be tried.
    Unusable(&'static str),
}

impl Discovery {
    /// Whether the OpenID document lacks an endpoint the client can use that RFC 8414
    /// metadata may have (today `revocation_endpoint`, RFC 8414 §2): then the shell reads
    /// [`metadata_urls`] one after another, feeding each answer to [`Discovery::with_metadata`].
    pub fn wants_metadata(&self) -> bool {
        self.revocation_endpoint.is_none()
    }

    /// Fills the endpoints this document lacks from an RFC 8414 metadata answer. The
    /// answer is used only when it is a 200 JSON object whose `issuer` is identical to
    /// this one (RFC 8414 §3.3); endpoints already known are never replaced, and a value
    /// that is not an http(s) URL is ignored.
    pub fn with_metadata(&self, status: u16, body: &str) -> MetadataOutcome {
        if !(200..=299).contains(&status) {
            return MetadataOutcome::Unusable("not a 2xx answer");
        }
        let doc = match Json::parse(body) {
            Ok(doc @ Json::Obj(_)) => doc,
            _ => return MetadataOutcome::Unusable("not a JSON object"),
        };
        match doc.get("issuer").and_then(Json::as_str) {
            Some(issuer) if issuer == self.issuer => {}
            _ => return MetadataOutcome::Unusable("it names another issuer"),
        }
        let endpoint = |name: &str| {
            doc.get(name)
                .and_then(Json::as_str)
                .filter(|s| is_http_url(s))
                .map(str::to_string)
        };
        let mut merged = self.clone();
        if merged.revocation_endpoint.is_none() {
            merged.revocation_endpoint = endpoint("revocation_endpoint");
        }
        if !merged.iss_parameter_supported {
            merged.iss_parameter_supported = matches!(
                doc.get("authorization_response_iss_parameter_supported"),
                Some(Json::Bool(true))
            );
        }
        MetadataOutcome::Merged(merged)
    }
}

/// The discovery requests, in order, and what their answers mean: the OpenID document
/// first; then, when it lacks an endpoint ([`Discovery::wants_metadata`]), the RFC 8414
/// [`metadata_urls`] one after another until one is usable. The shell fetches
/// [`Discovering::next_url`] and feeds the answer to [`Discovering::answer`] until that
/// gives the result: one request site, every decision here.
#[derive(Debug, Clone)]
pub struct Discovering {
    issuer: String,
    /// The OpenID document, once read.
    found: Option<Discovery>,
    /// The URLs to fetch, in order, and the index of the next one.
    to_fetch: Vec<String>,
    next: usize,
}

impl Discovering {
    /// Starts with the OpenID document of `issuer`.
    pub fn new(issuer: &str) -> Discovering {
        Discovering {
            issuer: issuer.to_string(),
            found: None,
            to_fetch: vec![discovery_url(issuer)],
            next: 0,
        }
    }

    /// The URL to fetch next.
    pub fn next_url(&self) -> Option<&str> {
        self.to_fetch.get(self.next).map(String::as_str)
    }

    /// The answer to [`Discovering::next_url`] (status and body, or why it could not be
    /// fetched). `Ok(Some(_))` is the result; `Ok(None)`: fetch the next URL. The OpenID
    /// document's failures are the result's ([`Discovery::from_answer`]); a metadata
    /// answer that cannot be used only moves on to the next URL, and after the last one
    /// the OpenID document is the result as it was.
    pub fn answer(
        &mut self,
        answer: Result<(u16, &str), Error>,
    ) -> Result<Option<Discovery>, Error> {
        self.next = self.next.saturating_add(1);
        let discovery = match self.found.take() {
            None => {
                let (status, body) = answer?;
                let d = Discovery::from_answer(status, body, &self.issuer)?;
                if d.wants_metadata() {
                    self.to_fetch = metadata_urls(&self.issuer);
                    self.next = 0;
                }
                d
            }
            Some(d) => match answer.map(|(status, body)| d.with_metadata(status, body)) {
                Ok(MetadataOutcome::Merged(merged)) => {
                    self.next = self.to_fetch.len();
                    merged
                }
                _ => d,
            },
        };
        if self.next >= self.to_fetch.len() {
            return Ok(Some(discovery));
        }
        self.found = Some(discovery);
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use crate::core::oidc::testing::*;
    use crate::core::oidc::*;

    #[test]
    fn rfc8414_3_well_known_segment_goes_between_host_and_path() {
        assert_eq!(
            metadata_urls("https://as.example.com"),
            ["https://as.example.com/.well-known/oauth-authorization-server"]
        );
        assert_eq!(
            metadata_urls("https://as.example.com/"),
            ["https://as.example.com/.well-known/oauth-authorization-server"]
        );
        assert_eq!(
            metadata_urls("http://127.0.0.1:8000/o"),
            [
                "http://127.0.0.1:8000/.well-known/oauth-authorization-server/o",
                "http://127.0.0.1:8000/o/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            metadata_urls("https://as.example.com/issuer1/tenant"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/issuer1/tenant",
                "https://as.example.com/issuer1/tenant/.well-known/oauth-authorization-server",
            ]
        );
        assert!(metadata_urls("not a url").is_empty());
        assert!(metadata_urls("ftp://as.example.com").is_empty());
    }

    #[test]
    fn rfc8414_metadata_fills_only_missing_endpoints_of_the_same_issuer() {
        let oidc = Discovery::parse(&doc(""), ISSUER).unwrap();
        assert!(oidc.wants_metadata());
        let meta = format!(
            r#"{{"issuer":"{ISSUER}","token_endpoint":"https://elsewhere.example/token","revocation_endpoint":"{ISSUER}/revoke","authorization_response_iss_parameter_supported":true}}"#
        );
        let MetadataOutcome::Merged(merged) = oidc.with_metadata(200, &meta) else {
            panic!("the same issuer's metadata is used");
        };
        assert_eq!(
            merged.revocation_endpoint.as_deref(),
            Some("https://op.example.com/revoke")
        );
        assert_eq!(
            merged.token_endpoint, "https://op.example.com/token",
            "known endpoints stay"
        );
        assert!(merged.iss_parameter_supported);
        assert!(!merged.wants_metadata());

        // A revocation endpoint in the OpenID document is never replaced.
        let full = Discovery::parse(
            &doc(r#","revocation_endpoint":"https://op.example.com/rev""#),
            ISSUER,
        )
        .unwrap();
        assert!(!full.wants_metadata());
        let MetadataOutcome::Merged(kept) = full.with_metadata(200, &meta) else {
            panic!("merged");
        };
        assert_eq!(
            kept.revocation_endpoint.as_deref(),
            Some("https://op.example.com/rev")
        );

        // Another issuer, no document, not JSON, a non-URL endpoint.
        for (status, body) in [
            (200, meta.replace(ISSUER, "https://evil.example")),
            (
                200,
                r#"{"revocation_endpoint":"https://op.example.com/revoke"}"#.to_string(),
            ),
            (404, meta.clone()),
            (500, String::new()),
            (200, "<html>".to_string()),
            (200, "[]".to_string()),
        ] {
            assert!(
                matches!(
                    oidc.with_metadata(status, &body),
                    MetadataOutcome::Unusable(_)
                ),
                "{status} {body}"
            );
        }
        let MetadataOutcome::Merged(no_url) = oidc.with_metadata(
            200,
            &format!(r#"{{"issuer":"{ISSUER}","revocation_endpoint":"javascript:x"}}"#),
        ) else {
            panic!("merged");
        };
        assert_eq!(no_url.revocation_endpoint, None);
    }

    #[test]
    fn discovery_requests_fall_back_to_rfc8414_metadata_in_order() {
        let issuer = "https://as.example.com/o";
        let oidc = format!(
            r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/auth","token_endpoint":"{issuer}/token"}}"#
        );
        let meta = format!(r#"{{"issuer":"{issuer}","revocation_endpoint":"{issuer}/revoke"}}"#);

        // The OpenID document lacks revocation: the path form first, then the suffixed form.
        let mut d = Discovering::new(issuer);
        assert_eq!(
            d.next_url(),
            Some("https://as.example.com/o/.well-known/openid-configuration")
        );
        assert_eq!(d.answer(Ok((200, &oidc))).unwrap(), None);
        assert_eq!(
            d.next_url(),
            Some("https://as.example.com/.well-known/oauth-authorization-server/o")
        );
        assert_eq!(d.answer(Ok((404, ""))).unwrap(), None);
        assert_eq!(
            d.next_url(),
            Some("https://as.example.com/o/.well-known/oauth-authorization-server")
        );
        let done = d.answer(Ok((200, &meta))).unwrap().unwrap();
        assert_eq!(
            done.revocation_endpoint.as_deref(),
            Some("https://as.example.com/o/revoke")
        );

        // The first usable document ends it.
        let mut d = Discovering::new(issuer);
        d.answer(Ok((200, &oidc))).unwrap();
        let done = d.answer(Ok((200, &meta))).unwrap().unwrap();
        assert!(done.revocation_endpoint.is_some());
        assert_eq!(d.next_url(), None);

        // Unreachable or foreign metadata: the OpenID document as it was.
        let mut d = Discovering::new(issuer);
        d.answer(Ok((200, &oidc))).unwrap();
        assert_eq!(d.answer(Err(Error::network("down"))).unwrap(), None);
        let done = d
            .answer(Ok((200, &meta.replace(issuer, "https://evil.example"))))
            .unwrap()
            .unwrap();
        assert_eq!(done.revocation_endpoint, None);
        assert_eq!(done.token_endpoint, "https://as.example.com/o/token");

        // A complete OpenID document needs no second request; its failures are the result.
        let mut d = Discovering::new(ISSUER);
        let full = doc(r#","revocation_endpoint":"https://op.example.com/rev""#);
        assert!(d.answer(Ok((200, &full))).unwrap().is_some());
        assert_eq!(
            Discovering::new(ISSUER)
                .answer(Ok((404, "")))
                .unwrap_err()
                .code,
            ErrorCode::InvalidDiscovery
        );
        assert_eq!(
            Discovering::new(ISSUER)
                .answer(Err(Error::network("down")))
                .unwrap_err()
                .code,
            ErrorCode::Network
        );
    }
}
