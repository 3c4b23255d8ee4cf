// End-to-end scenarios of the core client: the packed package in a real page,
// against the real authorization server (oidc-provider) and the protected API.
//
// Shared by every engine: only the Playwright subset that the WebDriver adapter offers is
// used here (context.newPage, page.goto, page.evaluate, page.waitForFunction, page.close).
// Functions given to page.evaluate are serialised: everything they need comes in `arg`.
// Each scenario takes ({ context, stack, openApp, assert, diagnostic }), opens its own page,
// uses its own storageKey (except where the default key is the point) and closes the page.

const EVENT_NAMES = ['change', 'refresh', 'expired', 'signedOut', 'error'];
const MAX_TIMER_MS = 2_147_483_647;

/** The payload of a JWT (Node side). */
export function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/**
 * Page helpers: window.events (every event the client fired, as plain data),
 * window.makeClient(options, { controlledClock }) creating a client whose listeners are
 * attached through `options.on` (so they see what happens during creation), and
 * window.describeError(e). With controlledClock the client's `now` is
 * `window.clockMs ?? Date.now()`: a number freezes the client's clock there.
 */
export async function installHelpers(page) {
  await page.evaluate((names) => {
    window.events = [];
    window.clockMs = null;
    window.describeError = (e) => ({
      name: e?.name ?? null,
      code: e?.code ?? null,
      message: String(e?.message ?? e),
      isTokenwardError: e instanceof window.tokenward.TokenwardError,
    });
    window.recordEvent = (e) => {
      window.events.push({
        type: e.type,
        status: e.status,
        expiresAt: e.expiresAt,
        reason: e.reason ?? null,
        code: e.error?.code ?? null,
        isTokenwardError: e.error ? e.error instanceof window.tokenward.TokenwardError : null,
        message: e.error ? String(e.error.message) : null,
        at: Date.now(),
      });
    };
    window.makeClient = (options, { controlledClock = false } = {}) => {
      const on = Object.fromEntries(names.map((n) => [n, window.recordEvent]));
      const full = { ...options, on };
      if (controlledClock) full.now = () => window.clockMs ?? Date.now();
      return window.tokenward.createTokenClient(full);
    };
  }, EVENT_NAMES);
}

const eventsOf = (page) => page.evaluate(() => window.events);
const count = (events, type) => events.filter((e) => e.type === type).length;

/** Opens an app page with the helpers installed, runs `run(page)`, disposes and closes. */
export async function withPage({ context, stack, openApp }, run) {
  const page = await openApp(context, `${stack.app.url}/`);
  try {
    await installHelpers(page);
    return await run(page);
  } finally {
    await page.evaluate(() => window.auth?.dispose()).catch(() => {});
    await page.close().catch(() => {});
  }
}

function resetServers(stack) {
  stack.auth.setFault(null);
  stack.auth.resetStats();
  stack.api.resetStats();
}

/** Waits until the page's clock (Date.now) is past `ms`. */
function pageTimePast(page, ms, timeout = 30_000) {
  return page.waitForFunction((t) => Date.now() > t, ms, { timeout });
}

// 1. A 5 s access token, API calls every 250 ms for 30 s: no 401, one refresh per token.
export async function refreshCadence(env) {
  const { stack, assert, diagnostic } = env;
  const { auth, api } = stack;
  const durationMs = 30_000;
  const periodMs = 250;
  auth.setAccessTokenTtl(5);
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    assert.equal(tokens.expires_in, 5, 'the server issues 5 s access tokens');
    resetServers(stack);
    const run = await page.evaluate(async ({ options, tokens, apiUrl, durationMs, periodMs }) => {
      const auth = await window.makeClient(options);
      window.auth = auth;
      auth.setTokens(tokens);
      const statuses = {};
      let calls = 0;
      const start = Date.now();
      while (Date.now() - start < durationMs) {
        const res = await auth.fetch(`${apiUrl}/api/me`);
        await res.text();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        calls += 1;
        await new Promise((resolve) => { setTimeout(resolve, periodMs); });
      }
      const elapsed = Date.now() - start;
      auth.dispose();
      return { calls, statuses, elapsed, status: auth.status };
    }, { options: { ...stack.clientOptions, storageKey: 'core-cadence' }, tokens, apiUrl: api.url, durationMs, periodMs });
    const events = await eventsOf(page);
    const refreshes = events.filter((e) => e.type === 'refresh').map((e) => e.at);
    const gaps = refreshes.slice(1).map((at, i) => at - refreshes[i]);
    const calls = api.requests.filter((r) => r.method === 'GET'); // preflights (OPTIONS) carry no token
    const tokensSeen = new Set(calls.map((r) => r.authorization));
    diagnostic(`cadence: ${run.calls} calls in ${run.elapsed} ms, statuses ${JSON.stringify(run.statuses)}, `
      + `refresh requests ${auth.stats.refreshRequests} (ok ${auth.stats.refreshOk}), refresh events ${refreshes.length}, `
      + `gaps ${gaps.length ? `${Math.min(...gaps)}–${Math.max(...gaps)} ms` : 'n/a'}, distinct tokens at the API ${tokensSeen.size}, `
      + `API 401s ${api.stats.unauthorized}`);

    assert.equal(api.stats.unauthorized, 0, 'the API never answered 401');
    assert.deepEqual(run.statuses, { 200: run.calls }, 'every call succeeded');
    assert.ok(run.calls >= 80, `calls were made all along (${run.calls})`);
    assert.equal(api.stats.ok, run.calls);
    assert.equal(calls.length, run.calls);
    assert.ok(calls.every((r) => /^Bearer \S+$/.test(r.authorization ?? '')), 'every API call carried a token');
    const n = auth.stats.refreshRequests;
    assert.ok(n >= 10 && n <= 14, `one refresh per token, about every 2.5 s: 10..14 in 30 s, got ${n}`);
    assert.equal(auth.stats.refreshOk, n, 'every refresh succeeded');
    assert.equal(auth.stats.invalidGrant, 0);
    assert.equal(auth.stats.grantsRevoked, 0, 'no refresh token was ever reused');
    assert.equal(refreshes.length, n, 'one refresh event per refresh');
    assert.ok(n < run.calls / 5, 'not one refresh per call');
    assert.ok(Math.min(...gaps) >= 2_000, `refreshes are a half lifetime apart (min gap ${Math.min(...gaps)} ms)`);
    assert.ok(tokensSeen.size <= n + 1, 'no token was used that the refreshes did not issue');
    assert.equal(count(events, 'signedOut') + count(events, 'expired') + count(events, 'error'), 0);
  });
}

// 2. 50 concurrent fetch calls while the access token is expired (really, at the server):
//    exactly one token request, 50 successes, the expired token never reaches the API.
//    The client's clock is frozen at sign-in (the `now` option) so that its timer cannot
//    refresh before the token has expired in real time; then it is released.
export async function concurrentFetchesOneRefresh(env) {
  const { stack, assert, diagnostic } = env;
  const { auth, api } = stack;
  auth.setAccessTokenTtl(2);
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    const exp = claimsOf(tokens.access_token).exp * 1000;
    resetServers(stack);
    await page.evaluate(async ({ options, tokens }) => {
      window.clockMs = Date.now();
      window.auth = await window.makeClient(options, { controlledClock: true });
      window.auth.setTokens(tokens);
    }, { options: { ...stack.clientOptions, storageKey: 'core-concurrent' }, tokens });
    await pageTimePast(page, exp + 300);
    assert.equal(auth.stats.tokenRequests, 0, 'no refresh while the client clock was frozen');
    const old = await fetch(`${api.url}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(old.status, 401, 'the old access token has expired at the API');
    assert.equal((await old.json()).reason, 'token expired');
    resetServers(stack);
    // The refreshed token lives long: its own scheduled refresh (at half its lifetime)
    // cannot fall inside the window counted below, however slow the machine.
    auth.setAccessTokenTtl(300);

    const result = await page.evaluate(async ({ apiUrl, n }) => {
      window.clockMs = null; // the client sees the real time: the token is past expiry
      const settled = await Promise.allSettled(
        Array.from({ length: n }, () => window.auth.fetch(`${apiUrl}/api/me`).then((r) => r.status)),
      );
      return {
        statuses: settled.map((s) => (s.status === 'fulfilled' ? s.value : window.describeError(s.reason))),
        status: window.auth.status,
      };
    }, { apiUrl: api.url, n: 50 });
    const events = await eventsOf(page);
    const seen = api.requests.filter((r) => r.method === 'GET' && r.path === '/api/me');
    const authorizations = new Set(seen.map((r) => r.authorization));
    diagnostic(`concurrent: 50 fetches → ${result.statuses.filter((s) => s === 200).length} × 200, `
      + `token requests ${auth.stats.tokenRequests}, refresh events ${count(events, 'refresh')}, `
      + `API requests ${seen.length} with ${authorizations.size} distinct token(s), API 401s ${api.stats.unauthorized}`);

    assert.deepEqual(result.statuses, Array(50).fill(200), 'all 50 fetches succeeded');
    assert.equal(auth.stats.tokenRequests, 1, 'exactly one request to the token endpoint');
    assert.equal(auth.stats.refreshOk, 1);
    assert.equal(count(events, 'refresh'), 1);
    assert.equal(api.stats.unauthorized, 0, 'the API never saw the expired token');
    assert.equal(seen.length, 50);
    assert.equal(authorizations.size, 1, 'all 50 carried the same (new) token');
    assert.notEqual([...authorizations][0], `Bearer ${tokens.access_token}`, 'the expired token was never sent');
  });
}

// 4. The token endpoint answers 503, then resets the connection, while the token is
//    valid: no sign-out, `error` events with code `network`, API calls keep working with
//    the current token, and the refresh succeeds once the endpoint is back. A 20 s token
//    is first refreshed at about 10 s; retries wait at most half the time left.
export async function outageWhileValid(env) {
  const { stack, assert, diagnostic } = env;
  const { auth, api } = stack;
  auth.setAccessTokenTtl(20);
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    resetServers(stack);
    auth.setFault(503);
    const expiresAt = await page.evaluate(async ({ options, tokens }) => {
      window.auth = await window.makeClient(options);
      window.auth.setTokens(tokens);
      return window.auth.expiresAt;
    }, { options: { ...stack.clientOptions, storageKey: 'core-outage' }, tokens });
    const callApi = () => page.evaluate(async (apiUrl) => {
      const res = await window.auth.fetch(`${apiUrl}/api/me`);
      return { status: res.status, clientStatus: window.auth.status, token: await window.auth.accessToken() };
    }, api.url);
    const errorCount = () => page.evaluate(() => window.events.filter((e) => e.type === 'error').length);
    const errors = (n) => page.waitForFunction((k) => window.events.filter((e) => e.type === 'error').length >= k, n, { timeout: 25_000 });

    await errors(1);
    const during503 = await callApi();
    auth.setFault('reset');
    const triesAt503 = auth.stats.refreshRequests;
    // One try may already be under way (answered 503); the next one meets the reset.
    await errors((await errorCount()) + 2);
    const duringReset = await callApi();
    const beforeRecovery = await eventsOf(page);
    const triesAtReset = auth.stats.refreshRequests - triesAt503;
    auth.setFault(null);
    await page.waitForFunction(() => window.events.some((e) => e.type === 'refresh'), null, { timeout: 25_000 });
    const after = await callApi();
    const events = await eventsOf(page);
    const errorEvents = events.filter((e) => e.type === 'error');
    const recoveredAt = events.find((e) => e.type === 'refresh').at;
    diagnostic(`outage: ${triesAt503} refresh tries answered 503, then ${triesAtReset} reset; `
      + `error events ${errorEvents.length} (${[...new Set(errorEvents.map((e) => e.code))].join(',')}); `
      + `recovered ${expiresAt - recoveredAt} ms before expiry; refreshOk ${auth.stats.refreshOk}; API 401s ${api.stats.unauthorized}`);

    for (const e of errorEvents) {
      assert.equal(e.code, 'network', `error events have code network: ${e.message}`);
      assert.equal(e.isTokenwardError, true);
    }
    assert.ok(beforeRecovery.filter((e) => e.type === 'error').length >= 3);
    assert.ok(triesAt503 >= 1 && triesAtReset >= 1, 'the client kept trying during the outage');
    assert.equal(during503.status, 200, 'API calls work during the 503 outage');
    assert.equal(duringReset.status, 200, 'API calls work while the endpoint resets connections');
    assert.equal(during503.token, tokens.access_token, 'the still-valid token is used');
    assert.equal(duringReset.token, tokens.access_token);
    assert.notEqual(during503.clientStatus, 'signedOut');
    assert.notEqual(duringReset.clientStatus, 'signedOut');
    assert.equal(count(events, 'signedOut'), 0, 'no sign-out for a transient failure');
    assert.equal(count(events, 'expired'), 0);
    assert.equal(count(events, 'refresh'), 1);
    assert.equal(auth.stats.refreshOk, 1, 'a refresh succeeded after the fault was cleared');
    assert.ok(recoveredAt < expiresAt, 'the outage was bridged before the token expired');
    assert.equal(after.status, 200);
    assert.notEqual(after.token, tokens.access_token, 'the new token is in use');
    assert.equal(api.requests.at(-1).authorization, `Bearer ${after.token}`);
    assert.equal(api.stats.unauthorized, 0);
  });
}

// 5. The grant is revoked at the server: the next refresh ends the session once, with
//    reason invalid_grant, clears localStorage, and accessToken() rejects with signed_out.
export async function revokedGrantSignsOut(env) {
  const { stack, assert, diagnostic } = env;
  const { auth } = stack;
  const storageKey = 'core-revoked';
  auth.setAccessTokenTtl(4);
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    resetServers(stack);
    const start = await page.evaluate(async ({ options, tokens, storageKey }) => {
      localStorage.removeItem(storageKey);
      window.auth = await window.makeClient(options);
      window.auth.setTokens(tokens);
      return { stored: localStorage.getItem(storageKey), expiresAt: window.auth.expiresAt };
    }, { options: { ...stack.clientOptions, storage: 'local', storageKey }, tokens, storageKey });
    assert.ok(start.stored?.includes(tokens.refresh_token), 'the session is in localStorage');
    await auth.revokeGrantOf(tokens.refresh_token);

    await page.waitForFunction(() => window.events.some((e) => e.type === 'signedOut'), null, { timeout: 15_000 });
    // Past the old token's expiry as well: still exactly one signedOut.
    await pageTimePast(page, start.expiresAt + 500);
    const end = await page.evaluate(async (storageKey) => {
      let rejection = null;
      try {
        await window.auth.accessToken();
      } catch (e) {
        rejection = window.describeError(e);
      }
      return { status: window.auth.status, stored: localStorage.getItem(storageKey), rejection };
    }, storageKey);
    const events = await eventsOf(page);
    const signedOut = events.filter((e) => e.type === 'signedOut');
    diagnostic(`revoked grant: refresh requests ${auth.stats.refreshRequests}, invalid_grant ${auth.stats.invalidGrant}, `
      + `signedOut events ${signedOut.length} (${signedOut.map((e) => e.reason).join(',')}), storage ${JSON.stringify(end.stored)}`);

    assert.equal(signedOut.length, 1, 'exactly one signedOut event');
    assert.equal(signedOut[0].reason, 'invalid_grant');
    assert.equal(signedOut[0].status, 'signedOut');
    assert.equal(end.stored, null, 'storage is cleared');
    assert.equal(end.status, 'signedOut');
    assert.deepEqual(
      { code: end.rejection?.code, isTokenwardError: end.rejection?.isTokenwardError },
      { code: 'signed_out', isTokenwardError: true },
      'accessToken() rejects with signed_out',
    );
    assert.equal(auth.stats.refreshRequests, 1, 'one refresh attempt, no retries of a refused grant');
    assert.equal(auth.stats.invalidGrant, 1);
    assert.equal(count(events, 'refresh'), 0);
  });
}

// 7. expires_in of 30 days: no immediate refresh, no storm, and the refresh timer is
//    clamped to 2^31−1 ms (setTimeout would otherwise fire at once, again and again).
export async function longLivedTokenNoStorm(env) {
  const { stack, assert, diagnostic } = env;
  const { auth, api } = stack;
  auth.setAccessTokenTtl(300);
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    resetServers(stack);
    const run = await page.evaluate(async ({ options, tokens, apiUrl, calls, periodMs }) => {
      const delays = [];
      const original = window.setTimeout;
      window.setTimeout = function patched(fn, ms, ...rest) {
        delays.push(Number(ms));
        return original.call(this, fn, ms, ...rest);
      };
      try {
        window.auth = await window.makeClient(options);
        const before = Date.now();
        window.auth.setTokens({ ...tokens, expires_in: 2_592_000 });
        const expiresIn = window.auth.expiresAt - before;
        const statuses = [];
        for (let i = 0; i < calls; i += 1) {
          const res = await window.auth.fetch(`${apiUrl}/api/me`);
          statuses.push(res.status);
          await new Promise((resolve) => { original(resolve, periodMs); });
        }
        return { statuses, delays, expiresIn, status: window.auth.status };
      } finally {
        window.setTimeout = original;
      }
    }, { options: { ...stack.clientOptions, storageKey: 'core-long' }, tokens, apiUrl: api.url, calls: 16, periodMs: 250 });
    const events = await eventsOf(page);
    const long = run.delays.filter((d) => d > 60_000);
    diagnostic(`30-day token: ${run.statuses.length} calls over ~4 s, refresh requests ${auth.stats.refreshRequests}, `
      + `timers set ${run.delays.length} (long ones: ${JSON.stringify(long)}), expiresAt − now ${run.expiresIn} ms`);

    assert.equal(auth.stats.tokenRequests, 0, 'no refresh at all');
    assert.deepEqual(run.statuses, Array(16).fill(200));
    assert.equal(api.stats.unauthorized, 0);
    assert.ok(Math.abs(run.expiresIn - 2_592_000_000) < 5_000, `expiresAt is 30 days ahead (${run.expiresIn})`);
    assert.equal(run.status, 'signedIn');
    assert.equal(count(events, 'refresh') + count(events, 'expired') + count(events, 'error') + count(events, 'signedOut'), 0);
    assert.ok(run.delays.every((d) => !(d > MAX_TIMER_MS)), 'no timer longer than setTimeout can wait');
    assert.ok(long.includes(MAX_TIMER_MS), 'the refresh timer is clamped to 2^31−1 ms');
    assert.ok(long.length <= 3, `the long timer is not re-armed again and again (${long.length})`);
  });
}

// 8. A corrupt stored record: signed out, exactly one `error` event with code storage
//    (seen by listeners given in `on`), and the record is removed.
export async function corruptStoredRecord(env) {
  const { stack, assert, diagnostic } = env;
  const records = {
    garbage: '\u0000not json at all\uFFFF',
    truncated: '{"v":1,"access_token":"eyJhbGciOi',
    'unknown version': '{"v":99}',
    'wrong types': '{"v":1,"access_token":42,"token_type":"Bearer","received_at":"yesterday"}',
    'empty string': '',
  };
  const results = {};
  await withPage(env, async (page) => {
    for (const [name, record] of Object.entries(records)) {
      results[name] = await page.evaluate(async ({ options, record }) => {
        window.events = [];
        localStorage.setItem('tokenward', record);
        const auth = await window.makeClient(options);
        const out = {
          status: auth.status,
          expiresAt: auth.expiresAt,
          events: window.events.slice(),
          stored: localStorage.getItem('tokenward'),
        };
        auth.dispose();
        return out;
      }, { options: { ...stack.clientOptions, storage: 'local', storageKey: 'tokenward' }, record });
    }
    await page.evaluate(() => localStorage.removeItem('tokenward'));
  });
  diagnostic(`corrupt records: ${Object.entries(results).map(([name, r]) => `${name} → ${r.status}, `
    + `${r.events.map((e) => `${e.type}${e.code ? `:${e.code}` : ''}`).join('+') || 'no event'}, stored ${JSON.stringify(r.stored)}`).join('; ')}`);
  for (const [name, r] of Object.entries(results)) {
    assert.equal(r.status, 'signedOut', `${name}: starts signed out`);
    assert.equal(r.expiresAt, null, name);
    assert.equal(r.stored, null, `${name}: the bad record is removed`);
    if (name === 'empty string') continue; // nothing to report is also fine for an empty value
    assert.deepEqual(r.events.map((e) => [e.type, e.code, e.isTokenwardError]), [['error', 'storage', true]],
      `${name}: exactly one error event with code storage`);
  }
}

// setTokens with bad input throws TokenwardError('invalid_token_response') and changes
// nothing. Values JSON cannot carry (NaN, Infinity) are named here and built in the page.
async function setTokensRejects(env, label, bad) {
  const { stack, assert, diagnostic } = env;
  const storageKey = 'core-badtokens';
  stack.auth.setAccessTokenTtl(300);
  await withPage(env, async (page) => {
    const tokens = await stack.auth.login();
    const result = await page.evaluate(async ({ options, tokens, bad, storageKey }) => {
      const special = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };
      const build = (v) => (v && typeof v === 'object' && v.expires_in in special ? { ...v, expires_in: special[v.expires_in] } : v);
      localStorage.removeItem(storageKey);
      window.auth = await window.makeClient(options);
      window.auth.setTokens(tokens);
      const snapshot = async () => ({
        status: window.auth.status,
        expiresAt: window.auth.expiresAt,
        stored: localStorage.getItem(storageKey),
        token: await window.auth.accessToken(),
        events: window.events.length,
      });
      const before = await snapshot();
      const outcomes = {};
      for (const [name, value] of Object.entries(bad)) {
        try {
          window.auth.setTokens(build(value));
          outcomes[name] = { threw: false, expiresAt: window.auth.expiresAt };
        } catch (e) {
          outcomes[name] = { threw: true, ...window.describeError(e) };
        }
      }
      const after = await snapshot();
      localStorage.removeItem(storageKey);
      return { before, after, outcomes };
    }, { options: { ...stack.clientOptions, storage: 'local', storageKey }, tokens, bad, storageKey });
    const wrong = Object.entries(result.outcomes)
      .filter(([, o]) => !(o.threw && o.code === 'invalid_token_response' && o.isTokenwardError));
    const total = Object.keys(bad).length;
    diagnostic(`setTokens (${label}): ${total} bad inputs, ${total - wrong.length} rejected with invalid_token_response`
      + `${wrong.length ? `; accepted or wrong error: ${wrong.map(([n, o]) => `${n} (${JSON.stringify(o)})`).join(', ')}` : ''}`);
    assert.deepEqual(wrong, [], 'every bad input throws TokenwardError invalid_token_response');
    assert.deepEqual(result.after, result.before, 'nothing changed: status, expiry, storage, token, no events');
  });
}

export function setTokensRejectsBadInput(env) {
  return setTokensRejects(env, 'malformed', {
    'no object': 'access_token=abc',
    null: null,
    'empty object': {},
    'empty access_token': { access_token: '' },
    'access_token with a space': { access_token: 'a b' },
    'access_token with a newline': { access_token: 'a\r\nX-Injected: 1' },
    'non-ASCII access_token': { access_token: 'tökén' },
    'numeric access_token': { access_token: 12345 },
    'negative expires_in': { access_token: 'abc', expires_in: -1 },
    'text expires_in': { access_token: 'abc', expires_in: 'soon' },
    'object expires_in': { access_token: 'abc', expires_in: { s: 1 } },
    'unsupported token_type': { access_token: 'abc', token_type: 'MAC' },
    'numeric refresh_token': { access_token: 'abc', refresh_token: 7 },
  });
}

// NaN and ±Infinity are typeof 'number' but not a number of seconds (API.md: "a
// non-numeric or negative expires_in" throws).
export function setTokensRejectsNonFiniteExpiry(env) {
  return setTokensRejects(env, 'non-finite expires_in', {
    'NaN expires_in': { access_token: 'abc', expires_in: 'NaN' },
    'Infinity expires_in': { access_token: 'abc', expires_in: 'Infinity' },
    '-Infinity expires_in': { access_token: 'abc', expires_in: '-Infinity' },
  });
}

// createTokenClient rejects options that cannot work with TokenwardError('invalid_options').
export async function createRejectsBadOptions(env) {
  const { stack, assert, diagnostic } = env;
  const bad = {
    'attachTo host without scheme': { attachTo: ['api.example.com'] },
    'attachTo relative path': { attachTo: ['/api'] },
    'attachTo ftp': { attachTo: ['ftp://api.example.com'] },
    'attachTo javascript:': { attachTo: ['javascript:alert(1)'] },
    'attachTo data:': { attachTo: ['data:text/plain,x'] },
    'attachTo with userinfo': { attachTo: ['https://user:pw@api.example.com'] },
    'attachTo with query': { attachTo: ['https://api.example.com/api?x=1'] },
    'attachTo with fragment': { attachTo: ['https://api.example.com/#f'] },
    'attachTo empty string': { attachTo: [''] },
    'attachTo non-string': { attachTo: [42] },
    'attachTo not an array': { attachTo: 'https://api.example.com' },
    'one bad entry among good ones': { attachTo: ['https://api.example.com', 'nope'] },
    'unknown storage': { storage: 'cookie' },
    'storage wrong case': { storage: 'Local' },
    'tokenEndpoint and refresh': { tokenEndpoint: stack.auth.tokenEndpoint, refresh: true },
    // Values JSON cannot carry, named here and made in the page, where data belongs.
    'storageKey a function': { storageKey: '$fn' },
    'crossTab a function': { crossTab: '$fn' },
    'attachTo a function': { attachTo: '$fn' },
    'an attachTo entry a function': { attachTo: ['$fn'] },
    'dpop a function': { dpop: '$fn' },
    'allowBearer a function': { dpop: { allowBearer: '$fn' } },
    'issuer a symbol': { issuer: '$sym' },
    'refreshLeadSeconds NaN': { refreshLeadSeconds: '$nan' },
    'sessionEndingLeadSeconds Infinity': { sessionEndingLeadSeconds: '$inf' },
    'maxSessionAgeSeconds a BigInt': { maxSessionAgeSeconds: '$big' },
    'crossTab a string': { crossTab: 'yes' },
    'refreshLeadSeconds a string': { refreshLeadSeconds: '60' },
    'refresh not a function': { refresh: 'x' },
    'now not a function': { now: 5 },
  };
  const outcomes = await withPage(env, (page) => page.evaluate(async (bad) => {
    const made = { $fn: () => 'x', $sym: Symbol('x'), $nan: Number.NaN, $inf: Number.POSITIVE_INFINITY, $big: 10n };
    const make = (v) => (typeof v === 'string' && v in made ? made[v]
      : Array.isArray(v) ? v.map(make)
        : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, make(x)])) : v);
    const out = {};
    for (const [name, options] of Object.entries(bad)) {
      const opts = make(options);
      if (opts.refresh === true) opts.refresh = async () => ({ access_token: 'x' });
      try {
        const client = await window.tokenward.createTokenClient(opts);
        client.dispose();
        out[name] = { threw: false };
      } catch (e) {
        out[name] = { threw: true, ...window.describeError(e) };
      }
    }
    return out;
  }, bad));
  const wrong = Object.entries(outcomes).filter(([, o]) => !(o.threw && o.code === 'invalid_options' && o.isTokenwardError));
  diagnostic(`createTokenClient: ${Object.keys(bad).length} bad option sets, ${Object.keys(bad).length - wrong.length} `
    + `rejected with invalid_options${wrong.length ? `; not: ${wrong.map(([n, o]) => `${n} (${JSON.stringify(o)})`).join(', ')}` : ''}`);
  assert.deepEqual(wrong, [], 'every bad option set rejects with TokenwardError invalid_options');
}

// A 401 from the API for a token the client still believes valid: one refresh, one retry
// with the same body; with retryOn401: false the 401 is returned as is.
export async function retryOn401ReplaysBody(env) {
  const { stack, assert, diagnostic } = env;
  const { auth, api } = stack;
  auth.setAccessTokenTtl(1);
  await withPage(env, async (page) => {
    // A real access token that the server no longer accepts (expired at the server),
    // handed to the client as if it had 5 minutes left.
    const tokens = await auth.login();
    const tokens2 = await auth.login();
    auth.setAccessTokenTtl(300);
    await pageTimePast(page, claimsOf(tokens2.access_token).exp * 1000 + 300);
    const body = { hello: 'wörld', n: [1, 2, 3], nested: { ok: true } };
    const run = (options, response) => page.evaluate(async ({ options, response, apiUrl, body }) => {
      window.auth?.dispose();
      window.events = [];
      window.auth = await window.makeClient(options);
      window.auth.setTokens(response);
      const res = await window.auth.fetch(`${apiUrl}/api/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: await res.json(), token: await window.auth.accessToken() };
    }, { options, response, apiUrl: api.url, body });

    resetServers(stack);
    const retried = await run({ ...stack.clientOptions, storageKey: 'core-401' }, { ...tokens, expires_in: 300 });
    const echoes = api.requests.filter((r) => r.method === 'POST' && r.path === '/api/echo');
    const retryStats = { refresh: auth.stats.refreshRequests, refreshOk: auth.stats.refreshOk, unauthorized: api.stats.unauthorized, posts: echoes.length };
    assert.equal(retried.status, 200, 'the retry succeeded');
    assert.deepEqual(retried.json.body, body, 'the body was replayed');
    assert.equal(auth.stats.refreshRequests, 1, 'one refresh');
    assert.equal(auth.stats.refreshOk, 1);
    assert.equal(echoes.length, 2, 'one request and one retry');
    assert.equal(echoes[0].authorization, `Bearer ${tokens.access_token}`);
    assert.equal(echoes[1].authorization, `Bearer ${retried.token}`, 'the retry carried the new token');
    assert.notEqual(retried.token, tokens.access_token);
    assert.equal(api.stats.unauthorized, 1);

    resetServers(stack);
    const plain = await run({ ...stack.clientOptions, storageKey: 'core-401-off', retryOn401: false }, { ...tokens2, expires_in: 300 });
    const echoesOff = api.requests.filter((r) => r.method === 'POST' && r.path === '/api/echo');
    diagnostic(`401 retry: ${JSON.stringify(retryStats)}; retryOn401 false: status ${plain.status}, `
      + `refresh ${auth.stats.refreshRequests}, posts ${echoesOff.length}`);
    assert.equal(plain.status, 401, 'retryOn401: false resolves with the 401');
    assert.equal(plain.json.error, 'invalid_token');
    assert.equal(auth.stats.tokenRequests, 0, 'no refresh');
    assert.equal(echoesOff.length, 1, 'no retry');
    assert.equal(plain.token, tokens2.access_token);
  });
}

// signOut() revokes the refresh token at the server; refreshing with it then fails.
export async function signOutRevokes(env) {
  const { stack, assert, diagnostic } = env;
  const { auth } = stack;
  auth.setAccessTokenTtl(300);
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    resetServers(stack);
    const result = await page.evaluate(async ({ options, tokens }) => {
      window.auth = await window.makeClient(options);
      window.auth.setTokens(tokens);
      await window.auth.signOut();
      let rejection = null;
      try {
        await window.auth.accessToken();
      } catch (e) {
        rejection = window.describeError(e);
      }
      return { status: window.auth.status, rejection };
    }, { options: { ...stack.clientOptions, storageKey: 'core-signout' }, tokens });
    const events = await eventsOf(page);
    const revocations = auth.stats.revocations;
    const res = await fetch(auth.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: auth.clientId }),
    });
    const answer = await res.json();
    diagnostic(`signOut: revocations ${revocations}, later refresh with the old refresh token → ${res.status} ${answer.error}`);
    // One request; two where the server's answer cannot be read (no CORS headers): the
    // revocation is then sent again `no-cors`, to learn that the server answered.
    if ((env.maxRevocationRequests ?? 1) === 1) assert.equal(revocations, 1, 'the refresh token was revoked at the server');
    else assert.ok(revocations >= 1 && revocations <= env.maxRevocationRequests, `revocation requests: ${revocations}`);
    assert.equal(result.status, 'signedOut');
    assert.equal(result.rejection?.code, 'signed_out');
    assert.deepEqual(events.filter((e) => e.type === 'signedOut').map((e) => e.reason), ['user']);
    assert.equal(count(events, 'error'), 0, 'the revocation succeeded');
    assert.equal(res.status, 400);
    assert.equal(answer.error, 'invalid_grant', 'a refresh with the revoked token fails');
  });
}

// dispose() stops refreshing: no refresh request while time passes the refresh point.
export async function disposeStopsRefreshing(env) {
  const { stack, assert, diagnostic } = env;
  const { auth } = stack;
  auth.setAccessTokenTtl(2);
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    resetServers(stack);
    const { expiresAt, disposedAt } = await page.evaluate(async ({ options, tokens }) => {
      const client = await window.makeClient(options);
      client.setTokens(tokens);
      const at = client.expiresAt;
      client.dispose();
      return { expiresAt: at, disposedAt: Date.now() };
    }, { options: { ...stack.clientOptions, storageKey: 'core-dispose' }, tokens });
    // The refresh was due at about half the lifetime; wait until well past expiry.
    await pageTimePast(page, expiresAt + 1_500);
    const events = await eventsOf(page);
    diagnostic(`dispose: ${auth.stats.tokenRequests} token requests in the ${expiresAt + 1_500 - disposedAt} ms after dispose() `
      + `(refresh was due ~${Math.round((expiresAt - disposedAt) / 2)} ms after it); events after dispose: `
      + `${events.filter((e) => e.at > disposedAt).map((e) => e.type).join(',') || 'none'}`);
    assert.equal(auth.stats.tokenRequests, 0, 'no refresh after dispose()');
    assert.equal(count(events, 'refresh') + count(events, 'expired') + count(events, 'signedOut'), 0);
  });
}

// Chromium only (page.route). Signs in in a page with localStorage, then closes it while
// its refresh is under way: the server rotates the refresh token, the answer never reaches
// the page. Resolves once the server has answered; the record in storage still holds the
// old refresh token.
async function closeMidRefresh(env, options) {
  const { context, stack } = env;
  const { auth } = stack;
  auth.setAccessTokenTtl(300);
  const tokens = await auth.login();
  resetServers(stack);
  const first = await env.openApp(context, `${stack.app.url}/`);
  let answered;
  const serverAnswered = new Promise((resolve) => { answered = resolve; });
  try {
    await installHelpers(first);
    await first.evaluate(async ({ options: o, tokens: t }) => {
      window.auth = await window.makeClient(o);
      window.auth.setTokens(t);
    }, { options, tokens });
    // The request reaches the server (which rotates); its answer never reaches the page,
    // which sees a failed request and is closed. (A handler that leaves the route
    // unhandled would let Playwright send the page's request on: a second refresh.)
    await first.route(auth.tokenEndpoint, async (route) => {
      try {
        await route.fetch();
        await route.abort('connectionreset');
      } finally {
        answered();
      }
    });
    await first.evaluate(() => { window.auth.refresh().catch(() => {}); });
    await serverAnswered;
  } finally {
    await first.close().catch(() => {});
  }
  return { firstPageRefreshes: auth.stats.refreshRequests };
}

/** The next page: creates a client from storage and refreshes once; what it saw. */
async function nextPageRefreshes(next, options, apiUrl) {
  await installHelpers(next);
  return next.evaluate(async ({ o, apiUrl: url }) => {
    window.auth = await window.makeClient(o);
    const restored = window.auth.status;
    let failure = null;
    try {
      await window.auth.refresh();
    } catch (e) {
      failure = window.describeError(e);
    }
    const api = window.auth.status === 'signedOut' ? null : (await window.auth.fetch(`${url}/api/me`)).status;
    return {
      restored, status: window.auth.status, failure, api, events: window.events, stored: localStorage.getItem(o.storageKey),
    };
  }, { o: options, apiUrl });
}

// The server rotates the refresh token, but the page is closed before the answer is
// stored: with a grace period for the rotated refresh token (Django OAuth Toolkit's
// REFRESH_TOKEN_GRACE_PERIOD_SECONDS, oidc-provider's rotation with reuse allowed) the
// next page refreshes with the old one and stays signed in.
export async function closedMidRefreshKeepsSession(env) {
  const { context, stack, assert, diagnostic } = env;
  const { auth } = stack;
  const options = { ...stack.clientOptions, storage: 'local', storageKey: 'core-closed-mid-refresh' };
  const { firstPageRefreshes } = await closeMidRefresh(env, options);
  const next = await env.openApp(context, `${stack.app.url}/`);
  try {
    const result = await nextPageRefreshes(next, options, stack.api.url);
    diagnostic(`closed mid-refresh, grace period ${auth.refreshTokenGracePeriodSeconds ?? 'n/a'} s: server refreshes ${auth.stats.refreshRequests} (first page ${firstPageRefreshes}) `
      + `(ok ${auth.stats.refreshOk}, invalid_grant ${auth.stats.invalidGrant}); next page: ${result.status}, `
      + `${result.failure?.code ?? 'no failure'}, API ${result.api}, events ${result.events.map((e) => e.reason ?? e.code ?? e.type).join(',')}`);
    assert.equal(result.restored, 'signedIn', 'the next page restored the session');
    assert.equal(result.failure, null, 'the next page refreshes');
    assert.equal(result.status, 'signedIn');
    assert.equal(result.api, 200, 'the refreshed token works at the API');
    assert.equal(count(result.events, 'signedOut') + count(result.events, 'error'), 0);
    assert.equal(count(result.events, 'refresh'), 1);
    assert.equal(auth.stats.refreshRequests, 2, 'one refresh per page');
    assert.equal(auth.stats.refreshOk, 2, 'the rotated refresh token was honoured once more');
    assert.equal(auth.stats.invalidGrant, 0);
  } finally {
    await next.evaluate(() => { localStorage.clear(); window.auth?.dispose(); }).catch(() => {});
    await next.close().catch(() => {});
  }
}

// The same without a grace period (Django OAuth Toolkit's default): the rotated refresh
// token was lost with the page, so the session is over. The next page says so once and
// cleanly: its refresh is the server's invalid_grant, one signedOut (invalid_grant), the
// record removed, no error event, and no further token request.
export async function closedMidRefreshWithoutGraceEndsOnce(env) {
  const { context, stack, assert, diagnostic } = env;
  const { auth } = stack;
  const options = { ...stack.clientOptions, storage: 'local', storageKey: 'core-closed-mid-refresh-no-grace' };
  const { firstPageRefreshes } = await closeMidRefresh(env, options);
  const next = await env.openApp(context, `${stack.app.url}/`);
  try {
    const result = await nextPageRefreshes(next, options, stack.api.url);
    const at = await next.evaluate(() => Date.now());
    // No loop: nothing more reaches the token endpoint while time passes.
    await pageTimePast(next, at + 3_000);
    const later = await next.evaluate(() => ({ status: window.auth.status, events: window.events }));
    diagnostic(`closed mid-refresh, no grace period: server refreshes ${auth.stats.refreshRequests} (first page ${firstPageRefreshes}) `
      + `(ok ${auth.stats.refreshOk}, invalid_grant ${auth.stats.invalidGrant}); next page: ${result.status}, `
      + `${result.failure?.code ?? 'no failure'}, events ${later.events.map((e) => e.reason ?? e.code ?? e.type).join(',')}`);
    assert.equal(result.restored, 'signedIn', 'the next page restored the session');
    assert.equal(result.failure?.code, 'invalid_grant');
    assert.equal(result.status, 'signedOut');
    assert.equal(result.stored, null, 'the record is removed');
    assert.deepEqual(later.events.filter((e) => e.type === 'signedOut').map((e) => e.reason), ['invalid_grant']);
    assert.equal(count(later.events, 'error') + count(later.events, 'expired') + count(later.events, 'refresh'), 0);
    assert.equal(later.status, 'signedOut');
    assert.equal(auth.stats.refreshRequests, 2, 'one refresh per page, no retry');
    assert.equal(auth.stats.refreshOk, 1);
    assert.equal(auth.stats.invalidGrant, 1);
  } finally {
    await next.evaluate(() => { localStorage.clear(); window.auth?.dispose(); }).catch(() => {});
    await next.close().catch(() => {});
  }
}

// The server refuses the refresh token (revoked) but its answer carries no CORS headers:
// the page sees a network error, which may as well be an outage, so the session is kept
// and retried with the backoff. Once the access token has expired the app hears of it
// once: `expired`, and one `error` (network) naming the likely cause; accessToken()
// rejects with it; the token requests stay few.
export async function refusedRefreshWithoutCorsIsReported(env) {
  const { stack, assert, diagnostic } = env;
  const { auth } = stack;
  const lifetimeS = 3;
  const windowMs = 12_000; // after expiry
  const tokens = await auth.login();
  const revoked = await fetch(auth.revocationEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens.refresh_token, client_id: auth.clientId }),
  });
  assert.equal(revoked.status, 200, 'the refresh token is revoked server-side');
  resetServers(stack);
  await withPage(env, async (page) => {
    const expiresAt = await page.evaluate(async ({ options, tokens: t, lifetimeS: s }) => {
      window.auth = await window.makeClient(options);
      window.auth.setTokens({ ...t, expires_in: s });
      return window.auth.expiresAt;
    }, { options: { ...stack.clientOptions, storageKey: 'core-refused-no-cors' }, tokens, lifetimeS });
    const named = (e) => e.type === 'error' && /CORS/.test(e.message ?? '');
    await page.waitForFunction((source) => window.events.some((e) => e.type === 'error' && new RegExp(source).test(e.message ?? '')),
      'CORS', { timeout: 20_000 });
    await pageTimePast(page, expiresAt + windowMs);
    const result = await page.evaluate(async () => {
      let failure = null;
      try {
        await window.auth.accessToken();
      } catch (e) {
        failure = window.describeError(e);
      }
      return { status: window.auth.status, expiresAt: window.auth.expiresAt, failure, events: window.events };
    });
    const requests = auth.stats.refreshRequests;
    // (250 ms of slack: an event is stamped when the listener runs, a little after the core decided.)
    const afterExpiry = result.events.filter((e) => e.at > expiresAt + 250);
    diagnostic(`refused without CORS: ${requests} refresh requests in ${lifetimeS} s + ${windowMs / 1000} s `
      + `(invalid_grant answers ${auth.stats.invalidGrant}); status ${result.status}; accessToken() → ${result.failure?.code}; `
      + `events ${result.events.filter((e) => e.type !== 'change').map((e) => `${e.type}${e.code ? `:${e.code}` : ''}@${e.at - expiresAt}`).join(',')}`);
    assert.equal(count(result.events, 'expired'), 1, 'one expired event');
    assert.equal(result.events.filter(named).length, 1, 'one error naming the likely cause');
    const cause = result.events.find(named);
    assert.equal(cause.code, 'network');
    assert.equal(cause.isTokenwardError, true);
    assert.match(cause.message, /could not be read/);
    assert.equal(afterExpiry.filter((e) => e.type === 'error' && !named(e)).length, 0, 'after expiry, the failures are reported once');
    assert.equal(count(result.events, 'signedOut'), 0, 'a network error does not sign the user out');
    assert.ok(['signedIn', 'refreshing'].includes(result.status), result.status);
    assert.ok(result.expiresAt <= Date.now(), 'expiresAt says the token has expired');
    assert.equal(result.failure?.code, 'network', 'accessToken() rejects');
    assert.match(result.failure?.message ?? '', /CORS/);
    // Before expiry at most one try a second (the floor), then the backoff doubles:
    // 1, 2, 4, 8 s… so at most 4 + 4 tries in this window.
    assert.ok(requests >= 2 && requests <= 8, `bounded backoff: ${requests} refresh requests`);
    assert.equal(auth.stats.invalidGrant, requests, 'the server refused each one');
  });
}

// Django OAuth Toolkit (opaque tokens: the API asks the server). Several calls are under
// way with an access token the server no longer accepts, as when another tab's rotation
// deleted it: here the server's token lives a few seconds while the client was told 300 s. Every call
// is answered 401; the first forces one refresh, the others wait for it, all retry and end 200.
export async function concurrent401sShareOneRefresh(env) {
  const { stack, assert, diagnostic } = env;
  const { auth, api } = stack;
  const calls = 5;
  auth.setAccessTokenTtl(2);
  await withPage(env, async (page) => {
    const tokens = await auth.login();
    // (The test server's TTL setting does not always reach the next token: wait for the one issued.)
    assert.ok(tokens.expires_in <= 5, `the server issued a short-lived token (${tokens.expires_in} s)`);
    auth.setAccessTokenTtl(300); // the refresh's token is good
    const setAt = await page.evaluate(async ({ options, tokens: t }) => {
      window.auth = await window.makeClient(options);
      window.auth.setTokens({ ...t, expires_in: 300 });
      return Date.now();
    }, { options: { ...stack.clientOptions, storageKey: 'core-concurrent-401' }, tokens });
    // Until the server's token has expired (a condition on the page's clock).
    await pageTimePast(page, setAt + tokens.expires_in * 1000 + 500);
    await auth.settled();
    resetServers(stack);
    const statuses = await page.evaluate(async ({ url, n }) => Promise.all(
      Array.from({ length: n }, () => window.auth.fetch(url).then((r) => r.status, (e) => `rejected ${e.code}`)),
    ), { url: `${api.url}/api/me`, n: calls });
    const events = await eventsOf(page);
    diagnostic(`concurrent 401s: statuses ${statuses.join(',')}; API 401 ${api.stats.unauthorized}, 200 ${api.stats.ok}; `
      + `refresh requests ${auth.stats.refreshRequests} (ok ${auth.stats.refreshOk})`);
    assert.deepEqual(statuses, Array(calls).fill(200), 'every call ends 200');
    assert.equal(auth.stats.refreshRequests, 1, 'one refresh for all of them');
    assert.equal(auth.stats.refreshOk, 1);
    assert.equal(api.stats.unauthorized, calls, 'each call was answered 401 once');
    assert.equal(api.stats.ok, calls, 'and 200 once');
    assert.equal(count(events, 'refresh'), 1);
    assert.equal(count(events, 'signedOut') + count(events, 'error'), 0);
  });
}
