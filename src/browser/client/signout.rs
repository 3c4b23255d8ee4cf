//! Signing out (revoke, forget here and in every tab, then the provider's end-session
//! page when asked).

use super::*;

impl TokenClient {
    /// [`TokenClient::sign_out`] with the discovered revocation endpoint when none was
    /// given, and, when asked, the provider's end-session endpoint afterwards (the page
    /// navigates there). Failures are reported as `error` events; the local sign-out
    /// always happens.
    pub async fn sign_out_with(&self, options: SignOutOptions) {
        let (done, signed_out) = oneshot::channel();
        self.sign_out_then(options, done);
        signed_out.await
    }

    /// [`TokenClient::sign_out_with`], calling `done` when it is over.
    pub fn sign_out_then(&self, options: SignOutOptions, done: Done<()>) {
        let inner = self.inner.clone();
        let (id_token, refresh_token) = match inner.session.borrow().tokens() {
            Some(t) => (t.id_token.clone(), t.refresh_token.clone()),
            None => (None, None),
        };
        let Some(refresh_token) = refresh_token.filter(|_| options.revoke) else {
            return inner.signed_out(Ok(()), id_token, options, done);
        };
        let i = inner.clone();
        inner
            .provider
            .revocation_endpoint(Box::new(move |endpoint| {
                let url = match endpoint {
                    Ok(Some(url)) => url,
                    // With an issuer, its metadata had no revocation endpoint: said once.
                    Ok(None) if i.provider.issuer().is_some() => {
                        let said = i.no_revocation_reported.replace(true);
                        if let Some(e) = oidc::no_revocation_endpoint(said) {
                            i.report(e);
                        }
                        return i.signed_out(Ok(()), id_token, options, done);
                    }
                    Ok(None) => return i.signed_out(Ok(()), id_token, options, done),
                    Err(e) => {
                        i.report(e);
                        return i.signed_out(Ok(()), id_token, options, done);
                    }
                };
                let form = grant::revocation_form(&refresh_token, i.provider.client_id());
                let proved = i.proved(true);
                let after = i.clone();
                http::revoke(
                    &url,
                    &form,
                    proved,
                    Box::new(move |revoked| after.signed_out(revoked, id_token, options, done)),
                );
            }));
    }
}

impl Inner {
    /// After the revocation (`revoked`: how it went): signed out here and in every tab, the
    /// DPoP key deleted, then the provider's end-session page when asked.
    fn signed_out(
        self: Rc<Self>,
        revoked: Result<(), Error>,
        id_token: Option<String>,
        options: SignOutOptions,
        done: Done<()>,
    ) {
        self.step(|s, _| s.sign_out());
        let inner = self.clone();
        let then: Done<()> = Box::new(move |()| {
            if let Err(e) = revoked {
                inner.report(e);
            }
            if !options.end_session {
                return done(());
            }
            let i = inner.clone();
            inner.signin.end_session(
                id_token,
                options.post_logout_redirect_uri,
                Box::new(move |r| {
                    if let Err(e) = r {
                        i.report(e);
                    }
                    done(())
                }),
            );
        });
        match &self.dpop {
            Some(d) => d.forget(false, Some(then)),
            None => then(()),
        }
    }
}
