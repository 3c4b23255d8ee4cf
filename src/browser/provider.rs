//! The provider's endpoints for refresh, sign-in and sign-out: which one is known and
//! when the discovery document must be read is `crate::core::provider`'s, which documents
//! to read and what each answer means `crate::core::oidc`'s; this reads the document
//! when the core says so.

use super::http;
use super::options::{endpoint_option, Options};
use super::Done;
use crate::core;
use crate::core::error::{Error, ErrorCode};
use crate::core::oidc::{self, Discovery};
use crate::core::provider::Endpoint;
use crate::local::RefCell;
use crate::prelude::*;
use alloc::rc::Rc;

/// A client's authorization server: the core's [`core::provider::Provider`] (which
/// endpoint is known, which needs the discovery document), and the fetching of that
/// document.
pub(crate) struct Provider {
    known: RefCell<core::provider::Provider>,
}

pub(crate) use core::provider::SignInEndpoints;

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
                || crate::core::ascii::has(issuer.as_bytes(), b'#')
            {
                return Err(Error::options(
                    "`issuer` must be an http(s) URL without query or fragment",
                ));
            }
            crate::core::attach::require_endpoint("issuer", url.parts())?;
        }
        let authorization = endpoint_option("authorizationEndpoint", &o.authorization_endpoint)?;
        let token = endpoint_option("tokenEndpoint", &o.token_endpoint)?;
        let revocation = endpoint_option("revocationEndpoint", &o.revocation_endpoint)?;
        let end_session = endpoint_option("endSessionEndpoint", &o.end_session_endpoint)?;
        let known = core::provider::Provider::new(
            o.issuer.clone(),
            o.client_id.clone(),
            authorization,
            token,
            revocation,
            end_session,
        );
        Ok(Provider {
            known: RefCell::new(known),
        })
    }

    /// The configured issuer.
    pub(crate) fn issuer(&self) -> Option<String> {
        self.known.borrow().issuer.clone()
    }

    /// The configured client id.
    pub(crate) fn client_id(&self) -> Option<String> {
        self.known.borrow().client_id.clone()
    }

    /// Whether this client signs in at all (an issuer or an authorization endpoint).
    pub(crate) fn signs_in(&self) -> bool {
        self.known.borrow().signs_in()
    }

    /// The explicit token endpoint, if one was given.
    pub(crate) fn explicit_token_endpoint(&self) -> Option<String> {
        self.known.borrow().token_endpoint.clone()
    }

    /// `done` gets what `ask` says of the provider, reading the discovery document first
    /// when it says that only the document can tell (a failure is not kept: the next need
    /// asks again). `done` may be called at once.
    fn endpoint<T: 'static>(
        self: &Rc<Self>,
        ask: fn(&core::provider::Provider) -> Result<Endpoint<T>, Error>,
        done: Done<Result<T, Error>>,
    ) {
        let asked = ask(&self.known.borrow());
        let known = |asked| match asked {
            Ok(Endpoint::Known(t)) => Ok(t),
            Ok(Endpoint::Discover) => Err(Error::new(
                ErrorCode::InvalidDiscovery,
                "the discovery document could not be read",
            )),
            Err(e) => Err(e),
        };
        if !matches!(asked, Ok(Endpoint::Discover)) {
            return done(known(asked));
        }
        let p = self.clone();
        self.discover(Box::new(move |read| {
            done(read.and_then(|()| known(ask(&p.known.borrow()))))
        }));
    }

    /// Reads the discovery document and keeps it.
    fn discover(self: &Rc<Self>, done: Done<Result<(), Error>>) {
        let p = self.clone();
        let issuer = self.issuer().unwrap_or_default();
        discover(
            oidc::Discovering::new(&issuer),
            Box::new(move |found| done(found.map(|d| p.known.borrow_mut().learn(d)))),
        );
    }

    /// The token endpoint: the explicit one, or the discovered one.
    pub(crate) fn token_endpoint(self: &Rc<Self>, done: Done<Result<String, Error>>) {
        self.endpoint(core::provider::Provider::token_endpoint, done);
    }

    /// The revocation endpoint: the explicit one; else, with an issuer, the discovered
    /// one (`None` when its metadata has none); `None` without either.
    pub(crate) fn revocation_endpoint(self: &Rc<Self>, done: Done<Result<Option<String>, Error>>) {
        self.endpoint(|p| Ok(p.revocation_endpoint()), done);
    }

    /// The endpoints of a sign-in (explicit ones win over discovered ones).
    pub(crate) fn sign_in_endpoints(self: &Rc<Self>, done: Done<Result<SignInEndpoints, Error>>) {
        self.endpoint(core::provider::Provider::sign_in_endpoints, done);
    }

    /// The end-session endpoint (explicit, or discovered); `invalid_discovery` when the
    /// provider has none.
    pub(crate) fn end_session_endpoint(self: &Rc<Self>, done: Done<Result<String, Error>>) {
        self.endpoint(core::provider::Provider::end_session_endpoint, done);
    }
}

/// Reads the discovery document: the next URL `discovering` asks for, and what its answer
/// means, until it has the result.
fn discover(mut discovering: oidc::Discovering, done: Done<Result<Discovery, Error>>) {
    let Some(url) = discovering.next_url().map(str::to_string) else {
        return done(Err(Error::new(
            ErrorCode::InvalidDiscovery,
            "the discovery document could not be read",
        )));
    };
    http::get(
        &url,
        Box::new(move |answer| {
            let fed = match answer {
                Ok(a) => discovering.answer(Ok((a.status, a.body.as_str()))),
                Err(e) => discovering.answer(Err(
                    e.with_message("the discovery document could not be fetched")
                )),
            };
            match fed {
                Err(e) => done(Err(e)),
                Ok(Some(d)) => done(Ok(d)),
                Ok(None) => discover(discovering, done),
            }
        }),
    );
}
