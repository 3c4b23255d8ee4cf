//! Sign-in I/O: WebCrypto (random values, the SHA-256 of the PKCE verifier), the
//! discovery request, the pending sign-in in the tab's sessionStorage, and the page's
//! address (`location.assign`, `history.replaceState`).
//!
//! Every decision — what the request carries, whether a response is valid, whether the ID
//! token is right — is `crate::core::oidc`'s; this module only fetches, stores and
//! navigates, in the order a sign-in needs.

use super::http;
use super::options::{url_option, Options};
use super::page;
use super::provider::Provider;
use super::storage::{StorageKind, Store};
use super::Done;
use crate::core::error::{Error, ErrorCode};
use crate::core::jwt::Claims;
use crate::core::oidc::{self, AuthRequest, AuthResponse, Pending};
use crate::core::tokens::TokenResponse;
use crate::prelude::*;
use alloc::rc::Rc;
use wasm_bindgen::JsValue;

/// What `signIn()` may change or add in the authorization request.
#[derive(Debug, Clone, Default)]
pub struct SignInParams {
    /// The scope for this sign-in instead of the client's `scope`.
    pub scope: Option<String>,
    /// `prompt` (e.g. `login`, `consent`, `none`).
    pub prompt: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// Other request parameters; those the client sets itself are refused.
    pub extra_params: Vec<(String, String)>,
}

/// How `signOut()` ends the session.
#[derive(Debug, Clone)]
pub struct SignOutOptions {
    /// Revoke the refresh token first (when a revocation endpoint is known).
    pub revoke: bool,
    /// Then send the page to the provider's end-session endpoint (RP-Initiated Logout),
    /// which ends the provider's own session too.
    pub end_session: bool,
    /// Where the provider sends the user after that (must be registered there).
    pub post_logout_redirect_uri: Option<String>,
}

impl Default for SignOutOptions {
    fn default() -> SignOutOptions {
        SignOutOptions {
            revoke: true,
            end_session: false,
            post_logout_redirect_uri: None,
        }
    }
}

/// The sign-in configuration of a client; endpoints come from its [`Provider`].
pub(crate) struct SignIn {
    provider: Rc<Provider>,
    redirect_uri: Option<String>,
    scope: String,
    /// The pending sign-in, in the tab's sessionStorage.
    pending: Store,
}

impl SignIn {
    /// Reads and checks the sign-in options (`invalid_options` for URLs that cannot work).
    pub(crate) fn new(o: &Options, provider: Rc<Provider>) -> Result<SignIn, Error> {
        let scope = o
            .scope
            .clone()
            .unwrap_or_else(|| oidc::DEFAULT_SCOPE.to_string());
        if scope.trim_ascii().is_empty() {
            return Err(Error::options("`scope` must not be empty"));
        }
        // An OpenID sign-in without an issuer could not check the ID token's `iss` (after
        // the endpoint's own checks, so that an http endpoint is named as such).
        if o.issuer.is_none()
            && oidc::scope_has_openid(&scope)
            && (o.scope.is_some() || o.authorization_endpoint.is_some())
        {
            return Err(Error::options(
                "an `issuer` is needed with the `openid` scope: the ID token's `iss` is checked against it",
            ));
        }
        Ok(SignIn {
            provider,
            redirect_uri: url_option("redirectUri", &o.redirect_uri)?,
            scope,
            pending: Store::new(
                StorageKind::Session,
                &crate::core::error::cat(&[
                    o.storage_key.as_deref().unwrap_or("tokenward"),
                    ":signin",
                ]),
            ),
        })
    }

    /// Starts a sign-in: new state, nonce and PKCE verifier, the pending record in
    /// sessionStorage, then the page goes to the authorization endpoint. Returns once the
    /// navigation has started; fails (and stores nothing) when it cannot start.
    pub(crate) fn begin(self: &Rc<Self>, params: SignInParams, done: Done<Result<(), Error>>) {
        let this = self.clone();
        self.provider.sign_in_endpoints(Box::new(move |endpoints| {
            let endpoints = match endpoints {
                Ok(e) => e,
                Err(e) => return done(Err(e)),
            };
            let verifier = match random_bytes(oidc::RANDOM_BYTES) {
                Ok(b) => oidc::random_string(&b),
                Err(e) => return done(Err(e)),
            };
            let data = verifier.clone();
            sha256(
                data.as_bytes(),
                Box::new(move |digest| {
                    done(digest.and_then(|d| this.redirect(params, endpoints, verifier, &d)))
                }),
            );
        }));
    }

    /// The synchronous part of [`SignIn::begin`].
    fn redirect(
        &self,
        params: SignInParams,
        (authorization_endpoint, token_endpoint, iss_required): (String, String, bool),
        verifier: String,
        digest: &[u8],
    ) -> Result<(), Error> {
        let state = oidc::random_string(&random_bytes(oidc::RANDOM_BYTES)?);
        let nonce = oidc::random_string(&random_bytes(oidc::RANDOM_BYTES)?);
        let client_id = self
            .provider
            .client_id()
            .ok_or_else(|| Error::options("signIn() needs the `clientId` option"))?;
        let here = page::href()
            .ok_or_else(|| Error::new(ErrorCode::Unsupported, "signIn() needs a browser window"))?;
        let redirect_uri = match &self.redirect_uri {
            Some(r) => r.clone(),
            None => oidc::without_query(&here).to_string(),
        };
        let pending = Pending {
            state,
            nonce,
            verifier,
            redirect_uri,
            scope: params.scope.unwrap_or_else(|| self.scope.clone()),
            client_id,
            token_endpoint,
            issuer: self.provider.issuer(),
            iss_required,
        };
        let url = oidc::authorization_url(&AuthRequest {
            endpoint: authorization_endpoint,
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            scope: pending.scope.clone(),
            state: pending.state.clone(),
            nonce: pending.nonce.clone(),
            code_challenge: oidc::code_challenge(digest),
            prompt: params.prompt,
            login_hint: params.login_hint,
            extra: params.extra_params,
        })?;
        self.pending
            .write(&pending.to_json())
            .map_err(|e| e.with_message("the sign-in could not be kept in sessionStorage"))?;
        if let Err(e) = page::assign(&url) {
            let _ = self.pending.clear();
            return Err(
                Error::options("the authorization endpoint could not be opened")
                    .with_cause(super::describe(&e)),
            );
        }
        Ok(())
    }

    fn pending_text(&self) -> Option<String> {
        self.pending.read().ok().flatten()
    }

    fn remove_pending(&self) {
        let _ = self.pending.clear();
    }

    /// Whether the page URL carries an authorization response `createTokenClient` should
    /// handle by itself (see [`oidc::should_handle`]); never for a client without sign-in.
    pub(crate) fn response_in_page(&self) -> bool {
        if !self.provider.signs_in() {
            return false;
        }
        let Some(href) = page::href() else {
            return false;
        };
        let Some(response) = AuthResponse::in_url(&href) else {
            return false;
        };
        let redirect_uri = self.redirect_uri.clone().unwrap_or_else(|| href.clone());
        oidc::should_handle(
            &href,
            &redirect_uri,
            &response,
            self.pending_text().is_some(),
        )
    }

    /// Finishes a sign-in on the redirect URI: `None` when the page URL carries no
    /// authorization response. Otherwise the response leaves the address bar, is checked
    /// against the pending sign-in, the code is exchanged and the token response checked;
    /// the caller stores what is returned. `clock` gives the time for the ID token's `exp`.
    pub(crate) fn complete(
        &self,
        clock: Rc<dyn Fn() -> f64>,
        dpop: Option<Rc<super::dpop::Dpop>>,
        done: Done<Result<Option<TokenResponse>, Error>>,
    ) {
        let (pending, form) = match self.take_response() {
            Ok(Some(p)) => p,
            Ok(None) => return done(Ok(None)),
            Err(e) => return done(Err(e)),
        };
        let proved = dpop.map(|dpop| http::Proved {
            dpop,
            now: clock.clone(),
            has_session: false,
        });
        let url = pending.token_endpoint.clone();
        http::token_request(
            &url,
            &form,
            proved,
            Box::new(move |tokens| {
                done(tokens.map_err(|(_, e)| e).and_then(|tokens| {
                    oidc::check_sign_in_tokens(&tokens, &pending, clock())?;
                    Ok(Some(tokens))
                }))
            }),
        );
    }

    /// The synchronous part of [`SignIn::complete`] before the exchange: the response
    /// leaves the address bar and is checked; the pending sign-in it used is removed.
    /// The pending sign-in and the token request, when the code can be exchanged.
    fn take_response(&self) -> Result<Option<(Pending, String)>, Error> {
        let Some(href) = page::href() else {
            return Ok(None);
        };
        let Some(response) = AuthResponse::in_url(&href) else {
            return Ok(None);
        };
        page::drop_response_params();
        let text = self.pending_text();
        let pending = text.as_deref().and_then(Pending::from_json);
        let verdict = oidc::check_response(&response, pending.as_ref());
        if verdict.consume_pending || (text.is_some() && pending.is_none()) {
            self.remove_pending();
        }
        let code = verdict.code?;
        let pending = pending.ok_or_else(|| {
            Error::new(ErrorCode::InvalidState, "no sign-in is pending in this tab")
        })?;
        let form = oidc::exchange_form(&code, &pending);
        Ok(Some((pending, form)))
    }

    /// The claims of an ID token the session holds, after the `iss` and `aud` checks.
    pub(crate) fn id_claims(&self, id_token: &str) -> Option<Claims> {
        let p = &self.provider;
        oidc::id_claims(id_token, p.issuer().as_deref(), p.client_id().as_deref())
    }
}

/// `n` bytes from `crypto.getRandomValues`.
fn random_bytes(n: usize) -> Result<Vec<u8>, Error> {
    page::random(n as u32).map_err(|e| {
        Error::new(
            ErrorCode::Unsupported,
            "this browser has no WebCrypto, which sign-in needs",
        )
        .with_cause(super::describe(&e))
    })
}

/// SHA-256 with `crypto.subtle.digest` (only in secure contexts: HTTPS or localhost).
fn sha256(data: &[u8], done: Done<Result<Vec<u8>, Error>>) {
    super::answer::settled_bytes(&super::dpop::digest(data), no_subtle, done);
}

fn no_subtle(e: JsValue) -> Error {
    Error::new(
        ErrorCode::Unsupported,
        "crypto.subtle is unavailable: sign-in needs a page served over HTTPS or from localhost",
    )
    .with_cause(super::describe(&e))
}
