//! The refresh flow of the shell: the refresh lock, the tabs barrier, the token request
//! (or the app's `refresh` function), and callers waiting for a refresh in flight.

use super::*;

impl Inner {
    pub(super) fn start_refresh(self: &Rc<Self>, refresh_token: Option<String>) {
        let inner = self.clone();
        let promise = wasm_bindgen_futures::future_to_promise(async move {
            inner.run_refresh(refresh_token).await;
            Ok(JsValue::UNDEFINED)
        });
        *self.refresh.borrow_mut() = Some(promise);
    }

    pub(super) async fn run_refresh(self: Rc<Self>, refresh_token: Option<String>) {
        let tabs = self.tabs.borrow().clone();
        let mut _guard: Option<RefreshGuard> = None;
        let mut refresh_token = refresh_token;
        if let Some(tabs) = &tabs {
            // Wait for a tab that is refreshing, but not past half the time left.
            let left = self.session.borrow().expires_at().map(|e| e - self.now());
            let wait = policy::lock_wait(left);
            _guard = tabs.refresh_lock(wait).await;
            tabs.sync(TABS_WAIT_MS).await;
            self.catch_up();
            if !self.session.borrow().refresh_still_needed() {
                self.step(|s, now| s.refresh_done(now, None));
                return;
            }
            refresh_token = self
                .session
                .borrow()
                .tokens()
                .and_then(|t| t.refresh_token.clone());
        }
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
        let result = result.and_then(|resp| {
            dpop::check_token_type(self.dpop_mode(), &resp.token_type)
                .map_err(|e| (Failure::Terminal, e))?;
            Ok(resp)
        });
        self.step(|s, now| s.refresh_done(now, Some(result)));
        // The lock is released here, after the new tokens were announced.
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
