//! The refresh flow of the shell: the refresh lock, the tabs barrier, the token request
//! (or the app's `refresh` function), and callers waiting for a refresh in flight.

use super::*;

impl Inner {
    pub(super) fn start_refresh(self: &Rc<Self>, refresh_token: Option<String>) {
        if self.refresh_settle.borrow().is_some() {
            // One refresh at a time; callers wait for the one in flight.
            return;
        }
        let mut settle = None;
        let promise = js_sys::Promise::new(&mut |resolve, _| settle = Some(resolve));
        *self.refresh.borrow_mut() = Some(promise);
        *self.refresh_settle.borrow_mut() = settle;
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
        self.catch_up();
        if !self.session.borrow().refresh_still_needed() {
            self.step(|s, now| s.refresh_done(now, None));
            self.end_refresh();
            return;
        }
        let refresh_token = self
            .session
            .borrow()
            .tokens()
            .and_then(|t| t.refresh_token.clone());
        self.request_refresh(refresh_token);
    }

    /// Releases the locks (after the new tokens were announced) and lets the callers
    /// waiting for this refresh go on.
    fn end_refresh(self: &Rc<Self>) {
        let ops = self.coord.borrow_mut().finish_refresh();
        self.coordinate(ops);
        let settle = self.refresh_settle.borrow_mut().take();
        if let Some(f) = settle {
            let _ = f.call0(&JsValue::UNDEFINED);
        }
    }

    fn request_refresh(self: &Rc<Self>, refresh_token: Option<String>) {
        let inner = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = inner.refresh_request(refresh_token).await;
            inner.step(|s, now| s.refresh_done(now, Some(result)));
            inner.end_refresh();
        });
    }

    async fn refresh_request(
        self: &Rc<Self>,
        refresh_token: Option<String>,
    ) -> Result<TokenResponse, (Failure, Error)> {
        // The core plans the request; discovery, when it says so, comes first.
        let client_id = self.provider.client_id();
        let can_discover = self.provider.issuer().is_some();
        let plan = |endpoint: Option<&str>| {
            grant::refresh_plan(
                self.refresh_fn.is_some(),
                endpoint,
                can_discover,
                refresh_token.as_deref(),
                client_id,
            )
        };
        let mut planned = plan(self.provider.explicit_token_endpoint());
        if planned == grant::RefreshPlan::Discover {
            planned = match self.provider.token_endpoint().await {
                Ok(url) => plan(Some(&url)),
                Err(e) => grant::RefreshPlan::Fail(Failure::Transient(None), e),
            };
        }
        let result = match (planned, &self.refresh_fn) {
            (grant::RefreshPlan::AppFunction, Some(f)) => f(refresh_token.clone())
                .await
                .map_err(grant::app_refresh_failure),
            (grant::RefreshPlan::Request { url, form }, _) => {
                let now = || self.now();
                let proved = self.dpop.as_deref().map(|dpop| http::Proved {
                    dpop,
                    now: &now,
                    has_session: true,
                });
                http::token_request(&url, &form, proved).await
            }
            (grant::RefreshPlan::Fail(failure, e), _) => Err((failure, e)),
            (_, _) => Err((
                Failure::Terminal,
                Error::new(ErrorCode::InvalidGrant, "this client cannot refresh"),
            )),
        };
        // A token type the `dpop` option does not accept ends the session: the server has
        // already rotated the refresh token.
        result.and_then(|resp| {
            dpop::check_token_type(self.dpop_mode(), &resp.token_type)
                .map_err(|e| (Failure::Terminal, e))?;
            Ok(resp)
        })
    }

    pub(super) fn authorize(
        self: Rc<Self>,
        force: Option<String>,
    ) -> crate::browser::Boxed<'static, Result<String, Error>> {
        Box::pin(async move {
            let mut joined = false;
            for _ in 0..4 {
                let now = self.now();
                let (actions, demand) =
                    self.session
                        .borrow_mut()
                        .demand(now, force.as_deref(), joined);
                self.perform(actions);
                match demand {
                    Demand::Ready(token) => return Ok(token),
                    Demand::Fail(e) => return Err(e),
                    Demand::Wait => {
                        let pending = self.refresh.borrow().clone();
                        if let Some(p) = pending {
                            let _ = JsFuture::from(p).await;
                        }
                        joined = true;
                    }
                }
            }
            Err(Error::network("the token could not be refreshed"))
        })
    }
}
