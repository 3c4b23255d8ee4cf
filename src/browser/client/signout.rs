//! Signing out (revoke, forget here and in every tab, then the provider's end-session
//! page when asked).

use super::*;

impl TokenClient {
    /// [`TokenClient::sign_out`] with the discovered revocation endpoint when none was
    /// given, and, when asked, the provider's end-session endpoint afterwards (the page
    /// navigates there). Failures are reported as `error` events; the local sign-out
    /// always happens.
    pub async fn sign_out_with(&self, options: SignOutOptions) {
        let inner = &self.inner;
        let (id_token, refresh_token) = match inner.session.borrow().tokens() {
            Some(t) => (t.id_token.clone(), t.refresh_token.clone()),
            None => (None, None),
        };
        let revocation = match options.revoke && refresh_token.is_some() {
            false => None,
            true => match inner.provider.revocation_endpoint().await {
                Ok(Some(url)) => Some(url),
                // With an issuer, its metadata had no revocation endpoint: said once.
                Ok(None) if inner.provider.issuer().is_some() => {
                    if let Some(e) =
                        oidc::no_revocation_endpoint(inner.no_revocation_reported.replace(true))
                    {
                        inner.report(e);
                    }
                    None
                }
                Ok(None) => None,
                Err(e) => {
                    inner.report(e);
                    None
                }
            },
        };
        let result = match (revocation, refresh_token) {
            (Some(url), Some(rt)) => {
                let now = || inner.now();
                let proved = inner.dpop.as_deref().map(|dpop| http::Proved {
                    dpop,
                    now: &now,
                    has_session: true,
                });
                let form = grant::revocation_form(&rt, inner.provider.client_id());
                http::revoke(&url, &form, proved).await
            }
            _ => Ok(()),
        };
        inner.step(|s, _| s.sign_out());
        if let Some(d) = &inner.dpop {
            let _ = d.forget(false).await;
        }
        if let Err(e) = result {
            inner.report(e);
        }
        if options.end_session {
            let post_logout = options.post_logout_redirect_uri.as_deref();
            if let Err(e) = inner
                .signin
                .end_session(id_token.as_deref(), post_logout)
                .await
            {
                inner.report(e);
            }
        }
    }
}
