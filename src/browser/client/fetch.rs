//! `auth.fetch`: the token attached for the URLs in `attachTo`, and one retry after a
//! 401 when the core says a refresh can help.

use super::*;

impl Inner {
    pub(super) async fn fetch(self: Rc<Self>, request: &JsValue) -> Result<http::Sent, FetchError> {
        // A request that already has `authorization` is untouched; `request.url` is already
        // absolute: no need to resolve it against the page.
        let target = match http::target(request) {
            Some(t)
                if web_sys::Url::new(&t.0)
                    .is_ok_and(|u| with_parts(&u, |p| attach::allowed(&self.rules, p))) =>
            {
                t
            }
            _ => return send(request, None).await,
        };
        let token = match self.clone().authorize(None).await {
            Ok(t) => t,
            Err(e) if e.code == ErrorCode::SignedOut => return send(request, None).await,
            Err(e) => return Err(FetchError::Token(e)),
        };
        // What a retry after a 401 sends (a copy made before sending when it has a body);
        // the attached requests never follow a redirect.
        let replay = match self.retry_on_401 {
            true => http::copy(request),
            false => None,
        };
        let request = http::no_follow(request).map_err(FetchError::Fetch)?;
        let replay = match replay {
            Some(r) => Some(http::no_follow(&r).map_err(FetchError::Fetch)?),
            None => None,
        };
        let sent = self
            .clone()
            .send_authorized(target.clone(), request, token.clone())
            .await?;
        let Some(replay) = replay.filter(|_| sent.status == 401) else {
            return Ok(sent);
        };
        // The core decides whether a refresh can help (the challenge, once per token,
        // not during a backoff); a header a cross-origin response hides reads as `None`.
        self.catch_up();
        let now = self.now();
        let retry =
            self.session
                .borrow_mut()
                .unauthorized(now, &token, sent.challenge.as_deref(), false);
        if !retry {
            return Ok(sent);
        }
        let fresh = match self.clone().authorize(Some(token.clone())).await {
            Ok(fresh) if fresh != token => fresh,
            _ => return Ok(sent),
        };
        let answer = self
            .clone()
            .send_authorized(target, replay, fresh.clone())
            .await?;
        if answer.status == 401 {
            // The retry's own 401 is the answer (a call is retried once), and that token
            // forces no refresh later.
            self.catch_up();
            let now = self.now();
            self.session
                .borrow_mut()
                .unauthorized(now, &fresh, answer.challenge.as_deref(), true);
        }
        Ok(answer)
    }

    /// Sends an attached request (`target`: its URL and method) with the token (and a DPoP
    /// proof for a DPoP token). Boxed: `fetch` awaits it twice, and its state machine
    /// should exist once.
    fn send_authorized(
        self: Rc<Self>,
        (url, method): (String, String),
        request: JsValue,
        token: String,
    ) -> crate::browser::Boxed<'static, Result<http::Sent, FetchError>> {
        Box::pin(async move {
            let dpop = match &self.dpop {
                Some(d) if dpop::is_dpop(&self.token_type()) => Some(d.as_ref()),
                _ => None,
            };
            let mut scheme = String::from(if dpop.is_some() { "DPoP " } else { "Bearer " });
            scheme.push_str(&token);
            let Some(d) = dpop else {
                return send(&request, Some(&scheme)).await;
            };
            // A copy made before sending, for a retry with the nonce a resource server asks
            // for (a body is read only once).
            let mut spare = http::copy(&request);
            let mut current = request;
            let mut retried = false;
            loop {
                let proof = d
                    .proof(&method, &url, Some(&token), self.now(), true)
                    .await
                    .map_err(FetchError::Token)?;
                let sent = http::send(&current, Some(&scheme), Some(&proof))
                    .await
                    .map_err(FetchError::Fetch)?;
                crate::browser::dpop::learn_nonce(&url, sent.nonce.clone());
                let wants = dpop::resource_wants_nonce(sent.status, sent.challenge.as_deref());
                let again = dpop::retry_with_nonce(
                    wants,
                    retried,
                    crate::browser::dpop::nonce_for(&url).as_deref(),
                );
                match spare.take() {
                    Some(next) if again => {
                        retried = true;
                        current = next;
                    }
                    _ => return Ok(sent),
                }
            }
        })
    }

    /// With `localStorage`, takes a newer record another tab wrote (a 401 may mean that
    /// tab rotated the token, and its announcement is still on the way; a refresh about to
    /// be sent may find another tab's).
    pub(super) fn catch_up(self: &Rc<Self>) {
        if self.store.kind() == StorageKind::Local {
            if let Ok(Some(record)) = self.store.read() {
                self.step(|s, now| s.adopt(now, &record));
            }
        }
    }
}

/// Sends a request without a DPoP proof (as it is, or with `authorization`).
async fn send(request: &JsValue, authorization: Option<&str>) -> Result<http::Sent, FetchError> {
    http::send(request, authorization, None)
        .await
        .map_err(FetchError::Fetch)
}
