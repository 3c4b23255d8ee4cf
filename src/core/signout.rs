//! A sign-out's steps, in order, as explicit state: fed what each step gave, polled for
//! the next one (as the tabs' coordination is). The shell performs them: it finds the
//! endpoints (explicit or discovered), sends the revocation, signs the session out, deletes
//! the DPoP key, reports errors as `error` events and navigates.
//!
//! The order: the refresh token is revoked first (when asked and an endpoint is known),
//! then the session ends here and in every tab, whatever the revocation's outcome; then
//! the DPoP key goes; then a failed revocation is reported; then, when asked, the page goes
//! to the provider's end-session endpoint (RP-Initiated Logout), last, because it leaves
//! the page.

use super::error::Error;
use super::grant;
use super::oidc;
use crate::prelude::*;

/// What the shell does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Find the revocation endpoint (explicit, or discovered), then call
    /// [`SignOut::revocation_endpoint`].
    FindRevocationEndpoint,
    /// POST this revocation request (RFC 7009), then call [`SignOut::revoked`].
    Revoke {
        /// The revocation endpoint.
        url: String,
        /// The form body.
        form: String,
    },
    /// End the session here and in every tab.
    SignOutLocally,
    /// Delete the session's DPoP key (with DPoP), waiting for the deletion.
    DeleteKey,
    /// Report this as an `error` event.
    Report(Error),
    /// Find the end-session endpoint (explicit, or discovered), then call
    /// [`SignOut::end_session_endpoint`].
    FindEndSessionEndpoint,
    /// Send the page here; if that fails, call [`SignOut::navigation_failed`].
    Navigate(String),
}

/// What a sign-out was asked to do, and the session it ends.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// Revoke the refresh token first.
    pub revoke: bool,
    /// Then go to the provider's end-session endpoint.
    pub end_session: bool,
    /// Where the provider sends the user after that.
    pub post_logout_redirect_uri: Option<String>,
    /// The session's refresh token, if any.
    pub refresh_token: Option<String>,
    /// The session's ID token, if any (the end-session request's `id_token_hint`).
    pub id_token: Option<String>,
    /// The client id.
    pub client_id: Option<String>,
    /// Whether the client has an issuer (its metadata is where an endpoint would be).
    pub has_issuer: bool,
}

/// One sign-out.
#[derive(Debug)]
pub struct SignOut {
    asked: Asked,
    /// The steps decided so far; those before `next` were polled.
    steps: Vec<Option<Step>>,
    next: usize,
    /// The revocation's failure, reported once the session has ended.
    failed: Option<Error>,
}

impl SignOut {
    /// A sign-out: it starts with the revocation when asked and there is a refresh token.
    pub fn new(asked: Asked) -> SignOut {
        let mut s = SignOut {
            asked,
            steps: Vec::new(),
            next: 0,
            failed: None,
        };
        if s.asked.revoke && s.asked.refresh_token.is_some() {
            s.push(Step::FindRevocationEndpoint);
        } else {
            s.after_revocation();
        }
        s
    }

    /// Queues a step after those decided so far.
    fn push(&mut self, step: Step) {
        self.steps.push(Some(step));
    }

    /// The next step; `None` when the sign-out is over.
    pub fn poll(&mut self) -> Option<Step> {
        let step = self.steps.get_mut(self.next)?.take();
        self.next += 1;
        step
    }

    /// What finding the revocation endpoint gave: one, none, or why it could not be found
    /// (then the error is reported and the session still ends). `reported` says whether
    /// this client already said that no endpoint is known (it is said once); the result
    /// is whether it has been said now.
    pub fn revocation_endpoint(
        &mut self,
        found: Result<Option<String>, Error>,
        reported: bool,
    ) -> bool {
        match (found, &self.asked.refresh_token) {
            (Ok(Some(url)), Some(rt)) => {
                let form = grant::revocation_form(rt, self.asked.client_id.as_deref());
                self.push(Step::Revoke { url, form });
                return reported;
            }
            (Ok(None), _) if self.asked.has_issuer => {
                if let Some(e) = oidc::no_revocation_endpoint(reported) {
                    self.push(Step::Report(e));
                }
                self.after_revocation();
                return true;
            }
            (Err(e), _) => self.push(Step::Report(e)),
            _ => {}
        }
        self.after_revocation();
        reported
    }

    /// How the revocation went; a failure is reported after the session has ended.
    pub fn revoked(&mut self, outcome: Result<(), Error>) {
        self.failed = outcome.err();
        self.after_revocation();
    }

    /// What finding the end-session endpoint gave.
    pub fn end_session_endpoint(&mut self, found: Result<String, Error>) {
        match found {
            Ok(endpoint) => self.push(Step::Navigate(oidc::end_session_url(
                &endpoint,
                self.asked.id_token.as_deref(),
                self.asked.client_id.as_deref(),
                self.asked.post_logout_redirect_uri.as_deref(),
            ))),
            Err(e) => self.push(Step::Report(e)),
        }
    }

    /// The page could not be sent to the end-session endpoint (`cause`: what the browser
    /// said).
    pub fn navigation_failed(&mut self, cause: String) {
        self.push(Step::Report(
            Error::options("the end-session endpoint could not be opened").with_cause(cause),
        ));
    }

    fn after_revocation(&mut self) {
        self.push(Step::SignOutLocally);
        self.push(Step::DeleteKey);
        if let Some(e) = self.failed.take() {
            self.push(Step::Report(e));
        }
        if self.asked.end_session {
            self.push(Step::FindEndSessionEndpoint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;

    fn asked() -> Asked {
        Asked {
            revoke: true,
            refresh_token: Some("rt".into()),
            client_id: Some("spa".into()),
            ..Asked::default()
        }
    }

    fn drain(s: &mut SignOut) -> Vec<Step> {
        ::core::iter::from_fn(|| s.poll()).collect()
    }

    #[test]
    fn the_refresh_token_is_revoked_before_the_session_ends() {
        let mut s = SignOut::new(asked());
        assert_eq!(drain(&mut s), [Step::FindRevocationEndpoint]);
        s.revocation_endpoint(Ok(Some("https://as.example/revoke".into())), false);
        let Some(Step::Revoke { url, form }) = s.poll() else {
            panic!("a revocation comes next");
        };
        assert_eq!(url, "https://as.example/revoke");
        assert_eq!(form, "token=rt&token_type_hint=refresh_token&client_id=spa");
        assert_eq!(s.poll(), None, "nothing else until the revocation's answer");
        s.revoked(Ok(()));
        assert_eq!(drain(&mut s), [Step::SignOutLocally, Step::DeleteKey]);
    }

    #[test]
    fn a_failed_revocation_still_signs_out_and_is_reported_after() {
        let mut s = SignOut::new(asked());
        s.poll();
        s.revocation_endpoint(Ok(Some("https://as.example/revoke".into())), false);
        s.poll();
        let e = Error::new(ErrorCode::RevocationFailed, "refused");
        s.revoked(Err(e.clone()));
        assert_eq!(
            drain(&mut s),
            [Step::SignOutLocally, Step::DeleteKey, Step::Report(e)]
        );
    }

    #[test]
    fn nothing_is_revoked_without_a_refresh_token_or_when_not_asked() {
        let mut s = SignOut::new(Asked {
            refresh_token: None,
            ..asked()
        });
        assert_eq!(drain(&mut s), [Step::SignOutLocally, Step::DeleteKey]);
        let mut s = SignOut::new(Asked {
            revoke: false,
            ..asked()
        });
        assert_eq!(drain(&mut s), [Step::SignOutLocally, Step::DeleteKey]);
    }

    #[test]
    fn no_known_revocation_endpoint_is_said_once_and_only_with_an_issuer() {
        let with_issuer = || Asked {
            has_issuer: true,
            ..asked()
        };
        let mut s = SignOut::new(with_issuer());
        s.poll();
        assert!(s.revocation_endpoint(Ok(None), false));
        let steps = drain(&mut s);
        assert!(
            matches!(&steps[..], [Step::Report(e), Step::SignOutLocally, Step::DeleteKey]
            if e.code == ErrorCode::RevocationFailed)
        );
        let mut again = SignOut::new(with_issuer());
        again.poll();
        assert!(again.revocation_endpoint(Ok(None), true));
        assert_eq!(drain(&mut again), [Step::SignOutLocally, Step::DeleteKey]);
        let mut plain = SignOut::new(asked());
        plain.poll();
        assert!(!plain.revocation_endpoint(Ok(None), false));
        assert_eq!(drain(&mut plain), [Step::SignOutLocally, Step::DeleteKey]);
    }

    #[test]
    fn a_discovery_failure_is_reported_and_the_session_still_ends() {
        let mut s = SignOut::new(asked());
        s.poll();
        let e = Error::new(ErrorCode::InvalidDiscovery, "no document");
        s.revocation_endpoint(Err(e.clone()), false);
        assert_eq!(
            drain(&mut s),
            [Step::Report(e), Step::SignOutLocally, Step::DeleteKey]
        );
    }

    #[test]
    fn the_provider_session_ends_last_with_the_id_token_hint() {
        let mut s = SignOut::new(Asked {
            revoke: false,
            end_session: true,
            id_token: Some("a.b.c".into()),
            post_logout_redirect_uri: Some("https://app.example/".into()),
            ..asked()
        });
        assert_eq!(
            drain(&mut s),
            [
                Step::SignOutLocally,
                Step::DeleteKey,
                Step::FindEndSessionEndpoint
            ]
        );
        s.end_session_endpoint(Ok("https://op.example/end".into()));
        assert_eq!(
            drain(&mut s),
            [Step::Navigate(
                "https://op.example/end?id_token_hint=a.b.c&client_id=spa&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2F".into()
            )]
        );
        s.navigation_failed("SecurityError: blocked".into());
        assert!(
            matches!(&drain(&mut s)[..], [Step::Report(e)] if e.code == ErrorCode::InvalidOptions)
        );
    }

    #[test]
    fn a_provider_without_an_end_session_endpoint_is_reported() {
        let mut s = SignOut::new(Asked {
            revoke: false,
            end_session: true,
            ..asked()
        });
        drain(&mut s);
        let e = Error::new(ErrorCode::InvalidDiscovery, "none");
        s.end_session_endpoint(Err(e.clone()));
        assert_eq!(drain(&mut s), [Step::Report(e)]);
    }
}
