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
        set_bearer(&request, &token)?;
        let response = send(&request).await?;
        let Some(replay) = replay.filter(|_| response.status() == 401) else {
            return Ok(response);
        };
        // The core decides whether a refresh can help (the challenge, once per token,
        // not during a backoff); a header a cross-origin response hides reads as `None`.
        let challenge = response.headers().get("www-authenticate").ok().flatten();
        let now = self.now();
        let retry =
            self.session
                .borrow_mut()
                .unauthorized(now, &token, challenge.as_deref(), false);
        if !retry {
            return Ok(response);
        }
        match self.clone().authorize(Some(token.clone())).await {
            Ok(fresh) if fresh != token => {
                set_bearer(&replay, &fresh)?;
                let second = send(&replay).await?;
                if second.status() == 401 {
                    let now = self.now();
                    let challenge = second.headers().get("www-authenticate").ok().flatten();
                    self.session
                        .borrow_mut()
                        .unauthorized(now, &fresh, challenge.as_deref(), true);
                }
                Ok(second)
            }
            _ => Ok(response),
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

fn set_bearer(request: &Request, token: &str) -> Result<(), FetchError> {
    request
        .headers()
        .set("authorization", &format!("Bearer {token}"))
        .map_err(FetchError::Fetch)
}

async fn send(request: &Request) -> Result<Response, FetchError> {
    match JsFuture::from(crate::browser::global_fetch(request)).await {
        Ok(r) => Ok(r.unchecked_into()),
        Err(e) => Err(FetchError::Fetch(e)),
    }
}
