// The public JavaScript API, shared by the production entry (index.js, which loads the
// .wasm file) and the development entry (index.dev.js, with the bytes inlined). It only
// loads the module once per page, defines TokenwardError and binds methods so that
// `auth.fetch` can be passed around like `window.fetch`. Every decision is in the wasm.

// A server's error answer as the wasm puts it in `cause`: `{ error, error_description?, status }`.
function serverAnswer(cause) {
  if (cause === null || typeof cause !== 'object' || cause instanceof Error) return undefined;
  if (typeof cause.error !== 'string' || typeof cause.status !== 'number') return undefined;
  const server = { error: cause.error, status: cause.status };
  if (typeof cause.error_description === 'string') server.error_description = cause.error_description;
  return server;
}

/** An error with a stable `code` (see the README for the list). */
export class TokenwardError extends Error {
  constructor(code, message, options) {
    super(message || code, options);
    this.name = 'TokenwardError';
    this.code = code;
    const server = serverAnswer(options?.cause);
    if (server) this.server = server;
  }
}

// The requests tokenward itself hands to the global `fetch`. When that global is
// `auth.fetch` (`window.fetch = auth.fetch`) or a wrapper around it, such a request comes
// back into `auth.fetch`: it already carries what tokenward adds, and goes to the fetch the
// page had when tokenward loaded, instead of round in a loop.
// A wrapper that copies the request (`(i, init) => auth.fetch(new Request(i, init))`)
// hands `auth.fetch` a request it has never seen; one that comes while tokenward's own call
// to the global `fetch` is still on the stack (`sending`) is that copy, and goes to the
// page's fetch too.
const sent = new WeakSet();
let nativeFetch = null;
let sending = 0;
function send(request) {
  sent.add(request);
  sending += 1;
  try {
    return Promise.resolve(globalThis.fetch(request));
  } catch (e) {
    return Promise.reject(e);
  } finally {
    sending -= 1;
  }
}
function ownFetch(...a) {
  try {
    return Promise.resolve(nativeFetch.apply(globalThis, a));
  } catch (e) {
    return Promise.reject(e);
  }
}

// `auth.fetch`: the wasm decides whether a request gets the token, and which
// (`readyAuthorization`, or its whole `fetch` when that takes a refresh, a DPoP proof or
// the signed-out case); this only sends. An attached request never follows a redirect
// (`noFollow`). A 401 goes back to the wasm with the copy made before sending, and the
// wasm decides on the retry.
function attached(inner, retry, input, init) {
  let r, a, d, s, replay;
  try {
    r = new Request(input, init);
    if (r.headers.has('authorization')) return send(r);
    const u = new URL(r.url);
    d = `${u.protocol}\n${u.hostname}\n${u.origin}\n${u.pathname}\n${+!!(u.username || u.password)}\n${+!!(u.search || u.hash)}\n${u.href}\n${r.method}`;
    a = inner.text(1, d);
    if (a === undefined) return inner.fetch(r, d);
    if (a === '') return send(r);
    if (retry) replay = copy(r);
    s = noFollow(r);
    s.headers.set('authorization', a);
  } catch (e) {
    return Promise.reject(e);
  }
  const answer = send(s);
  if (!replay) return answer;
  return answer.then((res) => (res.status === 401 ? inner.fetch(replay, d, a, res, res.headers.get('www-authenticate') ?? undefined) : res));
}
// js/http.js's `copy` and `noFollow`, which the wasm's own paths call, with the same
// rules: this file cannot import that snippet (wasm-bindgen writes it under a hashed
// directory). A retry's copy is the request itself when it has no body; a redirect
// rejects instead of being followed, unless the caller chose 'manual' or 'error'.
function copy(r) {
  if (r.method === 'GET' || r.method === 'HEAD') return r;
  try {
    return r.clone();
  } catch (e) {
    return null;
  }
}
const noFollow = (r) => (r.redirect === 'follow' ? new Request(r, { redirect: 'error' }) : r);

// Plain data (options, token responses) crosses into the wasm as JSON text, which the wasm
// reads member by member: one crossing, not one per member. A Proxy with a throwing trap,
// a getter or `toJSON` that throws, a cycle: the call fails with `invalid_options` (or
// `invalid_token_response`) instead of running a JS exception through the module. What
// JSON cannot carry (a function, symbol, BigInt, NaN or infinity) goes as `[0]`, which
// no member accepts in its place, so the wasm names the member and the type it wants. The
// top-level members named in `beside` are read once, into `beside`, and go beside the text
// when they are functions (`refresh`, `now`); `on` (the listeners, which stay here) never
// goes.
const odd = (v) => (typeof v === 'number' ? !Number.isFinite(v) : typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint');
function json(value, code, what, beside = null) {
  try {
    // `undefined` when the value's own `toJSON` gives nothing: `[0]` as well.
    return JSON.stringify(value ?? null, function (k, v) {
      if (this === value && beside && Object.hasOwn(beside, k)) {
        beside[k] = v;
        if (k === 'on' || typeof v === 'function') return undefined;
      }
      return odd(v) ? [0] : v;
    }) ?? '[0]';
  } catch (e) {
    throw new TokenwardError(code, `${what} could not be read`, { cause: e });
  }
}
const jsonOptions = (options, what) => {
  try {
    return Promise.resolve(json(options, 'invalid_options', what));
  } catch (e) {
    return Promise.reject(e);
  }
};
// The app's `refresh`, answering with the token response's JSON text.
const textRefresh = (f) => typeof f === 'function'
  ? (rt) => Promise.resolve(f(rt)).then((r) => json(r, 'invalid_token_response', 'the token response'))
  : undefined;

// The listeners of one client, by event name. The wasm calls `emit` once per event (with
// the event's fields, the `error` already a TokenwardError); each listener gets its own
// event object, and a listener that throws is the app's bug: it is shown, and the others
// still run. One removed during a dispatch (by an earlier listener) is not called; one
// added during it hears the next event.
const EVENTS = ['change', 'refresh', 'expired', 'signedOut', 'error', 'sessionEnding'];
function listeners() {
  const by = new Map(EVENTS.map((name) => [name, []]));
  const add = (name, f) => {
    const entry = { f };
    by.get(name).push(entry);
    return () => {
      const list = by.get(name);
      const at = list.indexOf(entry);
      if (at >= 0) list.splice(at, 1);
      entry.off = true;
    };
  };
  const emit = (type, status, expiresAt, reason, sessionEndsAt, error) => {
    for (const { f, off } of [...by.get(type)]) {
      if (off) continue;
      const event = { type, status, expiresAt: expiresAt ?? null };
      if (reason !== undefined) event.reason = reason;
      if (sessionEndsAt !== undefined) event.sessionEndsAt = sessionEndsAt;
      if (error !== undefined) event.error = error;
      try {
        f(event);
      } catch (e) {
        console.error(e);
      }
    }
  };
  // `auth.on(event, listener)`; with `what`, a member of `options.on` (named so in errors,
  // and skipped when undefined or null).
  const on = (name, f, what) => {
    if (!what && typeof name !== 'string') throw new TokenwardError('invalid_options', 'an event name must be a string');
    if (!by.has(name)) {
      throw new TokenwardError('invalid_options', what ? `\`on\` has an unknown event \`${name}\`` : `unknown event \`${name}\``);
    }
    if (what && (f === undefined || f === null)) return undefined;
    if (typeof f !== 'function') {
      throw new TokenwardError('invalid_options', what ? `\`${name}\` must be a function` : 'a listener must be a function');
    }
    return add(name, f);
  };
  return { emit, on };
}

// `options.on`, checked and added before the session is restored.
function optionListeners(on, l) {
  if (on === undefined || on === null) return;
  if (typeof on !== 'object') {
    throw new TokenwardError('invalid_options', '`on` must be an object of listeners');
  }
  let members;
  try {
    members = Object.keys(on).map((name) => [name, on[name]]);
  } catch (e) {
    throw new TokenwardError('invalid_options', 'the options could not be read', { cause: e });
  }
  for (const [name, f] of members) l.on(name, f, true);
}

const parsed = (text) => (text === null ? null : JSON.parse(text));

class TokenClient {
  #c;
  constructor(inner, l) {
    this.#c = inner;
    // Every method bound, so that `auth.fetch`, `auth.refresh` … work when passed around
    // (`const { refresh, setTokens } = auth; refresh()`).
    const retry = inner.state(5);
    this.setTokens = (response) => {
      inner.text(0, json(response, 'invalid_token_response', 'the token response'));
    };
    this.on = (event, listener) => l.on(event, listener);
    this.dispose = () => {
      inner.call(4);
    };
    this.handleRedirect = () => inner.call(3);
    // With no argument at all, the page's `fetch` says what is wrong, as `window.fetch` would.
    this.fetch = (...a) => {
      const [input, init] = a;
      return a.length === 0 || sending > 0 || sent.has(input) ? ownFetch(...a) : attached(inner, retry, input, init);
    };
    this.accessToken = () => inner.call(1);
    this.refresh = () => inner.call(2);
    this.authorizationHeaders = (url, method) => {
      const args = [url instanceof URL ? url.href : url];
      if (method !== undefined) args.push(method);
      return jsonOptions(args, 'the authorizationHeaders arguments').then((a) => inner.text(4, a)).then(JSON.parse);
    };
    this.signOut = (options) => jsonOptions(options, 'the signOut options').then((o) => inner.text(2, o));
    // The page is navigating to the authorization server: the promise never settles
    // (it rejects when the sign-in cannot start).
    this.signIn = (options) => jsonOptions(options, 'the signIn options')
      .then((o) => inner.text(3, o))
      .then(() => new Promise(() => {}));
  }
  // The wasm's `call(which)` (0 started, 1 accessToken, 2 refresh, 3 handleRedirect,
  // 4 dispose), `text(which, text)` (0 setTokens, 1 readyAuthorization, 2 signOut,
  // 3 signIn, 4 authorizationHeaders) and `state(which)` (0 status, 1 expiresAt,
  // 2 claims and 3 idClaims as JSON text, parsed here into a new object each time,
  // 4 sessionEndsAt, 5 retryOn401): one export each instead of one per member.
  get status() { return this.#c.state(0); }
  get expiresAt() { return this.#c.state(1); }
  get claims() { return parsed(this.#c.state(2)); }
  get sessionEndsAt() { return this.#c.state(4); }
  get idClaims() { return parsed(this.#c.state(3)); }
}

function makeError(code, message, server, error, description, status, cause) {
  let options;
  if (server) {
    const answer = { error, error_description: description };
    if (status !== undefined) answer.status = status;
    options = { cause: answer };
  } else if (cause !== undefined) options = { cause };
  return new TokenwardError(code, message, options);
}

export function makeCreate(wasm, load) {
  let ready = null;
  return async function createTokenClient(options) {
    if (!ready) {
      ready = load().then(
        () => {
          nativeFetch = globalThis.fetch;
        },
        (e) => {
          ready = null;
          const code = e instanceof TypeError ? 'network' : 'unsupported';
          throw new TokenwardError(code, 'the tokenward WebAssembly module could not be loaded', { cause: e });
        },
      );
    }
    await ready;
    const given = { refresh: undefined, now: undefined, on: undefined };
    const text = json(options, 'invalid_options', 'the options', given);
    const l = listeners();
    optionListeners(given.on, l);
    const inner = wasm.WasmClient.create(text, textRefresh(given.refresh), given.now, l.emit, makeError, send);
    await inner.call(0);
    return new TokenClient(inner, l);
  };
}
