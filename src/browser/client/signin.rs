//! Signing in: the authorization request (with `dpop_jkt` under DPoP), the redirect
//! back (handled by `createTokenClient` or `handleRedirect()`), and the ID token's claims.

use super::*;

impl TokenClient {
    /// Sends the page to the authorization endpoint (authorization code with PKCE S256,
    /// `state` and `nonce`; endpoints discovered from `issuer` unless given). Returns once
    /// the navigation has started; fails, storing nothing, when it cannot start
    /// (`invalid_options`, `invalid_discovery`, `network`, `unsupported`, `storage`).
    pub async fn sign_in(&self, mut params: SignInParams) -> Result<(), Error> {
        // RFC 9449 §10: the code is bound to the key that will redeem it.
        if let Some(d) = &self.inner.dpop {
            let jkt = d.jkt_for_sign_in().await?;
            params.extra_params.retain(|(k, _)| k != "dpop_jkt");
            params.extra_params.push(("dpop_jkt".to_string(), jkt));
        }
        self.inner.signin.begin(params).await
    }

    /// On the redirect URI: checks the authorization response (`state`, RFC 9207 `iss`),
    /// removes it from the address bar, exchanges the code, checks the ID token and stores
    /// the tokens. `Ok(false)` when the page URL carries no authorization response; on an
    /// error nothing stored changes.
    pub fn handle_redirect(&self) -> crate::browser::Boxed<'_, Result<bool, Error>> {
        Box::pin(async move {
            let inner = self.inner.clone();
            let clock = move || inner.now();
            let dpop = self.inner.dpop.as_deref();
            match self.inner.signin.complete(&clock, dpop).await? {
                Some(response) => {
                    self.try_set_tokens(response)?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
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
