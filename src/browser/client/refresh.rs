//! The refresh flow of the shell: the refresh lock, the tabs barrier, the token request
//! (or the app's `refresh` function), and callers waiting for a refresh in flight.

use super::*;

impl Inner {
    pub(super) fn start_refresh(self: &Rc<Self>, refresh_token: Option<String>) {
        if self.refreshing.replace(true) {
            // One refresh at a time; callers wait for the one in flight. The core asks
            // again while one is in flight only when it was done with that one (a listener
            // of its outcome called `refresh()`, or the session ended and another began):
            // this one then starts once the one in flight has ended.
            self.again.set(true);
            return;
        }
        if self.coordinated.get() {
            // Wait for a tab that is refreshing, but not past half the time left.
            let left = self.session.borrow().expires_at().map(|e| e - self.now());
            let ops = self
                .coord
                .borrow_mut()
                .start_refresh(policy::lock_wait(left));
            self.coordinate(ops);
        } else {
            self.request_refresh(refresh_token);
        }
    }

    /// The lock is held (or cannot be had) and the barrier passed: what another tab wrote
    /// is read first, and the refresh goes ahead only when still needed.
    pub(super) fn refresh_ready(self: &Rc<Self>) {
        if self.store.kind() == StorageKind::Local {
            if let Ok(record) = self.store.read() {
                // Past the barrier, a tokenward sign-out in a live tab has arrived here.
                let barrier = self.coordinated.get() && self.coord.borrow().has_locks();
                self.step(|s, now| s.reread(now, record.as_deref(), barrier));
            }
        }
        if !self.session.borrow().refresh_still_needed() {
            self.step(|s, now| s.refresh_done(now, None));
            self.end_refresh();
            return;
        }
        self.request_refresh(self.refresh_token());
    }

    /// The session's refresh token now.
    fn refresh_token(&self) -> Option<String> {
        self.session
            .borrow()
            .tokens()
            .and_then(|t| t.refresh_token.clone())
    }

    /// Releases the locks (after the new tokens were announced), starts the refresh the
    /// core asked for meanwhile (when it still waits for one), and lets the callers waiting
    /// for this refresh go on.
    fn end_refresh(self: &Rc<Self>) {
        let ops = self.coord.borrow_mut().finish_refresh();
        self.coordinate(ops);
        self.refreshing.set(false);
        // The core still waits for a refresh only when it asked for one after this one's
        // answer (or this answer was not its own): none is in flight for it any more.
        if self.session.borrow().is_refreshing() {
            self.start_refresh(self.refresh_token());
        }
        let waiting = ::core::mem::take(&mut *self.waiting.borrow_mut());
        for then in waiting {
            then(());
        }
    }

    /// Sends the refresh the core asks for now. Its answer goes to the core unless the core
    /// asked for another refresh while it was in flight: the session it was for has ended
    /// then (only that resets the core's refresh), and the answer is not the new one's.
    fn request_refresh(self: &Rc<Self>, refresh_token: Option<String>) {
        self.again.set(false);
        let inner = self.clone();
        self.refresh_request(
            refresh_token,
            Box::new(move |result| {
                if !inner.again.get() {
                    inner.step(|s, now| s.refresh_done(now, Some(result)));
                }
                inner.end_refresh();
            }),
        );
    }

    fn refresh_request(
        self: &Rc<Self>,
        refresh_token: Option<String>,
        done: Done<Result<TokenResponse, (Failure, Error)>>,
    ) {
        // A token type the `dpop` option does not accept ends the session: the server has
        // already rotated the refresh token.
        let inner = self.clone();
        let done: Done<Result<TokenResponse, (Failure, Error)>> = Box::new(move |result| {
            done(result.and_then(|resp| {
                dpop::check_token_type(inner.dpop_mode(), &resp.token_type)
                    .map_err(|e| (Failure::Terminal, e))?;
                Ok(resp)
            }))
        });
        // The core plans the request; discovery, when it says so, comes first.
        let planned = self.plan(
            refresh_token.as_deref(),
            self.provider.explicit_token_endpoint().as_deref(),
        );
        if planned != grant::RefreshPlan::Discover {
            return self.send_refresh(planned, refresh_token, done);
        }
        let inner = self.clone();
        self.provider.token_endpoint(Box::new(move |url| {
            let planned = match url {
                Ok(url) => inner.plan(refresh_token.as_deref(), Some(&url)),
                Err(e) => grant::RefreshPlan::Fail(Failure::Transient(None), e),
            };
            inner.send_refresh(planned, refresh_token, done);
        }));
    }

    fn plan(&self, refresh_token: Option<&str>, endpoint: Option<&str>) -> grant::RefreshPlan {
        grant::refresh_plan(
            self.refresh_fn.is_some(),
            endpoint,
            self.provider.issuer().is_some(),
            refresh_token,
            self.provider.client_id().as_deref(),
        )
    }

    fn send_refresh(
        self: &Rc<Self>,
        planned: grant::RefreshPlan,
        refresh_token: Option<String>,
        done: Done<Result<TokenResponse, (Failure, Error)>>,
    ) {
        let now = self.now();
        self.session.borrow_mut().refresh_sent(now);
        match (planned, &self.refresh_fn) {
            (grant::RefreshPlan::AppFunction, Some(f)) => f(
                refresh_token,
                Box::new(move |r| done(r.map_err(grant::app_refresh_failure))),
            ),
            (grant::RefreshPlan::Request { url, form }, _) => {
                http::token_request(&url, &form, self.proved(true), done)
            }
            (grant::RefreshPlan::Fail(failure, e), _) => done(Err((failure, e))),
            (_, _) => done(Err((
                Failure::Terminal,
                Error::new(ErrorCode::InvalidGrant, "this client cannot refresh"),
            ))),
        }
    }

    /// What a request to the authorization server needs for its DPoP proof (with DPoP).
    pub(super) fn proved(self: &Rc<Self>, has_session: bool) -> Option<http::Proved> {
        let inner = self.clone();
        self.dpop.clone().map(|dpop| http::Proved {
            dpop,
            now: Rc::new(move || inner.now()),
            has_session,
        })
    }

    /// A valid access token for `done`, refreshed first when the core says so (`force`:
    /// the token a 401 answered, or `refresh()`'s current one), joining a refresh in
    /// flight. Tried at most four times.
    pub(super) fn authorize(
        self: &Rc<Self>,
        force: Option<String>,
        done: Done<Result<String, Error>>,
    ) {
        self.authorize_try(force, false, 4, done);
    }

    fn authorize_try(
        self: &Rc<Self>,
        force: Option<String>,
        joined: bool,
        tries: u8,
        done: Done<Result<String, Error>>,
    ) {
        if tries == 0 {
            return done(Err(Error::network("the token could not be refreshed")));
        }
        let now = self.now();
        let (actions, demand) = self
            .session
            .borrow_mut()
            .demand(now, force.as_deref(), joined);
        self.perform(actions);
        match demand {
            Demand::Ready(token) => done(Ok(token)),
            Demand::Fail(e) => done(Err(e)),
            Demand::Wait if self.refreshing.get() => {
                let inner = self.clone();
                self.waiting.borrow_mut().push(Box::new(move |()| {
                    inner.authorize_try(force, true, tries - 1, done)
                }));
            }
            Demand::Wait => self.authorize_try(force, true, tries - 1, done),
        }
    }
}
