//! `auth.fetch`: the token attached for the URLs in `attachTo`, and one retry after a
//! 401 when the core says a refresh can help.

use super::*;

impl Inner {
    pub(super) async fn fetch(self: Rc<Self>, request: Request) -> Result<Response, FetchError> {
        // `request.url()` is already absolute: no need to resolve it against the page.
        let attach = !request.headers().has("authorization").unwrap_or(true)
            && web_sys::Url::new(&request.url())
                .is_ok_and(|u| with_parts(&u, |p| attach::allowed(&self.rules, p)));
        if !attach {
            return send(&request).await;
        }
        let token = match self.clone().authorize(None).await {
            Ok(t) => t,
            Err(e) if e.code == ErrorCode::SignedOut => return send(&request).await,
            Err(e) => return Err(FetchError::Token(e)),
        };
        // What a retry after a 401 sends: the same request when it has no body (GET,
        // HEAD: nothing is consumed by sending it), otherwise a copy made before sending.
        let replay = match (self.retry_on_401, request.method().as_str()) {
            (false, _) => None,
            (true, "GET" | "HEAD") => Some(Clone::clone(&request)),
            (true, _) => request.clone().ok(),
        };
        let request = no_follow(request)?;
        let replay = match replay {
            Some(r) => Some(no_follow(r)?),
            None => None,
        };
        let response = self.clone().send_authorized(request, token.clone()).await?;
        let Some(replay) = replay.filter(|_| response.status() == 401) else {
            return Ok(response);
        };
        // The core decides whether a refresh can help (the challenge, once per token,
        // not during a backoff); a header a cross-origin response hides reads as `None`.
        let challenge = response.headers().get("www-authenticate").ok().flatten();
        self.catch_up();
        let now = self.now();
        let retry =
            self.session
                .borrow_mut()
                .unauthorized(now, &token, challenge.as_deref(), false);
        if !retry {
            return Ok(response);
        }
        let fresh = match self.clone().authorize(Some(token.clone())).await {
            Ok(fresh) if fresh != token => fresh,
            _ => return Ok(response),
        };
        let answer = self.clone().send_authorized(replay, fresh.clone()).await?;
        if answer.status() == 401 {
            // The retry's own 401 is the answer (a call is retried once), and that token
            // forces no refresh later.
            let challenge = answer.headers().get("www-authenticate").ok().flatten();
            self.catch_up();
            let now = self.now();
            self.session
                .borrow_mut()
                .unauthorized(now, &fresh, challenge.as_deref(), true);
        }
        Ok(answer)
    }

    /// Sends an attached request with the token (and a DPoP proof for a DPoP token).
    /// Boxed: `fetch` awaits it twice, and its state machine should exist once.
    fn send_authorized(
        self: Rc<Self>,
        request: Request,
        token: String,
    ) -> crate::browser::Boxed<'static, Result<Response, FetchError>> {
        Box::pin(async move {
            let dpop = match &self.dpop {
                Some(d) if dpop::is_dpop(&self.token_type()) => Some(d.as_ref()),
                _ => None,
            };
            let (url, method) = (request.url(), request.method());
            // With DPoP, a copy made before sending, for a retry with the nonce a resource
            // server asks for (a body is read only once).
            let mut spare = dpop.and_then(|_| request.clone().ok());
            let mut current = request;
            let mut retried = false;
            loop {
                let mut scheme = String::from(if dpop.is_some() { "DPoP " } else { "Bearer " });
                scheme.push_str(&token);
                let headers = current.headers();
                headers
                    .set("authorization", &scheme)
                    .map_err(FetchError::Fetch)?;
                let Some(d) = dpop else {
                    return send(&current).await;
                };
                let proof = d
                    .proof(&method, &url, Some(&token), self.now(), true)
                    .await
                    .map_err(FetchError::Token)?;
                headers.set("dpop", &proof).map_err(FetchError::Fetch)?;
                let response = send(&current).await?;
                crate::browser::dpop::learn_nonce(&url, &response.headers());
                let challenge = response.headers().get("www-authenticate").ok().flatten();
                let wants = dpop::resource_wants_nonce(response.status(), challenge.as_deref());
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
                    _ => return Ok(response),
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

/// An attached request never follows a redirect: browsers keep `Authorization` on
/// same-origin redirects, which would carry the token to a path outside `attachTo` (and a
/// redirect cannot be followed by hand: `redirect: 'manual'` gives an opaque answer). With
/// the default `redirect: 'follow'` the request is sent with `redirect: 'error'`, so a
/// redirect answer rejects the call with a `TypeError`, as a network error would; a
/// caller's own `'manual'` or `'error'` is kept. Requests that get no token are untouched.
fn no_follow(request: Request) -> Result<Request, FetchError> {
    if request.redirect() != web_sys::RequestRedirect::Follow {
        return Ok(request);
    }
    let init = web_sys::RequestInit::new();
    init.set_redirect(web_sys::RequestRedirect::Error);
    Request::new_with_request_and_init(&request, &init).map_err(FetchError::Fetch)
}

async fn send(request: &Request) -> Result<Response, FetchError> {
    match JsFuture::from(crate::browser::global_fetch(request)).await {
        Ok(r) => Ok(r.unchecked_into()),
        Err(e) => Err(FetchError::Fetch(e)),
    }
}
