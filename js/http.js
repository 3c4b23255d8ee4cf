// The HTTP exchanges of the wasm, performed here and decided there (src/browser/http.rs,
// src/browser/client/fetch.rs): requests to the authorization server (token requests,
// revocation, discovery) and the sending of `auth.fetch`'s requests. Nothing here chooses
// what to send, whether to retry or what an answer means. Each exchange answers once
// through `sink(7, id, value)`, never synchronously from the call:
// - `exchange`: value [status, body text, retry-after, dpop-nonce], or [null, the error]
//   when no HTTP answer came (offline, refused, CORS, the timeout);
// - `send`: value [status, the Response, www-authenticate, dpop-nonce], or [null, what
//   the page's fetch rejected with].
// A header the answer does not carry (or CORS hides) is null.

// tokenward's own requests go to the npm package's `send` (js/client.js, which marks them
// so that `window.fetch = auth.fetch` passes them through), or else to the global `fetch`.
let sender = null;
export function setSender(f) {
  sender = f;
}

import { parts } from './shell.js';

const header = (res, name) => res.headers.get(name);

// Gives the wasm the answer `v` to `id`.
function tell(sink, id, v) {
  try {
    sink(7, id, v);
  } catch (e) {
    // The module was freed: nothing is listening any more.
  }
}

// A promise and its settling functions, for the wasm: [promise, resolve, reject].
export function deferred() {
  let settle;
  const p = new Promise((resolve, reject) => {
    settle = [resolve, reject];
  });
  return [p, ...settle];
}

// Answers `id` once `promise` settles (any value is resolved first): [1, the value] or
// [0, what it rejected with]; with `ms` > 0, [2] when it has not settled after `ms` (it is
// then no longer waited for). For the promises of js/dpop.js, WebCrypto and an app's
// `refresh` function.
export function wait(sink, id, promise, ms) {
  let timer;
  const settled = Promise.resolve(promise).then((v) => [1, v], (e) => [0, e]);
  const late = new Promise((ok) => {
    if (ms > 0) timer = setTimeout(() => ok([2]), ms);
  });
  Promise.race([settled, late]).then((v) => {
    clearTimeout(timer);
    tell(sink, id, v);
  });
}

// Answers `id` once, later, with what `read(res)` makes of the answer to `request()`, or
// [null, e] when making, sending or reading it threw or rejected.
function answer(sink, id, request, read) {
  Promise.resolve()
    .then(request)
    .then((r) => (sender ? sender(r) : fetch(r)))
    .then(read)
    .catch((e) => [null, e])
    .then((v) => tell(sink, id, v));
}

// A request to the authorization server: a GET, or with `body` a form POST. mode: 0 cors,
// 1 keepalive, 2 no-cors + keepalive (an answer the page cannot read: status 0, no body).
// With `proof`, the `DPoP` header. Aborted after `ms`, the body's reading included.
export function exchange(sink, id, url, body, mode, proof, ms) {
  let timer;
  const done = (...v) => {
    clearTimeout(timer);
    sink(...v);
  };
  answer(done, id, () => {
    const c = new AbortController();
    const headers = { accept: 'application/json' };
    const init = { headers, signal: c.signal, keepalive: mode > 0 };
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      init.method = 'POST';
      init.body = body;
    }
    if (proof !== undefined) headers.dpop = proof;
    if (mode === 2) init.mode = 'no-cors';
    timer = setTimeout(() => c.abort(), ms);
    return new Request(url, init);
  }, async (res) => [res.status, await res.text(), header(res, 'retry-after'), header(res, 'dpop-nonce')]);
}

// An attached request never follows a redirect: browsers keep `Authorization` on
// same-origin redirects, which would carry the token to a path outside `attachTo` (and
// `redirect: 'manual'` gives an opaque answer, so a redirect cannot be followed by hand).
// With the default 'follow' it is sent with 'error' (a redirect rejects the call with a
// TypeError, as a network error would); a caller's own 'manual' or 'error' is kept.
export const noFollow = (r) => (r.redirect === 'follow' ? new Request(r, { redirect: 'error' }) : r);

// The URL of a request that may get the token, as js/shell.js's `parts` describes it, and
// its method last; undefined when it has `authorization` already (it is then sent
// untouched).
export const target = (r) => (r.headers.has('authorization') ? undefined : parts(new URL(r.url)) + r.method);

// What a retry of `r` sends: the same request when it has no body (GET, HEAD: sending it
// consumes nothing), otherwise a copy made before sending; null when the body was read.
export function copy(r) {
  if (r.method === 'GET' || r.method === 'HEAD') return r;
  try {
    return r.clone();
  } catch (e) {
    return null;
  }
}

// Sends `r` through the page's fetch; with `authorization` (and `proof`), those headers
// are set on it first. Without them the request goes as the page made it.
export function send(sink, id, r, authorization, proof) {
  answer(sink, id, () => {
    if (authorization !== undefined) r.headers.set('authorization', authorization);
    if (proof !== undefined) r.headers.set('dpop', proof);
    return r;
  }, (res) => [res.status, res, header(res, 'www-authenticate'), header(res, 'dpop-nonce')]);
}
