// End-to-end scenarios: every promise settles. A refused Web Lock, a `fetch` replaced by
// `auth.fetch` itself (or by a wrapper around it) and a `fetch` wrapper that throws must
// neither hang a call nor leave the session stuck.
//
// Shared-engine style (see core.mjs): only page.evaluate / waitForFunction / close.
import { installHelpers, withPage } from './core.mjs';

/** The page helpers of core.mjs, for Chromium-only cases in hang.test.mjs. */
export const installHelpersForHang = installHelpers;


// Settles `promise` or reports that it did not within `ms` (page side, as a string).
const SETTLE = `(promise, ms) => Promise.race([
  promise.then((v) => ({ ok: true, value: v }), (e) => ({ ok: false, error: window.describeError(e) })),
  new Promise((resolve) => setTimeout(() => resolve({ hung: true }), ms)),
])`;

// A storageKey the browser's Web Locks refuse (a name starting with `-` is a
// NotSupportedError): createTokenClient settles, says `unsupported` once, and the client
// works in its own tab (tokens set, token read, a refresh at the real token endpoint).
export async function refusedLockDoesNotHang(env) {
  const { stack, assert, diagnostic } = env;
  const { auth } = stack;
  await withPage(env, async (page) => {
    auth.resetStats();
    for (const storageKey of ['-app', '-']) {
      const tokens = await auth.login(); // each key its own grant: a refresh rotates it
      const result = await page.evaluate(async ({ options, tokens, settle }) => {
        const race = eval(settle); // eslint-disable-line no-eval
        window.events = [];
        const created = await race(window.makeClient(options), 10_000);
        if (!created.ok) return { created };
        window.auth = created.value;
        window.auth.setTokens(tokens);
        const token = await race(window.auth.accessToken(), 10_000);
        const refreshed = await race(window.auth.refresh(), 15_000);
        const after = { status: window.auth.status, events: window.events.map((e) => [e.type, e.code]) };
        window.auth.dispose();
        return { created: { ok: true }, token: token.ok, refreshed, after };
      }, { options: { ...stack.clientOptions, storageKey }, tokens, settle: SETTLE });
      diagnostic(`storageKey ${JSON.stringify(storageKey)}: ${JSON.stringify(result)}`);
      assert.equal(result.created.ok, true, `createTokenClient settled and resolved (storageKey ${storageKey})`);
      assert.equal(result.token, true, 'accessToken() resolved');
      assert.equal(result.refreshed.hung, undefined, 'refresh() settled');
      assert.equal(result.refreshed.ok, true, 'refresh() succeeded without Web Locks');
      assert.equal(result.after.status, 'signedIn');
      const unsupported = result.after.events.filter(([type, code]) => type === 'error' && code === 'unsupported');
      assert.equal(unsupported.length, 1, 'one `unsupported` error event');
    }
    assert.ok(auth.stats.tokenRequests >= 2, 'the refreshes reached the token endpoint');
  });
}

// `window.fetch = auth.fetch` (the API calls auth.fetch a drop-in replacement), and a
// wrapper around auth.fetch installed as window.fetch: calls through the global fetch
// reach the API once each, with the token; nothing loops.
export async function globalFetchIsAuthFetch(env) {
  const { stack, assert, diagnostic } = env;
  const { auth, api } = stack;
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    api.resetStats();
    const result = await page.evaluate(async ({ options, tokens, apiUrl, settle }) => {
      const race = eval(settle); // eslint-disable-line no-eval
      window.auth = await window.makeClient(options);
      window.auth.setTokens(tokens);
      const original = window.fetch;
      const out = {};
      try {
        window.fetch = window.auth.fetch;
        out.direct = await race(fetch(`${apiUrl}/api/me`).then((r) => r.status), 10_000);
        let wrapped = 0;
        window.fetch = (input, init) => { wrapped += 1; return window.auth.fetch(input, init); };
        out.wrapper = await race(fetch(`${apiUrl}/api/me`).then((r) => r.status), 10_000);
        out.wrapperCalls = wrapped;
      } finally {
        window.fetch = original;
      }
      return out;
    }, { options: { ...stack.clientOptions, storageKey: 'hang-global-fetch' }, tokens, apiUrl: api.url, settle: SETTLE });
    const seen = api.requests.filter((r) => r.method === 'GET' && r.path === '/api/me');
    diagnostic(`window.fetch = auth.fetch: ${JSON.stringify(result)}; API saw ${seen.length} request(s)`);
    assert.deepEqual(result.direct, { ok: true, value: 200 }, 'window.fetch = auth.fetch: 200');
    assert.deepEqual(result.wrapper, { ok: true, value: 200 }, 'a wrapper around auth.fetch: 200');
    assert.equal(result.wrapperCalls, 2, 'the wrapper ran once for the call and once for tokenward\'s own request');
    assert.equal(seen.length, 2, 'the API got exactly one request per call');
    for (const r of seen) assert.equal(r.authorization, `Bearer ${tokens.access_token}`);
  });
}

// A fetch wrapper that throws synchronously (and one that returns a non-promise): every
// call settles with an error, the session is not left `refreshing`, and once fetch works
// again a refresh goes through (no lock or in-flight refresh was left behind).
export async function throwingFetchSettles(env) {
  const { stack, assert, diagnostic } = env;
  const { auth } = stack;
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    auth.resetStats();
    const result = await page.evaluate(async ({ options, tokens, apiUrl, settle }) => {
      const race = eval(settle); // eslint-disable-line no-eval
      window.auth = await window.makeClient(options);
      window.auth.setTokens(tokens);
      const original = window.fetch;
      const out = {};
      try {
        window.fetch = () => { throw new TypeError('fetch wrapper failed'); };
        out.fetch = await race(window.auth.fetch(`${apiUrl}/api/me`), 10_000);
        out.refresh = await race(window.auth.refresh(), 15_000);
        out.statusAfter = window.auth.status;
        window.fetch = () => 42;
        out.nonPromise = await race(window.auth.fetch(`${apiUrl}/api/me`), 10_000);
      } finally {
        window.fetch = original;
      }
      out.again = await race(window.auth.refresh(), 15_000);
      out.final = window.auth.status;
      return out;
    }, { options: { ...stack.clientOptions, storageKey: 'hang-throwing-fetch' }, tokens, apiUrl: stack.api.url, settle: SETTLE });
    diagnostic(`throwing fetch: ${JSON.stringify(result)}; token requests ${auth.stats.tokenRequests}`);
    assert.equal(result.fetch.ok, false, 'auth.fetch rejected');
    assert.equal(result.fetch.hung, undefined);
    assert.equal(result.refresh.hung, undefined, 'refresh() settled');
    assert.equal(result.refresh.ok, false, 'refresh() rejected');
    assert.equal(result.refresh.error.code, 'network');
    assert.notEqual(result.statusAfter, 'refreshing', 'the session is not left refreshing');
    assert.equal(result.nonPromise.hung, undefined, 'a non-promise result settles too');
    assert.deepEqual(result.again, { ok: true, value: undefined }, 'a refresh works once fetch is back');
    assert.equal(result.final, 'signedIn');
    assert.equal(auth.stats.tokenRequests, 1, 'only the last refresh reached the token endpoint');
  });
}

// Hostile values from the page — a Proxy whose traps throw, getters that throw, an array
// whose `length` throws — given as options, token responses or sign-in options: each call
// fails with a TokenwardError of the documented code (never a trap or a raw exception
// through the module), and the module keeps working for the next client.
export async function hostileInputsAreTypedErrors(env) {
  const { stack, assert, diagnostic } = env;
  const { auth } = stack;
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    const result = await page.evaluate(async ({ options, tokens, settle }) => {
      const race = eval(settle); // eslint-disable-line no-eval
      const boom = () => { throw new Error('hostile'); };
      const trap = () => new Proxy({}, { get: boom, ownKeys: boom, getOwnPropertyDescriptor: boom, has: boom });
      const { createTokenClient } = window.tokenward;
      const out = {};
      out.proxyOptions = await race(createTokenClient(trap()), 10_000);
      out.getterOptions = await race(createTokenClient({ ...options, get storage() { return boom(); } }), 10_000);
      const arrayTrap = new Proxy([options.attachTo[0]], { get: (t, k) => (k === 'length' ? boom() : t[k]) });
      out.arrayOptions = await race(createTokenClient({ ...options, attachTo: arrayTrap }), 10_000);
      out.onTrap = await race(createTokenClient({ ...options, on: trap() }), 10_000);
      window.auth = await createTokenClient({ ...options, storageKey: 'hang-hostile' });
      try {
        window.auth.setTokens(trap());
        out.setTokens = { ok: true };
      } catch (e) {
        out.setTokens = { ok: false, error: window.describeError(e) };
      }
      out.signIn = await race(window.auth.signIn(trap()), 10_000);
      out.signOut = await race(window.auth.signOut(trap()), 10_000);
      // The module still works.
      window.auth.setTokens(tokens);
      out.token = await race(window.auth.accessToken().then((t) => t === tokens.access_token), 10_000);
      return out;
    }, { options: stack.clientOptions, tokens, settle: SETTLE });
    diagnostic(`hostile inputs: ${JSON.stringify(result)}`);
    for (const key of ['proxyOptions', 'getterOptions', 'arrayOptions', 'onTrap', 'signIn', 'signOut']) {
      assert.equal(result[key].hung, undefined, `${key} settled`);
      assert.equal(result[key].ok, false, `${key} rejected`);
      assert.equal(result[key].error.isTokenwardError, true, `${key}: a TokenwardError`);
      assert.equal(result[key].error.code, 'invalid_options', `${key}: invalid_options`);
    }
    assert.equal(result.setTokens.ok, false);
    assert.equal(result.setTokens.error.code, 'invalid_token_response');
    assert.deepEqual(result.token, { ok: true, value: true }, 'the module still works');
  });
}
