//! Signing in: the authorization request (with `dpop_jkt` under DPoP), the redirect
//! back (handled by `createTokenClient` or `handleRedirect()`), and the ID token's claims.

use super::*;

impl TokenClient {
    /// Sends the page to the authorization endpoint (authorization code with PKCE S256,
    /// `state` and `nonce`; endpoints discovered from `issuer` unless given). Returns once
    /// the navigation has started; fails, storing nothing, when it cannot start
    /// (`invalid_options`, `invalid_discovery`, `network`, `unsupported`, `storage`).
    pub async fn sign_in(&self, params: SignInParams) -> Result<(), Error> {
        let (done, started) = oneshot::channel();
        self.sign_in_then(params, done);
        started.await
    }

    /// [`TokenClient::sign_in`], calling `done` with the outcome.
    pub fn sign_in_then(&self, mut params: SignInParams, done: Done<Result<(), Error>>) {
        let signin = self.inner.signin.clone();
        let Some(d) = &self.inner.dpop else {
            return signin.begin(params, done);
        };
        // RFC 9449 §10: the code is bound to the key that will redeem it.
        d.jkt_for_sign_in(Box::new(move |jkt| {
            let jkt = match jkt {
                Ok(j) => j,
                Err(e) => return done(Err(e)),
            };
            params.extra_params.retain(|(k, _)| k != "dpop_jkt");
            params.extra_params.push(("dpop_jkt".to_string(), jkt));
            signin.begin(params, done);
        }));
    }

    /// On the redirect URI: checks the authorization response (`state`, RFC 9207 `iss`),
    /// removes it from the address bar, exchanges the code, checks the ID token and stores
    /// the tokens. `Ok(false)` when the page URL carries no authorization response; on an
    /// error nothing stored changes.
    pub async fn handle_redirect(&self) -> Result<bool, Error> {
        let (done, handled) = oneshot::channel();
        self.handle_redirect_then(done);
        handled.await
    }

    /// [`TokenClient::handle_redirect`], calling `done` with the outcome.
    pub fn handle_redirect_then(&self, done: Done<Result<bool, Error>>) {
        let inner = self.inner.clone();
        let clock = inner.clone();
        let client = self.clone();
        inner.signin.complete(
            Rc::new(move || clock.now()),
            inner.dpop.clone(),
            Box::new(move |response| {
                done(match response {
                    Ok(Some(response)) => client.try_set_tokens(response).map(|()| true),
                    Ok(None) => Ok(false),
                    Err(e) => Err(e),
                })
            }),
        );
    }

    /// The ID token's payload: checked (`iss`, `aud`, `exp`, `nonce`) when it arrived,
    /// `iss` and `aud` again now. `None` without an ID token or a `client_id`.
    pub fn id_claims(&self) -> Option<Claims> {
        let id_token = self
            .inner
            .session
            .borrow()
            .tokens()
            .and_then(|t| t.id_token.clone())?;
        self.inner.signin.id_claims(&id_token)
    }
}
