//! The provider's endpoints, explicit or discovered: one owner for refresh, sign-in and
//! sign-out. The discovery document (OpenID, then RFC 8414 metadata for what it lacks)
//! is fetched once, when first needed; a failure is not cached. Which documents to read
//! and what each answer means is `crate::core::oidc`'s.

use super::http;
use super::options::{endpoint_option, Options};
use super::Done;
use crate::core::error::{Error, ErrorCode};
use crate::core::oidc::{self, Discovery};
use std::cell::RefCell;
use std::rc::Rc;

/// A client's authorization server: its issuer, client id and endpoints.
pub(crate) struct Provider {
    issuer: Option<String>,
    client_id: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    discovery: RefCell<Option<Rc<Discovery>>>,
}

/// Where a sign-in goes: the authorization endpoint, the token endpoint, and whether the
/// provider puts `iss` in its responses (RFC 9207).
pub(crate) type SignInEndpoints = (String, String, bool);

impl Provider {
    /// Reads and checks the issuer and endpoint options. The issuer is kept exactly as
    /// given: it is compared as a string (Discovery §4.3, RFC 9207), so the browser must
    /// not add a `/` to it.
    pub(crate) fn new(o: &Options) -> Result<Provider, Error> {
        if let Some(issuer) = &o.issuer {
            let url = super::page::Url::parse(issuer, false)
                .ok_or_else(|| Error::options("`issuer` must be an absolute URL"))?;
            if !matches!(url.protocol.as_str(), "http:" | "https:")
                || url.query_or_fragment
                || issuer.contains('#')
            {
                return Err(Error::options(
                    "`issuer` must be an http(s) URL without query or fragment",
                ));
            }
            crate::core::attach::require_secure("issuer", &url.protocol, &url.hostname)?;
        }
        Ok(Provider {
            issuer: o.issuer.clone(),
            client_id: o.client_id.clone(),
            authorization_endpoint: endpoint_option(
                "authorizationEndpoint",
                &o.authorization_endpoint,
            )?,
            token_endpoint: endpoint_option("tokenEndpoint", &o.token_endpoint)?,
            revocation_endpoint: endpoint_option("revocationEndpoint", &o.revocation_endpoint)?,
            end_session_endpoint: endpoint_option("endSessionEndpoint", &o.end_session_endpoint)?,
            discovery: RefCell::new(None),
        })
    }

    /// The configured issuer.
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The configured client id.
    pub(crate) fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// Whether this client signs in at all (an issuer or an authorization endpoint).
    pub(crate) fn signs_in(&self) -> bool {
        self.issuer.is_some() || self.authorization_endpoint.is_some()
    }

    /// The explicit token endpoint, if one was given.
    pub(crate) fn explicit_token_endpoint(&self) -> Option<&str> {
        self.token_endpoint.as_deref()
    }

    /// The provider's metadata, fetched once and reused (`done` may be called at once).
    fn discover(self: &Rc<Self>, done: Done<Result<Rc<Discovery>, Error>>) {
        let cached = self.discovery.borrow().clone();
        if let Some(d) = cached {
            return done(Ok(d));
        }
        let Some(issuer) = &self.issuer else {
            return done(Err(Error::options(
                "this needs the `issuer` option, or the endpoints given explicitly",
            )));
        };
        self.clone()
            .discover_next(oidc::Discovering::new(issuer), done);
    }

    /// The next document `discovering` asks for, and what its answer means.
    fn discover_next(
        self: Rc<Self>,
        mut discovering: oidc::Discovering,
        done: Done<Result<Rc<Discovery>, Error>>,
    ) {
        let Some(url) = discovering.next_url().map(str::to_string) else {
            return done(Err(Error::new(
                ErrorCode::InvalidDiscovery,
                "the discovery document could not be read",
            )));
        };
        http::get(
            &url,
            Box::new(move |answer| {
                let fed = match &answer {
                    Ok(a) => discovering.answer(Ok((a.status, a.body.as_str()))),
                    Err(e) => discovering.answer(Err(Error {
                        message: "the discovery document could not be fetched".to_string(),
                        ..e.clone()
                    })),
                };
                match fed {
                    Err(e) => done(Err(e)),
                    Ok(Some(d)) => {
                        let d = Rc::new(d);
                        *self.discovery.borrow_mut() = Some(d.clone());
                        done(Ok(d))
                    }
                    Ok(None) => self.discover_next(discovering, done),
                }
            }),
        );
    }

    /// The token endpoint: the explicit one, or the discovered one.
    pub(crate) fn token_endpoint(self: &Rc<Self>, done: Done<Result<String, Error>>) {
        match &self.token_endpoint {
            Some(t) => done(Ok(t.clone())),
            None => self.discover(Box::new(move |d| done(d.map(|d| d.token_endpoint.clone())))),
        }
    }

    /// The revocation endpoint: the explicit one; else, with an issuer, the discovered
    /// one (`None` when its metadata has none); `None` without either.
    pub(crate) fn revocation_endpoint(self: &Rc<Self>, done: Done<Result<Option<String>, Error>>) {
        if let Some(r) = &self.revocation_endpoint {
            return done(Ok(Some(r.clone())));
        }
        if self.issuer.is_none() {
            return done(Ok(None));
        }
        self.discover(Box::new(move |d| {
            done(d.map(|d| d.revocation_endpoint.clone()))
        }));
    }

    /// The endpoints of a sign-in (explicit ones win over discovered ones).
    pub(crate) fn sign_in_endpoints(self: &Rc<Self>, done: Done<Result<SignInEndpoints, Error>>) {
        if let (Some(a), Some(t)) = (&self.authorization_endpoint, &self.token_endpoint) {
            return done(Ok((a.clone(), t.clone(), false)));
        }
        let p = self.clone();
        self.discover(Box::new(move |d| {
            done(d.map(|d| {
                let a = p
                    .authorization_endpoint
                    .as_ref()
                    .unwrap_or(&d.authorization_endpoint);
                let t = p.token_endpoint.as_ref().unwrap_or(&d.token_endpoint);
                (a.clone(), t.clone(), d.iss_parameter_supported)
            }))
        }));
    }

    /// The end-session endpoint (explicit, or discovered); `invalid_discovery` when the
    /// provider has none.
    pub(crate) fn end_session_endpoint(self: &Rc<Self>, done: Done<Result<String, Error>>) {
        if let Some(e) = &self.end_session_endpoint {
            return done(Ok(e.clone()));
        }
        self.discover(Box::new(move |d| {
            done(d.and_then(|d| {
                d.end_session_endpoint.clone().ok_or_else(|| {
                    Error::new(
                        ErrorCode::InvalidDiscovery,
                        "the provider has no `end_session_endpoint`: the provider's session was not ended",
                    )
                })
            }))
        }));
    }
}
