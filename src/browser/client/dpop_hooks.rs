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
        let htm = dpop::method(method)
            .ok_or_else(|| Error::options("`method` must be an HTTP method"))?;
        let url = parse_url(url).ok_or_else(|| Error::options("`url` is not a URL"))?;
        if !with_parts(&url, |p| attach::allowed(&self.inner.rules, p)) {
            return Ok(Vec::new());
        }
        let token = match self.inner.clone().authorize(None).await {
            Ok(t) => t,
            Err(e) if e.code == ErrorCode::SignedOut => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let token_type = self.inner.token_type();
        let mut value = token_type.clone();
        value.push(' ');
        value.push_str(&token);
        let mut out = vec![("Authorization", value)];
        if let (Some(d), true) = (&self.inner.dpop, dpop::is_dpop(&token_type)) {
            let proof = d
                .proof(&htm, &url.href(), Some(&token), self.inner.now(), true)
                .await?;
            out.push(("DPoP", proof));
        }
        Ok(out)
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
            drop(d.forget(only_mine));
        }
    }
}
