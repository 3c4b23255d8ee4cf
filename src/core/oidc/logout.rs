//! Signing out at the provider: RP-Initiated Logout 1.0 §2, and the report when no
//! revocation endpoint is known.

use super::with_query;
use crate::core::error::{Error, ErrorCode};
use crate::prelude::*;

/// Sign-out asked to revoke, and no revocation endpoint is known (none given, none in the
/// provider's OpenID or RFC 8414 metadata): the refresh token stays valid at the server.
/// Reported once per client as an `error` event (`revocation_failed`); `None` when it
/// has been reported already.
pub fn no_revocation_endpoint(already_reported: bool) -> Option<Error> {
    (!already_reported).then(|| {
        Error::new(
            ErrorCode::RevocationFailed,
            "the refresh token was not revoked: no `revocationEndpoint` option, none in the provider's metadata",
        )
    })
}

/// The RP-Initiated Logout request (OpenID Connect RP-Initiated Logout 1.0 §2), keeping
/// the endpoint's own query.
pub fn end_session_url(
    endpoint: &str,
    id_token_hint: Option<&str>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
) -> String {
    let mut pairs = Vec::new();
    if let Some(t) = id_token_hint {
        pairs.push(("id_token_hint", t));
    }
    if let Some(c) = client_id {
        pairs.push(("client_id", c));
    }
    if let Some(p) = post_logout_redirect_uri {
        pairs.push(("post_logout_redirect_uri", p));
    }
    if pairs.is_empty() {
        return crate::core::ascii::before(endpoint, b"#").to_string();
    }
    with_query(endpoint, &pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;

    #[test]
    fn a_missing_revocation_endpoint_is_reported_once() {
        let first = no_revocation_endpoint(false).unwrap();
        assert_eq!(first.code, ErrorCode::RevocationFailed);
        assert!(no_revocation_endpoint(true).is_none());
    }

    #[test]
    fn rp_initiated_logout_1_0_section_2_request() {
        assert_eq!(
            end_session_url("https://op.example.com/end?x=1", Some("a.b.c"), Some("spa"), Some("https://app.example/")),
            "https://op.example.com/end?x=1&id_token_hint=a.b.c&client_id=spa&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2F"
        );
        assert_eq!(
            end_session_url("https://op.example.com/end#f", None, None, None),
            "https://op.example.com/end"
        );
    }
}
