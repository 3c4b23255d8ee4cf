//! The provider's endpoints, explicit or discovered: one owner for refresh, sign-in and
//! sign-out. An explicit endpoint always wins; the discovery document (OpenID, then RFC
//! 8414 metadata for what it lacks, see [`crate::core::oidc::Discovering`]) is fetched
//! only when an endpoint that was not given is needed, once: it is kept after it was read,
//! and a failure is not kept (the next need asks again).

use super::error::{Error, ErrorCode};
use super::oidc::Discovery;
use crate::prelude::*;

/// What the provider knows about one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint<T> {
    /// Known: explicit, discovered, or known not to exist.
    Known(T),
    /// Only the discovery document can say: fetch it, [`Provider::learn`] it, ask again.
    Discover,
}

/// Where a sign-in goes: the authorization endpoint, the token endpoint, and whether the
/// provider puts `iss` in its responses (RFC 9207).
pub type SignInEndpoints = (String, String, bool);

/// A client's authorization server: its issuer, client id and endpoints.
#[derive(Debug, Clone, Default)]
pub struct Provider {
    /// The configured issuer.
    pub issuer: Option<String>,
    /// The configured client id.
    pub client_id: Option<String>,
    /// The `authorizationEndpoint` option.
    pub authorization_endpoint: Option<String>,
    /// The `tokenEndpoint` option.
    pub token_endpoint: Option<String>,
    /// The `revocationEndpoint` option.
    pub revocation_endpoint: Option<String>,
    /// The `endSessionEndpoint` option.
    pub end_session_endpoint: Option<String>,
    discovered: Option<Discovery>,
}

impl Provider {
    /// A provider with these explicit values (checked by the caller); nothing discovered
    /// yet.
    pub fn new(
        issuer: Option<String>,
        client_id: Option<String>,
        authorization_endpoint: Option<String>,
        token_endpoint: Option<String>,
        revocation_endpoint: Option<String>,
        end_session_endpoint: Option<String>,
    ) -> Provider {
        Provider {
            issuer,
            client_id,
            authorization_endpoint,
            token_endpoint,
            revocation_endpoint,
            end_session_endpoint,
            discovered: None,
        }
    }

    /// Whether this client signs in at all (an issuer or an authorization endpoint).
    pub fn signs_in(&self) -> bool {
        self.issuer.is_some() || self.authorization_endpoint.is_some()
    }

    /// Whether a discovery document would be read from the issuer (there is one), and
    /// none has been read yet.
    fn must_discover(&self) -> Result<Option<&Discovery>, Error> {
        match (&self.discovered, &self.issuer) {
            (Some(d), _) => Ok(Some(d)),
            (None, Some(_)) => Ok(None),
            (None, None) => Err(Error::options(
                "this needs the `issuer` option, or the endpoints given explicitly",
            )),
        }
    }

    /// Keeps the discovery document that was read.
    pub fn learn(&mut self, discovery: Discovery) {
        self.discovered = Some(discovery);
    }

    /// The token endpoint: the explicit one, or the discovered one.
    pub fn token_endpoint(&self) -> Result<Endpoint<String>, Error> {
        if let Some(t) = &self.token_endpoint {
            return Ok(Endpoint::Known(t.clone()));
        }
        Ok(match self.must_discover()? {
            Some(d) => Endpoint::Known(d.token_endpoint.clone()),
            None => Endpoint::Discover,
        })
    }

    /// The revocation endpoint: the explicit one; else, with an issuer, the discovered one
    /// (`None` when its metadata has none); `None` without either.
    pub fn revocation_endpoint(&self) -> Endpoint<Option<String>> {
        if let Some(r) = &self.revocation_endpoint {
            return Endpoint::Known(Some(r.clone()));
        }
        match self.must_discover() {
            Ok(Some(d)) => Endpoint::Known(d.revocation_endpoint.clone()),
            Ok(None) => Endpoint::Discover,
            Err(_) => Endpoint::Known(None),
        }
    }

    /// The endpoints of a sign-in (explicit ones win over discovered ones; with both given
    /// explicitly, no document is read and `iss` is not required).
    pub fn sign_in_endpoints(&self) -> Result<Endpoint<SignInEndpoints>, Error> {
        if let (Some(a), Some(t)) = (&self.authorization_endpoint, &self.token_endpoint) {
            return Ok(Endpoint::Known((a.clone(), t.clone(), false)));
        }
        let Some(d) = self.must_discover()? else {
            return Ok(Endpoint::Discover);
        };
        let a = self
            .authorization_endpoint
            .as_ref()
            .unwrap_or(&d.authorization_endpoint);
        let t = self.token_endpoint.as_ref().unwrap_or(&d.token_endpoint);
        Ok(Endpoint::Known((
            a.clone(),
            t.clone(),
            d.iss_parameter_supported,
        )))
    }

    /// The end-session endpoint (explicit, or discovered); `invalid_discovery` when the
    /// provider has none.
    pub fn end_session_endpoint(&self) -> Result<Endpoint<String>, Error> {
        if let Some(e) = &self.end_session_endpoint {
            return Ok(Endpoint::Known(e.clone()));
        }
        let Some(d) = self.must_discover()? else {
            return Ok(Endpoint::Discover);
        };
        d.end_session_endpoint
            .clone()
            .map(Endpoint::Known)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidDiscovery,
                    "the provider has no `end_session_endpoint`: the provider's session was not ended",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovery() -> Discovery {
        Discovery {
            issuer: "https://op.example".into(),
            authorization_endpoint: "https://op.example/auth".into(),
            token_endpoint: "https://op.example/token".into(),
            end_session_endpoint: None,
            revocation_endpoint: Some("https://op.example/revoke".into()),
            iss_parameter_supported: true,
        }
    }

    fn with_issuer() -> Provider {
        Provider {
            issuer: Some("https://op.example".into()),
            ..Provider::default()
        }
    }

    #[test]
    fn explicit_endpoints_win_and_need_no_document() {
        let p = Provider {
            authorization_endpoint: Some("https://as.example/a".into()),
            token_endpoint: Some("https://as.example/t".into()),
            revocation_endpoint: Some("https://as.example/r".into()),
            end_session_endpoint: Some("https://as.example/e".into()),
            ..with_issuer()
        };
        assert_eq!(
            p.token_endpoint(),
            Ok(Endpoint::Known("https://as.example/t".into()))
        );
        assert_eq!(
            p.revocation_endpoint(),
            Endpoint::Known(Some("https://as.example/r".into()))
        );
        assert_eq!(
            p.sign_in_endpoints(),
            Ok(Endpoint::Known((
                "https://as.example/a".into(),
                "https://as.example/t".into(),
                false
            )))
        );
        assert_eq!(
            p.end_session_endpoint(),
            Ok(Endpoint::Known("https://as.example/e".into()))
        );
    }

    #[test]
    fn the_document_is_read_once_when_an_endpoint_was_not_given() {
        let mut p = Provider {
            token_endpoint: Some("https://as.example/t".into()),
            ..with_issuer()
        };
        assert_eq!(p.sign_in_endpoints(), Ok(Endpoint::Discover));
        assert_eq!(p.revocation_endpoint(), Endpoint::Discover);
        p.learn(discovery());
        // The explicit token endpoint still wins over the discovered one.
        assert_eq!(
            p.sign_in_endpoints(),
            Ok(Endpoint::Known((
                "https://op.example/auth".into(),
                "https://as.example/t".into(),
                true
            )))
        );
        assert_eq!(
            p.revocation_endpoint(),
            Endpoint::Known(Some("https://op.example/revoke".into()))
        );
    }

    #[test]
    fn without_an_issuer_nothing_is_discovered() {
        let p = Provider::default();
        assert!(p.token_endpoint().is_err());
        assert!(p.sign_in_endpoints().is_err());
        assert_eq!(p.revocation_endpoint(), Endpoint::Known(None));
        assert!(!p.signs_in());
    }

    #[test]
    fn a_provider_without_end_session_is_invalid_discovery() {
        let mut p = with_issuer();
        assert_eq!(p.end_session_endpoint(), Ok(Endpoint::Discover));
        p.learn(discovery());
        assert_eq!(
            p.end_session_endpoint().unwrap_err().code,
            ErrorCode::InvalidDiscovery
        );
    }
}
