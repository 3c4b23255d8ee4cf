//! Signing out: the core's [`SignOut`] orders the steps (revoke, forget here and in every
//! tab, delete the DPoP key, report, the provider's end-session page when asked); this
//! performs them one by one.

use super::*;
use crate::core::signout::{Asked, SignOut, Step};

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
        let inner = &self.inner;
        let (id_token, refresh_token) = match inner.session.borrow().tokens() {
            Some(t) => (t.id_token.clone(), t.refresh_token.clone()),
            None => (None, None),
        };
        let flow = SignOut::new(Asked {
            revoke: options.revoke,
            end_session: options.end_session,
            post_logout_redirect_uri: options.post_logout_redirect_uri,
            refresh_token,
            id_token,
            client_id: inner.provider.client_id(),
            has_issuer: inner.provider.issuer().is_some(),
        });
        inner.clone().sign_out_steps(flow, done);
    }
}

impl Inner {
    /// Performs the sign-out's steps until one waits for an answer (it goes on from there)
    /// or none is left (`done`).
    fn sign_out_steps(self: Rc<Self>, mut flow: SignOut, done: Done<()>) {
        while let Some(step) = flow.poll() {
            match step {
                Step::FindRevocationEndpoint => {
                    let inner = self.clone();
                    return self.provider.revocation_endpoint(Box::new(move |found| {
                        let reported = inner.no_revocation_reported.get();
                        let now = flow.revocation_endpoint(found, reported);
                        inner.no_revocation_reported.set(now);
                        inner.sign_out_steps(flow, done);
                    }));
                }
                Step::Revoke { url, form } => {
                    let inner = self.clone();
                    return http::revoke(
                        &url,
                        &form,
                        self.proved(true),
                        Box::new(move |revoked| {
                            flow.revoked(revoked);
                            inner.sign_out_steps(flow, done);
                        }),
                    );
                }
                Step::SignOutLocally => self.step(|s, _| s.sign_out()),
                Step::DeleteKey => {
                    if let Some(d) = &self.dpop {
                        let inner = self.clone();
                        return d.forget(
                            false,
                            Some(Box::new(move |()| inner.sign_out_steps(flow, done))),
                        );
                    }
                }
                Step::Report(e) => self.report(e),
                Step::FindEndSessionEndpoint => {
                    let inner = self.clone();
                    return self.provider.end_session_endpoint(Box::new(move |found| {
                        flow.end_session_endpoint(found);
                        inner.sign_out_steps(flow, done);
                    }));
                }
                Step::Navigate(url) => {
                    if let Err(e) = page::assign(&url) {
                        flow.navigation_failed(crate::browser::describe(&e));
                    }
                }
            }
        }
        done(())
    }
}
