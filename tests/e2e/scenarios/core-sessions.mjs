// Core scenarios of how a session ends or survives: signOut() revokes, dispose() stops
// refreshing, a page closed in the middle of a refresh (with and without a grace period
// for the rotated refresh token), a refused refresh whose answer has no CORS headers.
// Re-exported by core.mjs.

import { count, eventsOf, installHelpers, pageTimePast, resetServers, withPage } from './core-helpers.mjs';

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
