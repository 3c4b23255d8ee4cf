//! The client's options as the app gives them, and the browser's reading of the URLs in
//! them (relative ones resolve against the page; the browser's URL parser normalises).

use super::client::{Clock, Listener, RefreshFn};
use super::page::Url;
use super::storage::StorageKind;
use crate::core::attach::{self, AttachRule, ParsedUrl};
use crate::core::error::Error;
use crate::core::events::EventKind;
use crate::prelude::*;

/// Options for [`TokenClient::new`](crate::TokenClient::new); the README describes each one
/// (same names in camelCase in JS).
#[derive(Clone)]
pub struct Options {
    /// Where the session is kept.
    pub storage: StorageKind,
    /// Namespaces the storage record, the lock and the channel; `None`: derived from the
    /// issuer (or token endpoint) and client id (`tokenward:<hash>`), `tokenward` when
    /// neither is given.
    pub storage_key: Option<String>,
    /// The token endpoint for the refresh_token grant.
    pub token_endpoint: Option<String>,
    /// Sent as `client_id` with refresh and revocation requests.
    pub client_id: Option<String>,
    /// The app's own refresh function, instead of `token_endpoint`.
    pub refresh: Option<RefreshFn>,
    /// RFC 7009 revocation endpoint.
    pub revocation_endpoint: Option<String>,
    /// Origins or origin + path prefixes that receive the token; `None`: the page's origin.
    pub attach_to: Option<Vec<String>>,
    /// Refresh this long before expiry (never more than half the lifetime).
    pub refresh_lead_seconds: f64,
    /// `sessionEnding` fires this long before the session's end; default 60.
    pub session_ending_lead_seconds: f64,
    /// An app-given ceiling on the session's age, in seconds (`maxSessionAgeSeconds`).
    pub max_session_age_seconds: Option<f64>,
    /// Refresh once and retry once on a 401 from an attached URL.
    pub retry_on_401: bool,
    /// One refresh for all tabs, shared sign-out.
    pub cross_tab: bool,
    /// The clock; `None`: `Date.now`.
    pub now: Option<Clock>,
    /// Listeners attached before the session is restored.
    pub on: Vec<(EventKind, Listener)>,
    /// The OpenID Provider: endpoints not given explicitly come from its discovery
    /// document, fetched when first needed.
    pub issuer: Option<String>,
    /// Where `sign_in` sends the user, instead of the discovered one.
    pub authorization_endpoint: Option<String>,
    /// RP-Initiated Logout endpoint, instead of the discovered one.
    pub end_session_endpoint: Option<String>,
    /// The redirect URI; `None`: the page's URL without query and fragment.
    pub redirect_uri: Option<String>,
    /// The scope `sign_in` asks for; `None`: `openid`.
    pub scope: Option<String>,
    /// DPoP (RFC 9449) sender-constrained tokens; `None`: off.
    pub dpop: Option<crate::core::dpop::Mode>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            storage: StorageKind::Memory,
            storage_key: None,
            token_endpoint: None,
            client_id: None,
            refresh: None,
            revocation_endpoint: None,
            attach_to: None,
            refresh_lead_seconds: 60.0,
            session_ending_lead_seconds: 60.0,
            max_session_age_seconds: None,
            retry_on_401: true,
            cross_tab: true,
            now: None,
            on: Vec::new(),
            issuer: None,
            authorization_endpoint: None,
            end_session_endpoint: None,
            redirect_uri: None,
            scope: None,
            dpop: None,
        }
    }
}

/// Makes an attach rule from a parsed entry.
pub(crate) type MakeRule = fn(ParsedUrl<'_>) -> Result<AttachRule, Error>;

/// Parses a URL with the browser's parser, relative to the page.
pub(crate) fn parse_url(url: &str) -> Option<Url> {
    Url::parse(url, true)
}

/// An absolute http(s) URL option (relative ones resolve against the page), as the
/// browser normalises it; `invalid_options` otherwise.
pub(crate) fn url_option(name: &str, value: &Option<String>) -> Result<Option<String>, Error> {
    let Some(v) = value else { return Ok(None) };
    let url = parse_url(v).ok_or_else(|| Error::option(name, "` is not a URL"))?;
    if !matches!(url.protocol.as_str(), "http:" | "https:") {
        return Err(Error::option(name, "` must be an http(s) URL"));
    }
    Ok(Some(url.href))
}

/// [`url_option`] for an endpoint that tokens travel to: https only, except loopback hosts,
/// and no user name or password.
pub(crate) fn endpoint_option(name: &str, value: &Option<String>) -> Result<Option<String>, Error> {
    let Some(href) = url_option(name, value)? else {
        return Ok(None);
    };
    let url = parse_url(&href).ok_or_else(|| Error::option(name, "` is not a URL"))?;
    attach::require_endpoint(name, url.parts())?;
    Ok(Some(href))
}
