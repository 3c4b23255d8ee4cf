//! DPoP in the client: the headers an attached request gets (`authorizationHeaders`),
//! the token type the `dpop` option accepts, and the key going with the session.

use super::*;

impl TokenClient {
    /// The headers [`TokenClient::fetch`] would add to a `method` request to `url`:
    /// `Authorization`, and with a DPoP token a fresh `DPoP` proof. None outside
    /// `attachTo`, nor when signed out.
    pub async fn authorization_headers(
        &self,
        url: &str,
        method: &str,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        let (done, headers) = oneshot::channel();
        self.authorization_headers_then(url, method, done);
        headers.await
    }

    /// [`TokenClient::authorization_headers`], calling `done` with the outcome.
    pub fn authorization_headers_then(
        &self,
        url: &str,
        method: &str,
        done: Done<Result<Vec<(&'static str, String)>, Error>>,
    ) {
        let Some(htm) = dpop::method(method) else {
            return done(Err(Error::options("`method` must be an HTTP method")));
        };
        let Some(url) = parse_url(url) else {
            return done(Err(Error::options("`url` is not a URL")));
        };
        if !attach::allowed(&self.inner.rules, url.parts()) {
            return done(Ok(Vec::new()));
        }
        let inner = self.inner.clone();
        let href = url.href;
        self.inner.authorize(
            None,
            Box::new(move |token| {
                let token = match token {
                    Ok(t) => t,
                    Err(e) if e.code == ErrorCode::SignedOut => return done(Ok(Vec::new())),
                    Err(e) => return done(Err(e)),
                };
                let token_type = inner.token_type();
                let mut value = token_type.clone();
                value.push(' ');
                value.push_str(&token);
                let out = vec![("Authorization", value)];
                let d = match (&inner.dpop, dpop::is_dpop(&token_type)) {
                    (Some(d), true) => d.clone(),
                    _ => return done(Ok(out)),
                };
                d.proof(
                    htm,
                    href,
                    Some(token),
                    inner.now(),
                    true,
                    Box::new(move |proof| {
                        done(proof.map(|p| {
                            let mut out = out;
                            out.push(("DPoP", p));
                            out
                        }))
                    }),
                );
            }),
        );
    }
}

impl Inner {
    pub(super) fn dpop_mode(&self) -> Option<Mode> {
        self.dpop.as_ref().map(|d| d.mode)
    }

    /// The session's token type (`Bearer` when signed out).
    pub(super) fn token_type(&self) -> String {
        self.session
            .borrow()
            .tokens()
            .map_or_else(|| "Bearer".to_string(), |t| t.token_type.clone())
    }

    /// The session ended: its DPoP key goes with it. Ended by another tab (or another
    /// page's storage change), only the key this tab used is deleted.
    pub(super) fn forget_dpop_key(&self, reason: Option<Reason>) {
        if let Some(d) = &self.dpop {
            let only_mine = matches!(reason, Some(Reason::OtherTab | Reason::Storage));
            d.forget(only_mine, None);
        }
    }
}
