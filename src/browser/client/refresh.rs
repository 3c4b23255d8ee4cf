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
            if self.store.kind() == StorageKind::Local {
                if let Ok(Some(record)) = self.store.read() {
                    self.step(|s, now| s.adopt(now, &record));
                }
            }
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
        let explicit = self.provider.explicit_token_endpoint().map(str::to_string);
        let token_endpoint = match (&self.refresh_fn, &explicit) {
            (None, None) if self.provider.issuer().is_some() && refresh_token.is_some() => {
                match self.provider.token_endpoint().await {
                    Ok(url) => Some(url),
                    Err(e) => {
                        let failure = Err((Failure::Transient(None), e));
                        self.step(|s, now| s.refresh_done(now, Some(failure)));
                        return;
                    }
                }
            }
            _ => explicit,
        };
        let result = match (&self.refresh_fn, &token_endpoint) {
            (Some(f), _) => f(refresh_token).await.map_err(|e| {
                let failure = if grant::is_terminal(&e.code) {
                    Failure::Terminal
                } else {
                    Failure::Transient(None)
                };
                (failure, e)
            }),
            (None, Some(url)) => match &refresh_token {
                Some(rt) => {
                    let form = grant::refresh_form(rt, self.provider.client_id());
                    http::token_request(url, &form).await
                }
                None => Err((
                    Failure::Terminal,
                    Error::new(ErrorCode::InvalidGrant, "there is no refresh token"),
                )),
            },
            (None, None) => Err((
                Failure::Terminal,
                Error::new(ErrorCode::InvalidGrant, "this client cannot refresh"),
            )),
        };
        // An ID token in the answer must be the session's user, issuer and client.
        let result = result.and_then(|resp| {
            if let Some(id_token) = &resp.id_token {
                let previous = self
                    .session
                    .borrow()
                    .tokens()
                    .and_then(|t| t.id_token.clone());
                refreshed_id_token::check(
                    id_token,
                    previous.as_deref(),
                    self.provider.issuer(),
                    self.provider.client_id(),
                )
                .map_err(|e| (Failure::Terminal, e))?;
            }
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
