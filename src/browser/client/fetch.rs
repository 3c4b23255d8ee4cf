//! `auth.fetch`: the token attached for the URLs in `attachTo`, and one retry after a
//! 401 when the core says a refresh can help.

use super::*;
#[cfg(target_arch = "wasm32")]
use crate::browser::page::Described;

/// An attached request: its URL and method (for the DPoP proof).
type Target = Rc<(String, String)>;

impl Inner {
    /// `auth.fetch` of `request` (the Rust API's; the npm package's `js/client.js` sends
    /// the requests it can itself, see [`TokenClient::ready_authorization`]).
    pub(super) fn fetch(
        self: &Rc<Self>,
        request: JsValue,
        done: Done<Result<http::Sent, FetchError>>,
    ) {
        // A request that already has `authorization` is untouched; `request.url` is already
        // absolute: no need to resolve it against the page.
        match http::target(&request) {
            Some((url, method)) if attach::allowed(&self.rules, url.parts()) => {
                self.fetch_attached(Rc::new((url.href, method)), request, done)
            }
            _ => send(&request, None, done),
        }
    }

    /// [`Inner::fetch`] of a request to a URL in `attachTo`: with the token once it is
    /// known, untouched when signed out.
    fn fetch_attached(
        self: &Rc<Self>,
        target: Target,
        request: JsValue,
        done: Done<Result<http::Sent, FetchError>>,
    ) {
        let inner = self.clone();
        self.authorize(
            None,
            Box::new(move |token| match token {
                Ok(t) => inner.fetch_with(target, request, t, done),
                Err(e) if e.code == ErrorCode::SignedOut => send(&request, None, done),
                Err(e) => done(Err(FetchError::Token(e))),
            }),
        );
    }

    /// [`Inner::fetch`] once the token is known.
    fn fetch_with(
        self: Rc<Self>,
        target: Target,
        request: JsValue,
        token: String,
        done: Done<Result<http::Sent, FetchError>>,
    ) {
        // What a retry after a 401 sends (a copy made before sending when it has a body;
        // it is made redirect-free only when it is sent); the attached requests never follow
        // a redirect.
        let replay = match self.retry_on_401 {
            true => http::copy(&request),
            false => None,
        };
        let request = match http::no_follow(&request) {
            Ok(r) => r,
            Err(e) => return done(Err(FetchError::Fetch(e))),
        };
        let inner = self.clone();
        let first = token.clone();
        self.send_authorized(
            target.clone(),
            request,
            first,
            Box::new(move |sent| match sent {
                Ok(sent) => inner.answered(target, replay, token, sent, done),
                Err(e) => done(Err(e)),
            }),
        );
    }

    /// The request sent with `token` was answered (`sent`): a 401 is sent again once as
    /// `replay`, with a fresh token, when the core says a refresh can help (the challenge,
    /// once per token, not during a backoff); a header a cross-origin response hides reads
    /// as `None`. Every other answer is the caller's.
    pub(super) fn answered(
        self: Rc<Self>,
        target: Target,
        replay: Option<JsValue>,
        token: String,
        sent: http::Sent,
        done: Done<Result<http::Sent, FetchError>>,
    ) {
        let Some(replay) = replay.filter(|_| sent.status == 401) else {
            return done(Ok(sent));
        };
        self.catch_up();
        let now = self.now();
        let retry =
            self.session
                .borrow_mut()
                .unauthorized(now, &token, sent.challenge.as_deref(), false);
        if !retry {
            return done(Ok(sent));
        }
        let again = self.clone();
        self.authorize(
            Some(token.clone()),
            Box::new(move |fresh| {
                let fresh = match fresh {
                    Ok(fresh) if fresh != token => fresh,
                    _ => return done(Ok(sent)),
                };
                let Ok(replay) = http::no_follow(&replay) else {
                    return done(Ok(sent));
                };
                let last = again.clone();
                let used = fresh.clone();
                again.send_authorized(
                    target,
                    replay,
                    fresh,
                    Box::new(move |answer| {
                        if let Ok(a) = &answer {
                            if a.status == 401 {
                                // The retry's own 401 is the answer (a call is retried
                                // once), and that token forces no refresh later.
                                last.catch_up();
                                let now = last.now();
                                last.session.borrow_mut().unauthorized(
                                    now,
                                    &used,
                                    a.challenge.as_deref(),
                                    true,
                                );
                            }
                        }
                        done(answer)
                    }),
                );
            }),
        );
    }

    /// The `Authorization` value a request to `url` is sent with at once, with no step of
    /// the flow above to wait for: `Some("")` when `url` is not in `attachTo` (it is sent
    /// untouched), `Some("Bearer …")` when the core has a token ready
    /// ([`Session::ready_tokens`]); `None` when the whole flow decides (the `dpop` option,
    /// a refresh due or in flight, signed out).
    #[cfg(target_arch = "wasm32")]
    pub(super) fn ready_authorization(&self, url: attach::ParsedUrl<'_>) -> Option<String> {
        if self.dpop.is_some() {
            return None;
        }
        if !attach::allowed(&self.rules, url) {
            return Some(String::new());
        }
        // Without the `dpop` option every token is a Bearer one (`check_token_type`).
        let now = self.now();
        Some(self.session.borrow().ready_tokens(now)?.authorization())
    }

    /// Sends an attached request (`target`: its URL and method) with the token (and a DPoP
    /// proof for a DPoP token).
    fn send_authorized(
        self: Rc<Self>,
        target: Target,
        request: JsValue,
        token: String,
        done: Done<Result<http::Sent, FetchError>>,
    ) {
        let dpop = match &self.dpop {
            Some(d) if dpop::is_dpop(&self.token_type()) => Some(d.clone()),
            _ => None,
        };
        let mut scheme = String::from(if dpop.is_some() { "DPoP " } else { "Bearer " });
        scheme.push_str(&token);
        let Some(d) = dpop else {
            return send(&request, Some(&scheme), done);
        };
        // A copy made before sending, for a retry with the nonce a resource server asks
        // for (a body is read only once).
        let spare = http::copy(&request);
        self.send_proved(d, target, request, spare, token, scheme, false, done);
    }

    /// One send of [`Inner::send_authorized`] with a fresh DPoP proof; a resource server's
    /// `use_dpop_nonce` answer is sent again once, as `spare`, with the nonce it gave.
    #[allow(clippy::too_many_arguments)]
    fn send_proved(
        self: Rc<Self>,
        d: Rc<Dpop>,
        target: Target,
        current: JsValue,
        spare: Option<JsValue>,
        token: String,
        scheme: String,
        retried: bool,
        done: Done<Result<http::Sent, FetchError>>,
    ) {
        let inner = self.clone();
        d.clone().proof(
            target.1.clone(),
            target.0.clone(),
            Some(token.clone()),
            self.now(),
            true,
            Box::new(move |proof| {
                let proof = match proof {
                    Ok(p) => p,
                    Err(e) => return done(Err(FetchError::Token(e))),
                };
                let again = scheme.clone();
                http::send(
                    &current,
                    Some(&scheme),
                    Some(&proof),
                    Box::new(move |sent| {
                        let sent = match sent {
                            Ok(s) => s,
                            Err(e) => return done(Err(e)),
                        };
                        let url = &target.0;
                        let given = crate::browser::dpop::learn_nonce(url, sent.nonce.clone());
                        let wants =
                            dpop::resource_wants_nonce(sent.status, sent.challenge.as_deref());
                        let retry = dpop::retry_with_nonce(wants, retried, given);
                        match spare {
                            Some(next) if retry => {
                                inner.send_proved(d, target, next, None, token, again, true, done)
                            }
                            _ => done(Ok(sent)),
                        }
                    }),
                );
            }),
        );
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
fn send(
    request: &JsValue,
    authorization: Option<&str>,
    done: Done<Result<http::Sent, FetchError>>,
) {
    http::send(request, authorization, None, done);
}

/// For the npm package's `auth.fetch` (`bindings`, wasm only).
#[cfg(target_arch = "wasm32")]
impl TokenClient {
    /// For the npm package's `auth.fetch`, which sends most attached requests itself: the
    /// `Authorization` value a request to `url` gets at once (see
    /// [`Inner::ready_authorization`]); `None` when [`TokenClient::fetch_then`] must decide.
    pub(crate) fn ready_authorization(&self, url: attach::ParsedUrl<'_>) -> Option<String> {
        self.inner.ready_authorization(url)
    }

    /// [`TokenClient::fetch_then`] of a request without `authorization` that `js/client.js`
    /// described.
    pub(crate) fn fetch_described(
        &self,
        request: JsValue,
        described: Described<'_>,
        done: Done<Result<http::Sent, FetchError>>,
    ) {
        if !attach::allowed(&self.inner.rules, described.url) {
            return send(&request, None, done);
        }
        let target = Rc::new((described.href.to_string(), described.method.to_string()));
        self.inner.fetch_attached(target, request, done);
    }

    /// Whether an attached request answered 401 may be sent again (`retryOn401`).
    pub(crate) fn retries_401(&self) -> bool {
        self.inner.retry_on_401
    }

    /// A request the npm package sent with `authorization` (as
    /// [`TokenClient::ready_authorization`] gave it) was answered 401 (`response`, with the
    /// `WWW-Authenticate` header `challenge`): as [`TokenClient::fetch_then`] would, the
    /// core decides whether `replay` is sent again with a fresh token; `done` gets what
    /// was sent last (its `Response` is what the caller sees).
    pub(crate) fn answered_401(
        &self,
        replay: JsValue,
        authorization: &str,
        response: JsValue,
        challenge: Option<String>,
        done: Done<Result<http::Sent, FetchError>>,
    ) {
        let sent = http::Sent {
            response,
            status: 401,
            challenge,
            nonce: None,
        };
        let token = match authorization.strip_prefix("Bearer ") {
            Some(t) if self.inner.dpop.is_none() => t.to_string(),
            _ => return done(Ok(sent)),
        };
        // Without DPoP the retry needs no URL or method (they only go into a proof).
        let target = Rc::new((String::new(), String::new()));
        self.inner
            .clone()
            .answered(target, Some(replay), token, sent, done);
    }
}
