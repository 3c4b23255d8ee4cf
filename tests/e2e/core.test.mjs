// The core client end to end in headless Chromium: the packed package in a real
// page against the real authorization server and API. The scenarios live in
// scenarios/core.mjs (shared with the other engines); the Playwright-clock case below is
// Chromium-only. Run: node --test --test-concurrency=1 tests/e2e/core.test.mjs
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { chromiumSuite, startStack } from './harness.mjs';
import * as scenarios from './scenarios/core.mjs';

describe('core client (Chromium)', () => {
  const suite = chromiumSuite('core', () => startStack({ accessTokenTtl: 5 }));
  const { env } = suite;

  test('a 5 s token stays usable for 30 s of calls every 250 ms, one refresh per token', (t) => scenarios.refreshCadence(env(t)));
  test('50 concurrent fetches with an expired token: one token request, 50 successes', (t) => scenarios.concurrentFetchesOneRefresh(env(t)));
  test('token endpoint 503 / reset while the token is valid: no sign-out, recovery', (t) => scenarios.outageWhileValid(env(t)));
  test('refresh token revoked at the server: one signedOut(invalid_grant), storage cleared', (t) => scenarios.revokedGrantSignsOut(env(t)));
  test('expires_in of 30 days: no refresh, timers clamped', (t) => scenarios.longLivedTokenNoStorm(env(t)));
  test('corrupt stored record: signed out, one storage error, record removed', (t) => scenarios.corruptStoredRecord(env(t)));
  test('setTokens with bad input throws invalid_token_response and changes nothing', (t) => scenarios.setTokensRejectsBadInput(env(t)));
  test('setTokens with a NaN or infinite expires_in throws invalid_token_response', (t) => scenarios.setTokensRejectsNonFiniteExpiry(env(t)));
  test('createTokenClient rejects bad options with invalid_options', (t) => scenarios.createRejectsBadOptions(env(t)));
  test('401 from the API: one refresh, one retry with the body; retryOn401: false', (t) => scenarios.retryOn401ReplaysBody(env(t)));
  test('signOut() revokes the refresh token at the server', (t) => scenarios.signOutRevokes(env(t)));
  test('dispose() stops refreshing', (t) => scenarios.disposeStopsRefreshing(env(t)));
  // oidc-provider has no grace period: reusing the rotated (consumed) refresh token is
  // invalid_grant and revokes the grant.
  test('[chromium only] a page closed after the server rotated the refresh token: the next page is signed out once (invalid_grant), cleanly',
    (t) => scenarios.closedMidRefreshWithoutGraceEndsOnce(env(t)));

  // ---- Chromium-only: Playwright's clock (not in the WebDriver subset) ----
  // A laptop sleep: the page's clock jumps past the access token's expiry. The client
  // must refresh before the next API call, and the API must never see the old token.
  // Two ways: setSystemTime (no timer fires: only the fetch can notice) and fastForward
  // (due timers fire once, as when the lid opens).
  for (const jump of ['setSystemTime', 'fastForward']) {
    test(`[chromium only] clock jumps 2 h past expiry (${jump}): refresh first, API never sees the old token`, async (t) => {
      const { stack, context } = suite;
      const { auth, api } = stack;
      auth.setAccessTokenTtl(60);
      const logs = [];
      const page = await context.newPage();
      page.on('console', (message) => logs.push(`[${message.type()}] ${message.text()}`));
      page.on('pageerror', (error) => logs.push(`[pageerror] ${error.message}`));
      try {
        await page.clock.install();
        await page.goto(`${stack.app.url}/`);
        await page.waitForFunction(() => window.tokenwardReady === true, null, { timeout: 15_000 });
        await scenarios.installHelpers(page);
        const tokens = await auth.login();
        auth.resetStats();
        api.resetStats();
        const first = await page.evaluate(async ({ options, tokens, apiUrl }) => {
          window.auth = await window.makeClient(options);
          window.auth.setTokens(tokens);
          const res = await window.auth.fetch(`${apiUrl}/api/me`);
          return { status: res.status, expiresAt: window.auth.expiresAt, now: Date.now() };
        }, { options: { ...stack.clientOptions, storageKey: `core-clock-${jump}` }, tokens, apiUrl: api.url });
        assert.equal(first.status, 200);
        assert.equal(api.requests.at(-1).authorization, `Bearer ${tokens.access_token}`);
        auth.resetStats();
        api.resetStats();

        if (jump === 'setSystemTime') await page.clock.setSystemTime(first.now + 2 * 3600 * 1000);
        else await page.clock.fastForward('02:00:00');
        const refreshesAtJump = auth.stats.refreshRequests;
        const after = await page.evaluate(async (apiUrl) => {
          const pageNow = Date.now();
          const res = await window.auth.fetch(`${apiUrl}/api/me`);
          return { status: res.status, pageNow, token: await window.auth.accessToken(), events: window.events };
        }, api.url);
        const seen = api.requests.filter((r) => r.method === 'GET' && r.path === '/api/me');
        t.diagnostic(`${jump}: page clock ${Math.round((after.pageNow - first.expiresAt) / 60_000)} min past expiry; `
          + `refresh requests ${auth.stats.refreshRequests} (${refreshesAtJump} before the fetch), API requests ${seen.length}, `
          + `API 401s ${api.stats.unauthorized}, events ${after.events.map((e) => e.type).join(',')}`);

        assert.ok(after.pageNow > first.expiresAt, 'the page believes the token expired');
        assert.equal(after.status, 200);
        assert.equal(api.stats.unauthorized, 0);
        assert.equal(auth.stats.refreshRequests, 1, 'exactly one refresh');
        assert.equal(auth.stats.refreshOk, 1);
        assert.equal(seen.length, 1, 'one API call, no retry');
        assert.notEqual(after.token, tokens.access_token);
        assert.equal(seen[0].authorization, `Bearer ${after.token}`, 'the API only saw the refreshed token');
        assert.equal(after.events.filter((e) => e.type === 'signedOut').length, 0);
        const refreshIndex = after.events.findIndex((e) => e.type === 'refresh');
        assert.ok(refreshIndex >= 0, 'a refresh event fired');
      } catch (err) {
        for (const line of logs) t.diagnostic(line);
        throw err;
      } finally {
        await page.evaluate(() => window.auth?.dispose()).catch(() => {});
        await page.close().catch(() => {});
      }
    });
  }
});
